#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server: initdb into a temporary folder (as the `postgres` user when
# run as root), start it on a free port of 127.0.0.1, create database butler_test, run the command with
# BUTLER_TEST_POSTGRES=postgresql://postgres@127.0.0.1:PORT/butler_test, then stop the server and remove the folder,
# whether the command succeeded or not. Exits with the command's exit code. The server keeps PostgreSQL's default
# max_connections (100) unless PG_MAX_CONNECTIONS says otherwise, so that the crowd tests meet a real limit.
#   scripts/with-postgres.sh swift test --skip-build
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "with-postgres: no PostgreSQL server binaries under /usr/lib/postgresql (install Debian's postgresql)" >&2; exit 1; }
DATA=$(mktemp -d /tmp/butler-pg.XXXXXX)
chmod 755 "$DATA"
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$DATA"
stop() {
  as_postgres "$PGBIN/pg_ctl" -D "$DATA/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap stop EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres "$PGBIN/initdb" -D "$DATA/db" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DATA/initdb.log" 2>&1 \
  || { cat "$DATA/initdb.log" >&2; exit 1; }
as_postgres "$PGBIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w -t 60 \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=${PG_MAX_CONNECTIONS:-100} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
  || { cat "$DATA/server.log" >&2; exit 1; }
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE butler_test" >/dev/null
export BUTLER_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$PORT/butler_test"
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
set +e
"$@"
code=$?
set -e
exit $code
