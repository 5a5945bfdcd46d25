#!/usr/bin/env bash
# Installs and starts what the full test suite needs on a Debian machine, as root:
# Open MPI (and MPICH) for the launcher tests, and a real 3-node Slurm cluster.
# CI runs it; a developer runs it once (as root) to run the Slurm and MPI tests locally,
# without it those tests skip with a message saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev mpich libmpich-dev \
    gcc make shellcheck >/dev/null
if [ -x ci/slurm/start-slurm.sh ]; then
    if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
        SLURM_MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-300} bash ci/slurm/start-slurm.sh
    fi
fi
