#!/bin/bash
# ci/pbs/setup-pbs.sh -- a real OpenPBS server on this host for psij's CI, as root.
#
# Builds OpenPBS 23.06.06 from source (build-openpbs.sh; about 2.5 min on 2 cores, skipped when
# /opt/pbs already has that version), then starts server, scheduler, comm and one mom with
# PBS_VNODES vnodes (start-pbs.sh; 12-17 s on a fresh PBS_HOME, about 1 s when already up).
# Ports: server 15001, mom 15002/15003, datastore 15007, comm 17001 (ci/slurm keeps off it).
# Stop with ci/pbs/stop-pbs.sh; post-mortem with ci/pbs/dump-state.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PBS_VNODES=${PBS_VNODES:-3} PBS_VNODE_NCPUS=${PBS_VNODE_NCPUS:-4}
export PBS_VNODE_MEM=${PBS_VNODE_MEM:-2gb}
bash "$HERE/build-openpbs.sh"
bash "$HERE/start-pbs.sh"
