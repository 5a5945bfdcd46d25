"""`psij.executors.batch.commands.run_command`: output, exit code, and the time-out, after
which nothing the command started is left running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psij.conformance.batch_faults import process_alive
from psij.executors.batch.commands import run_command


def test_output_and_exit_code() -> None:
    res = run_command(['sh', '-c', 'echo out; echo err >&2; exit 3'], 30)
    assert (res.returncode, res.stdout, res.stderr) == (3, 'out\n', 'err\n')


def _hang(tmp_path: Path, script: str, n: int) -> list:
    pids = tmp_path / 'pids'
    t = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_command(['sh', '-c', script % (n, pids)], 1.0)
    assert time.monotonic() - t < 30
    started = [int(x) for x in pids.read_text().split()]
    assert len(started) == n
    return started


def test_time_out_returns_once_the_whole_group_is_gone(tmp_path: Path) -> None:
    # many children of the command's group: each takes a moment to die after SIGKILL, and
    # run_command returns only once they are all gone (checked at once, no grace)
    started = _hang(tmp_path, 'for i in $(seq %d); do sleep 3600 & echo $! >> %s; done; wait',
                    50)
    assert [p for p in started if process_alive(p)] == []


def test_time_out_kills_the_other_groups_of_the_session(tmp_path: Path) -> None:
    # a command may put children in process groups of their own, in its session (a shell
    # with job control does): killing the command's group alone leaves them running
    pids = tmp_path / 'pids'
    code = ('import subprocess, sys, time\n'
            'ps = [subprocess.Popen(["sleep", "3600"], process_group=0) for _ in range(3)]\n'
            'open(sys.argv[1], "w").write(" ".join(str(p.pid) for p in ps))\n'
            'time.sleep(3600)\n')
    with pytest.raises(subprocess.TimeoutExpired):
        run_command([sys.executable, '-c', code, str(pids)], 2.0)
    started = [int(x) for x in pids.read_text().split()]
    assert len(started) == 3
    left = [p for p in started if process_alive(p)]
    for p in left:  # don't leave them for the next tests
        os.kill(p, signal.SIGKILL)
    assert left == []
