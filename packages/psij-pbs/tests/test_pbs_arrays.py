"""submit_many on the real OpenPBS server: qsub -J, each subjob a first-class job.

The PBS commands go through a command directory of wrappers in front of the real ones:
``qsub`` counts its calls and refuses one when a test asks. No daemon is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from pbs_helpers import WAIT, executor, pbs_bin, wait_final, wait_state
from psij import Job, JobSpec, JobState, SubmitException
from psij_pbs.pbs_arrays import parse_max_array_size

pytestmark = pytest.mark.usefixtures('pbs_server')

REFUSAL = 'qsub: would exceed queue generic\'s per-user limit'


def command_dir(tmp: Path, refuse_call: Optional[int] = None,
                max_array_size: Optional[int] = None) -> Path:
    """Wrappers of the PBS commands: qsub counts its calls in ``qsub.calls``."""
    d = tmp / 'bin'
    d.mkdir()
    real = Path(pbs_bin())
    for name in ('qstat', 'qdel', 'qselect'):
        (d / name).symlink_to(real / name)
    (d / 'qsub').write_text(
        '#!/bin/sh\nc=%s/qsub.calls\nn=$(( $(cat "$c" 2>/dev/null || echo 0) + 1 ))\n'
        'echo "$n" >"$c"\nif [ "$n" = "%s" ]; then echo "%s" >&2; exit 38; fi\n'
        'exec %s "$@"\n' % (d, refuse_call or 0, REFUSAL, real / 'qsub'))
    qmgr = '#!/bin/sh\n'
    if max_array_size is not None:
        qmgr += 'echo "Server x"; echo "    max_array_size = %d"; exit 0\n' % max_array_size
    (d / 'qmgr').write_text(qmgr + 'exec %s "$@"\n' % (real / 'qmgr'))
    for name in ('qsub', 'qmgr'):
        (d / name).chmod(0o755)
    return d


def qsub_calls(d: Path) -> int:
    f = d / 'qsub.calls'
    return int(f.read_text()) if f.exists() else 0


ATTACH_CHILD = '''
import json, sys
from pathlib import Path
from psij import Job
from psij_pbs.executor import PBSExecutorConfig, PBSJobExecutor
ex = PBSJobExecutor(config=PBSExecutorConfig(work_directory=Path(sys.argv[1]),
                    command_directory=Path(sys.argv[2]), queue_polling_interval=1,
                    file_check_interval=0.2))
job = Job()
ex.attach(job, sys.argv[3])
st = job.wait(timeout=200)
print(json.dumps([st.state.name, st.exit_code]))
'''


def test_parse_max_array_size() -> None:
    """max_array_size is read from qmgr's answer."""
    assert parse_max_array_size('Server vm\n    max_array_size = 10000\n') == 10000
    assert parse_max_array_size('Server vm\n') is None


def test_array_elements(tmp_path: Path) -> None:
    """60 jobs in one qsub -J: own ids, states, exit codes, arguments, environment and stdout;
    one element canceled; one attached from another process."""
    bindir = command_dir(tmp_path)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    n = 60
    jobs = [Job(JobSpec('/bin/sh', ['-c', 'printf "%s|%s" "$1" "$PSIJ_T"; exit "$2"', 'sh',
                                    "it's $(no) %d" % i, str(i % 3)],
                        environment={'PSIJ_T': 'v %d' % i},
                        stdout_path=tmp_path / ('out.%d' % i))) for i in range(n)]
    jobs[7] = Job(JobSpec('/bin/sh', ['-c', 'sleep 600'], stdout_path=tmp_path / 'out.7'))
    assert ex.submit_many(jobs) == []
    assert qsub_calls(bindir) == 1
    array = jobs[0].native_id or ''
    assert array.startswith(array.split('[')[0] + '[0].')
    assert [j.native_id for j in jobs] == [array.replace('[0]', '[%d]' % i) for i in range(n)]
    wait_state(jobs[7], JobState.ACTIVE)
    jobs[7].cancel()
    child = subprocess.run(
        [sys.executable, '-c', ATTACH_CHILD, str(tmp_path / 'work'), str(bindir),
         jobs[5].native_id or ''], capture_output=True, text=True, timeout=WAIT)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == ['FAILED', 2]
    for i, job in enumerate(jobs):
        st = wait_final(job)
        if i == 7:
            assert st.state is JobState.CANCELED, st
            continue
        assert st.exit_code == i % 3, (job.native_id, st)
        assert st.state is (JobState.COMPLETED if i % 3 == 0 else JobState.FAILED)
        assert (tmp_path / ('out.%d' % i)).read_text() == "it's $(no) %d|v %d" % (i, i)


def test_refused_chunk(tmp_path: Path) -> None:
    """max_array_size 3, qsub refuses its 3rd call: the last 2 jobs end FAILED with the
    refusal, the first two arrays run."""
    bindir = command_dir(tmp_path, refuse_call=3, max_array_size=3)
    ex = executor(tmp_path / 'work', command_directory=bindir)
    jobs = [Job(JobSpec('/bin/sh', ['-c', 'exit %d' % (i % 2)])) for i in range(8)]
    assert ex.submit_many(jobs) == jobs[6:]
    assert qsub_calls(bindir) == 3
    for job in jobs[6:]:
        assert job.status.state is JobState.FAILED and job.native_id is None
        assert 'per-user limit' in (job.status.message or '')
        assert isinstance((job.status.metadata or {})['submit_exception'], SubmitException)
    for i, job in enumerate(jobs[:6]):
        st = wait_final(job)
        assert st.exit_code == i % 2, (job.native_id, st)


def test_status_ids() -> None:
    """Subjobs are asked about through their array, with -t; other ids as they are."""
    from psij_pbs.pbs_arrays import status_ids
    assert status_ids(['3.vm', '12[0].vm', '12[7].vm', '13[1].vm']) == \
        (['3.vm', '12[].vm', '13[].vm'], True)
    assert status_ids(['3.vm', '4.vm']) == (['3.vm', '4.vm'], False)
