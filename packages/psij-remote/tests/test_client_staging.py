"""``client:`` staging URLs: files of the client copied to the far end before a job and back
after it, over the connection, with the flags' meaning unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from psij import Job, JobState, StageIn, StageOut, StageOutFlags, StagingMode
from psij.exceptions import InvalidJobException
from psij_remote.connection import connections
from remote_helpers import executor, history, sh, wait_final

WEIRD = "we'ird $(name) \u00e9 \n"


def test_files_and_directories_both_ways(tmp_path: Path, remote_dir: Path) -> None:
    src = tmp_path / 'in.txt'
    src.write_bytes(b'input\x00\xff' * 300_000)  # over one staging message
    tree = tmp_path / 'tree'
    (tree / 'sub').mkdir(parents=True)
    (tree / 'sub' / WEIRD).write_text('deep\n')
    out = tmp_path / 'results'
    out.mkdir()
    ex = executor()
    job = Job(sh('cat in.txt > copy.txt; cp -r tree tree2; echo made > tree2/new; exit 0',
                 directory=remote_dir,
                 stage_in={StageIn('client://' + str(src), 'in.txt'),
                           StageIn('client://' + str(tree), 'tree')},
                 stage_out={StageOut('copy.txt', 'client://%s/copy.txt' % out,
                                     StageOutFlags.ON_SUCCESS),
                            StageOut('tree2', 'client://%s/tree2' % out),
                            StageOut('missing', 'client://%s/missing' % out,
                                     StageOutFlags.ALWAYS | StageOutFlags.IF_PRESENT),
                            StageOut('copy.txt', 'client://%s/on-error' % out,
                                     StageOutFlags.ON_ERROR)}))
    seen = history(job)
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.COMPLETED, st
    assert JobState.STAGE_IN in seen and JobState.STAGE_OUT in seen, seen
    assert (out / 'copy.txt').read_bytes() == src.read_bytes()
    assert (out / 'tree2' / 'sub' / WEIRD).read_text() == 'deep\n'
    assert (out / 'tree2' / 'new').read_text() == 'made\n'
    assert not (out / 'missing').exists() and not (out / 'on-error').exists()
    # the stage area there is gone
    conn = [c for c in connections() if c.ssh_pid is not None][0]
    assert conn.tracked_count() == 0


def test_a_failed_job_stages_its_on_error_files(tmp_path: Path, remote_dir: Path) -> None:
    ex = executor()
    job = Job(sh('echo why > log; exit 4', directory=remote_dir,
                 stage_out={StageOut('log', 'client://%s/log' % tmp_path,
                                     StageOutFlags.ON_ERROR),
                            StageOut('log', 'client://%s/ok' % tmp_path,
                                     StageOutFlags.ON_SUCCESS)}))
    ex.submit(job)
    st = wait_final(job)
    assert st.state is JobState.FAILED and st.exit_code == 4, st
    assert (tmp_path / 'log').read_text() == 'why\n' and not (tmp_path / 'ok').exists()


def test_what_cannot_be_staged_is_refused_at_submit(tmp_path: Path, remote_dir: Path) -> None:
    ex = executor()
    missing = Job(sh('true', stage_in={StageIn('client://%s/nope' % tmp_path, 'x')}))
    with pytest.raises(InvalidJobException, match='cannot be read here'):
        ex.submit(missing)
    assert missing.status.state is JobState.NEW and missing.executor is None
    (tmp_path / 'f').write_text('x')
    link = Job(sh('true', stage_in={StageIn('client://%s/f' % tmp_path, 'x',
                                            StagingMode.LINK)}))
    with pytest.raises(InvalidJobException, match='LINK|linked'):
        ex.submit(link)
    host = Job(sh('true', stage_in={StageIn('client://otherhost/f', 'x')}))
    with pytest.raises(InvalidJobException, match='no host'):
        ex.submit(host)
