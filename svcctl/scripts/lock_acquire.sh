# shellcheck shell=sh source-path=SCRIPTDIR
# Take the deploy lock with `ln` (svcctl.scripts.lock.acquire).
# $1 dir, $2 lock file, $3 temp template, $4 record. rc 0: taken; rc 3: held (record on
# stdout, the file's owner on stderr: a record names anyone, its owner is the writer).
# The directory must be a real directory owned by root or by us, and sticky if others
# may write to it; made with `mkdir -m`, never chmod'ed by path.
# Root takes over a directory a user created first (as svcctl.guard does), so that user
# can no longer delete others' locks: it changes "." after `cd -P` into it and checking
# that `pwd -P` is the lock directory's own path, so a symlink swapped in meanwhile
# leads nowhere (chown and chmod act on the directory we stand in, not on a path).
. ./lock_common.sh
if [ ! -e "$1" ] && [ ! -L "$1" ]; then mkdir -m 1777 "$1" 2>/dev/null; fi
if [ "$(id -u)" = 0 ] && [ ! -L "$1" ] && [ -d "$1" ]; then
  # shellcheck disable=SC2046  # split on purpose: ls -ldn's fields become $5.. (set -f)
  set -- "$@" $(ls -ldn "$1")
  if [ "$7" != 0 ]; then
    real=$(cd -P "${1%/*}" && pwd -P)/${1##*/}
    (cd -P "$1" && [ "$(pwd -P)" = "$real" ] && chown 0 . && chmod 1777 .) 2>/dev/null
  fi
fi
trusted "$1"
regular "$2"
fresh "$3" "$4"
if ln -n "$tmp" "$2" 2>/dev/null; then rm -f "$tmp"; exit 0; fi
rm -f "$tmp"; regular "$2"; owner_of "$2" >&2; head -c 65536 "$2" 2>/dev/null; exit 3
