# shellcheck shell=sh
# audit's process probe (svcctl.scripts.probe; parsed by svcctl.procs.parse_probe): ps's
# rows, plus what resolving paths needs (issue 10), in the same remote call, so audit keeps
# one round trip per host. POSIX sh, BSD awk, readlink and lsof (FACTS 5.4).
# $1 (optional): the service scripts' names, space-separated; $2...: the services' files.
# - cwd: a relative script operand (`cd ~/shiva && python3 main.py`) means nothing without
#   the process's working directory, which a Mac tells only through lsof (no /proc). Asked
#   for the rows with a relative word named like a service's script ($1): this script and
#   the shells above it aside, since their arguments carry the names.
# - real paths: a service's files ($2...) and the absolute words naming them in any row,
#   each with its symlinks resolved (`current/main.py` and `releases/7/main.py` are one
#   file). A path the SSH user may not resolve is left out, and compared as written.
# The two marks (`--- cwd`, `--- real`) are svcctl.procs.ps.CWD_MARK and REAL_MARK: no ps
# row can read so, each starts with its pid.
out=$(env LC_ALL=C TZ=UTC0 ps -axww -o pid=,ppid=,uid=,user=,pgid=,lstart=,command=) || exit
printf '%s\n' "$out"
[ "$#" -gt 0 ] || exit 0
names=$1; shift
pick() {
  printf '%s\n' "$out" | awk -v names=" $names " -v self="$$" -v mode="$1" '
  { up[$1] = $2; row[NR] = $0 }
  END {
    for (p = self; p != "" && p > 1 && !(p in mine); p = up[p]) mine[p] = 1
    for (n = 1; n <= NR; n++) {
      $0 = row[n]
      if ($1 in mine) continue
      for (i = 11; i <= NF; i++) {
        w = $i; b = w; sub(/.*\//, "", b)
        if (!index(names, " " b " ")) continue
        if (mode == "pids" && substr(w, 1, 1) != "/" && substr(w, 1, 1) != "-") {
          printf "%s%s", sep, $1; sep = ","; break
        }
        if (mode == "paths" && substr(w, 1, 1) == "/") print w
      }
    }
  }'
}
real() {
  p=$1; n=0
  while [ -L "$p" ] && [ "$n" -lt 16 ]; do
    t=$(readlink "$p") || return 1
    case $t in /*) p=$t ;; *) p=${p%/*}/$t ;; esac
    n=$((n + 1))
  done
  d=${p%/*}
  d=$(cd -P "${d:-/}" 2>/dev/null && pwd -P) || return 1
  printf '%s/%s' "${d%/}" "${p##*/}"
}
pids=$(pick pids)
printf '%s\n' '--- cwd'
[ -z "$pids" ] || lsof -a -p "$pids" -d cwd -Fn 2>/dev/null
printf '%s\n' '--- real'
{ [ "$#" -gt 0 ] && printf '%s\n' "$@"; pick paths; } | sort -u | while IFS= read -r p; do
  r=$(real "$p") && [ "$r" != "$p" ] && printf 'r%s\nR%s\n' "$p" "$r"
done
exit 0
