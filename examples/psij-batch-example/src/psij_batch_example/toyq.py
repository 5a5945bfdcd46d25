"""
``toyq``: a toy batch scheduler, so that the example executor has something real to drive.

It runs jobs on this host, one process group each, and keeps their state in ``$TOYQ_DIR``
(default ``~/.toyq``, mode 0700)::

    python -m psij_batch_example.toyq submit SCRIPT   prints the new job's id
    python -m psij_batch_example.toyq status ID...    "ID STATE EXIT_CODE" per known job
    python -m psij_batch_example.toyq cancel ID       exit 1 "already ended" if it ended
    python -m psij_batch_example.toyq list            ids of the jobs that have not ended

A script's ``#TOYQ --name=N``, ``--queue=Q`` (``default`` or ``fast``, anything else is refused),
``--time=SECONDS`` (the job is killed past it: state TIMEOUT) and ``--hold`` lines are read
at submission. The job runs with ``TOYQ_JOB_ID`` set. States: QUEUED, RUNNING, DONE (with the
script's exit code), CANCELLED, TIMEOUT.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

QUEUES = ('default', 'fast')
FINAL = ('DONE', 'CANCELLED', 'TIMEOUT')


def _dir() -> Path:
    d = Path(os.environ.get('TOYQ_DIR') or Path.home() / '.toyq')
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix('.tmp%d' % os.getpid())
    tmp.write_text(text)
    os.replace(tmp, path)


def _state(job_id: str) -> Optional[List[str]]:
    try:
        return (_dir() / (job_id + '.state')).read_text().split()
    except OSError:
        return None


def _new_id() -> str:
    with open(_dir() / 'counter', 'a+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read().strip() or '0') + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
    return str(n)


def _directives(script: str) -> Dict[str, str]:
    out = {}
    for line in Path(script).read_text().splitlines():
        if line.startswith('#TOYQ '):
            key, _, value = line[len('#TOYQ '):].strip().lstrip('-').partition('=')
            out[key] = value
    return out


def submit(script: str) -> int:
    """Queues the script and starts it (unless held); prints its id."""
    try:
        d = _directives(script)
    except OSError as ex:
        print('toyq: cannot read %s: %s' % (script, ex.strerror), file=sys.stderr)
        return 2
    queue = d.get('queue', 'default')
    if queue not in QUEUES:
        print('toyq: unknown queue %r (queues: %s)' % (queue, ', '.join(QUEUES)), file=sys.stderr)
        return 2
    job_id = _new_id()
    _write(_dir() / (job_id + '.state'), 'QUEUED - held\n' if 'hold' in d else 'QUEUED -\n')
    if 'hold' not in d:
        # a supervisor of its own, so that the job outlives the submitting process
        subprocess.Popen([sys.executable, '-m', 'psij_batch_example.toyq', '_run', job_id,
                          script, d.get('time', '0')], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    print(job_id)
    return 0


def _canceled(job_id: str) -> bool:
    return (_dir() / (job_id + '.cancel')).exists()


def _run(job_id: str, script: str, limit: str) -> int:
    if _canceled(job_id):
        _write(_dir() / (job_id + '.state'), 'CANCELLED -\n')
        return 0
    env = dict(os.environ, TOYQ_JOB_ID=job_id)
    p = subprocess.Popen(['/bin/bash', script], env=env, start_new_session=True,
                         stdin=subprocess.DEVNULL)
    _write(_dir() / (job_id + '.state'), 'RUNNING -\n')
    _write(_dir() / (job_id + '.pid'), str(p.pid))
    try:
        code = p.wait(timeout=float(limit) or None)
        final = 'DONE %d\n' % code
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        final = 'TIMEOUT -\n'
    _write(_dir() / (job_id + '.state'), 'CANCELLED -\n' if _canceled(job_id) else final)
    return 0


def status(ids: List[str]) -> int:
    """One line per known job."""
    for job_id in ids:
        st = _state(job_id)
        if st:
            print('%s %s %s' % (job_id, st[0], st[1] if len(st) > 1 else '-'))
    return 0


def cancel(job_id: str) -> int:
    """Kills the job's process group (SIGTERM); it ends CANCELLED."""
    st = _state(job_id)
    if st is None:
        print('toyq: no job %s' % job_id, file=sys.stderr)
        return 1
    if st[0] in FINAL:
        print('toyq: job %s already ended' % job_id, file=sys.stderr)
        return 1
    (_dir() / (job_id + '.cancel')).touch()
    if st[-1] == 'held':
        _write(_dir() / (job_id + '.state'), 'CANCELLED -\n')
        return 0
    for _ in range(100):  # the supervisor starts the job at once; it checks the request too
        try:
            pid = int((_dir() / (job_id + '.pid')).read_text())
        except (OSError, ValueError):
            if (_state(job_id) or ['?'])[0] in FINAL:
                return 0
            time.sleep(0.02)
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        return 0
    return 0


def list_jobs() -> int:
    """The ids of the jobs that have not ended."""
    for f in sorted(_dir().glob('*.state')):
        st = f.read_text().split()
        if st and st[0] not in FINAL:
            print(f.stem)
    return 0


def main(argv: List[str]) -> int:
    """The command line (see the module documentation)."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == 'submit' and len(args) == 1:
        return submit(args[0])
    if cmd == 'status':
        return status(args)
    if cmd == 'cancel' and len(args) == 1:
        return cancel(args[0])
    if cmd == 'list':
        return list_jobs()
    if cmd == '_run' and len(args) == 3:
        return _run(*args)
    print('toyq: usage: submit SCRIPT | status ID... | cancel ID | list', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
