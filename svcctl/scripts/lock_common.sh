# shellcheck shell=sh
# The deploy lock's shared functions (svcctl.scripts.lock): every lock script starts
# with these. The directory is shared by every user (FIELD I) and any of them can plant
# files in it, so nothing there is followed, chmod'ed or overwritten unless we just
# created it (issue 10 §2). rc 71: the directory is not one svcctl may trust; rc 72: a
# path svcctl must read is not a plain file; rc 70: cannot write. Each names the path and
# its owner on stderr. `ls -ld(n)` reads owner and mode on macOS and Linux alike (FACTS
# §5.4: no GNU stat).
set -f
unset CDPATH
# shellcheck disable=SC2046  # split on purpose: ls -ld's fields (set -f: no globbing)
owner_of() { set -- $(ls -ld "$1" 2>/dev/null); echo "${3:-?}"; }
trusted() {
  if [ -L "$1" ]; then echo "$1 is a symbolic link (owner $(owner_of "$1"))" >&2; exit 71; fi
  if [ ! -d "$1" ]; then echo "$1 is not a directory" >&2; exit 71; fi
  # shellcheck disable=SC2046  # split on purpose: ls -ldn's fields (set -f: no globbing)
  set -- "$1" $(ls -ldn "$1")
  mode=${2%[+@.]}
  if [ "$4" != 0 ] && [ "$4" != "$(id -u)" ]; then
    echo "$1 is owned by uid $4 ($(owner_of "$1")), not root or us" >&2; exit 71
  fi
  case "$mode" in ????????w? | ?????w????) case "$mode" in *t|*T) ;;
    *) echo "$1 is writable by others and not sticky ($mode)" >&2; exit 71;; esac;; esac
}
regular() {
  if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then
    echo "$1 is not a plain file (owner $(owner_of "$1")): remove it" >&2; exit 72
  fi
}
# a new file from a mktemp template, in $tmp: O_EXCL and a name nobody saw before it existed
fresh() {
  tmp=$(mktemp "$1") || exit 70
  # shellcheck disable=SC2015  # rm and exit when either chmod or printf fails
  chmod 644 "$tmp" && printf '%s' "$2" > "$tmp" || { rm -f "$tmp"; exit 70; }
}
