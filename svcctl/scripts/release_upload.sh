# shellcheck shell=sh source-path=SCRIPTDIR
# Receive release $2 under root $1 as a tar stream on stdin (svcctl.scripts.release.upload).
# $3 is the manifest checksum expected; $4... the `shared:` names, each linked into the
# release as `<name> -> ../../shared/<name>` (<root>/shared/<name> made if missing, and
# never a link itself) once the manifest matched. The stream lands in releases/.incoming-$2 (made
# fresh), the host computes the manifest from what it extracted, and only a match is
# renamed to releases/$2: a half upload is never visible under its id. Any failure
# removes the incoming directory (an EXIT trap; signals end the script through it).
# rc 0: uploaded; 3: already there, same checksum; 4: there with another checksum;
# 5: checksum mismatch (stream cut short or altered; stderr: both); 6: tar failed;
# 7: no space left; 8: `releases` not a plain directory; 9: cannot make or fill the
# incoming directory (another upload of this id is running, or a write failed);
# 10: a shared name clashes with the release's own entry, or <root>/shared/<name> is not
# a plain directory (stderr says which): refused.
. ./release_common.sh
. ./release_manifest.sh
inc=$rel/.incoming-$id
done_=''
trap 'rm -f "$inc.err"; [ -n "$done_" ] || rm -rf "$inc"' EXIT
trap 'exit 130' HUP INT TERM
trap '' PIPE
if [ -e "$rel/$id" ] || [ -L "$rel/$id" ]; then
  have=$(shasum -a 256 <"$rel/$id/.svcctl-manifest" 2>/dev/null | awk '{print $1}')
  done_=1; [ "$have" = "$3" ] && [ ! -L "$rel/$id" ] && exit 3; exit 4
fi
rm -rf "$inc"
if ! mkdir "$inc"; then done_=1; exit 9; fi
err=$(cd "$inc" && tar -xpf - 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ]; then
  printf '%s\n' "$err" | tail -n 3 >&2
  case $err in *"No space left"*) exit 7;; esac
  exit 6
fi
(cd "$inc" && manifest "$inc/.svcctl-tmp" >"$inc/.svcctl-manifest") 2>"$inc.err" || {
  e=$(cat "$inc.err"); printf '%s\n' "$e" >&2
  case $e in *"No space left"*) exit 7;; esac
  exit 9
}
got=$(shasum -a 256 <"$inc/.svcctl-manifest" | awk '{print $1}')
if [ "$got" != "$3" ]; then
  echo "manifest checksum $got, expected $3" >&2; exit 5
fi
shift 3
for name do
  if [ -e "$inc/$name" ] || [ -L "$inc/$name" ]; then
    echo "$name: the release has its own, and shared: links one there" >&2; exit 10
  fi
  s=$root/shared/$name
  if [ -L "$root/shared" ] || [ -L "$s" ] || { [ -e "$s" ] && [ ! -d "$s" ]; }; then
    echo "$s is not a plain directory" >&2; exit 10
  fi
  mkdir -p "$s" && ln -s "../../shared/$name" "$inc/$name" || exit 9
done
mv "$inc" "$rel/$id" || exit 9
done_=1
