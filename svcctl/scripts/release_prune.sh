# shellcheck shell=sh source-path=SCRIPTDIR
# Delete releases $2... under root $1 (svcctl.scripts.release.prune, which chose them; the
# output is parsed by svcctl.release.prune), each only after checking, right before its
# rm, in this call: it is not where `current` or `.svcctl-previous` point (read again for
# each; either one not a link, or pointing elsewhere, keeps everything), no process runs
# it (ps again for each: release_state.sh's procs) and it is svcctl's (a directory with
# its manifest) or a symlink. `rm -rf ./ID` removes a symlink itself, never what it points
# to (rm does not follow an operand that is a link); the script works inside `releases`
# (cd once) so no path is resolved through `$root` again. .incoming-* are not touched.
# One line per id: `deleted ID`, `gone ID`, `failed ID`, or `kept ID REASON [PIDS]`
# (current, previous, unsure, running, unverified, foreign). rc 0; 8: `releases` not a
# plain directory.
. ./release_state.sh
shift
if [ ! -d "$rel" ]; then
  for i do printf 'gone %s\n' "$i"; done; exit 0
fi
cd "$rel" || exit 8
if [ -L "$rel" ]; then echo "$rel became a symlink" >&2; exit 8; fi
for i do
  case $i in ''|.*|*[!A-Za-z0-9._-]*) continue;; esac
  cur=$(pointer current); prev=$(pointer .svcctl-previous)
  case $cur in notlink|elsewhere*) printf 'kept %s unsure\n' "$i"; continue;; esac
  case $prev in notlink|elsewhere*) printf 'kept %s unsure\n' "$i"; continue;; esac
  [ "$cur" = "id $i" ] && { printf 'kept %s current\n' "$i"; continue; }
  [ "$prev" = "id $i" ] && { printf 'kept %s previous\n' "$i"; continue; }
  if [ -L "$i" ]; then :
  elif [ -d "$i" ] && [ -f "$i/.svcctl-manifest" ] && [ ! -L "$i/.svcctl-manifest" ]; then :
  elif [ -e "$i" ]; then printf 'kept %s foreign\n' "$i"; continue
  else printf 'gone %s\n' "$i"; continue
  fi
  case $cur in 'id '*) c=${cur#id };; *) c='';; esac
  found=$(procs "$c") || { printf 'kept %s unverified\n' "$i"; continue; }
  pids=$(printf '%s\n' "$found" | awk -v id="$i" '$3 == id { printf "%s%s", s, $2; s = "," }')
  [ -n "$pids" ] && { printf 'kept %s running %s\n' "$i" "$pids"; continue; }
  if rm -rf "./$i" 2>/dev/null && [ ! -e "./$i" ] && [ ! -L "./$i" ]; then
    printf 'deleted %s\n' "$i"
  else
    printf 'failed %s\n' "$i"
  fi
done
exit 0
