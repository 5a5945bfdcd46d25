"""The simulator's outputs in each of Cobalt's forms, read back by the executor's parsers (held
jobs: nothing needs to run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cobalt_helpers import run
from psij_cobalt.cobalt_status import job_id_from_qsub, parse_long, parse_table_ids

pytestmark = pytest.mark.usefixtures('cobalt_sim')


def _script(tmp_path: Path, directives: str, mode: int = 0o700) -> Path:
    p = tmp_path / 'job.sh'
    p.write_text('#!/bin/sh\n%s\necho hello\n' % directives)
    p.chmod(mode)
    return p


def test_qsub_qstat_qdel(tmp_path: Path) -> None:
    script = _script(tmp_path, '#COBALT -n 1 -t 00:05:00 -A psijproj\n#COBALT --jobname sim')
    p = run('qsub', '-h', '--cwd', str(tmp_path), '-q', 'debug', str(script))
    assert p.returncode == 0, p.stderr
    assert p.stdout.count('\n') == 1
    job_id = job_id_from_qsub(p.stdout)
    assert job_id is not None
    try:
        table = run('qstat', '-u', 'nobody-here').stdout
        assert job_id not in parse_table_ids(table)
        long = run('qstat', '-l', '--header=JobID:State:Queue:WallTime:JobName', job_id)
        assert parse_long(long.stdout) == {job_id: {
            'State': 'user_hold', 'Queue': 'debug', 'WallTime': '00:05:00', 'JobName': 'sim'}}
        full = parse_long(run('qstat', '-lf', job_id).stdout)[job_id]
        assert full['Project'] == 'psijproj' and full['Nodes'] == '1'
        # among ids it does not know, qstat shows only the one it knows...
        assert list(parse_long(run('qstat', '-l', '999999999', job_id).stdout)) == [job_id]
        # ... and for none it knows, prints nothing and exits 1
        none = run('qstat', '-l', '--header=JobID:State', '999999999')
        assert (none.returncode, none.stdout) == (1, '')
        assert (tmp_path / (job_id + '.cobaltlog')).read_text().startswith('Jobid: %s\n' % job_id)
    finally:
        deleted = run('qdel', job_id)
    assert deleted.stdout.split()[:2] == ['Deleted', 'Jobs'] and job_id in deleted.stdout.split()
    assert 'deleted by user' in (tmp_path / (job_id + '.cobaltlog')).read_text()


def test_qsub_refusals(tmp_path: Path) -> None:
    p = run('qsub', str(_script(tmp_path, '', mode=0o600)))
    assert p.returncode != 0 and 'not executable' in p.stderr
    p = run('qsub', '--cwd', str(tmp_path), '-q', 'no-such-queue', str(_script(tmp_path, '')))
    assert p.returncode != 0 and 'no-such-queue' in p.stderr and p.stdout == ''
    p = run('qsub', '--bogus', str(_script(tmp_path, '')))
    assert p.returncode != 0 and 'no such option' in p.stderr
