# shellcheck shell=sh source-path=SCRIPTDIR
# Replace a lock record judged expired (or to break) with ours (svcctl.scripts.lock).
# (after the breaker's shift) $1 lock file, $2 the exact record judged expired (or to
# break), $3 temp template, $4 our record. rc 0: ours now; rc 4: the file changed
# meanwhile (its record, if any, on stdout), or a plain acquirer linked theirs first
. ./lock_breaker.sh
regular "$1"
if [ -e "$1" ]; then
  cur=$(head -c 65536 "$1" 2>/dev/null)
  if [ "$cur" != "$2" ]; then printf '%s' "$cur"; exit 4; fi
  rm -f "$1" || exit 70
fi
fresh "$3" "$4"
if ln -n "$tmp" "$1" 2>/dev/null; then rm -f "$tmp"; exit 0; fi
rm -f "$tmp"; regular "$1"; head -c 65536 "$1" 2>/dev/null; exit 4
