#!/bin/bash
# ci/ssh/install-remote-psij.sh [PACKAGE...] -- installs this tree's psij packages (default:
# psij-core psij-remote psij-launchers psij-slurm psij-pbs psij-sge) for the psijremote user of
# ci/ssh/setup-sshd.sh, in a fresh virtual environment ~psijremote/venv (Debian's python3), as
# root: the far end of psij-remote's tests then runs the code of this tree (with pytest, so
# that the conformance kit can run there as psijremote, through a real ssh login).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
USER_NAME=psijremote
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
PY=${PSIJ_REMOTE_PYTHON:-/usr/bin/python3}
[ "$#" -gt 0 ] || set -- psij-core psij-remote psij-launchers psij-slurm psij-pbs psij-sge
WHEELS=$(mktemp -d /tmp/psij-remote-wheels.XXXXXX)
trap 'rm -rf "$WHEELS"' EXIT
paths=()
for p in "$@"; do paths+=("$ROOT/packages/$p"); done
python3 -m pip wheel -q --no-deps -w "$WHEELS" "${paths[@]}" >/dev/null
chmod 755 "$WHEELS"; chmod 644 "$WHEELS"/*.whl
runuser -u "$USER_NAME" -- "$PY" -m venv --clear "$HOME_DIR/venv"
runuser -u "$USER_NAME" -- env -u PIP_FIND_LINKS "$HOME_DIR/venv/bin/pip" install -q \
    --disable-pip-version-check "$WHEELS"/*.whl pytest
echo "[install-remote-psij] $HOME_DIR/venv: $(runuser -u "$USER_NAME" -- \
    "$HOME_DIR/venv/bin/python" -c 'import psij, psij_remote; print("psij-core", psij.__version__, "psij-remote", psij_remote.VERSION)')"
