# The library psij-python's launcher scripts source first: `source "$(dirname "$0")/launcher_lib.sh"`.
# Written for psij; it gives such a script what psij-python's library gives it:
#   - `set -e`;
#   - _PSI_J_JOB_ID, _PSI_J_LOG_FILE, _PSI_J_PRE_LAUNCH, _PSI_J_POST_LAUNCH, _PSI_J_STDIN,
#     _PSI_J_STDOUT and _PSI_J_STDERR from the first seven arguments, which it shifts away
#     (what is left is the script's own arguments, then the executable and its arguments);
#   - `log MESSAGE...`: a line, stamped with the UTC time and the job id, in the launcher log
#     file (the executor's launcher_log_file; /dev/null without one);
#   - `pre_launch` and `post_launch`: source the job's pre- and post-launch scripts.
# Under psij the executor's own wrapper has already set the job's directory, environment and
# standard streams and sourced its pre-launch script (it sources the post-launch script after):
# the executor passes empty pre- and post-launch paths, so that they run once, and
# /dev/stdin, /dev/stdout and /dev/stderr as the job's streams.
set -e

_PSI_J_JOB_ID=$1
_PSI_J_LOG_FILE=${2:-/dev/null}
_PSI_J_PRE_LAUNCH=$3
_PSI_J_POST_LAUNCH=$4
_PSI_J_STDIN=$5
_PSI_J_STDOUT=$6
_PSI_J_STDERR=$7
shift 7

exec 3>>"$_PSI_J_LOG_FILE" 2>/dev/null || exec 3>/dev/null

log() {
    printf '%s %s %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$_PSI_J_JOB_ID" "$*" >&3
}

pre_launch() {
    if [ -n "$_PSI_J_PRE_LAUNCH" ]; then
        log "Running pre-launch"
        # shellcheck disable=SC1090
        source "$_PSI_J_PRE_LAUNCH"
    fi
}

post_launch() {
    if [ -n "$_PSI_J_POST_LAUNCH" ]; then
        log "Running post-launch"
        # shellcheck disable=SC1090
        source "$_PSI_J_POST_LAUNCH"
    fi
}

log "Launcher: $0"
