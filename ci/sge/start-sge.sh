#!/bin/bash
# ci/sge/start-sge.sh -- bring up a real single-host (Son of) Grid Engine 8.1.9 cell on Debian 12
# as root (called by setup-sge.sh). Adapted from the reference script of the workplace
# (lrm/start-sge.sh): idempotent (a running cell is re-configured and checked, not refused),
# and it keeps out of the way of the OpenPBS and Slurm daemons running on the same host.
#
# One sge_qmaster + one sge_execd on this host, cell "default", queue "all.q" with SGE_SLOTS
# slots, parallel environments "smp" ($pe_slots) and "mpi" ($round_robin), scheduler running
# every second, root allowed to run jobs (min_uid 0), accounting flushed every second (qacct),
# shell_start_mode unix_behavior (the script's #! line is honoured) and login_shells none (jobs
# do not run the user's login profile -- with a login shell every job sourced root's ~/.profile,
# which here runs `pyenv rehash` and serialised jobs on its lock: ~1-30 s per trivial job).
# No systemd needed: the daemons are started directly.
#
# Tunables (environment):
#   SGE_SLOTS=4          slots of all.q on this host
#   SGE_SMOKE_TEST=1     1 = run a smoke test at the end (qsub/qstat/qdel/qacct)
#   SKIP_APT=0           1 = do not run apt-get (packages already installed)
#   SGE_PROJECTS=psijproj  projects to define (for -P)
#
# NOTE: gridengine-client CONFLICTS with slurm-wlm-torque (both ship qsub/qstat/qdel);
#       this script removes slurm-wlm-torque if it is installed.
# Coexistence: Grid Engine's ports (6444 qmaster, 6445 execd) differ from OpenPBS's
# (15001-15007, 17001) and Slurm's (6817, 17101-17103). ci/pbs/start-pbs.sh appends
# "<non-loopback IP> HOST" to /etc/hosts; Grid Engine copes with both addresses of HOST thanks to
# the host_aliases line below ("HOST localhost"): 127.0.0.1 reverse-resolves to localhost.
# Stop with ./stop-sge.sh (beside this script) (kills the daemons by their pid files).
set -euo pipefail

SLOTS=${SGE_SLOTS:-4}
SMOKE=${SGE_SMOKE_TEST:-1}
SKIP_APT=${SKIP_APT:-0}
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
CONF=${SGE_CONF_DIR:-$(mktemp -d)}
log() { echo "[start-sge $(date +%T)] $*"; }
t0=$(date +%s)
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

H=$(hostname)
# SGE insists that the host name resolves; qmaster/execd compare the name a connection's IP
# resolves to with the name the client claims (see host_aliases below).
if ! getent hosts "$H" >/dev/null; then
    log "WARNING: $H does not resolve; adding it to /etc/hosts"
    echo "127.0.0.1 $H" >> /etc/hosts
fi

# ---------------------------------------------------------------- 1. packages
if [ "$SKIP_APT" != 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if dpkg -s slurm-wlm-torque >/dev/null 2>&1; then
        log "removing slurm-wlm-torque (conflicts with gridengine-client)"
        apt-get -o DPkg::Lock::Timeout=300 remove -y -qq slurm-wlm-torque >/dev/null
    fi
    debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-common shared/gridenginemaster string $H
gridengine-client shared/gridengineconfig boolean true
gridengine-client shared/gridenginecell string $SGE_CELL
gridengine-client shared/gridenginemaster string $H
gridengine-master shared/gridengineconfig boolean true
gridengine-exec shared/gridengineconfig boolean true
EOF
    # keep package scripts from starting daemons (we start them ourselves below)
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
    fi
    log "apt-get update"; apt-get -o DPkg::Lock::Timeout=300 update -qq
    log "apt-get install gridengine-master gridengine-exec gridengine-client"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends gridengine-master gridengine-exec gridengine-client >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
t_apt=$(date +%s)

# The master package's postinst ran init_cluster (berkeleydb spool in /var/spool/gridengine/spooldb).
[ -f "$SGE_ROOT/$SGE_CELL/common/bootstrap" ] || { echo "no SGE cell (postinst did not run init_cluster?)" >&2; exit 1; }
echo "$H" > "$SGE_ROOT/$SGE_CELL/common/act_qmaster"
# 127.0.0.1 usually reverse-resolves to "localhost", while the client says it is "$H":
# without this alias every client gets "commlib error: access denied (client IP resolved to
# host name "localhost". This is not identical to clients host name ...)".
echo "$H localhost" > "$SGE_ROOT/$SGE_CELL/common/host_aliases"
chown sgeadmin:sgeadmin "$SGE_ROOT/$SGE_CELL/common/act_qmaster" "$SGE_ROOT/$SGE_CELL/common/host_aliases"
install -d -o sgeadmin -g sgeadmin -m 0755 /var/run/gridengine /var/spool/gridengine/execd

# ---------------------------------------------------------------- 2. qmaster
QPID=/var/spool/gridengine/qmaster/qmaster.pid
if [ -s "$QPID" ] && kill -0 "$(cat "$QPID")" 2>/dev/null; then
    log "sge_qmaster already running (pid $(cat $QPID))"
else
    log "starting sge_qmaster"
    /usr/sbin/sge_qmaster            # daemonizes, switches to sgeadmin
fi
# Grid Engine's own binaries first: OpenPBS (/opt/pbs/bin) and Slurm's Torque wrappers also
# ship qsub/qstat/qdel, and a qstat that is not Grid Engine's breaks what follows
PATH_WITHOUT_PBS=$(echo "$PATH" | tr ':' '\n' | grep -vx /opt/pbs/bin | paste -sd:)
export PATH="$SGE_ROOT/bin/lx-amd64:$PATH_WITHOUT_PBS"
for _ in $(seq 100); do qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
qconf -sh >/dev/null || { tail -5 /var/spool/gridengine/qmaster/messages; exit 1; }

# ---------------------------------------------------------------- 3. configuration (idempotent)
mkdir -p "$CONF"; cd "$CONF"
qconf -sconf > global
sed -i -e 's/^min_uid .*/min_uid                      0/' \
       -e 's/^min_gid .*/min_gid                      0/' \
       -e 's/^login_shells .*/login_shells                 none/' \
       -e 's/flush_time=[0-9:]*/flush_time=00:00:01/' global
qconf -Mconf global >/dev/null
qconf -ssconf > sconf
sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
       -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
       -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' \
       -e 's/^job_load_adjustments .*/job_load_adjustments              NONE/' \
       -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time        0:0:0/' sconf
qconf -Msconf sconf >/dev/null
qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H" >/dev/null
if ! qconf -sel 2>/dev/null | grep -qx "$H"; then
    printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$H" > exechost
    qconf -Ae exechost >/dev/null
fi
for pe in smp mpi; do
    # shellcheck disable=SC2016  # $pe_slots / $round_robin are Grid Engine's words
    rule='$pe_slots'
    # shellcheck disable=SC2016
    [ $pe = mpi ] && rule='$round_robin'
    printf 'pe_name %s\nslots 999\nuser_lists NONE\nxuser_lists NONE\nstart_proc_args NONE\nstop_proc_args NONE\nallocation_rule %s\ncontrol_slaves TRUE\njob_is_first_task FALSE\nurgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n' "$pe" "$rule" > pe_$pe
    if qconf -spl 2>/dev/null | grep -qx $pe; then qconf -Mp pe_$pe >/dev/null; else qconf -Ap pe_$pe >/dev/null; fi
done
# projects for the tests' `-P` requests (psij's conformance run passes sge.P=psijproj)
for prj in ${SGE_PROJECTS:-psijproj}; do
    if ! qconf -sprjl 2>/dev/null | grep -qx "$prj"; then
        printf 'name %s\noticket 0\nfshare 0\nacl NONE\nxacl NONE\n' "$prj" > "prj_$prj"
        qconf -Aprj "prj_$prj" >/dev/null
    fi
done
cat > queue_all.q <<EOF
qname                 all.q
hostlist              $H
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               smp mpi
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
if qconf -sql 2>/dev/null | grep -qx all.q; then qconf -Mq queue_all.q >/dev/null; else qconf -Aq queue_all.q >/dev/null; fi

# ---------------------------------------------------------------- 4. execd
execd_running() {
    local f
    for f in /var/spool/gridengine/execd/*/execd.pid; do
        [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
    done
    return 1
}
if execd_running; then
    log "sge_execd already running"
else
    log "starting sge_execd"
    /usr/sbin/sge_execd
fi
for _ in $(seq 150); do
    qstat -f -q all.q 2>/dev/null | grep -q "all.q@$H .* lx-amd64 *$" && break; sleep 0.2
done
qstat -f
qstat -f -q all.q | grep -q "all.q@$H .* lx-amd64 *$" || { echo "execd did not come up" >&2; exit 1; }
t_up=$(date +%s)
log "cell up: apt $((t_apt-t0))s, daemons+config $((t_up-t_apt))s, total $((t_up-t0))s"

# ---------------------------------------------------------------- 5. smoke test
if [ "$SMOKE" = 1 ]; then
    d=$(mktemp -d -t sge-smoke.XXXXXX); chmod 755 "$d"; cd "$d"
    # gone: qstat -j says the job does not exist (not merely that it failed: a qmaster that
    # is restarting fails it too)
    gone() {
        local out
        for _ in $(seq 600); do
            out=$(qstat -j "$1" 2>&1 || true)
            case "$out" in *'do not exist'*) return 0 ;; esac
            sleep 0.1
        done
        echo "job $1 still known to qstat after 60 s: $out" >&2
        return 1
    }
    acct() { for _ in $(seq 100); do qacct -j "$1" >/dev/null 2>&1 && { qacct -j "$1"; return 0; }; sleep 0.2; done; return 1; }
    # shellcheck disable=SC2016  # expanded by the job
    j1=$(qsub -terse -cwd -N smoke-ok -j y -o ok.out -pe smp 2 -b y 'echo JOB_ID=$JOB_ID NSLOTS=$NSLOTS')
    j2=$(qsub -terse -cwd -N smoke-fail -j y -o fail.out -b y 'exit 3')
    j3=$(qsub -terse -cwd -N smoke-cancel -j y -o cancel.out -b y 'sleep 600')
    for _ in $(seq 100); do qstat -s r | grep -q "^ *$j3 " && break; sleep 0.1; done
    qstat
    qdel "$j3"
    gone "$j1"; gone "$j2"; gone "$j3"
    e1=$(acct "$j1" | awk '$1=="exit_status"{print $2}')
    e2=$(acct "$j2" | awk '$1=="exit_status"{print $2}')
    f3=$(acct "$j3" | awk '$1=="failed"{print $2}')
    out=$(cat ok.out)
    echo "job $j1: exit_status=$e1 output='$out'; job $j2: exit_status=$e2; job $j3 (qdel): failed=$f3"
    if [ "$e1" = 0 ] && [ "$out" = "JOB_ID=$j1 NSLOTS=2" ] && [ "$e2" = 3 ] && [ "$f3" = 100 ]; then
        log "SGE SMOKE TEST PASSED ($(( $(date +%s) - t_up ))s)"
    else
        log "SGE SMOKE TEST FAILED"; exit 1
    fi
    cd /; rm -rf "$d"
fi
log "done in $(( $(date +%s) - t0 ))s"
