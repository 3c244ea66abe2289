# shellcheck shell=sh
# Keep the installed plist as $1$2 (svcctl.scripts.files.keep_previous): a copy with its
# mode and times, renamed into place so the previous copy is whole or absent, never half.
cp -p "$1" "$1.svcctl-tmp" && mv -f "$1.svcctl-tmp" "$1$2"
