"""
Staging for batch jobs: shell lines the submit script runs inside the job, on the lead node.

The batch framework does stage-in, stage-out and cleanup in the job itself, so that paths
that only the compute nodes see (node-local scratch, a filesystem the login node does not
mount) work, and nothing waits on the submitting process. The script:

1. after changing to the job's directory, copies (links, moves) each ``stage_in`` source to
   its target (relative targets are relative to the job's directory; a link always points at
   the source's absolute path, never a relative name the link's own directory would resolve
   differently); a missing source, a failed copy or a target left unreadable ends the job
   at once with exit code 1 and a ``psij: stage-in ...`` line in its output, after the
   cleanup that applies to a failed job, without running it;
2. runs the job;
3. stages out the entries whose flags select the outcome (exit code 0: ``ON_SUCCESS``, else
   ``ON_ERROR``; see :mod:`psij._staging_rules`), relative sources in the job's directory;
   a missing file is skipped with ``IF_PRESENT``, and otherwise, like a failed copy or a target
   left unreadable (a link to itself), turns a successful job into a failed one (exit code 1);
4. deletes the ``cleanup`` entries if ``cleanup_flags`` select the outcome, then records the
   exit code as every batch job does.

A job canceled while it runs (the scheduler's SIGTERM, which Slurm and PBS send before their
SIGKILL) stages out its ``ON_CANCEL`` entries and cleans up from a ``TERM`` trap, as far as the
scheduler's grace period allows; a scheduler that kills jobs with SIGKILL at once (Grid
Engine's default) leaves no time for it. The scheduler signals the job's processes one after
the other, so the job's command may die of its SIGTERM before the script's shell gets its
own: a command that died of SIGTERM (exit code 143) is given two seconds (an interruptible
``wait``) for the script's SIGTERM to arrive before it counts as failed.

Every user path is a single-quoted shell word; flags and modes are numbers and fixed words
chosen here: no user string ever becomes shell code. Only ``file://`` URLs and plain paths are
staged; anything else is refused at submit (`check`). The job reports the states in order:
the STAGE_IN, STAGE_OUT and CLEANUP states are reported as the job passes from QUEUED to
ACTIVE and from ACTIVE to its final state.
"""

from __future__ import annotations

from typing import List

from psij import _staging_rules as rules
from psij.executors.batch.script_writer import quote
from psij.job_spec import JobSpec
from psij.staging import StageOutFlags, StagingMode

_MODES = {StagingMode.COPY: 'copy', StagingMode.LINK: 'link', StagingMode.MOVE: 'move'}

# The outcomes the shell selects entries by (`_psij_outcome`), as shell variables whose values
# are the flags' own: the functions below name them, never their numbers.
_OUTCOMES = (StageOutFlags.ON_SUCCESS, StageOutFlags.ON_ERROR, StageOutFlags.ON_CANCEL)


def _outcome_variables() -> str:
    return ' '.join('_psij_%s=%d' % (flag.name, int(flag)) for flag in _OUTCOMES)


# The functions every staging job defines (POSIX sh; "$1"... are the only expansions of
# user data, always double-quoted).
_FUNCTIONS = r'''_psij_xfer() {
    case "$3" in */*) mkdir -p -- "${3%/*}" || return 1 ;; esac
    case "$1" in
        link) case "$2" in /*) _psij_src=$2 ;; *) _psij_src=$PWD/$2 ;; esac
              rm -rf -- "$3" && ln -s -- "$_psij_src" "$3" ;;
        move) mv -f -- "$2" "$3" ;;
        *) if [ -d "$2" ]; then mkdir -p -- "$3" && cp -RPp -- "$2/." "$3"
           else cp -p -- "$2" "$3"; fi ;;
    esac
}
_psij_stage_in() {
    if [ ! -e "$2" ] && [ ! -L "$2" ]; then
        printf 'psij: stage-in of %s failed: the file does not exist\n' "$2"
        _psij_outcome=$_psij_ON_ERROR; _psij_cleanups; _psij_end 1
    fi
    if ! _psij_xfer "$1" "$2" "$3" || [ ! -r "$3" ]; then
        printf 'psij: stage-in of %s to %s failed\n' "$2" "$3"
        _psij_outcome=$_psij_ON_ERROR; _psij_cleanups; _psij_end 1
    fi
}
_psij_stage_out() {
    [ $(( $1 & _psij_outcome )) -ne 0 ] || return 0
    if [ ! -e "$4" ] && [ ! -L "$4" ]; then
        [ "$2" = 1 ] && return 0
        printf 'psij: stage-out of %s failed: the file does not exist\n' "$4"
        return 1
    fi
    _psij_xfer "$3" "$4" "$5" && [ -r "$5" ] && return 0
    printf 'psij: stage-out of %s to %s failed\n' "$4" "$5"
    return 1
}
_psij_clean() {
    [ $(( $1 & _psij_outcome )) -ne 0 ] || return 0
    rm -rf -- "$2" || printf 'psij: cleanup of %s failed\n' "$2"
}
_psij_finish() {
    if [ "$1" = 143 ]; then
        sleep 2 & wait $!
    fi
    trap - TERM
    _psij_ec=$1
    if [ "$_psij_ec" = 0 ]; then _psij_outcome=$_psij_ON_SUCCESS
    else _psij_outcome=$_psij_ON_ERROR; fi
    _psij_stage_outs || { [ "$_psij_ec" != 0 ] || _psij_ec=1; }
    _psij_cleanups
    _psij_end "$_psij_ec"
}
_psij_canceled() {
    trap - TERM
    _psij_outcome=$_psij_ON_CANCEL
    _psij_stage_outs
    _psij_cleanups
    exit 143
}'''


def stages(spec: JobSpec) -> bool:
    """Whether `spec` asks for any staging."""
    return bool(spec.stage_in or spec.stage_out or spec.cleanup)


def check(spec: JobSpec, executor: str) -> None:
    """
    Checks what the script cannot do, before anything is written.

    :raises InvalidJobException: naming the field, for a URL that is not ``file://`` (or a
        plain path) on the job's own machine.
    """
    rules.check_urls(spec, executor)


def stage_in_lines(spec: JobSpec) -> List[str]:
    """
    The lines that go right after the script changed to the job's directory: the staging
    functions, the stage-in, and the trap that stages out a canceled job. Empty without
    staging.
    """
    if not stages(spec):
        return []
    lines = [_outcome_variables(), _FUNCTIONS, '_psij_stage_outs() {', '    _psij_failed=0']
    for so in sorted(spec.stage_out or (), key=lambda x: (str(x.source), str(x.target))):
        target = rules.file_path(so.target, 'JobSpec.stage_out', '')
        lines.append('    _psij_stage_out %d %d %s %s %s || _psij_failed=1' % (
            int(rules.outcomes(so.flags)), 1 if so.flags & StageOutFlags.IF_PRESENT else 0,
            _MODES[so.mode], quote(str(so.source)), quote(target)))
    lines += ['    return $_psij_failed', '}', '_psij_cleanups() {', '    :']
    when = int(rules.outcomes(spec.cleanup_flags))
    for p in sorted(spec.cleanup or (), key=str):
        lines.append('    _psij_clean %d %s' % (when, quote(str(p))))
    lines.append('}')
    for si in sorted(spec.stage_in or (), key=lambda x: (str(x.source), str(x.target))):
        source = rules.file_path(si.source, 'JobSpec.stage_in', '')
        lines.append('_psij_stage_in %s %s %s' % (_MODES[si.mode], quote(source),
                                                  quote(str(si.target))))
    lines.append("trap '_psij_canceled' TERM")
    return lines


def end_lines(spec: JobSpec) -> List[str]:
    """The line right after the job's command: records its exit code (``$?``), after the
    stage-out and cleanup if the job stages."""
    return ['_psij_finish $?' if stages(spec) else '_psij_end $?']
