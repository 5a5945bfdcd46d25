"""``psij run|submit|status|cancel|list|validate``: jobs from the command line.

``psij run`` submits a job, prints each state as it is reached, and exits with the job's exit
code (a death by signal N gives 128+N, as in a shell; a failure or cancel without a code gives
1). The states go to standard error, so that the job's own output, which goes to the
terminal's standard output unless redirected, stays clean; ``--json`` prints them as JSON
lines. Ctrl-C cancels the job. Errors of psij itself (bad spec, submit refused) exit with 125.

``psij submit`` prints the native id and returns; ``psij status`` and ``psij cancel`` follow the
job from any later process (a local job's end is recorded by the executor's keeper process, so
nothing of ``psij submit`` needs to stay behind).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import timedelta
from typing import IO, Any, Dict, List, Optional, Set, Tuple, Union

from psij.exceptions import InvalidJobException, SubmitException
from psij.job import Job
from psij.job_executor import JobExecutor
from psij.job_spec import JobSpec
from psij.job_state import JobState
from psij.job_status import JobStatus
from psij.resource_spec import ResourceSpecV1

PSIJ_ERROR = 125
"""Exit code when psij itself fails (as ``docker run`` does), not the job."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the job sub-commands."""
    p = sub.add_parser('run', help='submit a job and follow it to its end',
                       description='Submit a job, print its states, exit with its exit code.')
    _spec_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser('submit', help='submit a job and print its native id')
    _spec_args(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser('status', help="print jobs' status",
                       description='Print the status of each job named, a line each (with '
                       'several jobs, the line starts with the native id; with --json, a '
                       'JSON object per line). The scheduler is asked once for all of them.')
    _common(p)
    p.add_argument('native_id', nargs='+')
    p.add_argument('--wait', action='store_true', help='wait for the jobs to end')
    p.set_defaults(func=cmd_status)

    p = sub.add_parser('cancel', help='cancel jobs',
                       description='Cancel each job named and print its status, as status '
                       'does.')
    _common(p)
    p.add_argument('native_id', nargs='+')
    p.add_argument('--no-wait', action='store_true',
                   help='return once the requests are sent, without waiting for the jobs to '
                   'end')
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser('list', help="list the native ids of the user's jobs")
    _common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser('script', help='print the submit script a batch executor would write '
                       'for a job, without submitting it')
    _spec_args(p)
    p.set_defaults(func=cmd_script)

    p = sub.add_parser('validate', help='check a JSON job specification')
    p.add_argument('file', help='a JSON job specification ("-" for standard input)')
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_validate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument('--executor', '-x', default='local', help='executor name (default: local)')
    p.add_argument('--url', '--remote', dest='url', metavar='URL',
                   help="the executor's URL, if it needs one; ssh://[user@]host[:port][/venv] "
                   "runs the executor on that host (needs psij-remote here and there)")
    p.add_argument('--json', action='store_true', help='print JSON')


SPEC_EXAMPLE = '''--spec FILE.json holds a job specification in psij's JSON form (as psij-python
writes it; every field optional but the executable), e.g.:

  {"executable": "/bin/echo", "arguments": ["hi"], "directory": "/scratch/me",
   "environment": {"X": "1"}, "stdout_path": "out.txt",
   "resources": {"node_count": 2, "processes_per_node": 4},
   "attributes": {"duration": "0:30:00", "queue_name": "debug", "account": "A",
                  "custom_attributes": {"slurm.qos": "debug"}}}

"psij validate FILE.json" checks one.'''


def _spec_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = SPEC_EXAMPLE
    p.add_argument('--spec', metavar='FILE.json',
                   help='a JSON job specification (format below); the options below override '
                   'its fields')
    p.add_argument('--queue', '-q', metavar='NAME', help='JobAttributes.queue_name')
    p.add_argument('--account', '-A', metavar='NAME', help='JobAttributes.account')
    p.add_argument('--reservation', metavar='ID', help='JobAttributes.reservation_id')
    p.add_argument('--duration', '-t', metavar='[[H:]M:]S',
                   help='JobAttributes.duration (walltime): seconds, M:S or H:M:S')
    p.add_argument('--attr', action='append', default=[], metavar='KEY=VALUE',
                   help='a custom attribute, e.g. slurm.qos=debug (repeatable)')
    p.add_argument('--launcher', '-l', help='launcher name (default: single)')
    p.add_argument('--name', help='job name')
    p.add_argument('--cwd', '-C', metavar='DIR', help='working directory of the job')
    p.add_argument('--env', '-e', action='append', default=[], metavar='NAME=VALUE',
                   help='set an environment variable (repeatable)')
    p.add_argument('--clean-env', action='store_true',
                   help='do not inherit the environment (only --env variables)')
    p.add_argument('--stdin', metavar='FILE')
    p.add_argument('--stdout', metavar='FILE')
    p.add_argument('--stderr', metavar='FILE')
    p.add_argument('--pre-launch', metavar='SCRIPT')
    p.add_argument('--post-launch', metavar='SCRIPT')
    p.add_argument('--processes', '-n', type=int, metavar='N', help='process count')
    p.add_argument('--nodes', '-N', type=int, metavar='N', help='node count')
    p.add_argument('command', nargs=argparse.REMAINDER, metavar='-- CMD ARGS...',
                   help='the command to run (after --)')


# -- building the spec ---------------------------------------------------------------------------

def _load_spec_file(path: str) -> JobSpec:
    from psij.serialize import JSONSerializer

    if path == '-':
        return JSONSerializer().load(sys.stdin)
    with open(path) as f:
        return JSONSerializer().load(f)


def build_spec(args: argparse.Namespace, inherit_stdio: bool) -> JobSpec:
    """The job spec from ``--spec`` and the flags; raises `InvalidJobException`."""
    spec = _load_spec_file(args.spec) if args.spec else JobSpec()
    cmd = list(args.command)
    if cmd and cmd[0] == '--':
        cmd = cmd[1:]
    if cmd:
        spec.executable = cmd[0]
        spec.arguments = cmd[1:]
    if not spec.executable:
        raise InvalidJobException('No command: give one after "--" or in --spec')
    if args.launcher:
        spec.launcher = args.launcher
    if args.name:
        spec.name = args.name
    if args.cwd:
        spec.directory = args.cwd
    if args.clean_env:
        spec.inherit_environment = False
    if args.env:
        env: Dict[str, Any] = dict(spec.environment or {})
        for item in args.env:
            name, sep, value = item.partition('=')
            if not sep:
                raise InvalidJobException('--env %r: expected NAME=VALUE' % item)
            env[name] = value
        spec.environment = env
    for flag, field in (('stdin', 'stdin_path'), ('stdout', 'stdout_path'),
                        ('stderr', 'stderr_path'), ('pre_launch', 'pre_launch'),
                        ('post_launch', 'post_launch')):
        v = getattr(args, flag)
        if v:
            setattr(spec, field, v)
    if args.processes or args.nodes:
        spec.resources = ResourceSpecV1(process_count=args.processes, node_count=args.nodes)
    _apply_attributes(spec, args)
    if inherit_stdio and args.executor == 'local' and not _is_remote(args):
        # The local executor maps these to its own streams: the job writes to our terminal.
        if spec.stdout_path is None:
            spec.stdout_path = '/dev/stdout'
        if spec.stderr_path is None:
            spec.stderr_path = '/dev/stderr'
    return spec


def _duration(text: str) -> timedelta:
    """``S``, ``M:S`` or ``H:M:S`` as a `timedelta`."""
    parts = text.split(':')
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        raise InvalidJobException('--duration %r: expected seconds, M:S or H:M:S' % text)
    secs = 0
    for p in parts:
        secs = secs * 60 + int(p)
    return timedelta(seconds=secs)


def _apply_attributes(spec: JobSpec, args: argparse.Namespace) -> None:
    """The flags that set `JobAttributes` fields."""
    attrs = spec.attributes
    for flag, field in (('queue', 'queue_name'), ('account', 'account'),
                        ('reservation', 'reservation_id')):
        value = getattr(args, flag)
        if value:
            setattr(attrs, field, value)
    if args.duration:
        attrs.duration = _duration(args.duration)
    for item in args.attr:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise InvalidJobException('--attr %r: expected KEY=VALUE' % item)
        attrs.set_custom_attribute(key, value)


def _executor(args: argparse.Namespace) -> JobExecutor:
    return JobExecutor.get_instance(args.executor, url=args.url)


def _is_remote(args: argparse.Namespace) -> bool:
    from psij.job_executor import REMOTE_SCHEMES

    url = getattr(args, 'url', None) or ''
    return '://' in url and url.partition('://')[0].lower() in REMOTE_SCHEMES


def _bring_back_stdio(job: Job, spec: JobSpec) -> Optional[Any]:
    """For a job of another host whose output is not redirected: it goes to files in the
    job's directory there, copied here when the job ends (``client:`` stage-outs, then
    removed there); returns the local directory that receives them."""
    import tempfile
    from pathlib import Path

    from psij.staging import StageOut, StageOutFlags

    todo = [(n, f) for n, f in (('out', 'stdout_path'), ('err', 'stderr_path'))
            if getattr(spec, f) is None]
    if not todo:
        return None
    here = Path(tempfile.mkdtemp(prefix='psij-run-'))
    outs = set(spec.stage_out or ())
    cleanup: Set[Union[str, Path]] = set(spec.cleanup or ())
    for n, f in todo:
        name = '.psij-run-%s.%s' % (job.id, n)
        setattr(spec, f, Path(name))
        outs.add(StageOut(name, 'client://%s/%s' % (here, n),
                          StageOutFlags.ALWAYS | StageOutFlags.IF_PRESENT))
        cleanup.add(Path(name))
    spec.stage_out = outs
    spec.cleanup = cleanup
    return here


def _print_brought_back(here: Any) -> None:
    import shutil

    for n, stream in (('out', sys.stdout), ('err', sys.stderr)):
        f = here / n
        if f.exists():
            stream.flush()
            with open(f, 'rb') as src:
                shutil.copyfileobj(src, stream.buffer)
            stream.flush()
    shutil.rmtree(here, ignore_errors=True)


def _error(msg: object) -> int:
    print('psij: %s' % msg, file=sys.stderr)
    return PSIJ_ERROR


# -- printing ------------------------------------------------------------------------------------

def status_dict(job: Job, st: JobStatus) -> Dict[str, Any]:
    """A status as plain data."""
    return {'native_id': job.native_id, 'state': st.state.name, 'time': st.time,
            'exit_code': st.exit_code, 'message': st.message}


def format_status(job: Job, st: JobStatus) -> str:
    """A status as one human-readable line."""
    s = st.state.name
    if st.state is JobState.ACTIVE and job.native_id:
        s += ' native_id=%s' % job.native_id
    if st.exit_code is not None and st.state.final:
        s += ' exit_code=%d' % st.exit_code
    if st.message and st.state is not JobState.COMPLETED:
        s += ': %s' % st.message
    return s


def _printer(as_json: bool, out: IO[str]) -> Any:
    lock = threading.Lock()

    def show(job: Job, st: JobStatus) -> None:
        line = json.dumps(status_dict(job, st)) if as_json else format_status(job, st)
        with lock:
            try:
                out.write(line + '\n')
                out.flush()
            except (OSError, ValueError):
                pass  # our output is gone (closed pipe): the job goes on regardless
    return show


def exit_code_of(st: Optional[JobStatus]) -> int:
    """The exit code of ``psij run`` for a job that ended with `st`."""
    if st is None:
        return 1
    if st.state is JobState.COMPLETED:
        return 0
    code = st.exit_code
    if code is None or code == 0:
        return 1
    if code < 0:
        return 128 + (-code & 0x7f)
    return code & 0xff or 1


# -- commands ------------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    """``psij run``."""
    try:
        spec = build_spec(args, inherit_stdio=True)
        ex = _executor(args)
    except (InvalidJobException, ValueError, OSError) as e:
        return _error(e)
    job = Job(spec)
    brought = _bring_back_stdio(job, spec) if _is_remote(args) else None
    job.set_job_status_callback(_printer(args.json, sys.stderr))
    interrupt = _DeferredInterrupt()
    try:
        with interrupt:
            ex.submit(job)
    except (InvalidJobException, SubmitException) as e:
        return _error(e)
    try:
        if interrupt.pending:
            raise KeyboardInterrupt
        st = job.wait()
    except KeyboardInterrupt:
        job.cancel()
        try:
            st = job.wait()
        except KeyboardInterrupt:
            return 130
    if brought is not None:
        _print_brought_back(brought)
    return exit_code_of(st)


class _DeferredInterrupt:
    """Holds back Ctrl-C while a job is being submitted: an interrupt in the middle of
    `submit` could leave a started job that nobody follows or cancels."""

    def __init__(self) -> None:
        self.pending = False
        self._old: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending = True

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def cmd_submit(args: argparse.Namespace) -> int:
    """``psij submit`` (of a JSON list of specs: see `psij.cli.bulk_submit`)."""
    if args.spec:
        from psij.cli import bulk_submit
        try:
            specs = bulk_submit.load_spec_list(args.spec)
            if specs is not None:
                return bulk_submit.submit_list(args, specs)
        except (InvalidJobException, SubmitException, ValueError, OSError) as e:
            return _error(e)
    try:
        spec = build_spec(args, inherit_stdio=False)
        ex = _executor(args)
        job = Job(spec)
        ex.submit(job)
    except (InvalidJobException, SubmitException, ValueError, OSError) as e:
        return _error(e)
    _print_id(job.native_id, args.json)
    return 0


def _print_id(native_id: Optional[str], as_json: bool) -> None:
    print(json.dumps({'native_id': native_id}) if as_json else native_id)


def _attach(args: argparse.Namespace) -> Tuple[List[Job], int]:
    """The jobs named on the command line, attached with one `attach_many`; those refused
    are reported on stderr. Returns the attached jobs and the exit code so far."""
    ex = _executor(args)
    ids: List[str] = list(dict.fromkeys(args.native_id))
    jobs = [Job() for _ in ids]
    refused = ex.attach_many(list(zip(jobs, ids, strict=True)))
    for _, e in refused:
        _error(e)
    bad = {id(j) for j, _ in refused}
    return [j for j in jobs if id(j) not in bad], PSIJ_ERROR if refused else 0


def _print_statuses(args: argparse.Namespace, jobs: List[Job],
                    statuses: List[Optional[JobStatus]]) -> None:
    several = len(args.native_id) > 1
    for job, st in zip(jobs, statuses, strict=True):
        assert st is not None
        if args.json:
            print(json.dumps(status_dict(job, st)))
        else:
            print('%s %s' % (job.native_id, format_status(job, st)) if several
                  else format_status(job, st))


def cmd_status(args: argparse.Namespace) -> int:
    """``psij status``: prints the jobs' status; exits 0 if every job is known."""
    try:
        jobs, rc = _attach(args)
    except (InvalidJobException, SubmitException, ValueError, OSError) as e:
        return _error(e)
    _print_statuses(args, jobs, [j.wait() if args.wait else j.status for j in jobs])
    return rc


def cmd_cancel(args: argparse.Namespace) -> int:
    """``psij cancel``: cancels, and by default waits for the jobs to end."""
    try:
        jobs, rc = _attach(args)
    except (InvalidJobException, SubmitException, ValueError, OSError) as e:
        return _error(e)
    canceled = []
    for job in jobs:
        try:
            job.cancel()
            canceled.append(job)
        except (InvalidJobException, SubmitException, OSError) as e:
            rc = _error('%s: %s' % (job.native_id, e))
    _print_statuses(args, canceled,
                    [j.status if args.no_wait else j.wait() for j in canceled])
    return rc


def cmd_list(args: argparse.Namespace) -> int:
    """``psij list``."""
    try:
        ids = _executor(args).list()
    except (SubmitException, ValueError, OSError) as e:
        return _error(e)
    if args.json:
        print(json.dumps(ids))
    else:
        for i in ids:
            print(i)
    return 0


def cmd_script(args: argparse.Namespace) -> int:
    """``psij script``: prints the batch script of a job, submits nothing."""
    try:
        spec = build_spec(args, inherit_stdio=False)
        ex = _executor(args)
        # a batch executor's method, or a remote one's (None when the far end writes none)
        script_for = getattr(ex, 'script_for', None)
        if not callable(script_for):
            return _error('the %s executor writes no submit script (only batch-scheduler '
                          'executors do)' % args.executor)
        sys.stdout.write(script_for(Job(spec)))
    except (InvalidJobException, ValueError, OSError) as e:
        return _error(e)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``psij validate``: exits 0 for a valid spec, 1 otherwise."""
    error = None
    try:
        spec = _load_spec_file(args.file)
        if not spec.executable:
            raise InvalidJobException('"executable" is missing')
        if isinstance(spec.resources, ResourceSpecV1):
            spec.resources._infer()
    except (InvalidJobException, ValueError, OSError, RecursionError) as e:
        # one line, whatever the file holds (a message may quote a key or value of it)
        error = ' '.join(str(e).splitlines()) or type(e).__name__
    if args.json:
        print(json.dumps({'valid': error is None, 'error': error}))
    elif error is None:
        print('%s: valid' % args.file)
    else:
        print('%s: invalid: %s' % (args.file, error), file=sys.stderr)
    return 0 if error is None else 1
