# shellcheck shell=sh
# A deploy to a host that was fenced drops the record and the moved copies
# (svcctl.scripts.fence.unfence_argv). $1 the fenced directory, $2 the label.
# rc 0: cleared, or there was no fenced directory.
cd "$1" 2>/dev/null || exit 0; rm -f -- "$2".fence "$2".plist@*
