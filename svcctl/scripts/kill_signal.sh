# shellcheck shell=sh
# Signal strays and only strays (svcctl.scripts.kill.signal_each).
# $1 the label's service-targets in every domain it could be loaded in (space-separated:
# labels hold no white space), $2 the signal (0: only check), then per process its pid,
# lstart and command as svcctl parsed them; prints `PID verdict` for each. It runs on the
# Mac: POSIX sh (bash 3.2), BSD ps and awk, no /proc (FACTS 5.4).
# - launchd's pid for the label is read once, first: a KeepAlive respawn between the
#   probe's `launchctl print` and its `ps` makes launchd's own instance look like a stray,
#   and launchd records a pid at spawn, so any process identified before this read that
#   is launchd's now shows here. Every top-level `pid = N` line (one tab deep, FACTS 3.3)
#   counts, so an argument that mimics one can only make the script refuse more.
# - lstart is the first 24 characters; BSD ps pads it to 28 columns before the separator,
#   procps does not (FACTS 5.2), so the gap is learnt from this ps's own lstart width
#   (`-o lstart=` alone keeps its padding) and the command compared without it.
sig=$2
owned=" "
set -f
# shellcheck disable=SC2086  # split on purpose: one word per service-target (set -f)
for t in $1; do
  owned="$owned$(launchctl print "$t" 2>/dev/null |
    awk -F' = ' '$1 == "\tpid" { printf "%s ", $2 }')"
done
set +f
shift 2
export LC_ALL=C TZ=UTC0
width=$(ps -o lstart= -p $$ 2>/dev/null)
gap=' '
[ "${#width}" -gt 24 ] && gap='     '
one() {
  [ "$1" -gt 1 ] 2>/dev/null || { echo refused; return; }
  case $owned in *" $1 "*) echo launchd; return ;; esac
  # shellcheck disable=SC2015  # `|| ...` when either test fails, as meant
  cur=$(ps -ww -o lstart=,command= -p "$1" 2>/dev/null) && [ -n "$cur" ] || { echo gone; return; }
  rest=${cur#????????????????????????}
  start=${cur%"$rest"}
  case $rest in "$gap"*) ;; *) echo changed; return ;; esac
  # shellcheck disable=SC2015  # `|| ...` when either test fails, as meant
  [ "$start" = "$2" ] && [ "${rest#"$gap"}" = "$3" ] || { echo changed; return; }
  [ "$sig" = 0 ] && { echo alive; return; }
  if err=$(kill -s "$sig" "$1" 2>&1); then echo sent; else echo "failed: $err"; fi
}
while [ $# -ge 3 ]; do echo "$1 $(one "$1" "$2" "$3")"; shift 3; done
