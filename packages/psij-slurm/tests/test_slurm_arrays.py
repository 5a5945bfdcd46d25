"""submit_many on a real Slurm cluster: sbatch --array, elements as first-class jobs.

The scheduler commands go through a command directory of wrappers in front of the real ones:
``sbatch`` counts its calls (and refuses one when a test asks), ``scontrol show config`` may
report a small ``MaxArraySize``. No daemon is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from psij import (
    InvalidJobException,
    Job,
    JobAttributes,
    JobSpec,
    JobState,
    JobStatus,
    SubmitException,
)
from psij_slurm.slurm_arrays import parse_max_array_size
from slurm_helpers import WAIT, executor, wait_final, wait_state

pytestmark = pytest.mark.usefixtures('slurm_cluster')

REFUSAL = ('sbatch: error: Batch job submission failed: Job violates accounting/QOS policy '
           '(job submit limit, user\'s size and/or time limits)')


def command_dir(tmp: Path, refuse_call: Optional[int] = None,
                max_array_size: Optional[int] = None) -> Path:
    """Wrappers of the Slurm commands: sbatch counts its calls in ``sbatch.calls``."""
    d = tmp / 'bin'
    d.mkdir()
    for name in ('scancel', 'sacct'):
        real = shutil.which(name)
        assert real is not None, name
        (d / name).symlink_to(real)
    # squeue records how many ids each call named
    (d / 'squeue').write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in --jobs=*) '
        'printf "%%s\\n" "$a" | tr , "\\n" | wc -l >>%s/squeue.ids;; esac; done\n'
        'exec %s "$@"\n' % (d, shutil.which('squeue')))
    (d / 'squeue').chmod(0o755)
    real_sbatch = shutil.which('sbatch')
    real_scontrol = shutil.which('scontrol')
    (d / 'sbatch').write_text(
        '#!/bin/sh\n'
        'c=%(d)s/sbatch.calls\n'
        'n=$(( $(cat "$c" 2>/dev/null || echo 0) + 1 ))\n'
        'echo "$n" >"$c"\n'
        'if [ "$n" = "%(refuse)s" ]; then echo "%(msg)s" >&2; exit 1; fi\n'
        'exec %(sbatch)s "$@"\n' % {'d': d, 'refuse': refuse_call or 0, 'msg': REFUSAL,
                                    'sbatch': real_sbatch})
    scontrol = '#!/bin/sh\n'
    if max_array_size is not None:
        scontrol += ('if [ "$1 $2" = "show config" ]; then echo "MaxArraySize            = %d";'
                     ' exit 0; fi\n' % max_array_size)
    (d / 'scontrol').write_text(scontrol + 'exec %s "$@"\n' % real_scontrol)
    for name in ('sbatch', 'scontrol'):
        (d / name).chmod(0o755)
    return d


def sbatch_calls(d: Path) -> int:
    f = d / 'sbatch.calls'
    return int(f.read_text()) if f.exists() else 0


def element(tmp: Path, i: int, code: int) -> JobSpec:
    """An element: its own arguments (with quotes and $), environment and stdout."""
    return JobSpec('/bin/sh', ['-c', 'printf "%s|%s" "$1" "$PSIJ_T"; exit "$2"', 'sh',
                               "it's $(no) `no` %d" % i, str(code)],
                   environment={'PSIJ_T': '${HOME} $HOME %d' % i},
                   stdout_path=tmp / ('out.%d' % i))


def test_parse_max_array_size() -> None:
    """MaxArraySize is read from scontrol show config."""
    assert parse_max_array_size('Foo = 1\nMaxArraySize            = 1001\nX = 2\n') == 1001
    assert parse_max_array_size('Foo = 1\n') is None


def test_thousand_jobs_one_sbatch(tmp_path: Path) -> None:
    """1,000 jobs: one sbatch --array; each element its own id, state, exit code, stdout;
    single elements canceled; an element attached from another process."""
    n = 1000
    bindir = command_dir(tmp_path)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    codes = [i % 4 for i in range(n)]
    sleepers = {10, 11}  # canceled while the others run
    jobs = []
    for i in range(n):
        if i in sleepers:
            jobs.append(Job(JobSpec('/bin/sh', ['-c', 'sleep 600'],
                                    stdout_path=tmp_path / ('out.%d' % i))))
        else:
            jobs.append(Job(element(tmp_path, i, codes[i])))
    history: Dict[str, List[JobState]] = {}
    lock = threading.Lock()

    def cb(job: Job, st: JobStatus) -> None:
        with lock:
            history.setdefault(job.id, []).append(st.state)

    ex.set_job_status_callback(cb)
    for job in jobs:  # held until one status cycle has seen them all (see the end)
        assert job.spec is not None
        job.spec.attributes.custom_attributes = {'slurm.hold': True}
    assert ex.submit_many(jobs) == []
    assert sbatch_calls(bindir) == 1
    ids = [j.native_id for j in jobs]
    array_id = ids[0].split('_')[0]
    assert ids == ['%s_%d' % (array_id, i) for i in range(n)]
    squeue_ids = bindir / 'squeue.ids'
    deadline = time.monotonic() + WAIT
    while str(n) not in (squeue_ids.read_text().split() if squeue_ids.exists() else []):
        assert time.monotonic() < deadline, 'no squeue call named all %d elements' % n
        time.sleep(0.2)
    subprocess.run([shutil.which('scontrol') or 'scontrol', 'release', array_id], check=True)

    for i in sleepers:
        wait_state(jobs[i], JobState.ACTIVE)
        jobs[i].cancel()
    # another process follows element 3 (exit code 3) by its native id
    child = subprocess.run(
        [sys.executable, '-c', ATTACH_CHILD, str(tmp_path / 'work'), str(bindir), ids[3]],
        capture_output=True, text=True, timeout=WAIT)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == ['FAILED', 3]

    for i, job in enumerate(jobs):
        st = wait_final(job)
        if i in sleepers:
            assert st.state is JobState.CANCELED, (i, job.native_id, st)
            continue
        want = JobState.COMPLETED if codes[i] == 0 else JobState.FAILED
        assert (st.state, st.exit_code) == (want, codes[i]), (i, job.native_id, st)
        assert (tmp_path / ('out.%d' % i)).read_text() == \
            "it's $(no) `no` %d|%s $HOME %d" % (i, os.environ['HOME'], i)
    for job in jobs:
        with lock:
            states = history[job.id]
        assert states[0] is JobState.QUEUED and states[-1] is job.status.state, states
    assert sbatch_calls(bindir) == 1
    # the elements' status came from bulk queries: one squeue named all 1,000 at once
    ids_per_squeue = [int(x) for x in squeue_ids.read_text().split()]
    assert max(ids_per_squeue) == n, ids_per_squeue


ATTACH_CHILD = '''
import json, sys
from pathlib import Path
from psij import Job
from psij_slurm.executor import SlurmExecutorConfig, SlurmJobExecutor
ex = SlurmJobExecutor(config=SlurmExecutorConfig(work_directory=Path(sys.argv[1]),
                      command_directory=Path(sys.argv[2]), queue_polling_interval=1,
                      file_check_interval=0.2))
job = Job()
ex.attach(job, sys.argv[3])
st = job.wait(timeout=200)
print(json.dumps([st.state.name, st.exit_code]))
'''


def test_refused_chunk_fails_only_its_jobs(tmp_path: Path) -> None:
    """MaxArraySize 3, sbatch refuses its 3rd call: jobs 6 and 7 end FAILED with the
    refusal, the other chunks run."""
    bindir = command_dir(tmp_path, refuse_call=3, max_array_size=3)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    jobs = [Job(element(tmp_path, i, i % 2)) for i in range(8)]
    refused = ex.submit_many(jobs)
    assert refused == jobs[6:]
    assert sbatch_calls(bindir) == 3
    for job in jobs[6:]:
        st = job.status
        assert st.state is JobState.FAILED and job.native_id is None
        assert 'job submit limit' in (st.message or '')
        assert isinstance((st.metadata or {}).get('submit_exception'), SubmitException)
    arrays = {j.native_id.split('_')[0] for j in jobs[:6] if j.native_id}
    assert len(arrays) == 2
    for i, job in enumerate(jobs[:6]):
        st = wait_final(job)
        assert st.exit_code == i % 2, (job.native_id, st)


def test_groups_and_bad_elements(tmp_path: Path) -> None:
    """Jobs differing in more than the per-element fields go in separate arrays (or alone);
    a bad element is refused alone; a staging job is submitted on its own."""
    bindir = command_dir(tmp_path)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    d1, d2 = tmp_path / 'd1', tmp_path / 'd2'
    d1.mkdir()
    d2.mkdir()
    a = [Job(JobSpec('/bin/pwd', directory=d1, stdout_path=tmp_path / ('a%d' % i)))
         for i in range(3)]
    b = [Job(JobSpec('/bin/pwd', directory=d2, stdout_path=tmp_path / ('b%d' % i)))
         for i in range(2)]
    alone = Job(JobSpec('/bin/true', directory=tmp_path))
    bad = Job(JobSpec('/bin/pwd', directory=d1, environment={'NOT-A-NAME': 'x'}))
    jobs = [a[0], b[0], bad, a[1], alone, b[1], a[2]]
    refused = ex.submit_many(jobs)
    assert refused == [bad]
    assert isinstance((bad.status.metadata or {}).get('submit_exception'),
                      InvalidJobException)
    assert 'NOT-A-NAME' in (bad.status.message or '')
    assert sbatch_calls(bindir) == 3
    assert len({j.native_id.split('_')[0] for j in a if j.native_id}) == 1
    assert '_' not in (alone.native_id or '_')
    for i, j in enumerate(a):
        assert wait_final(j).state is JobState.COMPLETED
        assert (tmp_path / ('a%d' % i)).read_text().strip() == str(d1)
    for i, j in enumerate(b):
        assert wait_final(j).state is JobState.COMPLETED
        assert (tmp_path / ('b%d' % i)).read_text().strip() == str(d2)
    assert wait_final(alone).state is JobState.COMPLETED


def test_element_stdio_errors_and_stderr(tmp_path: Path) -> None:
    """An element whose stdout cannot be opened fails with exit code 1 (as a single job
    does); stdin and a shared stdout/stderr file work per element."""
    bindir = command_dir(tmp_path)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    (tmp_path / 'in').write_text('from stdin\n')
    good = Job(JobSpec('/bin/sh', ['-c', 'cat; echo err >&2'], stdin_path=tmp_path / 'in',
                       stdout_path=tmp_path / 'both', stderr_path=tmp_path / 'both'))
    broken = Job(JobSpec('/bin/sh', ['-c', 'echo x'],
                         stdout_path=tmp_path / 'missing' / 'out'))
    assert ex.submit_many([good, broken]) == []
    assert sbatch_calls(bindir) == 1
    assert wait_final(good).state is JobState.COMPLETED
    assert (tmp_path / 'both').read_text() == 'from stdin\nerr\n'
    st = wait_final(broken)
    assert (st.state, st.exit_code) == (JobState.FAILED, 1)


def test_cli_submit_of_a_list(tmp_path: Path) -> None:
    """``psij submit --spec LIST.json`` submits the list with submit_many: one sbatch; a
    bad item is named before anything is submitted."""
    bindir = command_dir(tmp_path)
    specs = [{'executable': '/bin/sh', 'arguments': ['-c', 'echo %d >"$0"' % i,
                                                     str(tmp_path / ('cli.%d' % i))]}
             for i in range(5)]
    path = tmp_path / 'list.json'
    path.write_text(json.dumps(specs))
    env = dict(os.environ, PSIJ_SLURM_COMMAND_DIR=str(bindir))
    cmd = [sys.executable, '-m', 'psij', 'submit', '--executor', 'slurm', '--spec', str(path)]
    p = subprocess.run(cmd + ['--json'], capture_output=True, text=True, timeout=WAIT, env=env)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    array_id = rows[0]['native_id'].split('_')[0]
    assert [r['native_id'] for r in rows] == ['%s_%d' % (array_id, i) for i in range(5)]
    assert sbatch_calls(bindir) == 1
    path.write_text(json.dumps(specs[:2] + [{'executable': 5}]))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT, env=env)
    assert p.returncode == 125 and 'item 2 of the list' in p.stderr, p.stderr
    assert sbatch_calls(bindir) == 1


def test_cancel_of_a_pending_element_is_its_end(tmp_path: Path) -> None:
    """Slurm deletes a canceled pending array element outright (no CANCELLED line, no
    accounting record): after a successful scancel its disappearance is the cancel, reported
    by the status command the cancel asks for, not after the polls that declare a job lost
    (the polling interval here is longer than the wait)."""
    ex = executor(tmp_path / 'work', queue_polling_interval=600.0)
    jobs = [Job(JobSpec('/bin/true', attributes=JobAttributes(
        custom_attributes={'slurm.hold': True}))) for _ in range(3)]
    assert ex.submit_many(jobs) == []
    assert all('_' in (j.native_id or '') for j in jobs), [j.native_id for j in jobs]
    for job in jobs:
        wait_state(job, JobState.QUEUED)
    for job in jobs:
        job.cancel()
    for job in jobs:
        st = wait_final(job, timeout=120)
        assert st.state is JobState.CANCELED, (job.native_id, st)
        assert 'without recording' not in (st.message or ''), (job.native_id, st)
