# shellcheck shell=sh
# The size of the log $1 in bytes, 0 when it cannot be read (svcctl.scripts.files.size_of).
wc -c < "$1" 2>/dev/null || echo 0
