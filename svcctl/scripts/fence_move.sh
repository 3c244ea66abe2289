# shellcheck shell=sh
# Move plists where nothing loads them (svcctl.scripts.fence.move_aside).
# $1 the fenced directory, made 0700 if missing; then pairs of (from, to) operands. Each
# plist moves with its `.previous`; mv moves a link itself, never what it points to.
# rc 0: all moved (a missing one is no error); rc 1: something was not.
# shellcheck disable=SC2174  # only the fenced directory is 0700: its parents are not ours
d=$1; shift; [ -d "$d" ] || mkdir -p -m 700 "$d" || exit 1
while [ $# -gt 1 ]; do
  if [ -e "$1" ] || [ -L "$1" ]; then mv -f "$1" "$2" || exit 1; fi
  if [ -e "$1.previous" ] || [ -L "$1.previous" ]; then
    mv -f "$1.previous" "$2.previous" || exit 1
  fi
  shift 2
done
