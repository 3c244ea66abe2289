# shellcheck shell=sh source-path=SCRIPTDIR
# Move our lock's expiry later (svcctl.scripts.lock).
# (after the breaker's shift) $1 lock file, $2 our record, $3 temp template, $4 our record
# with a later expiry. rc 0: renewed (rename: readers see the old record or the new,
# whole); rc 4: not ours any more (the record there, if any, on stdout). Ours, in a sticky
# directory: nobody else can swap it between the check and the rename.
. ./lock_breaker.sh
regular "$1"
cur=$(head -c 65536 "$1" 2>/dev/null)
if [ "$cur" != "$2" ]; then printf '%s' "$cur"; exit 4; fi
fresh "$3" "$4"
mv -f "$tmp" "$1" || { rm -f "$tmp"; exit 70; }
