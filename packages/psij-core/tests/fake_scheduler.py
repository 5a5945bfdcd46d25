"""A tiny batch scheduler simulator for the batch framework's tests.

    fake_scheduler.py submit SCRIPT      prints a job id; runs SCRIPT with bash unless it holds
                                         a "#FAKE --hold" directive
    fake_scheduler.py status ID...       "ID STATE CODE" per known job (STATE: QUEUED RUNNING
                                         DONE CANCELLED TIMEOUT); fails while DIR/down exists
    fake_scheduler.py cancel ID [REASON] kills the job's process group, state CANCELLED (or
                                         REASON, e.g. TIMEOUT)
    fake_scheduler.py list               every job id

State lives in $FAKE_SCHED_DIR; every status call is logged to DIR/status.log.
"""

import os
import signal
import subprocess
import sys

D = os.environ['FAKE_SCHED_DIR']


def state_file(i):
    return os.path.join(D, '%s.state' % i)


def submit(script):
    with open(script) as f:
        text = f.read()
    directives = [line[len('#FAKE '):].strip() for line in text.splitlines()
                  if line.startswith('#FAKE ')]
    ids = [int(n.split('.')[0]) for n in os.listdir(D) if n.endswith('.state')]
    i = str(max(ids, default=99) + 1)
    with open(os.path.join(D, i + '.directives'), 'w') as f:
        f.write('\n'.join(directives))
    if '--hold' in directives:
        with open(state_file(i), 'w') as f:
            f.write('QUEUED\n')
    else:
        with open(state_file(i), 'w') as f:
            f.write('RUNNING\n')
        p = subprocess.Popen(['/bin/sh', '-c', 'bash "$1"; echo "DONE $?" > "$2"', 'job',
                              script, state_file(i)], start_new_session=True,
                             env=dict(os.environ, FAKE_JOB_ID=i), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(D, i + '.pid'), 'w') as f:
            f.write(str(p.pid))
    print('Submitted job %s' % i)


def status(ids):
    with open(os.path.join(D, 'status.log'), 'a') as f:
        f.write(' '.join(ids) + '\n')
    if os.path.exists(os.path.join(D, 'down')):
        print('fake: Unable to contact controller', file=sys.stderr)
        sys.exit(1)
    for i in ids:
        try:
            with open(state_file(i)) as f:
                parts = f.read().split()
        except OSError:
            continue
        print(i, parts[0], parts[1] if len(parts) > 1 else '-')


def cancel(i, reason='CANCELLED'):
    try:
        with open(state_file(i)) as f:
            if f.read().startswith(('DONE', 'CANCELLED', 'TIMEOUT')):
                return
        with open(os.path.join(D, i + '.pid')) as f:
            os.killpg(int(f.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    with open(state_file(i), 'w') as f:
        f.write(reason + '\n')


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'submit':
        submit(args[0])
    elif cmd == 'status':
        status(args)
    elif cmd == 'cancel':
        cancel(*args)
    elif cmd == 'list':
        print('\n'.join(n[:-6] for n in os.listdir(D) if n.endswith('.state')))
