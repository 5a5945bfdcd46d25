#!/bin/bash
# ci/flux/dump-state.sh -- print everything useful for a post-mortem of a CI failure on the
# Flux instance made by start-flux.sh: the instance process, uptime, resources, all jobs
# (with results and exception notes), eventlogs of the most recent jobs and the tails of
# the broker/start logs. Never fails (exit 0).
#   DUMP_LINES=60   lines of each log to show
#   DUMP_JOBS=10    number of most recent jobs whose eventlog is printed
set -u
N=${DUMP_LINES:-60}
J=${DUMP_JOBS:-10}
PREFIX=${FLUX_PREFIX:-/opt/flux}
D=${FLUX_STATE_DIR:-/run/flux-psij}
export PATH=$PREFIX/bin:$PATH
section() { echo; echo "=================== $*"; }
run() { echo "\$ $*"; timeout 15 "$@" 2>&1; echo "(exit $?)"; }

section "instance process ($D/flux-start.pid)"
if [ -s "$D/flux-start.pid" ]; then
    p=$(cat "$D/flux-start.pid")
    if kill -0 "$p" 2>/dev/null; then echo "pid $p running"; ps -o pid,ppid,etime,args --sid "$p" 2>&1
    else echo "pid $p NOT running"; fi
else
    echo "no pid file"
fi
if [ -s "$D/uri" ]; then
    FLUX_URI=$(cat "$D/uri"); export FLUX_URI
    echo "FLUX_URI=$FLUX_URI"
    section "instance"
    run flux version
    run flux uptime
    section "resources"
    run flux resource list
    run flux resource status
    section "jobs (all)"
    run flux jobs -a -o '{id.f58:>12} {name:<16.16} {status_abbrev:>2} {returncode:>5} {nnodes:>3} {ntasks:>3} {runtime!F:>8} {exception.type} {exception.note}'
    run flux jobs --stats-only -a
    section "eventlogs of the last $J jobs"
    for id in $(timeout 15 flux jobs -a -n -c "$J" -o '{id.f58}' 2>/dev/null); do
        run flux job eventlog -H "$id"
    done
else
    echo "no URI file $D/uri: instance not up"
fi
for log in "$D/start.log" "$D/broker.log" "$D/stop.log"; do
    [ -e "$log" ] || continue
    section "tail -n $N $log"
    tail -n "$N" "$log"
done
exit 0
