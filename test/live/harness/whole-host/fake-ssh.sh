#!/usr/bin/env bash
# A stand-in for `ssh` while the whole-host test runs the bundle's own deploy.sh: instead of
# running the remote command, it records what deploy.sh would do on the host into
# $HGLAB_SPOOL/<address>/: the tree it copies (tree/), each secret file it writes (files/<path>,
# listed in env-files, with owner and mode in file-modes when deploy.sh sets them), and each step in order (steps: "unit NAME" for a systemctl restart,
# "cmd COMMAND" for any other command, "packages COMMAND" for the package check, "pgdg" for the
# apt.postgresql.org set-up, which is never run). The test then
# installs the tree and the files on the lab host and starts the units in that order.
set -euo pipefail
: "${HGLAB_SPOOL:?HGLAB_SPOOL is not set}"
target=""
while (( $# )); do
  case "$1" in
    -o|-i|-p|-l|-F|-J) shift 2 ;;
    -*) shift ;;
    *) target="$1"; shift; break ;;
  esac
done
[[ -n "$target" ]] || { echo "fake ssh: no target" >&2; exit 255; }
address="${target#*@}"
cmd="$*"
d="$HGLAB_SPOOL/$address"
mkdir -p "$d/files" "$d/tree"
if [[ "$cmd" =~ cat\ \>\ \'([^\']+)\.tmp\' ]]; then
  p="${BASH_REMATCH[1]}"
  mkdir -p "$d/files$(dirname "$p")"
  (umask 077 && cat > "$d/files$p")
  echo "$p" >> "$d/env-files"
  # pki files: deploy.sh gives each its owner and mode (a key readable by its service's user only)
  if [[ "$cmd" =~ chown\ \'([^\']+)\'\ \'[^\']+\'\ \&\&\ chmod\ ([0-7]+) ]]; then
    printf '%s %s %s\n' "$p" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >> "$d/file-modes"
  fi
elif [[ "$cmd" == *'tar -C "$s" -xf -'*"install -D "* ]]; then
  # deploy.sh's install_tree: the tar stream is the tree; its install lines set modes and owners
  tar -C "$d/tree" -xf - --no-same-owner
  printf '%s\n' "$cmd" > "$d/install-script"
elif [[ "$cmd" == *"-pgdg main"* ]]; then
  # deploy.sh's apt.postgresql.org set-up (reads the pinned key on stdin): the lab host has its
  # packages already and must never get a new apt source, so it is recorded, not run
  cat >/dev/null
  printf 'pgdg %s\n' "$address" >> "$d/steps"
elif [[ "$cmd" == *"dpkg -s"* ]]; then
  printf 'packages %s\n' "$cmd" >> "$d/steps"
elif [[ "$cmd" == "systemctl daemon-reload" ]]; then
  :
elif [[ "$cmd" =~ ^systemctl\ is-active\ [^\ ]+$ ]]; then
  # a fresh host: nothing runs yet
  echo inactive
elif [[ "$cmd" =~ systemctl\ restart\ ([^ ]+) ]]; then
  printf 'unit %s\n' "${BASH_REMATCH[1]}" >> "$d/steps"
else
  printf 'cmd %s\n' "$cmd" >> "$d/steps"
fi
