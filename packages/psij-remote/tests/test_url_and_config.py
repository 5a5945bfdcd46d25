"""URLs, the ssh command line and configurations across the hop (no sshd needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from psij import JobExecutor, JobExecutorConfig
from psij.executors.local import LocalJobExecutorConfig
from psij_remote import config_wire
from psij_remote.ssh_command import REMOTE_COMMAND, ssh_argv
from psij_remote.url import RemoteTarget, parse


@pytest.fixture(autouse=True)
def sshd() -> None:
    """These tests need no sshd (overrides the package-wide fixture)."""


@pytest.mark.parametrize('url, target', [
    ('ssh://login1', RemoteTarget('login1')),
    ('ssh://alice@login1.example.org:2222', RemoteTarget('login1.example.org', 'alice', 2222)),
    ('ssh://h/~/venvs/psij', RemoteTarget('h', venv='~/venvs/psij')),
    ('ssh://h/opt/psij/', RemoteTarget('h', venv='/opt/psij')),
    ('ssh://[::1]:22', RemoteTarget('[::1]', port=22)),
])
def test_urls(url: str, target: RemoteTarget) -> None:
    assert parse(url) == target


@pytest.mark.parametrize('url', ['ssh://-oProxyCommand=touch%20x', 'ssh://a b', 'http://h',
                                 'ssh://u;x@h', 'ssh://h:99999', 'ssh://h/x\n', 'ssh://h?x=1',
                                 'ssh://-l@h'])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse(url)


def test_the_remote_command_is_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PSIJ_SSH_CONFIG', raising=False)
    monkeypatch.delenv('PSIJ_SSH_OPTIONS', raising=False)
    argv = ssh_argv(parse("ssh://alice@h:22/~/v'$(x)"))
    assert argv[-1] == REMOTE_COMMAND and argv[-3:-1] == ['--', 'h']
    assert '$(x)' not in ' '.join(argv) and 'BatchMode=yes' in argv
    assert argv[argv.index('-l') + 1] == 'alice' and argv[argv.index('-p') + 1] == '22'


def test_ssh_url_without_a_transport_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PSIJ_DISABLE_PLUGINS', 'remote')
    from psij.plugins import registry
    registry.reset()
    try:
        with pytest.raises(ValueError, match='needs psij-remote'):
            JobExecutor.get_instance('local', url='ssh://h')
    finally:
        monkeypatch.delenv('PSIJ_DISABLE_PLUGINS')
        registry.reset()


def test_configurations_travel_as_set(tmp_path: Path) -> None:
    assert config_wire.to_wire(None) is None
    assert config_wire.to_wire(JobExecutorConfig()) == {
        'class': 'psij.job_executor_config.JobExecutorConfig', 'args': {}}
    cfg = LocalJobExecutorConfig(work_directory=tmp_path, cancel_grace_period=2.5)
    wire = config_wire.to_wire(cfg)
    assert wire is not None and wire['args']['work_directory'] == str(tmp_path)
    back = config_wire.from_wire(wire)
    assert isinstance(back, LocalJobExecutorConfig)
    assert back.work_directory == tmp_path and back.cancel_grace_period == 2.5
    for bad in ({'class': 'os.system', 'args': {}}, {'class': 'psij.nope.X', 'args': {}},
                {'class': 'psij.job_executor_config.JobExecutorConfig', 'args': {'x': 1}}):
        with pytest.raises(ValueError):
            config_wire.from_wire(bad)
