# shellcheck shell=sh source-path=SCRIPTDIR
# Point root $1's `current` at releases/$2 (svcctl.scripts.release.switch) with one
# rename(2): a fresh link beside it, then `mv -h` over `current`. BSD mv without -h moves
# a source INTO the directory a `current` link points to; `ln -sfh` unlinks then links,
# so a reader could find no `current` (FACTS 5.4). The link is relative: the root may move.
# The target `current` leaves is kept as the link `.svcctl-previous` (renamed into place
# the same way, after `current`), which the listing shows and prune never deletes; a
# switch to the release already current leaves it as it was. Killed between the two
# renames, `.svcctl-previous` still names the release before.
# With a third argument, a deploy's rollback puts both back as they were: `current` at
# releases/$2 and `.svcctl-previous` at $3 as it read it (empty: there was none), so a
# failed deploy leaves no trace in what `svcctl rollback` would go back to.
# rc 0: switched (stdout: the target `current` had, then the one `.svcctl-previous` had,
# one per line, empty if none); 3: no such release;
# 4: `current` or `.svcctl-previous` is not a symlink (someone put a directory or file
# there): refused;
# 8: `releases` not a plain directory; 1: the link could not be made or renamed.
. ./release_common.sh
cur=$root/current
if [ ! -d "$rel/$id" ] || [ -L "$rel/$id" ] || [ ! -f "$rel/$id/.svcctl-manifest" ]; then
  exit 3
fi
if { [ -e "$cur" ] || [ -L "$cur" ]; } && [ ! -L "$cur" ]; then
  ls -ld "$cur" >&2; exit 4
fi
was=$root/.svcctl-previous
if { [ -e "$was" ] || [ -L "$was" ]; } && [ ! -L "$was" ]; then
  ls -ld "$was" >&2; exit 4
fi
prev=$(readlink "$cur" 2>/dev/null)
before=$(readlink "$was" 2>/dev/null)
new=$(mktemp -u "$root/.current-XXXXXXXX") || exit 1
ln -s "releases/$id" "$new" || exit 1
mv -f -h "$new" "$cur" || { rm -f "$new"; exit 1; }
if [ ! -L "$cur" ]; then
  # `current` became a directory between the check and the rename: the link went inside
  base=${new##*/}; [ -L "$cur/$base" ] && rm -f "$cur/$base"; ls -ld "$cur" >&2; exit 4
fi
mark() {
  p=$(mktemp -u "$root/.previous-XXXXXXXX") && ln -s "$1" "$p" &&
    { mv -f -h "$p" "$was" || { rm -f "$p"; echo "$was: not recorded" >&2; }; }
}
if [ $# -ge 3 ]; then
  if [ -n "$3" ]; then mark "$3"; else rm -f "$was"; fi
elif [ -n "$prev" ] && [ "$prev" != "releases/$id" ]; then
  mark "$prev"
fi
printf '%s\n%s\n' "$prev" "$before"
