"""submit_many on the real Flux instance: one pipeline of submissions, each job its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flux_helpers import sh
from psij import InvalidJobException, Job, JobAttributes, JobExecutor, JobSpec, JobState

pytestmark = [pytest.mark.flux, pytest.mark.usefixtures('flux_instance')]

WAIT = 240.0

ATTACH_CHILD = '''
import json, sys
from psij import Job, JobExecutor
job = Job()
JobExecutor.get_instance('flux').attach(job, sys.argv[1])
st = job.wait(timeout=200)
print(json.dumps([st.state.name, st.exit_code]))
'''


def test_submit_many(tmp_path: Path) -> None:
    """200 jobs with mixed exit codes; a job Flux refuses and a bad spec end FAILED alone;
    an element canceled; an element attached from another process."""
    ex = JobExecutor.get_instance('flux')
    n = 200
    jobs = [Job(sh('printf %s "$1" >"$2"; exit "$3"', "a'b $x %d" % i,
                   str(tmp_path / ('out.%d' % i)), str(i % 3))) for i in range(n)]
    sleeper = Job(sh('sleep 600'))
    bad_queue = Job(sh('exit 0', attributes=JobAttributes(queue_name='nosuch')))
    no_exe = Job(JobSpec())
    refused = ex.submit_many(jobs[:100] + [bad_queue, sleeper, no_exe] + jobs[100:])
    assert refused == [bad_queue, no_exe]
    for j in refused:
        assert j.status.state is JobState.FAILED and j.native_id is None
        assert isinstance((j.status.metadata or {}).get('submit_exception'), Exception)
    assert isinstance(no_exe.status.metadata['submit_exception'], InvalidJobException)
    assert 'nosuch' in (bad_queue.status.message or '')
    assert all(j.native_id for j in jobs + [sleeper])
    assert len({j.native_id for j in jobs}) == n
    st = sleeper.wait(timeout=WAIT, target_states=[JobState.ACTIVE])
    assert st is not None
    sleeper.cancel()
    child = subprocess.run([sys.executable, '-c', ATTACH_CHILD, jobs[5].native_id or ''],
                           capture_output=True, text=True, timeout=WAIT)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == ['FAILED', 2]
    for i, j in enumerate(jobs):
        st = j.wait(timeout=WAIT)
        assert st is not None and st.exit_code == i % 3, (j.native_id, st)
        assert st.state is (JobState.COMPLETED if i % 3 == 0 else JobState.FAILED)
        assert (tmp_path / ('out.%d' % i)).read_text() == "a'b $x %d" % i
    st = sleeper.wait(timeout=WAIT)
    assert st is not None and st.state is JobState.CANCELED
