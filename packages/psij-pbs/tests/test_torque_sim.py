"""The ``pbs_classic`` (Torque) executor on the Torque simulator (tests/torque_sim), which runs
the jobs on the real OpenPBS server and prints Torque's layout.

The simulator is first checked against the real Torque sample, so that it cannot drift from
what Torque prints; then the executor runs real jobs through it.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List

import pytest
from pbs_helpers import SAMPLES, pbs_bin, sh, wait_final, wait_state
from psij import Job, JobAttributes, JobState, ResourceSpecV1
from psij_pbs.classic import PBSClassicExecutorConfig, PBSClassicJobExecutor
from psij_pbs.pbs_status import parse_qstat_text

SIM = Path(__file__).resolve().parent / 'torque_sim'
TORQUE_SAMPLE = SAMPLES / 'pbspro' / 'torque_qstat_-f_text_multi_2015.out'
_LINE = re.compile(r'^(Job Id: \S+|    [A-Za-z_][\w.]* = .*|\t.*|)$')

pytestmark = pytest.mark.usefixtures('pbs_server')


@pytest.fixture
def torque(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PBSClassicJobExecutor:
    monkeypatch.setenv('TORQUE_SIM_PBS_BIN', pbs_bin())
    return PBSClassicJobExecutor(config=PBSClassicExecutorConfig(
        queue_polling_interval=1.0, initial_queue_polling_delay=0.5, file_check_interval=0.2,
        work_directory=tmp_path / 'work', command_directory=SIM))


def _sim(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([str(SIM / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, TORQUE_SIM_PBS_BIN=pbs_bin(), **env))


def _names(text: str) -> List[str]:
    return [m.group(1) for m in re.finditer(r'^    ([A-Za-z_][\w.]*) = ', text, re.MULTILINE)]


def test_sample_has_the_line_forms_the_simulator_prints() -> None:
    lines = TORQUE_SAMPLE.read_text().split('\n')[:-1]
    kinds = {'id' if line.startswith('Job Id: ') else 'tab' if line.startswith('\t') else
             'blank' if not line else 'attr' if line.startswith('    ') else 'other'
             for line in lines if _LINE.match(line)}
    assert kinds == {'id', 'tab', 'blank', 'attr'}
    # the rest are multi-line values (a copy error in a comment), which the parser joins
    assert len(parse_qstat_text('\n'.join(lines))) == sum(
        line.startswith('Job Id: ') for line in lines) == 10


def test_simulator_prints_torques_layout(torque: PBSClassicJobExecutor, tmp_path: Path) -> None:
    job = Job(sh('exit 3', name='x' * 120, resources=ResourceSpecV1(node_count=2)))
    torque.submit(job)
    wait_final(job)
    end = time.monotonic() + 60
    while 'job_state = C' not in _sim('qstat', '-f', job.native_id or '').stdout and \
            time.monotonic() < end:
        time.sleep(0.3)
    p = _sim('qstat', '-f', job.native_id or '')
    assert p.returncode == 0, p.stderr
    text = p.stdout
    lines = text.split('\n')
    assert lines[0] == 'Job Id: %s' % job.native_id and text.endswith('\n\n')
    bad = [line for line in lines[:-1] if not _LINE.match(line)]
    assert not bad, bad
    assert any(line.startswith('\t') for line in lines)  # the long name wraps with a TAB
    assert max(len(line) for line in lines) <= 78
    # every attribute is one Torque prints, in Torque's order
    sample = TORQUE_SAMPLE.read_text()
    known = set(_names(sample))
    completed = sample[sample.index('Job Id: 546437'):sample.index('Job Id: 547637')]
    order = _names(completed)  # an ended job, as Torque orders its attributes
    ours = [n for n in _names(text) if not n.startswith(('resources_used.', 'Resource_List.'))]
    unknown = [n for n in ours if n not in known]
    assert not unknown, unknown
    positions = [order.index(n) for n in ours if n in order]
    assert positions == sorted(positions), ours
    assert 'job_state = C' in text and 'exit_status = 3' in text


def test_unknown_ids_and_versions() -> None:
    p = _sim('qstat', '-f', '99999')
    assert (p.returncode, p.stdout) == (153, '')
    assert p.stderr == 'qstat: Unknown Job Id Error 99999\n'
    v = _sim('qstat', '--version')
    assert v.stdout.startswith('Version: 6.')


@pytest.mark.parametrize('code', [0, 5])
def test_exit_codes(torque: PBSClassicJobExecutor, code: int) -> None:
    job = Job(sh('exit %d' % code))
    torque.submit(job)
    st = wait_final(job)
    assert st.exit_code == code
    assert st.state is (JobState.COMPLETED if code == 0 else JobState.FAILED)


def test_two_nodes_and_the_nodefile(torque: PBSClassicJobExecutor, tmp_path: Path) -> None:
    out = tmp_path / 'nodes'
    job = Job(sh('cat "$PSIJ_NODEFILE"', stdout_path=out,
                 resources=ResourceSpecV1(node_count=2, processes_per_node=2)))
    torque.submit(job)
    assert wait_final(job).state is JobState.COMPLETED
    assert len(out.read_text().splitlines()) == 4


def test_cancel_and_outside_qdel(torque: PBSClassicJobExecutor) -> None:
    mine, theirs = Job(sh('sleep 300')), Job(sh('sleep 300'))
    for job in (mine, theirs):
        torque.submit(job)
        wait_state(job, JobState.ACTIVE)
    time.sleep(1)  # past OpenPBS's pre-run substate
    mine.cancel()
    assert _sim('qdel', theirs.native_id or '').returncode == 0
    for job in (mine, theirs):
        st = wait_final(job)
        assert st.state is JobState.CANCELED, st
    assert 'exit_status 271' in (wait_final(theirs).message or '')
    p = _sim('qdel', theirs.native_id or '')
    assert p.returncode == 168 and 'COMPLETE' in p.stderr


def test_ended_job_forgotten_by_qstat_keeps_its_exit_code(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('TORQUE_SIM_PBS_BIN', pbs_bin())
    monkeypatch.setenv('TORQUE_SIM_KEEP_COMPLETED', '0')  # keep_completed = 0: gone at once
    cfg: Dict[str, Any] = dict(queue_polling_interval=1.0, initial_queue_polling_delay=0.5,
                               file_check_interval=0.2, work_directory=tmp_path / 'work',
                               command_directory=SIM)
    ex = PBSClassicJobExecutor(config=PBSClassicExecutorConfig(keep_files=True, **cfg))
    job = Job(sh('sleep 2; exit 6'))
    ex.submit(job)
    assert wait_final(job).exit_code == 6
    time.sleep(2)
    assert _sim('qstat', '-f', job.native_id or '').returncode == 153
    follower = Job()
    PBSClassicJobExecutor(config=PBSClassicExecutorConfig(**cfg)).attach(
        follower, job.native_id or '')
    st = wait_final(follower, timeout=60)
    assert (st.state, st.exit_code) == (JobState.FAILED, 6)


def test_walltime(torque: PBSClassicJobExecutor) -> None:
    job = Job(sh('sleep 600', attributes=JobAttributes(duration=timedelta(seconds=3))))
    torque.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code is None, st
    assert (st.message or '').startswith('walltime exceeded'), st


def test_list(torque: PBSClassicJobExecutor) -> None:
    job = Job(sh('sleep 300'))
    torque.submit(job)
    wait_state(job, JobState.ACTIVE)
    assert job.native_id in torque.list()
    job.cancel()
    wait_final(job)


def test_parsed_like_the_real_sample(torque: PBSClassicJobExecutor) -> None:
    job = Job(sh('exit 0'))
    torque.submit(job)
    wait_final(job)
    end = time.monotonic() + 60
    while 'job_state = C' not in _sim('qstat', '-f', job.native_id or '').stdout and \
            time.monotonic() < end:
        time.sleep(0.3)
    jobs = parse_qstat_text(_sim('qstat', '-f', job.native_id or '').stdout)
    assert jobs[job.native_id or ''].state == 'C'
    assert jobs[job.native_id or ''].exit_status == 0
