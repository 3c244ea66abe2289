# shellcheck shell=sh
# The manifest of the tree in "." (format: svcctl.release.manifest), on stdout. Top-level
# .svcctl-* names are svcctl's records, not the release. One find per list and one shasum
# for every file (a process per file would cost seconds per thousand on a Mac); awk joins
# them in path order. shasum writes `\` first and `\\` for a backslash in a name.
manifest() {
  t=$1
  find . -path './.svcctl-*' -prune -o \( -type f -o -type l \) -print | LC_ALL=C sort >"$t.p" &&
  find . -path './.svcctl-*' -prune -o -type f -exec shasum -a 256 -b {} + >"$t.s" &&
  find . -path './.svcctl-*' -prune -o -type f \( -perm -100 -o -perm -010 -o -perm -001 \) \
    -print >"$t.x" &&
  find . -path './.svcctl-*' -prune -o -type l \
    -exec sh -c 'for p do printf "%s\n" "$p"; readlink "$p"; done' sh {} + >"$t.l" &&
  LC_ALL=C awk -v P="$t.p" -v S="$t.s" -v X="$t.x" -v L="$t.l" '
    function unesc(s,  o, i, c) {
      o = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\") { i++; c = substr(s, i, 1); if (c == "n") c = "\n" }
        o = o c
      }
      return o
    }
    BEGIN {
      while ((getline line < X) > 0) x[line] = 1
      while ((getline line < S) > 0) {
        if (substr(line, 1, 1) == "\\") h[unesc(substr(line, 68))] = substr(line, 2, 64)
        else h[substr(line, 67)] = substr(line, 1, 64)
      }
      while ((getline line < L) > 0) { if ((getline tgt < L) > 0) t[line] = tgt }
      while ((getline p < P) > 0) {
        if (p in t) print "l " t[p] " " substr(p, 3)
        else print "f " h[p] " " ((p in x) ? "x" : "-") " " substr(p, 3)
      }
    }'
  s=$?; rm -f "$t.p" "$t.s" "$t.x" "$t.l"; return "$s"
}
