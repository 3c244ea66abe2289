# shellcheck shell=sh
# Shared by the release scripts (svcctl.scripts.release): $1 is the app root, $2 the id.
# `releases` must be a real directory (made if missing), never a symlink to elsewhere.
# shellcheck disable=SC2034  # root and id are for the scripts that include this file
root=$1; id=$2; rel=$1/releases
if [ -L "$rel" ] || { [ -e "$rel" ] && [ ! -d "$rel" ]; }; then
  echo "$rel is not a plain directory" >&2; exit 8
fi
[ -d "$rel" ] || mkdir -p "$rel" || exit 8
