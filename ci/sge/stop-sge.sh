#!/bin/bash
# ci/sge/stop-sge.sh -- stop sge_execd and sge_qmaster started by start-sge.sh, by their pid files.
set -u
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
export PATH="$SGE_ROOT/bin/lx-amd64:$PATH"   # Grid Engine's qstat/qdel, not OpenPBS's
QPID=/var/spool/gridengine/qmaster/qmaster.pid
# delete remaining jobs first (so no sge_shepherd / job processes are left behind)
if [ -s "$QPID" ] && kill -0 "$(cat "$QPID")" 2>/dev/null; then
    if [ -n "$(qstat -u '*' 2>/dev/null)" ]; then
        echo "deleting all jobs"; qdel -f -u '*' >/dev/null 2>&1
        for _ in $(seq 100); do [ -z "$(qstat -u '*' 2>/dev/null)" ] && break; sleep 0.2; done
    fi
fi
pids=""
for f in /var/spool/gridengine/execd/*/execd.pid "$QPID"; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then echo "stopping pid $p ($f)"; kill "$p"; pids="$pids $p"; fi
done
alive=""
for _ in $(seq 300); do
    alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break; sleep 0.1
done
for p in $alive; do echo "pid $p still alive, sending SIGKILL"; kill -9 "$p" 2>/dev/null; done
rm -f /var/spool/gridengine/execd/*/execd.pid "$QPID"
exit 0
