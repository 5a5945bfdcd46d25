#!/bin/bash
# ci/sge/dump-state.sh -- what a failed CI run needs to know about the Grid Engine cell.
export SGE_ROOT=${SGE_ROOT:-/var/lib/gridengine} SGE_CELL=${SGE_CELL:-default}
B=$SGE_ROOT/bin/lx-amd64
echo "== daemons (pid files)"
for f in /var/spool/gridengine/qmaster/qmaster.pid /var/spool/gridengine/execd/*/execd.pid; do
    [ -s "$f" ] && echo "$f: $(cat "$f") $(kill -0 "$(cat "$f")" 2>/dev/null && echo alive || echo dead)"
done
echo "== qstat -f -u '*'"; "$B/qstat" -f -u '*' 2>&1 | tail -40
echo "== qstat -u '*' -s z (last 20)"; "$B/qstat" -u '*' -s z 2>&1 | tail -20
echo "== qhost"; "$B/qhost" 2>&1 | head -20
echo "== qconf -sql / -spl"; "$B/qconf" -sql 2>&1; "$B/qconf" -spl 2>&1
echo "== act_qmaster / host_aliases"
cat "$SGE_ROOT/$SGE_CELL/common/act_qmaster" "$SGE_ROOT/$SGE_CELL/common/host_aliases" 2>&1
echo "== /etc/hosts"; cat /etc/hosts
echo "== qmaster messages (tail)"; tail -30 /var/spool/gridengine/qmaster/messages 2>&1
for f in /var/spool/gridengine/execd/*/messages; do
    [ -f "$f" ] && { echo "== $f (tail)"; tail -30 "$f"; }
done
exit 0
