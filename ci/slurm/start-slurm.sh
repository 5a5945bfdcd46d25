#!/bin/bash
# ci/slurm/start-slurm.sh -- bring up a real Slurm cluster on this one host for psij's CI.
#
# Debian 12, run as root, no systemd, no cgroups needed. Installs Debian's Slurm 22.05
# (slurm-wlm slurmctld slurmd slurm-client munge) if missing, writes /etc/slurm/slurm.conf
# and starts munged, one slurmctld and one `slurmd -N nX` per emulated node (n1..nN, each
# on its own port), all in partition "debug". Exits non-zero, after printing the logs, if
# the cluster does not come up (or if the smoke test fails).
#
# Environment (all optional):
#   SLURM_NODES=3              emulated compute nodes n1..nN
#   SLURM_CPUS_PER_NODE=2      CPUs advertised per node (may exceed the real cores)
#   SLURM_MEM_PER_NODE=4000    MB advertised per node (RealMemory)
#   SLURM_DEF_MEM_PER_CPU=1000 MB a job gets per CPU when it does not ask with --mem
#   SLURM_MIN_JOB_AGE=300      seconds a finished job stays in squeue/scontrol
#   SLURM_ENFORCE_MEMORY=1     1 = memory is a consumable resource and --mem is enforced
#                              (jobacct_gather/linux + OverMemoryKill, no cgroups):
#                              a job over its --mem ends OUT_OF_MEMORY (see FACTS.md)
#   SLURM_ACCT_FREQ=1          seconds between memory samples (JobAcctGatherFrequency)
#   SLURM_RESET_STATE=1        1 = wipe saved job state and the jobcomp log (ids restart at 1)
#   SLURM_SMOKE_TEST=1         1 = submit a few jobs at the end and check their outcome
#   SLURM_RESTART=0            1 = restart even if a cluster with the same config is up
#   SKIP_APT=auto              1 = never run apt-get; auto = only if a package is missing
#
# Idempotent: if the cluster is already up with the same slurm.conf and all nodes
# respond, it only prints the state and exits 0. If the config differs, the running
# daemons are stopped (stop-slurm.sh) and started again.
# Stop with ci/slurm/stop-slurm.sh; ci/slurm/slurmctld-ctl.sh stops/starts slurmctld alone;
# ci/slurm/dump-state.sh prints queue, nodes, jobs and log tails for post-mortems.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NODES=${SLURM_NODES:-3}
CPUS=${SLURM_CPUS_PER_NODE:-2}
MEM=${SLURM_MEM_PER_NODE:-4000}
DEF_MEM_PER_CPU=${SLURM_DEF_MEM_PER_CPU:-1000}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-300}
ENFORCE_MEMORY=${SLURM_ENFORCE_MEMORY:-1}
ACCT_FREQ=${SLURM_ACCT_FREQ:-1}
RESET=${SLURM_RESET_STATE:-1}
SMOKE=${SLURM_SMOKE_TEST:-1}
RESTART=${SLURM_RESTART:-0}
SKIP_APT=${SKIP_APT:-auto}
# slurmd ports BASE+1..BASE+N; 17001 is left to OpenPBS's pbs_comm (CI runs both)
BASE_PORT=${SLURM_BASE_PORT:-17100}
PKGS="slurm-wlm slurmctld slurmd slurm-client munge"

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid

T0=$(date +%s.%N)
say() { echo "[start-slurm $(date +%T)] $*"; }
die() {
    echo "[start-slurm $(date +%T)] ERROR: $*" >&2
    "$HERE/dump-state.sh" >&2 || true
    exit 1
}
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "$(id -u)" = 0 ] || { echo "start-slurm.sh must run as root" >&2; exit 1; }
case "$NODES" in ''|*[!0-9]*) echo "SLURM_NODES must be a number" >&2; exit 1;; esac
[ "$NODES" -ge 1 ] && [ "$NODES" -le 64 ] || { echo "SLURM_NODES must be 1..64" >&2; exit 1; }

# ------------------------------------------------------------------ packages
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    [ "$SKIP_APT" = 1 ] && die "SKIP_APT=1 but packages missing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # keep the packages' maintainer scripts from starting daemons: we start them below
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    say "apt-get update"
    for try in 1 2 3; do apt-get update -qq && break; [ $try = 3 ] && die "apt-get update failed"; sleep 5; done
    say "apt-get install$missing"
    for try in 1 2 3; do
        apt-get install -y -qq --no-install-recommends $PKGS >/dev/null && break
        [ $try = 3 ] && die "apt-get install failed"; sleep 5
    done
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
for b in slurmctld slurmd munged; do [ -x "/usr/sbin/$b" ] || die "/usr/sbin/$b missing"; done
for b in sbatch squeue scontrol scancel sinfo sacct srun munge unmunge; do
    command -v "$b" >/dev/null || die "$b not on PATH"
done
T_APT=$(elapsed)

# ------------------------------------------------------------------ slurm.conf (to a temp file)
HOST=$(hostname -s)
if [ "$NODES" = 1 ]; then
    NODELIST=n1; PORTS=$((BASE_PORT + 1))
else
    NODELIST="n[1-$NODES]"; PORTS="[$((BASE_PORT + 1))-$((BASE_PORT + NODES))]"
fi
if [ "$ENFORCE_MEMORY" = 1 ]; then
    SELECT_PARAMS=CR_Core_Memory
    MEM_LINES="DefMemPerCPU=$DEF_MEM_PER_CPU
JobAcctGatherParams=OverMemoryKill"
else
    SELECT_PARAMS=CR_Core
    MEM_LINES="# memory not enforced (SLURM_ENFORCE_MEMORY=0)"
fi
NEW_CONF=$(mktemp)
trap 'rm -f "$NEW_CONF"' EXIT
cat >"$NEW_CONF" <<EOF
# Written by psij ci/slurm/start-slurm.sh -- do not edit, rerun the script instead.
ClusterName=psijci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
# no cgroups here: plain process tracking, no task confinement
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=/run/slurmd-%n.pid
SlurmdSpoolDir=$SPOOL_DIR/%n
StateSaveLocation=$STATE_DIR
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
# nodes stay up while slurmctld is stopped for a while (fault tests stop it for 60 s)
SlurmdTimeout=300
SlurmctldTimeout=120
InactiveLimit=0
KillWait=5
MinJobAge=$MIN_JOB_AGE
# without batch_sched_delay=0 batch jobs only start every ~3 s
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
# refuse at submit time what the partition can never run (else: PENDING forever)
EnforcePartLimits=ALL
SelectType=select/cons_tres
SelectTypeParameters=$SELECT_PARAMS
$MEM_LINES
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=$ACCT_FREQ
# no slurmdbd: plain sacct fails, 'sacct -c' reads the jobcomp file
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
SlurmdParameters=config_overrides
NodeName=$NODELIST NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$PORTS CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# ------------------------------------------------------------------ already up?
nodes_ready() {  # number of nodes answering (idle, allocated or mixed)
    sinfo -h -N -t idle,alloc,mix -o %N 2>/dev/null | sort -u | wc -l
}
if alive "$CTLD_PID"; then
    if [ "$RESTART" != 1 ] && cmp -s "$NEW_CONF" "$CONF" \
        && scontrol ping 2>/dev/null | grep -q 'is UP' && [ "$(nodes_ready)" = "$NODES" ]; then
        say "cluster already up with the same configuration"
        sinfo
        exit 0
    fi
    say "cluster running with another configuration (or not healthy): restarting"
    STOP_MUNGE=0 "$HERE/stop-slurm.sh"
else
    # slurmd without slurmctld (e.g. after a crash): stop them before starting afresh
    for f in /run/slurmd-*.pid; do
        [ -e "$f" ] || continue
        if alive "$f"; then STOP_MUNGE=0 "$HERE/stop-slurm.sh"; break; fi
    done
fi

# ------------------------------------------------------------------ munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating munge key"
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
    say "starting munged"
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    for _ in $(seq 100); do munge_ok && break; sleep 0.1; done
    munge_ok || die "munge does not work"
fi

# ------------------------------------------------------------------ directories, config
install -d -o slurm -g slurm -m 0755 /var/lib/slurm "$STATE_DIR" "$LOG_DIR"
install -d -m 0755 "$CONF_DIR" "$SPOOL_DIR"
if [ "$RESET" = 1 ]; then
    rm -rf "${STATE_DIR:?}"/* "${SPOOL_DIR:?}"/*
    # job ids restart at 1: old jobcomp records would otherwise answer for new jobs
    rm -f "$LOG_DIR/jobcomp.log"
fi
for i in $(seq "$NODES"); do install -d -m 0755 "$SPOOL_DIR/n$i"; done
install -m 0644 "$NEW_CONF" "$CONF"

# ------------------------------------------------------------------ daemons
say "starting slurmctld"
rm -f "$CTLD_PID"
/usr/sbin/slurmctld || die "slurmctld did not start"
for _ in $(seq 150); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld does not answer"

say "starting $NODES slurmd"
for i in $(seq "$NODES"); do
    rm -f "/run/slurmd-n$i.pid"
    /usr/sbin/slurmd -N "n$i" || die "slurmd -N n$i did not start"
done
for _ in $(seq 300); do [ "$(nodes_ready)" = "$NODES" ] && break; sleep 0.1; done
[ "$(nodes_ready)" = "$NODES" ] || die "only $(nodes_ready) of $NODES nodes came up"
T_UP=$(elapsed)
sinfo
say "cluster up (packages ready at ${T_APT}s, daemons up at ${T_UP}s)"

# ------------------------------------------------------------------ smoke test
if [ "$SMOKE" = 1 ]; then
    d=$(mktemp -d -t psij-slurm-smoke.XXXXXX)
    chmod 755 "$d"
    cd "$d"
    final_state() {  # wait for job $1 to finish, print its final state
        local s
        for _ in $(seq 600); do
            s=$(squeue -h -t all -j "$1" -o %T 2>/dev/null || true)
            case "$s" in
                ''|PENDING|CONFIGURING|RUNNING|COMPLETING) sleep 0.1;;
                *) echo "$s"; return 0;;
            esac
        done
        echo "STILL-${s:-UNKNOWN}"
    }
    nn=$(( NODES >= 2 ? 2 : 1 ))
    j1=$(sbatch --parsable -J smoke-multi -N "$nn" --ntasks-per-node=1 -o multi.out \
        --wrap 'srun bash -c "echo task \$SLURM_PROCID on \$SLURMD_NODENAME"')
    j2=$(sbatch --parsable -J smoke-exit3 -o exit3.out --wrap 'exit 3')
    j3=$(sbatch --parsable -J smoke-cancel -o /dev/null --wrap 'sleep 300')
    s1=$(final_state "$j1")
    s2=$(final_state "$j2")
    for _ in $(seq 100); do [ "$(squeue -h -j "$j3" -o %T)" = RUNNING ] && break; sleep 0.1; done
    scancel "$j3"
    s3=$(final_state "$j3")
    tasks=$(grep -c '^task ' multi.out || true)
    ec2=$(sacct -c -n -P -j "$j2" --format=ExitCode | tail -n 1)
    say "smoke: $j1 $s1 ($tasks srun tasks), $j2 $s2 (sacct -c ExitCode $ec2), $j3 $s3"
    cd /
    if [ "$s1" = COMPLETED ] && [ "$tasks" = "$nn" ] && [ "$s2" = FAILED ] \
        && [ "$ec2" = 3:0 ] && [ "$s3" = CANCELLED ]; then
        rm -rf "$d"
        say "smoke test passed"
    else
        cat "$d"/*.out >&2 || true
        die "smoke test FAILED (job files kept in $d)"
    fi
fi
say "done in $(elapsed)s"
