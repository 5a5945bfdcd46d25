#!/bin/bash
# ci/ssh/stop-sshd.sh -- stops the sshd of ci/ssh/setup-sshd.sh (connections it serves end too).
if [ -f /run/psij-sshd.pid ]; then
    kill "$(cat /run/psij-sshd.pid)" 2>/dev/null || true
    rm -f /run/psij-sshd.pid
fi
