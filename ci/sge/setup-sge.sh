#!/bin/bash
# ci/sge/setup-sge.sh -- a real single-host Grid Engine cell on this host for psij's CI, as root.
#
# Installs Debian's Grid Engine 8.1.9 (gridengine-master, -exec, -client; skipped when they are
# installed) and starts sge_qmaster + sge_execd with queue all.q (SGE_SLOTS slots, default 8) and
# the parallel environments smp ($pe_slots) and mpi ($round_robin), project psijproj
# (start-sge.sh; about 30 s on a fresh machine, about 1 s when the cell is already up: the
# script is idempotent).
# Runs beside OpenPBS (ci/pbs) and Slurm (ci/setup-system.sh) without touching them: different
# ports, Grid Engine's client commands in $SGE_ROOT/bin/lx-amd64 (and /usr/bin wrappers),
# never on PATH before /opt/pbs/bin by this script's doing.
# Tests and the executor use PSIJ_SGE_COMMAND_DIR=/usr/bin (the wrappers set SGE_ROOT).
# Stop with ci/sge/stop-sge.sh; post-mortem with ci/sge/dump-state.sh; sge_qmaster alone is
# stopped/started by ci/sge/sge-qmaster-ctl.sh (the fault tests).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$(date +%s)
if [ "${SKIP_APT:-}" = "" ]; then
    SKIP_APT=1
    for p in gridengine-master gridengine-exec gridengine-client; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || SKIP_APT=0
    done
fi
export SKIP_APT
# (apt's lock may be held for a while by another job on a shared machine: start-sge.sh's
# apt-get calls wait for it, DPkg::Lock::Timeout)
export SGE_SMOKE_TEST=${SGE_SMOKE_TEST:-1}
# 8 slots on a 2-core machine: the tests' jobs mostly sleep, and the kit's 100-job test and
# the fault test's 30 jobs finish sooner
export SGE_SLOTS=${SGE_SLOTS:-8}
bash "$HERE/start-sge.sh"
echo "[setup-sge] done in $(( $(date +%s) - t0 ))s (SKIP_APT=$SKIP_APT)"
