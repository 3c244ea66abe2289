# shellcheck shell=sh
# Read a lock or guard record another user may have written (svcctl.scripts.probe).
# $1 the record. Lock and guard records sit in /tmp, where any local user may plant a FIFO
# (the read would block the whole probe) or a link: only a plain file is read, and only
# its start. rc 0: the record on stdout; rc 1: no plain file there.
[ -f "$1" ] && [ ! -L "$1" ] && exec head -c 65536 < "$1"
