#!/bin/bash
# Build and install OpenPBS from its source tarball (no git, no internet except the Debian
# archive). The tarball is $PBS_TARBALL, by default ../shared/lrm/src/openpbs-$PBS_VERSION.tar.gz
# beside the repository (where CI finds it). Debian 12, as root. Idempotent: skips the build when
# /opt/pbs/bin/qstat --version already reports $PBS_VERSION.
#
#   build-openpbs.sh            # apt deps + unpack + autogen + configure + make + install + postinstall
#
# Environment:
#   PBS_VERSION    (23.06.06)        version of openpbs-$PBS_VERSION.tar.gz to build
#   PBS_TARBALL    (see above)       the source tarball
#   PBS_PREFIX     (/opt/pbs)        install prefix
#   PBS_BUILD_DIR  (/tmp/openpbs-build)  scratch dir (removed and recreated)
#   PBS_SKIP_APT   (0)               1: do not run apt-get (deps already installed)
#   PBS_FORCE      (0)               1: rebuild even if the version is already installed
#
# Notes:
#   * v23.06.06 does not compile against Python 3.11 (Debian 12): it includes <eval.h>, which
#     Python 3.11 removed. Upstream fixed this in commit 1d17427c0 ("compile with Python 3.11",
#     #2594, after the 23.06 branch); we apply the same one-line change before building.
#   * configure is pointed at /usr/bin/python3 (--with-python=/usr) so that a pyenv/venv python
#     on PATH is not picked up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PBS_VERSION=${PBS_VERSION:-23.06.06}
PBS_PREFIX=${PBS_PREFIX:-/opt/pbs}
PBS_BUILD_DIR=${PBS_BUILD_DIR:-/tmp/openpbs-build}
PBS_SKIP_APT=${PBS_SKIP_APT:-0}
PBS_FORCE=${PBS_FORCE:-0}
REPO=$(cd "$HERE/../.." && pwd)
TARBALL=${PBS_TARBALL:-$REPO/../shared/lrm/src/openpbs-$PBS_VERSION.tar.gz}
JOBS=${JOBS:-$(nproc)}

log() { echo "[build-openpbs $(date +%T)] $*"; }
TIMINGS=()
step() {   # step NAME CMD...  -- run, time, record
    local name=$1; shift
    local t0 t1
    t0=$(date +%s%N)
    log "== $name"
    "$@"
    t1=$(date +%s%N)
    TIMINGS+=("$(printf '%-14s %6d ms' "$name" $(( (t1 - t0) / 1000000 )))")
}

if [ "$(id -u)" != 0 ]; then echo "must run as root" >&2; exit 1; fi

installed_version() {
    "$PBS_PREFIX/bin/qstat" --version 2>/dev/null | sed -n 's/^pbs_version = //p'
}

if [ "$PBS_FORCE" != 1 ] && [ "$(installed_version)" = "$PBS_VERSION" ]; then
    log "OpenPBS $PBS_VERSION already installed in $PBS_PREFIX; skipping build"
    if [ ! -f /etc/pbs.conf ]; then
        log "/etc/pbs.conf missing: running pbs_postinstall"
        "$PBS_PREFIX/libexec/pbs_postinstall"
    fi
    exit 0
fi

if [ ! -f "$TARBALL" ]; then
    echo "OpenPBS source tarball not found: $TARBALL" >&2
    echo "Download the source of OpenPBS release v$PBS_VERSION (the openpbs/openpbs project on" >&2
    echo "GitHub, tag v$PBS_VERSION, as a .tar.gz) and set PBS_TARBALL to its path." >&2
    exit 1
fi

# Build deps from the INSTALL file (Debian section) + libcjson-dev, pkg-config; runtime:
# postgresql (the PBS datastore is a private PostgreSQL cluster in $PBS_HOME/datastore).
DEPS=(gcc make libtool libhwloc-dev libx11-dev libxt-dev libedit-dev libical-dev ncurses-dev
      perl postgresql-server-dev-all postgresql-contrib python3-dev tcl-dev tk-dev swig
      libexpat-dev libssl-dev libxext-dev libxft-dev autoconf automake g++ libcjson-dev
      pkg-config postgresql iproute2 openssh-client)

apt_deps() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${DEPS[@]}"
}
if [ "$PBS_SKIP_APT" != 1 ]; then
    step apt-deps apt_deps
fi

# A clean PATH: no pyenv/venv/conda python in front of /usr/bin.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

unpack() {
    rm -rf "$PBS_BUILD_DIR"
    mkdir -p "$PBS_BUILD_DIR"
    tar -xzf "$TARBALL" -C "$PBS_BUILD_DIR"
    local f="$PBS_BUILD_DIR/openpbs-$PBS_VERSION/src/lib/Libpython/pbs_python_external.c"
    if grep -q '^#include <eval.h>' "$f"; then
        log "applying Python 3.11 fix (upstream 1d17427c0) to ${f#"$PBS_BUILD_DIR"/}"
        sed -i 's|^#include <eval.h>.*|#include <Python.h>\t\t/* Includes eval.h (upstream 1d17427c0) */|' "$f"
    fi
}
step unpack unpack
cd "$PBS_BUILD_DIR/openpbs-$PBS_VERSION"
step autogen ./autogen.sh
step configure ./configure --prefix="$PBS_PREFIX" --with-python=/usr
step make make -j"$JOBS"
step make-install make install

postinstall() {
    # pbs_postinstall keeps an existing /etc/pbs.conf. It tries update-rc.d/systemctl, whose
    # failures on a machine without systemd are harmless.
    "$PBS_PREFIX/libexec/pbs_postinstall"
    # start the mom too (single-host cluster)
    sed -i 's/^PBS_START_MOM=0/PBS_START_MOM=1/' /etc/pbs.conf
}
step postinstall postinstall

log "installed: $(installed_version)"
log "timings:"
printf '  %s\n' "${TIMINGS[@]}"
