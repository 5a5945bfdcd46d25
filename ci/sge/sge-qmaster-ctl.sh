#!/bin/bash
# ci/sge/sge-qmaster-ctl.sh stop|start -- stop or start sge_qmaster alone (the fault tests use
# it). Running jobs keep running under sge_execd while the master is down; the execd reports
# their ends when the master is back. By pid file, never by process name. As root.
set -euo pipefail
export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default}
QPID=/var/spool/gridengine/qmaster/qmaster.pid
QSTAT=$SGE_ROOT/bin/lx-amd64/qstat
case "${1:-}" in
    stop)
        [ -s "$QPID" ] || { echo "no $QPID: sge_qmaster is not running" >&2; exit 1; }
        p=$(cat "$QPID")
        kill "$p"
        for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || exit 0; sleep 0.1; done
        echo "sge_qmaster (pid $p) did not stop" >&2; exit 1 ;;
    start)
        if [ -s "$QPID" ] && kill -0 "$(cat "$QPID")" 2>/dev/null; then exit 0; fi
        /usr/sbin/sge_qmaster
        for _ in $(seq 1 300); do "$QSTAT" -u '*' >/dev/null 2>&1 && exit 0; sleep 0.2; done
        echo "sge_qmaster did not start" >&2; exit 1 ;;
    *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
