# shellcheck shell=sh
# Bytes of the log $2 from byte $1 on, counted from 1 (svcctl.scripts.files.read_from).
tail -c +"$1" "$2" 2>/dev/null
