#!/bin/bash
# ci/pbs/pbs-server-ctl.sh stop|start -- stop or start pbs_server alone (the fault tests use
# it): `qterm -t quick` leaves running jobs running on their mom; `pbs_server` recovers them
# from the datastore when it starts again. As root.
set -euo pipefail
PBS_EXEC=${PBS_EXEC:-/opt/pbs}
case "${1:-}" in
    stop)
        "$PBS_EXEC/bin/qterm" -t quick
        for _ in $(seq 1 60); do "$PBS_EXEC/bin/qstat" -B >/dev/null 2>&1 || exit 0; sleep 0.5; done
        echo "pbs_server did not stop" >&2; exit 1 ;;
    start)
        "$PBS_EXEC/sbin/pbs_server" 2>&1 | grep -v -e 'OOM killer' -e 'dataservice' || true
        for _ in $(seq 1 120); do "$PBS_EXEC/bin/qstat" -B >/dev/null 2>&1 && exit 0; sleep 0.5; done
        echo "pbs_server did not start" >&2; exit 1 ;;
    *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
