#!/bin/bash
# ci/flux/build-flux.sh -- build and install flux-core 0.88.0 from its release tarball (Debian 12, root).
# (from ../shared/lrm/build-flux.sh; called by setup-flux.sh)
#
# Uses only the `make dist` tarball <repo>/../shared/lrm/src/flux-core-0.88.0.tar.gz (already
# has ./configure, so no autotools run and no git history needed). Docs off, no tests built.
# Installs to FLUX_PREFIX (default /opt/flux). Skips everything (apt included) when
# FLUX_PREFIX/bin/flux already reports version 0.88.0 -- cache FLUX_PREFIX in CI.
#
# Tunables (environment):
#   FLUX_PREFIX=/opt/flux        install prefix
#   FLUX_TARBALL=<repo root>/../shared/lrm/src/flux-core-0.88.0.tar.gz
#   FLUX_BUILD_DIR=/tmp/flux-build   scratch dir (wiped first, removed at the end unless KEEP_BUILD=1)
#   FLUX_JOBS=$(nproc)           make -j
#   SKIP_APT=0                   1 = do not run apt-get (packages already installed)
#   FORCE=0                      1 = rebuild even if FLUX_PREFIX already has 0.88.0
# On a cache hit only the runtime packages are apt-installed (unless SKIP_APT=1).
# Logs of configure/make/install: $FLUX_BUILD_DIR/*.log (tail printed on failure).
#
# After it:  export PATH=$FLUX_PREFIX/bin:$PATH
#            export PYTHONPATH=$FLUX_PREFIX/lib/python3.11/site-packages   (for `import flux`)
set -euo pipefail

VERSION=0.88.0
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${FLUX_PREFIX:-/opt/flux}
TARBALL=${FLUX_TARBALL:-$HERE/../../../shared/lrm/src/flux-core-$VERSION.tar.gz}
BUILD_DIR=${FLUX_BUILD_DIR:-/tmp/flux-build}
JOBS=${FLUX_JOBS:-$(nproc)}
SKIP_APT=${SKIP_APT:-0}
FORCE=${FORCE:-0}
KEEP_BUILD=${KEEP_BUILD:-0}

# build deps (scripts/install-deps-deb.sh of v0.88.0 minus docs/test-only packages:
# python3-sphinx aspell aspell-en valgrind libmpich-dev) plus what configure also needs
# (gcc g++ libncurses-dev). The -dev packages pull in the runtime libraries.
APT_PKGS="autoconf automake libtool make pkg-config gcc g++ libc6-dev
  libzmq3-dev uuid-dev libjansson-dev liblz4-dev libarchive-dev libhwloc-dev libsqlite3-dev
  libncurses-dev lua5.1 liblua5.1-dev lua-posix
  python3 python3-dev python3-cffi python3-ply python3-setuptools python3-yaml
  time jq"
# runtime-only deps, installed when the build is skipped because FLUX_PREFIX is cached
APT_RUNTIME_PKGS="libzmq5 libjansson4 liblz4-1 libarchive13 libhwloc15 libsqlite3-0 libuuid1
  libncursesw6 liblua5.1-0 lua5.1 lua-posix libpython3.11 python3 python3-cffi python3-yaml
  python3-ply jq"

log() { echo "[build-flux $(date +%T)] $*"; }
T0=$(date +%s)
declare -a TIMES=()
step() {  # step NAME CMD... : run and record elapsed seconds
    local name=$1; shift
    local s; s=$(date +%s)
    log "$name ..."
    "$@"
    TIMES+=("$name=$(( $(date +%s) - s ))s")
}

[ "$(id -u)" = 0 ] || { echo "must run as root (apt-get, $PREFIX)" >&2; exit 1; }

apt_install() {  # apt_install PKGS...
    export DEBIAN_FRONTEND=noninteractive
    # DPkg::Lock::Timeout: wait (instead of failing) if another apt/dpkg is running
    step apt-update apt-get -o DPkg::Lock::Timeout=600 -q update
    step apt-install apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends "$@"
}

if [ "$FORCE" != 1 ] && [ -x "$PREFIX/bin/flux" ] &&
   "$PREFIX/bin/flux" version 2>/dev/null | grep -Eq "^commands:[[:space:]]+$VERSION\$"; then
    log "flux $VERSION already installed in $PREFIX -- skipping the build"
    # (not "cond || apt_install": set -e is ignored inside functions called from || lists)
    # shellcheck disable=SC2086
    if [ "$SKIP_APT" != 1 ]; then apt_install $APT_RUNTIME_PKGS; fi
    "$PREFIX/bin/flux" version
    log "done: ${TIMES[*]:-} total=$(( $(date +%s) - T0 ))s"
    exit 0
fi

if [ ! -f "$TARBALL" ]; then
    echo "flux-core $VERSION source tarball not found: $TARBALL" >&2
    echo "Download the release tarball and put it there (or set FLUX_TARBALL to its path):" >&2
    echo "  https://github.com/flux-framework/flux-core/releases/download/v$VERSION/flux-core-$VERSION.tar.gz" >&2
    echo "  (release page: https://github.com/flux-framework/flux-core/releases/tag/v$VERSION)" >&2
    exit 1
fi

# shellcheck disable=SC2086
if [ "$SKIP_APT" != 1 ]; then apt_install $APT_PKGS; fi

rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
step unpack tar -xzf "$TARBALL" -C "$BUILD_DIR"
cd "$BUILD_DIR/flux-core-$VERSION"

# PYTHON: use Debian's python3 (the one python3-cffi/ply/yaml are installed for), not a
# pyenv/venv/setup-python python3 that may come first in PATH.
run_configure() {
    ./configure --prefix="$PREFIX" --disable-docs PYTHON=/usr/bin/python3 \
        > "$BUILD_DIR/configure.log" 2>&1 || { tail -40 "$BUILD_DIR/configure.log" >&2; return 1; }
}
step configure run_configure
run_make() { make -j"$JOBS" > "$BUILD_DIR/make.log" 2>&1 || { tail -60 "$BUILD_DIR/make.log" >&2; return 1; }; }
step make run_make
run_install() { make install > "$BUILD_DIR/install.log" 2>&1 || { tail -40 "$BUILD_DIR/install.log" >&2; return 1; }; }
step make-install run_install
ldconfig

"$PREFIX/bin/flux" version
"$PREFIX/bin/flux" version | grep -Eq "^commands:[[:space:]]+$VERSION\$" \
    || { echo "installed flux does not report $VERSION" >&2; exit 1; }

cd /
[ "$KEEP_BUILD" = 1 ] || rm -rf "$BUILD_DIR"
log "done: ${TIMES[*]} total=$(( $(date +%s) - T0 ))s"
log "use: export PATH=$PREFIX/bin:\$PATH PYTHONPATH=$PREFIX/lib/python3.11/site-packages"
