# shellcheck shell=sh source-path=SCRIPTDIR
# The start of every lock script that may remove a lock file (svcctl.scripts.lock):
# $1 dir, $2 the service's breaker directory; shifts both away.
# Takes the breaker, for up to about 5 s: rc 6 if another process keeps it.
# A breaker older than a minute was left by a process killed mid-script (SIGKILL skips
# the trap), so it is removed; one that cannot be (another user's, or not empty) is
# reported, rc 7, never spun on. `find -mmin` reads its age on macOS and Linux alike.
. ./lock_common.sh
trusted "$1"
breaker=$2
stuck() {
  echo "stale breaker $breaker $1 (owner $(owner_of "$breaker")): remove it" >&2; exit 7
}
i=0
until mkdir "$breaker" 2>/dev/null; do
  i=$((i+1)); [ $i -gt 50 ] && exit 6
  # a rival's breaker comes and goes between these tests: only a path that stays a
  # non-directory across them (or a link, which no deployer makes) is one
  if [ -L "$breaker" ] ||
     { [ ! -d "$breaker" ] && [ -e "$breaker" ] && [ ! -d "$breaker" ]; }; then
    stuck "is not a directory"
  fi
  if [ -n "$(find "$breaker" -maxdepth 0 -mmin +1 2>/dev/null)" ]; then
    rmdir "$breaker" 2>/dev/null || [ ! -e "$breaker" ] || stuck "cannot be removed"
  else
    sleep 0.1
  fi
done
trap 'rmdir "$breaker" 2>/dev/null' EXIT
trap 'exit 129' HUP INT TERM PIPE
shift 2
