#!/bin/bash
# ci/flux/setup-flux.sh -- install Flux 0.88.0 and start a 2-node test instance for psij's CI.
#
# Debian 12, run as root. Steps:
#   1. build-flux.sh: build flux-core 0.88.0 from <repo>/../shared/lrm/src/flux-core-0.88.0.tar.gz
#      into /opt/flux (skipped when /opt/flux/bin/flux already reports 0.88.0: cache /opt/flux
#      in CI). Where the tarball folder does not exist it prints where to download the release
#      and exits non-zero.
#   2. start-flux.sh: `flux start --test-size=2` in the background (2 brokers = 2 nodes,
#      node0/node1); URI in /run/flux-psij/uri, client environment in /run/flux-psij/env.
#   3. a smoke test: one 2-node job must COMPLETE.
# Idempotent: an instance already running is kept.
#
# Then, for the tests:   . /run/flux-psij/env   (PATH, FLUX_URI, PYTHONPATH of the bindings)
# Stop with ci/flux/stop-flux.sh; post-mortem with ci/flux/dump-state.sh.
#
# Environment: everything build-flux.sh / start-flux.sh accept (FLUX_PREFIX, FLUX_TARBALL,
# FLUX_NODES, FLUX_STATE_DIR, SKIP_APT, FORCE, ...), plus
#   FLUX_SMOKE_TEST=1     0 = skip step 3
#   FLUX_BUILD_NICE=10    niceness of the build (the CI machine is shared)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${FLUX_PREFIX:-/opt/flux}
D=${FLUX_STATE_DIR:-/run/flux-psij}
log() { echo "[setup-flux $(date +%T)] $*"; }
T0=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "setup-flux.sh must run as root (apt-get, $PREFIX)" >&2; exit 1; }

# apt may be locked by another build for a few minutes: retry the whole (idempotent) build step
for attempt in 1 2 3 4 5; do
    rc=0
    nice -n "${FLUX_BUILD_NICE:-10}" bash "$HERE/build-flux.sh" || rc=$?
    [ "$rc" = 0 ] && break
    [ -f "${FLUX_TARBALL:-$HERE/../../../shared/lrm/src/flux-core-0.88.0.tar.gz}" ] || exit "$rc"
    [ "$attempt" = 5 ] && { echo "build-flux.sh failed $attempt times" >&2; exit "$rc"; }
    log "build-flux.sh failed (rc $rc, apt lock?); retrying in 30 s"
    sleep 30
done
T1=$(date +%s)

bash "$HERE/start-flux.sh"
T2=$(date +%s)

if [ "${FLUX_SMOKE_TEST:-1}" = 1 ]; then
    # shellcheck disable=SC1091
    . "$D/env"
    id=$(flux submit -N2 -n2 true)
    flux job status "$id" || { echo "smoke test: 2-node job $id did not complete" >&2;
        flux jobs -a >&2; exit 1; }
    log "smoke test: 2-node job $id COMPLETED"
fi
log "done: build=$((T1 - T0))s start=$((T2 - T1))s total=$(( $(date +%s) - T0 ))s"
echo "clients: . $D/env"
