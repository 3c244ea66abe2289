#!/bin/sh
# Runs as the first process of a new PID + mount namespace (see DESIGN.md):
# bind-mounts the host's private directories over the real machine's, lays macOS's
# userland over /usr, hides /proc, then execs the launchd emulator, which becomes PID 1.
# Usage: setup.sh HOSTDIR
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
if [ -d "$S/macos/usr" ]; then
  # macOS's userland (userland.py): read-only, the layer first, the machine's /usr below
  mount -t overlay overlay -o "ro,lowerdir=$S/macos/usr:/usr" /usr
fi
mount --bind "$S/Users" /Users
mount --bind "$S/Library" /Library
if [ -s "$S/macos/python-prefix" ]; then
  # the Command Line Tools' python3 (3.9) where a Mac keeps it (FACTS 5.4)
  mount --bind -o ro "$(cat "$S/macos/python-prefix")" /Library/Developer/CommandLineTools/usr
fi
mount --bind "$S/bin" /usr/local/bin
for f in passwd group shadow; do
  mount --bind "$S/etc/$f" "/etc/$f"
done
if [ -f "$S/etc/zshenv" ] && [ -f /etc/zsh/zshenv ]; then
  mount --bind "$S/etc/zshenv" /etc/zsh/zshenv
fi
mount --bind "$S/tmp" /tmp
mount --bind "$S/root" /root
umount /run/.hostdir
rmdir /run/.hostdir 2>/dev/null || true

# A Mac has no /proc: only the emulator reads the process table (for ps), from a
# procfs in a directory only root may enter; jobs and SSH sessions find /proc empty.
mkdir -p /run/testbed/private/proc
chmod 700 /run/testbed/private
mount -t proc proc /run/testbed/private/proc
mount -t tmpfs -o ro,mode=555,size=4k tmpfs /proc

cd /run/testbed/lib
exec "$PY" -E -s -m emulator --root /run/testbed
