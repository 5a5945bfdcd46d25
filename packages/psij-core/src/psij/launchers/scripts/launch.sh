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
# stops the job with its exit code.

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

if [ -n "$_psij_pre" ]; then
    _psij_source "$_psij_pre"
    _psij_rc=$?
    if [ "$_psij_rc" -ne 0 ]; then
        echo "psij: the pre-launch script $_psij_pre failed with exit code $_psij_rc" >&2
        exit "$_psij_rc"
    fi
fi

if [ -n "$_psij_clean" ]; then
    # The shell puts "_" in the environment of every command it runs; env removes it.
    env -u _ "$@"
else
    "$@"
fi
_psij_rc=$?

if [ -n "$_psij_post" ]; then
    _psij_source "$_psij_post"
    _psij_prc=$?
    if [ "$_psij_prc" -ne 0 ] && [ "$_psij_rc" -eq 0 ]; then
        echo "psij: the post-launch script $_psij_post failed with exit code $_psij_prc" >&2
        _psij_rc=$_psij_prc
    fi
fi
exit "$_psij_rc"
