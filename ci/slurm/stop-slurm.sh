#!/bin/bash
# ci/slurm/stop-slurm.sh -- stop what start-slurm.sh started, by pid file only
# (never by process name): the slurmd of every emulated node, slurmctld, then munged.
#   STOP_MUNGE=1     0 = leave munged running
#   CANCEL_JOBS=1    0 = do not scancel the remaining jobs first
# Always exits 0; prints what it stopped.
set -u
STOP_MUNGE=${STOP_MUNGE:-1}
CANCEL_JOBS=${CANCEL_JOBS:-1}
say() { echo "[stop-slurm $(date +%T)] $*"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# cancel the jobs so that no slurmstepd or job process outlives its slurmd
if [ "$CANCEL_JOBS" = 1 ] && alive /run/slurmctld.pid; then
    ids=$(squeue -h -t PD,CF,R,CG,S,RQ,RS -o %A 2>/dev/null | tr '\n' ' ')
    if [ -n "${ids// /}" ]; then
        say "cancelling jobs: $ids"
        scancel $ids 2>/dev/null
        for _ in $(seq 150); do
            [ -z "$(squeue -h -t R,CG,CF -o %A 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
fi

stop_by_pidfiles() {  # SIGTERM, wait up to 20 s, then SIGKILL
    local f p pids="" left
    for f in "$@"; do
        [ -s "$f" ] || continue
        p=$(cat "$f")
        if kill -0 "$p" 2>/dev/null; then
            say "stopping pid $p ($f)"
            kill -TERM "$p"
            pids="$pids $p"
        fi
    done
    [ -n "$pids" ] || return 0
    for _ in $(seq 200); do
        left=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    for p in $left; do say "pid $p still alive after 20 s: SIGKILL"; kill -KILL "$p" 2>/dev/null; done
}

stop_by_pidfiles /run/slurmd-*.pid
stop_by_pidfiles /run/slurmctld.pid
[ "$STOP_MUNGE" = 1 ] && stop_by_pidfiles /run/munge/munged.pid
# stale pid files would make the next start (and apt's prerm scripts) think they run
rm -f /run/slurmd-*.pid /run/slurmctld.pid
exit 0
