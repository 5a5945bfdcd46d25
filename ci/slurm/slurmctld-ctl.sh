#!/bin/bash
# ci/slurm/slurmctld-ctl.sh stop|start|restart|status
# Stops or starts only the Slurm controller of the cluster made by start-slurm.sh, leaving
# the slurmd daemons and the running jobs alone (for fault tests: "slurmctld down for 60 s
# while jobs run"). Job state is kept: slurmctld saves it on SIGTERM and reloads it on start.
#   stop     SIGTERM via /run/slurmctld.pid, wait until it is gone (SIGKILL after 20 s)
#   start    start slurmctld (no state reset), wait until `scontrol ping` says UP and every
#            node responds again (about 4 s after a restart; up to 60 s, else exit 1;
#            WAIT_NODES=0 skips that wait)
#   status   exit 0 if slurmctld runs and answers, 1 otherwise
set -u
PIDFILE=/run/slurmctld.pid
say() { echo "[slurmctld-ctl $(date +%T)] $*"; }
alive() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
WAIT_NODES=${WAIT_NODES:-1}
nodes_total() { sinfo -h -N -o %N 2>/dev/null | sort -u | wc -l; }
nodes_ready() { sinfo -h -N -t idle,alloc,mix,comp -o %N 2>/dev/null | sort -u | wc -l; }

do_stop() {
    if ! alive; then say "slurmctld not running"; rm -f "$PIDFILE"; return 0; fi
    local p; p=$(cat "$PIDFILE")
    say "stopping slurmctld (pid $p)"
    kill -TERM "$p"
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then say "still alive after 20 s: SIGKILL"; kill -KILL "$p"; fi
    rm -f "$PIDFILE"
    say "slurmctld stopped"
}
do_start() {
    if alive && up; then say "slurmctld already running (pid $(cat "$PIDFILE"))"; return 0; fi
    [ -s /etc/slurm/slurm.conf ] || { say "no /etc/slurm/slurm.conf: run start-slurm.sh"; return 1; }
    say "starting slurmctld"
    /usr/sbin/slurmctld || { say "slurmctld failed to start"; tail -n 20 /var/log/slurm/slurmctld.log; return 1; }
    for _ in $(seq 150); do up && break; sleep 0.1; done
    if ! up; then say "slurmctld does not answer"; tail -n 20 /var/log/slurm/slurmctld.log; return 1; fi
    say "slurmctld up (pid $(cat "$PIDFILE"))"
    [ "$WAIT_NODES" = 1 ] || return 0
    local total; total=$(nodes_total)
    for _ in $(seq 600); do [ "$(nodes_ready)" = "$total" ] && break; sleep 0.1; done
    if [ "$(nodes_ready)" != "$total" ]; then
        say "only $(nodes_ready) of $total nodes respond after 60 s"; sinfo -N -l; return 1
    fi
    say "all $total nodes respond"
}
case "${1:-}" in
    stop) do_stop;;
    start) do_start;;
    restart) do_stop && do_start;;
    status) if alive && up; then echo "slurmctld up (pid $(cat "$PIDFILE"))"; else echo "slurmctld down"; exit 1; fi;;
    *) echo "usage: $0 stop|start|restart|status" >&2; exit 2;;
esac
