"""``tctl``: a toy scheduler with one program and subcommands, for the batch framework's tests.

    tctl submit SCRIPT     prints "Submitted job t.N"; runs SCRIPT with bash (TCTL_JOB_ID=t.N)
                           after a short wait in the queue
    tctl dump [ID...]      ONE JSON document: {"jobs": [{"id", "state", "exit"}]}, state one of
                           pending, running, done, killed (all jobs without ids)
    tctl kill ID           kills the job's process group; "t.N already finished" (exit 3)
    tctl list              the same JSON document as dump: not one id per line

State lives in $TCTL_DIR, one JSON file per job.
"""

import json
import os
import signal
import subprocess
import sys
import time

D = os.environ['TCTL_DIR']


def path(i: str) -> str:
    return os.path.join(D, i + '.json')


def load(i: str) -> dict:
    with open(path(i)) as f:
        return json.load(f)


def save(i: str, rec: dict) -> None:
    with open(path(i) + '.tmp', 'w') as f:
        json.dump(rec, f)
    os.replace(path(i) + '.tmp', path(i))


def submit(script: str) -> None:
    n = max([int(x[2:-5]) for x in os.listdir(D) if x.startswith('t.') and
             x.endswith('.json')], default=16) + 1
    i = 't.%d' % n
    save(i, {'id': i, 'state': 'pending', 'exit': None, 'pgid': None})
    subprocess.Popen([sys.executable, __file__, '_run', i, script], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    print('Submitted job %s' % i)


def run(i: str, script: str) -> None:
    time.sleep(0.3)  # queued for a moment
    rec = load(i)
    if rec['state'] != 'pending':
        return
    rec.update(state='running', pgid=os.getpgrp())
    save(i, rec)
    p = subprocess.Popen(['/bin/bash', script], env=dict(os.environ, TCTL_JOB_ID=i))
    code = p.wait()
    rec = load(i)
    if rec['state'] == 'running':
        rec.update(state='done', exit=code)
        save(i, rec)


def dump(ids: list) -> None:
    names = ids or sorted(x[:-5] for x in os.listdir(D) if x.endswith('.json'))
    jobs = []
    for i in names:
        if os.path.exists(path(i)):
            rec = load(i)
            jobs.append({k: rec[k] for k in ('id', 'state', 'exit')})
    print(json.dumps({'jobs': jobs}, indent=2))


def kill(i: str) -> int:
    if not os.path.exists(path(i)):
        print('tctl: no job %s' % i, file=sys.stderr)
        return 2
    rec = load(i)
    if rec['state'] in ('done', 'killed'):
        print('tctl: %s already finished' % i, file=sys.stderr)
        return 3
    pgid = rec['pgid']
    rec['state'] = 'killed'
    save(i, rec)
    if pgid:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return 0


def main(argv: list) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == 'submit':
        submit(args[0])
    elif cmd == '_run':
        run(args[0], args[1])
    elif cmd in ('dump', 'list'):
        dump(args if cmd == 'dump' else [])
    elif cmd == 'kill':
        return kill(args[0])
    else:
        print('tctl: unknown subcommand %r' % cmd, file=sys.stderr)
        return 64
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
