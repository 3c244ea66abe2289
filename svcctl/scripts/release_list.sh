# shellcheck shell=sh source-path=SCRIPTDIR
# What root $1 holds (svcctl.scripts.release.releases; parsed by svcctl.release.listing),
# in one call: where `current` and `.svcctl-previous` point, every release under releases/
# newest directory first (`ls -t`: the directory's own mtime), its kind and its record
# (`|` before each line, read only from a plain file, at most 64 KiB), the uploads under
# way (.incoming-ID) and the processes running each release. Names that cannot be ids
# are left out; `ls -q` shows a newline in a name as `?`, so one line is one name.
# rc 0: listed; 8: `releases` not a plain directory; 9: ps failed.
. ./release_state.sh
cur=$(pointer current)
printf 'current %s\nprevious %s\n' "$cur" "$(pointer .svcctl-previous)"
if [ -d "$rel" ]; then
  # shellcheck disable=SC2012  # ls -t is the one portable mtime order; -q and the id test
  ls -1tq "$rel" | while IFS= read -r i; do
    case $i in ''|.*|*[!A-Za-z0-9._-]*) continue;; esac
    d=$rel/$i; f=$d/.svcctl-release.json; s=none
    if [ -L "$d" ]; then k='link'
    elif [ -d "$d" ]; then
      k=dir; [ -f "$d/.svcctl-manifest" ] && [ ! -L "$d/.svcctl-manifest" ] && k=release
      if [ -f "$f" ] && [ ! -L "$f" ]; then
        n=$(head -c 65537 <"$f" 2>/dev/null | wc -c | tr -d ' ')
        s=record; [ "${n:-0}" -gt 65536 ] && s=large
      fi
    elif [ -e "$d" ]; then k=other
    else continue
    fi
    printf 'release %s %s %s\n' "$i" "$k" "$s"
    [ "$s" = record ] && head -c 65536 <"$f" | awk '{ print "|" $0 }'
  done
  for i in "$rel"/.incoming-*; do
    j=${i##*/.incoming-}
    case $j in ''|.*|*[!A-Za-z0-9._-]*) ;; *) [ -e "$i" ] && printf 'incoming %s\n' "$j";; esac
  done
fi
case $cur in 'id '*) c=${cur#id };; *) c='';; esac
procs "$c" || { echo "ps failed" >&2; exit 9; }
