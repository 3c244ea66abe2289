# shellcheck shell=sh source-path=SCRIPTDIR
# Remove our lock (svcctl.scripts.lock).
# (after the breaker's shift) $1 lock file, $2 our record. rc 0: released; rc 4: not ours
# any more; rc 5: gone
. ./lock_breaker.sh
[ -e "$1" ] || [ -L "$1" ] || exit 5
regular "$1"
[ "$(head -c 65536 "$1")" = "$2" ] || exit 4
rm -f "$1"
