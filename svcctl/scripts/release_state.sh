# shellcheck shell=sh
# Shared by release_list.sh and release_prune.sh (svcctl.scripts.release): $1 is the app
# root. They read: `releases` is not made here, but must be a plain directory if it is
# there (rc 8), never a symlink to elsewhere.
root=$1; rel=$1/releases
if [ -L "$rel" ] || { [ -e "$rel" ] && [ ! -d "$rel" ]; }; then
  echo "$rel is not a plain directory" >&2; exit 8
fi
nl='
'
# pointer NAME: where the link $root/NAME points, as `id ID` (releases/ID, relative or
# under $root), `elsewhere TARGET`, `none` (no such name) or `notlink` (a file or directory
# someone put there). `current` is one; `.svcctl-previous` (release_switch.sh) the other.
pointer() {
  p=$root/$1
  if [ -L "$p" ]; then
    t=$(readlink "$p") || { echo none; return 0; }
    case $t in *"$nl"*) echo 'elsewhere ?'; return 0;; esac
    i=${t%/}
    case $i in
      releases/*) i=${i#releases/};;
      "$root"/releases/*) i=${i#"$root"/releases/};;
      *) i='';;
    esac
    case $i in
      ''|.*|*[!A-Za-z0-9._-]*) printf 'elsewhere %s\n' "$t";;
      *) printf 'id %s\n' "$i";;
    esac
  elif [ -e "$p" ]; then echo notlink
  else echo none
  fi
}
# procs CURRENT_ID: `proc PID ID HOW` for each release a process names, from one BSD
# ps (FACTS 5.2: -ww, no header): `$root/releases/ID/...` or `.../ID` as a whole word is
# ID (how: release); `$root/current/...` is the release current points to (how: current).
# Matched as text anywhere in the command (a `--config=` word too), under the root as
# given and as its physical path: a process counts as running a release rather than not.
# This script, the shells above it and its own children are left out. rc 1: ps failed, or
# its rows lack this script (then they cannot be trusted to show everything).
procs() {
  rows=$(LC_ALL=C ps -axww -o pid=,ppid=,command=) || return 1
  phys=$(cd -P "$root" 2>/dev/null && pwd -P) || phys=$root
  printf '%s\n' "$rows" | R=$root P=$phys C=$1 S=$$ LC_ALL=C awk '
  function scan(s, key, how,   i, rest, id, c) {
    while ((i = index(s, key)) > 0) {
      rest = substr(s, i + length(key)); s = rest
      if (how == "current") { id = ENVIRON["C"]; c = substr(rest, 1, 1) }
      else { id = rest; sub("[/ ].*", "", id); c = substr(rest, length(id) + 1, 1) }
      if (id !~ /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/ || (c != "/" && c != " ")) continue
      if (!((pid, id) in seen)) { seen[pid, id] = 1; print "proc", pid, id, how }
    }
  }
  { up[$1] = $2; row[NR] = $0 }
  END {
    S = ENVIRON["S"]; R = ENVIRON["R"]; P = ENVIRON["P"]
    if (!(S in up)) exit 1
    for (p = S; p != "" && p > 1 && !(p in mine); p = up[p]) mine[p] = 1
    for (n = 1; n <= NR; n++) {
      $0 = row[n]; pid = $1
      if (pid in mine) continue
      q = up[pid]; h = 0
      while (q != "" && q > 1 && q != S && h < 64) { q = up[q]; h++ }
      if (q == S) continue
      cmd = row[n]; sub(/^ *[0-9]+ +[0-9]+ /, "", cmd); cmd = cmd " "
      scan(cmd, R "/releases/", "release"); scan(cmd, R "/current", "current")
      if (P != R) { scan(cmd, P "/releases/", "release"); scan(cmd, P "/current", "current") }
    }
  }'
}
