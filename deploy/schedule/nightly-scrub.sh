#!/usr/bin/env bash
# Incremental scrub of one archive prefix, for cron (see crontab.example) or any scheduler.
#
#   INPUT=s3://archive/photos OUTPUT=/data/scrubbed PASSWORD_FILE=/etc/encryptface/password \
#     deploy/schedule/nightly-scrub.sh [extra scrub flags...]
#
# MASTER: a spark:// URL submits through deploy/submit-standalone.sh; anything else (default: the
# settings' local master) runs the `encryptface` command on this machine. A lock file next to the
# output makes an overlapping run exit at once (two runs into one output are not supported).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
: "${INPUT:?set INPUT (folder or s3://bucket/prefix)}"
: "${OUTPUT:?set OUTPUT (folder on a filesystem the driver and executors share)}"
: "${PASSWORD_FILE:?set PASSWORD_FILE (first line: the password)}"
venv="${VENV:-$here/.venv}"
mkdir -p "$OUTPUT"
exec 9>"$OUTPUT/.scrub.lock"
if ! flock -n 9; then
  echo "$(date -u +%FT%TZ) another scrub into $OUTPUT is still running; skipping this one" >&2
  exit 75
fi
args=(--input "$INPUT" --output "$OUTPUT" --password-file "$PASSWORD_FILE" --incremental "$@")
echo "$(date -u +%FT%TZ) incremental scrub $INPUT -> $OUTPUT"
if [[ "${MASTER:-}" == spark://* ]]; then
  VENV="$venv" "$here/deploy/submit-standalone.sh" "$MASTER" scrub "${args[@]}"
else
  cd "$here"
  "$venv/bin/encryptface" scrub ${MASTER:+--master "$MASTER"} "${args[@]}"
fi
