"""
Runs one rank of a PSI/J job inside a RADICAL-Pilot task (stdlib only, started with
``python -I -S``).

RADICAL-Pilot writes a task's arguments and environment into shell scripts, the environment
unescaped; so the job travels as one base64url argument (a JSON document) that no shell can
misread (or, too big for an argument, in a file named by ``@PATH``, removed once read),
and this program applies it: the environment (``${NAME}`` references expanded, the inherited
environment dropped if asked), the working directory, standard input, output and
error, then replaces itself with the executable. Its exit code is the job's.
"""

import base64
import json
import os
import re
import sys

_REF = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
_O_OUT = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


# a failing pre-launch script (a status, or `exit` in it: the EXIT trap) is named on stderr as
# psij's launch wrapper names it (psij.launchers.launch_wrapper.pre_launch_failure reads it)
_AROUND = ('_pre=$1 _post=$2; shift 2; '
           '_failed() { echo "psij: the pre-launch script $_pre failed with exit code $1" >&2; }; '
           'if [ -n "$_pre" ]; then '
           'trap \'_rc=$?; [ "$_rc" -eq 0 ] || _failed "$_rc"\' EXIT; '
           '. "$_pre"; _rc=$?; trap - EXIT; '
           'if [ "$_rc" -ne 0 ]; then _failed "$_rc"; exit "$_rc"; fi; fi; '
           '"$@"; _rc=$?; '
           'if [ -n "$_post" ]; then . "$_post"; fi; exit $_rc')


def _fail(message: str, code: int) -> None:
    sys.stderr.write('psij-rp: %s\n' % message)
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    payload = sys.argv[1]
    if payload.startswith('@'):  # too big for one argument: in a file, read once
        path = payload[1:]
        with open(path) as stream:
            payload = stream.read()
        os.unlink(path)
    job = json.loads(base64.urlsafe_b64decode(payload).decode('utf-8', 'surrogateescape'))
    env = dict(os.environ) if job['inherit'] else {}
    for name, value in job['environment']:
        env[name] = _REF.sub(lambda m: env.get(m.group(1), ''), value)
    if job['directory']:
        try:
            os.chdir(job['directory'])
        except OSError as ex:
            _fail('cannot enter the job directory %r: %s' % (job['directory'], ex), 1)
    for fd, path, flags in ((0, job['stdin'], os.O_RDONLY), (1, job['stdout'], _O_OUT),
                            (2, job['stderr'], _O_OUT)):
        if path is None:
            continue
        try:
            f = os.open(path, flags, 0o666)
        except OSError as ex:
            _fail('cannot open %r: %s' % (path, ex), 1)
        os.dup2(f, fd)
        os.close(f)
    argv = [job['executable']] + job['arguments']
    if job.get('pre_launch') or job.get('post_launch'):
        # sourced by a shell around the job, as RP's launch script would: what pre_launch
        # exports reaches the job, post_launch runs after it, the job's exit code is kept
        argv = ['/bin/sh', '-c', _AROUND, 'sh', job.get('pre_launch') or '',
                job.get('post_launch') or ''] + argv
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as ex:
        _fail('cannot run %r: %s' % (argv[0], ex), 127)


main()
