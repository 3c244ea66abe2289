# shellcheck shell=sh source-path=SCRIPTDIR
# Is release $2 under root $1 already there (svcctl.scripts.release.check)? $3 is the
# manifest checksum expected. rc 0: there, same checksum (nothing to send); rc 3: absent;
# rc 4: there with another checksum, or without svcctl's manifest (stdout: what it has);
# rc 8: `releases` is not a plain directory.
. ./release_common.sh
[ -e "$rel/$id" ] || [ -L "$rel/$id" ] || exit 3
have=$(shasum -a 256 <"$rel/$id/.svcctl-manifest" 2>/dev/null | awk '{print $1}')
[ -n "$have" ] && [ ! -L "$rel/$id" ] && [ "$have" = "$3" ] && exit 0
printf '%s\n' "${have:-none}"; exit 4
