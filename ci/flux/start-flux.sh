#!/bin/bash
# ci/flux/start-flux.sh -- start a long-lived single-host Flux 0.88 instance in the background.
#
# Runs `flux start --test-size=N` (test mode: flux start launches N brokers on this host, one
# per emulated node, no systemd/munge/PMI needed). Each broker is one "node" (rank), so
# `flux submit -N2` / `flux batch -N2` run across 2 ranks. By default the ranks get fake host
# names node0..node(N-1) via a resource config (with the real host name they would all be
# listed as e.g. "vm,vm"); each rank advertises FLUX_CORES_PER_NODE cores.
# Jobs run as the instance owner (root unless FLUX_RUN_AS is set).
#
# The initial program writes the instance URI to $FLUX_STATE_DIR/uri once the instance is in
# RUN state; this script then waits until all ranks' resources are available.
# Clients:   export PATH=/opt/flux/bin:$PATH FLUX_URI=$(cat /run/flux-psij/uri)
#   or:      . /run/flux-psij/env        (PATH, FLUX_URI, PYTHONPATH for `import flux`)
# Stop with stop-flux.sh (beside this script): `flux shutdown`, then the pid file.
#
# Tunables (environment):
#   FLUX_PREFIX=/opt/flux          where build-flux.sh installed flux-core
#   FLUX_NODES=2                   number of brokers = emulated nodes (1..64)
#   FLUX_CORES_PER_NODE=$(nproc)   cores per emulated node (only with FLUX_FAKE_HOSTS=1)
#   FLUX_FAKE_HOSTS=1              0 = let hwloc discover resources (all ranks get the real
#                                  host name and all real cores)
#   FLUX_STATE_DIR=/run/flux-psij  uri, env, pid file, logs and the broker rundir go here
#   FLUX_RUN_AS=                   user name: run the instance as this user instead of root
#                                  (Flux only lets the instance owner submit jobs; root is
#                                  also let in as owner via access.allow-root-owner)
#   FLUX_START_TIMEOUT=60          seconds to wait for the instance to come up
set -euo pipefail

PREFIX=${FLUX_PREFIX:-/opt/flux}
NODES=${FLUX_NODES:-2}
CORES=${FLUX_CORES_PER_NODE:-$(nproc)}
FAKE_HOSTS=${FLUX_FAKE_HOSTS:-1}
D=${FLUX_STATE_DIR:-/run/flux-psij}
RUN_AS=${FLUX_RUN_AS:-}
TIMEOUT=${FLUX_START_TIMEOUT:-60}
PYVER=3.11    # Debian 12's python3, the one build-flux.sh built the bindings for

log() { echo "[start-flux $(date +%T)] $*"; }
FLUX=$PREFIX/bin/flux
[ -x "$FLUX" ] || { echo "$FLUX not found; run build-flux.sh first" >&2; exit 1; }
export PATH=$PREFIX/bin:$PATH
unset FLUX_URI        # never talk to (or nest inside) another instance by accident

if [ -s "$D/flux-start.pid" ] && kill -0 "$(cat "$D/flux-start.pid")" 2>/dev/null; then
    log "already running (pid $(cat "$D/flux-start.pid")), URI $(cat "$D/uri" 2>/dev/null)"
    exit 0
fi

T0=$(date +%s%N)
mkdir -p "$D"
rm -rf "$D/rundir" "$D/uri" "$D/uri.tmp" "$D/env" "$D/flux-start.pid"
mkdir -p "$D/rundir"
: > "$D/broker.log"; : > "$D/start.log"
RUNAS=()
if [ -n "$RUN_AS" ]; then
    id "$RUN_AS" >/dev/null
    chown "$RUN_AS" "$D" "$D/rundir" "$D/broker.log" "$D/start.log"
    RUNAS=(runuser -u "$RUN_AS" --)
fi

OPTS=(--test-size="$NODES" --test-rundir="$D/rundir"
      -Slog-filename="$D/broker.log"
      --conf=access.allow-root-owner=true)
if [ "$FAKE_HOSTS" = 1 ]; then
    hosts="node[0-$((NODES - 1))]"
    [ "$NODES" = 1 ] && hosts=node0
    OPTS+=(--test-hosts="$hosts"
           --conf="{\"resource\":{\"noverify\":true,\"config\":[{\"hosts\":\"$hosts\",\"cores\":\"0-$((CORES - 1))\"}]}}")
fi

# Initial program: publish the URI atomically, then keep the instance alive.
INIT="echo \"\$FLUX_URI\" > '$D/uri.tmp' && mv '$D/uri.tmp' '$D/uri' && exec sleep infinity"

# setsid: own session/process group (pgid = pid), survives the calling CI step's shell.
# In a non-interactive shell setsid does not fork, so $! is the flux-start pid.
cd /
setsid nohup "${RUNAS[@]}" "$FLUX" start "${OPTS[@]}" sh -c "$INIT" \
    < /dev/null >> "$D/start.log" 2>&1 &
PID=$!
echo "$PID" > "$D/flux-start.pid"
log "flux start pid $PID (test-size=$NODES), waiting for $D/uri"

deadline=$(( $(date +%s) + TIMEOUT ))
until [ -s "$D/uri" ]; do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "flux start exited early; $D/start.log:" >&2; cat "$D/start.log" >&2
        tail -20 "$D/broker.log" >&2; exit 1
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timeout waiting for $D/uri" >&2; exit 1; }
    sleep 0.1
done
FLUX_URI=$(cat "$D/uri")
export FLUX_URI
# wait until every rank's resources are up (normally already true when the URI appears)
until [ "$("$FLUX" resource status -s avail -no '{nnodes}' 2>/dev/null || echo 0)" = "$NODES" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timeout waiting for $NODES nodes" >&2;
        "$FLUX" resource status >&2 || true; exit 1; }
    sleep 0.1
done

cat > "$D/env" <<EOF
export PATH=$PREFIX/bin:\$PATH
export FLUX_URI=$FLUX_URI
export PYTHONPATH=$PREFIX/lib/python$PYVER/site-packages\${PYTHONPATH:+:\$PYTHONPATH}
EOF
chmod a+r "$D/uri" "$D/env"

ms=$(( ($(date +%s%N) - T0) / 1000000 ))
log "up in $((ms / 1000)).$(printf %03d $((ms % 1000)))s: FLUX_URI=$FLUX_URI"
"$FLUX" resource list
echo "clients: . $D/env   (or FLUX_URI=\$(cat $D/uri))"
