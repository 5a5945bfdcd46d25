# psij launch wrapper, run by the local executor when a job needs a shell.
#
#   sh launch.sh PRE_LAUNCH POST_LAUNCH LOG_FILE CLEAN -- COMMAND [ARGS...]
#
# Everything arrives as arguments (empty string = absent); nothing from the job spec is ever
# pasted into shell code. PRE_LAUNCH is sourced once, in this shell, so what it exports
# reaches COMMAND; COMMAND (the launcher's command that starts all ranks) runs as "$@";
# POST_LAUNCH is sourced once after it. The output of both scripts goes to LOG_FILE if given,
# else to the job's standard output and error. CLEAN (non-empty) means the job must not
# inherit the environment: drop the variables the shell itself adds.
# Exit code: the command's; else a failing post-launch script's; a failing pre-launch script
# (a non-zero status, or an exit in it) stops the job with its exit code, and the line
# "psij: the pre-launch script PATH failed with exit code N" on standard error, which the
# executors put in the job's status (psij.launchers.launch_wrapper.pre_launch_failure).

_psij_pre=$1
_psij_post=$2
_psij_log=$3
_psij_clean=$4
shift 4
if [ "$1" != "--" ]; then
    echo "psij launch.sh: bad arguments" >&2
    exit 125
fi
shift
if [ -n "$_psij_clean" ]; then
    unset PWD OLDPWD SHLVL
fi

_psij_source() {
    if [ -n "$_psij_log" ]; then
        . "$1" >>"$_psij_log" 2>&1
    else
        . "$1"
    fi
}

_psij_pre_failed() {
    echo "psij: the pre-launch script $_psij_pre failed with exit code $1" >&2
}

if [ -n "$_psij_pre" ]; then
    # a pre-launch script that calls exit ends this shell: the trap still says why
    trap '_psij_rc=$?; [ "$_psij_rc" -eq 0 ] || _psij_pre_failed "$_psij_rc"' EXIT
    _psij_source "$_psij_pre"
    _psij_rc=$?
    trap - EXIT
    if [ "$_psij_rc" -ne 0 ]; then
        _psij_pre_failed "$_psij_rc"
        exit "$_psij_rc"
    fi
fi

# A SIGTERM (a cancel) while the command runs ends this shell only once the command has: the
# job's exit code is the command's own (0 for one that traps SIGTERM and exits 0, 143 for one
# it killed), not this shell's death by the signal; no post-launch script after it.
_psij_term=
trap '_psij_term=1' TERM
if [ -n "$_psij_clean" ]; then
    # The shell puts "_" in the environment of every command it runs; env removes it.
    env -u _ "$@"
else
    "$@"
fi
_psij_rc=$?
trap - TERM
if [ -n "$_psij_term" ]; then
    exit "$_psij_rc"
fi

if [ -n "$_psij_post" ]; then
    _psij_source "$_psij_post"
    _psij_prc=$?
    if [ "$_psij_prc" -ne 0 ] && [ "$_psij_rc" -eq 0 ]; then
        echo "psij: the post-launch script $_psij_post failed with exit code $_psij_prc" >&2
        _psij_rc=$_psij_prc
    fi
fi
exit "$_psij_rc"
