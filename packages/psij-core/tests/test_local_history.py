"""What `list` and `attach` read of the local state directory does not grow with its history:
closed journals are skipped by `list`, `attach` reads the journal whose time span holds the
job's start, and a wait for an end reads only what was appended. Bytes read are this process's
``rchar`` (``/proc/self/io``): real reads, whatever code does them."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from psij.executors.local import _local_state as st

PY = sys.executable

# A keeper's life in short: many jobs start and end, then it exits (closing its journals as
# a keeper does when its last job has ended, if this psij does so).
KEEPER_LIFE = '''
import sys
from pathlib import Path
from psij.executors.local import _local_state as st
d, n = Path(sys.argv[1]), int(sys.argv[2])
first = None
for i in range(n):
    nid = st.make_native_id(100000 + i, st.start_estimate())
    st.record_start(d, nid)
    st.record_end(d, nid, 'FAILED', i % 256, None)
    first = first or nid
if hasattr(st, 'close_journals'):
    st.close_journals()
print(first)
'''


def rchar() -> int:
    with open('/proc/self/io') as f:
        for line in f:
            if line.startswith('rchar'):
                return int(line.split()[1])
    raise AssertionError('no rchar in /proc/self/io')


def history(d: Path, keepers: int, jobs: int, gap: float) -> list:
    firsts = []
    for _ in range(keepers):
        out = subprocess.run([PY, '-c', KEEPER_LIFE, str(d), str(jobs)], capture_output=True,
                             text=True, check=True, timeout=120).stdout
        firsts.append(out.strip())
        time.sleep(gap)  # keepers of other times (more than a start's tolerance apart)
    return firsts


def test_list_and_attach_read_a_bounded_part_of_the_history(tmp_path: Path) -> None:
    d = tmp_path / 'state'
    d.mkdir()
    firsts = history(d, 3, 10000, 2.0 * st.START_TOLERANCE / st._TICKS + 0.2)
    total = sum(p.stat().st_size for p in d.iterdir())
    assert total > 2_000_000
    before = rchar()
    assert st.list_live(d) == []
    listed = rchar() - before
    assert listed < 10_000, 'list read %d of %d bytes of history' % (listed, total)
    before = rchar()
    for nid in firsts:
        rec = st.read_record(d, nid)
        assert rec is not None and rec.end == {'state': 'FAILED', 'exit_code': 0,
                                               'message': None}
    attached = rchar() - before
    # each journal once (without the spans: 1 + 2 + 3 journals, whatever the listing order)
    assert attached < 1.5 * total, 'attach read %d bytes for a history of %d' % (
        attached, total)


@pytest.fixture
def running(tmp_path: Path):
    """(state directory, native id) of a running process recorded as started in a journal
    this test process writes, as a keeper would."""
    d = tmp_path / 'state'
    d.mkdir()
    sleeper = subprocess.Popen(['sleep', '1000'])
    try:
        start = st.proc_start_time(sleeper.pid)
        assert start is not None
        nid = st.make_native_id(sleeper.pid, start)
        st.record_start(d, nid)
        yield d, nid
    finally:
        sleeper.kill()
        sleeper.wait()
        st._journals.clear()


def _more_jobs(d: Path, n: int, each=lambda i: None) -> None:
    for i in range(n):
        other = st.make_native_id(200000 + i, 1)
        st.record_start(d, other)
        st.record_end(d, other, 'COMPLETED', 0, None)
        each(i)


def test_a_wait_for_an_end_reads_only_what_was_appended(running) -> None:
    d, nid = running
    _more_jobs(d, 20000)  # other jobs of the same keeper
    rec = st.read_record(d, nid)
    assert rec is not None and rec.end is None
    assert st.list_live(d) == [nid]
    st.record_end(d, nid, 'CANCELED', -15, 'Canceled')
    before = rchar()
    again = st.read_record(d, nid, rec)
    read = rchar() - before
    assert again is not None and again.end is not None and again.end['exit_code'] == -15
    assert read < 10_000, 'a look again read %d bytes' % read


def test_rotation_carries_running_jobs_over_and_trims_old_journals(running, monkeypatch) -> None:
    import os
    d, nid = running
    monkeypatch.setattr(st, 'JOURNAL_ROTATE_SIZE', 50_000)
    first = sorted(d.iterdir())[0]

    def age_the_first_once_closed(i: int) -> None:
        if len(os.listdir(d)) == 2 and first.exists() \
                and first.stat().st_mtime > time.time() - 3600:
            old = time.time() - st.RECORD_MAX_AGE - 3600
            os.utime(first, (old, old))

    _more_jobs(d, 2000, age_the_first_once_closed)  # several rotations
    names = sorted(p.name for p in d.iterdir())
    assert len(names) >= 3, names
    assert first.name not in names  # trimmed by its own (live) keeper
    assert st.list_live(d) == [nid]  # its start line was in the trimmed journal
    before = rchar()
    st.list_live(d)
    assert rchar() - before < 60_000  # the open journal only
