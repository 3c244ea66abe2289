#!/bin/sh
# Runs as the first process of a new PID + mount namespace (see DESIGN.md):
# bind-mounts the host's private directories over the real machine's, then
# execs the launchd emulator, which becomes PID 1.  Usage: setup.sh HOSTDIR
set -eu
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: setup.sh HOSTDIR" >&2
    exit 64
fi
H="$1"
PY="${SVCCTL_TESTBED_PYTHON:-/usr/bin/python3}"

# HOSTDIR may live under any directory that is about to be covered (/tmp,
# /root): pin it first at a neutral place, mount everything from there.
mount --bind "$H/run" /run
mkdir -p /run/.hostdir /run/testbed /run/sshd
mount --bind "$H" /run/.hostdir
S=/run/.hostdir
mount --bind "$S/sys" /run/testbed
mount --bind "$S/Users" /Users
mount --bind "$S/Library" /Library
mount --bind "$S/bin" /usr/local/bin
for f in passwd group shadow; do
  mount --bind "$S/etc/$f" "/etc/$f"
done
mount --bind "$S/tmp" /tmp
mount --bind "$S/root" /root
umount /run/.hostdir
rmdir /run/.hostdir 2>/dev/null || true

cd /run/testbed/lib
exec "$PY" -E -s -m emulator --root /run/testbed
