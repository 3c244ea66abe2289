# shellcheck shell=sh
# Which of the label's plist places exist, then its fence record (svcctl.scripts.probe).
# $1 the fence record, then every place a plist for the label may be (FACTS 1.2). Prints
# `plist PATH` for each that exists (a link counts: launchd would follow it), then
# `fence` and the record, if it is a plain file. Builtins only, but for `head` on a
# fenced host. Always rc 0.
r=$1; shift
for f do { [ -e "$f" ] || [ -L "$f" ]; } && printf "plist %s\n" "$f"; done
if [ -f "$r" ] && [ ! -L "$r" ]; then echo fence; head -c 65536 < "$r"; fi
exit 0
