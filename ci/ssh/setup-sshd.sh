#!/bin/bash
# ci/ssh/setup-sshd.sh -- a real OpenSSH server on 127.0.0.1:$PSIJ_SSHD_PORT (default 2222) for
# psij-remote's tests, as root: Debian's openssh-server (installed when missing), its own host
# key and configuration in /etc/psij-sshd (the machine's own sshd, if any, is left alone), key
# authentication only, and one dedicated unprivileged user, psijremote, as whom remote jobs
# really run.
#
# Writes for the tests (all in /etc/psij-sshd):
#   client_key       root's key for psijremote (mode 0600)
#   known_hosts      the server's host key, as [127.0.0.1]:PORT
#   ssh_config       a client configuration using both (PSIJ_SSH_CONFIG points at it)
#   wrong_known_hosts  a different host key under the same name (the refused-host-key test)
# and ~psijremote/.ssh/{id_ed25519,authorized_keys,config}, so that psijremote can log into
# itself (the conformance kit runs as psijremote through a real SSH login).
# Idempotent: a running server is left running (about 1 s then); stop with stop-sshd.sh.
set -euo pipefail
PORT=${PSIJ_SSHD_PORT:-2222}
USER_NAME=psijremote
DIR=/etc/psij-sshd
t0=$(date +%s)

if ! [ -x /usr/sbin/sshd ]; then
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends openssh-server \
        >/dev/null 2>&1 || { apt-get update -q >/dev/null && \
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
        openssh-server >/dev/null; }
fi
id "$USER_NAME" >/dev/null 2>&1 || useradd -m -s /bin/bash "$USER_NAME"
# no password, but not locked: with UsePAM no, sshd refuses a locked account ("!") even by key
usermod -p "*" "$USER_NAME"
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)

mkdir -p "$DIR" /run/sshd
chmod 755 "$DIR"
[ -f "$DIR/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/host_key" -C psij-ci-host
[ -f "$DIR/other_host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/other_host_key" \
    -C psij-ci-other-host
[ -f "$DIR/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$DIR/client_key" \
    -C psij-ci-root
chmod 600 "$DIR/client_key" "$DIR/host_key" "$DIR/other_host_key"

install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$HOME_DIR/.ssh"
[ -f "$HOME_DIR/.ssh/id_ed25519" ] || runuser -u "$USER_NAME" -- \
    ssh-keygen -q -t ed25519 -N '' -f "$HOME_DIR/.ssh/id_ed25519" -C psij-ci-self
{ cat "$DIR/client_key.pub"; cat "$HOME_DIR/.ssh/id_ed25519.pub"; } > "$HOME_DIR/.ssh/authorized_keys"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$DIR/host_key.pub")" > "$DIR/known_hosts"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$DIR/other_host_key.pub")" > "$DIR/wrong_known_hosts"
cp "$DIR/known_hosts" "$HOME_DIR/.ssh/known_hosts"
cat > "$HOME_DIR/.ssh/config" <<CONF
Host 127.0.0.1
    IdentityFile ~/.ssh/id_ed25519
    IdentitiesOnly yes
    StrictHostKeyChecking yes
CONF
chown "$USER_NAME:$USER_NAME" "$HOME_DIR/.ssh/authorized_keys" "$HOME_DIR/.ssh/known_hosts" \
    "$HOME_DIR/.ssh/config"
chmod 600 "$HOME_DIR/.ssh/authorized_keys" "$HOME_DIR/.ssh/config"
cat > "$DIR/ssh_config" <<CONF
Host 127.0.0.1
    IdentityFile $DIR/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $DIR/known_hosts
    StrictHostKeyChecking yes
CONF

cat > "$DIR/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_key
PidFile /run/psij-sshd.pid
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $USER_NAME
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
SyslogFacility AUTH
CONF
/usr/sbin/sshd -t -f "$DIR/sshd_config"

running() { [ -f /run/psij-sshd.pid ] && kill -0 "$(cat /run/psij-sshd.pid)" 2>/dev/null; }
if ! running; then
    /usr/sbin/sshd -f "$DIR/sshd_config" -E /var/log/psij-sshd.log
fi
# smoke test: a real login as psijremote, by root's key and by psijremote's own
for i in $(seq 1 50); do
    out=$(ssh -F "$DIR/ssh_config" -o BatchMode=yes -p "$PORT" "$USER_NAME@127.0.0.1" id -un \
        2>&1) && break
    sleep 0.2
done
[ "$out" = "$USER_NAME" ] || { echo "[setup-sshd] login as $USER_NAME failed: $out"; \
    tail -20 /var/log/psij-sshd.log; exit 1; }
out=$(runuser -u "$USER_NAME" -- ssh -o BatchMode=yes -p "$PORT" "$USER_NAME@127.0.0.1" id -un)
[ "$out" = "$USER_NAME" ] || { echo "[setup-sshd] self-login of $USER_NAME failed"; exit 1; }
echo "[setup-sshd] sshd on 127.0.0.1:$PORT, user $USER_NAME: SSH SMOKE TEST PASSED" \
    "($(( $(date +%s) - t0 ))s)"
