#!/bin/bash
# ci/pbs/dump-state.sh -- what a failed CI run needs to know about the OpenPBS server.
PBS_EXEC=${PBS_EXEC:-/opt/pbs}
PBS_HOME=${PBS_HOME:-/var/spool/pbs}
echo "== qstat -B"; "$PBS_EXEC/bin/qstat" -B 2>&1 | tail -5
echo "== qstat -x (last 40)"; "$PBS_EXEC/bin/qstat" -x 2>&1 | tail -40
echo "== pbsnodes -av"; "$PBS_EXEC/bin/pbsnodes" -av 2>&1 | head -60
for d in server_logs mom_logs sched_logs comm_logs; do
    f=$(ls -t "$PBS_HOME/$d" 2>/dev/null | head -1)
    [ -n "$f" ] && { echo "== $d/$f (tail)"; tail -40 "$PBS_HOME/$d/$f"; }
done
exit 0
