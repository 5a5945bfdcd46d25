#!/bin/bash
# ci/slurm/dump-state.sh -- print everything useful for a post-mortem of a CI failure on the
# Slurm cluster made by start-slurm.sh: daemons, sinfo, squeue (all states), scontrol show
# job, the jobcomp log and the tails of the daemon logs. Never fails (exit 0).
#   DUMP_LINES=60   lines of each log to show
set -u
N=${DUMP_LINES:-60}
section() { echo; echo "=================== $*"; }
run() { echo "\$ $*"; timeout 15 "$@" 2>&1; echo "(exit $?)"; }

section "daemons (pid files)"
for f in /run/munge/munged.pid /run/slurmctld.pid /run/slurmd-*.pid; do
    [ -e "$f" ] || continue
    p=$(cat "$f" 2>/dev/null)
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$f: $p running"; else echo "$f: $p NOT running"; fi
done
section "controller"
run scontrol ping
section "nodes"
run sinfo
run sinfo -N -l
run sinfo -R
section "queue"
run squeue -t all -o '%.8i %.12j %.10T %.20r %.5D %.12N %.10M %.10l'
section "jobs"
run scontrol show job
section "jobcomp (sacct -c, last $N records)"
echo "\$ sacct -c -P -n --format=JobID,JobName,State,ExitCode,NodeList | tail -n $N"
timeout 15 sacct -c -P -n --format=JobID,JobName,State,ExitCode,NodeList 2>&1 | tail -n "$N"
section "configuration"
grep -v '^#' /etc/slurm/slurm.conf 2>&1
for log in /var/log/slurm/slurmctld.log /var/log/slurm/slurmd-*.log /var/log/munge/munged.log; do
    [ -e "$log" ] || continue
    section "tail -n $N $log"
    tail -n "$N" "$log"
done
exit 0
