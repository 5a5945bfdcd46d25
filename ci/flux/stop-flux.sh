#!/bin/bash
# ci/flux/stop-flux.sh -- stop the Flux instance started by start-flux.sh (beside this script).
# Graceful `flux shutdown` through the URI first; then, only if still running, SIGTERM and
# finally SIGKILL to the process group recorded in the pid file (setsid made pid == pgid == sid).
# Never kills by process name.
#   FLUX_PREFIX=/opt/flux  FLUX_STATE_DIR=/run/flux-psij  (same as start-flux.sh)
#   FLUX_STOP_HARD=1   crash instead: SIGKILL to the process group and session at once, no
#                      `flux shutdown` (its jobs are not canceled, they vanish: fault tests)
set -euo pipefail

PREFIX=${FLUX_PREFIX:-/opt/flux}
D=${FLUX_STATE_DIR:-/run/flux-psij}
log() { echo "[stop-flux $(date +%T)] $*"; }

PIDFILE=$D/flux-start.pid
if [ ! -s "$PIDFILE" ]; then
    log "no pid file $PIDFILE: not running"
    exit 0
fi
PID=$(cat "$PIDFILE")
alive() { kill -0 "$PID" 2>/dev/null; }
wait_gone() {  # wait_gone SECONDS
    local n=$(( $1 * 10 ))
    while alive && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    ! alive
}

if alive && ! tr '\0' ' ' < "/proc/$PID/cmdline" | grep -q flux; then
    log "pid $PID is not a flux process (stale pid file); removing it"
    rm -f "$PIDFILE" "$D/uri" "$D/env"
    exit 0
fi

if alive && [ "${FLUX_STOP_HARD:-0}" = 1 ]; then
    log "hard stop: SIGKILL to process group and session $PID"
    kill -KILL -- "-$PID" 2>/dev/null || true
    for p in $(ps -o pid= --sid "$PID" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    wait_gone 10 || { echo "pid $PID did not exit" >&2; exit 1; }
fi

if alive; then
    if [ -S "$(sed -n 's|^local://||p' "$D/uri" 2>/dev/null)" ]; then
        log "flux shutdown (pid $PID)"
        # (shutdown logs the initial program's "Hangup (rc=129)" exit -- expected; kept in stop.log)
        FLUX_URI=$(cat "$D/uri") timeout 60 "$PREFIX/bin/flux" shutdown --quiet \
            > "$D/stop.log" 2>&1 || { log "flux shutdown failed:"; cat "$D/stop.log" >&2; }
    fi
    if ! wait_gone 30; then
        log "still running: SIGTERM to process group $PID"
        kill -TERM -- "-$PID" 2>/dev/null || true
        if ! wait_gone 15; then
            log "still running: SIGKILL to process group $PID and its session's processes"
            kill -KILL -- "-$PID" 2>/dev/null || true
            # job shells / modules run in their own process groups but in session $PID
            for p in $(ps -o pid= --sid "$PID" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
            wait_gone 5 || { echo "pid $PID did not exit" >&2; exit 1; }
        fi
    fi
    log "stopped"
else
    log "pid $PID not running"
fi
rm -f "$PIDFILE" "$D/uri" "$D/env"
