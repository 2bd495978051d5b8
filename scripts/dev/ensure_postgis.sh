#!/usr/bin/env bash
# Make a PostGIS test database available on the local PostgreSQL, installing Debian's PostGIS if needed.
# Prints the database URL on stdout as its last line; messages go to stderr.
# Exit 0: ready. Exit 3: PostGIS cannot be had here (no server, no root); under CI=true that is a failure.
set -euo pipefail
DB="${GRID_TEST_PG_DB:-grid_test}"
HOST="${GRID_TEST_PG_HOST:-127.0.0.1}"
USER_NAME="${GRID_TEST_PG_USER:-postgres}"
say() { echo "ensure_postgis: $*" >&2; }
unavailable() {
  say "PostGIS unavailable: $*"
  if [ "${CI:-}" = "true" ]; then say "CI=true, so this is a failure."; exit 1; fi
  exit 3
}

command -v psql >/dev/null || unavailable "psql is not installed (apt-get install postgresql)."
if ! pg_isready -h "$HOST" -q; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null; then
    say "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h "$HOST" -q && break; sleep 1; done
  fi
  pg_isready -h "$HOST" -q || unavailable "no PostgreSQL answers on $HOST:5432."
fi

PSQL=(psql -h "$HOST" -U "$USER_NAME" -v ON_ERROR_STOP=1 -qtA)
major=$("${PSQL[@]}" -d postgres -c "SHOW server_version_num" | cut -c1-2)
has_postgis() { "${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_available_extensions WHERE name='postgis'" | grep -q 1; }
if ! has_postgis; then
  [ "$(id -u)" = 0 ] || unavailable "PostGIS is not installed and installing it needs root: apt-get install postgresql-$major-postgis-3"
  say "installing postgresql-$major-postgis-3 from Debian"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$major-postgis-3" >&2; then
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$major-postgis-3" >&2 \
      || unavailable "apt-get could not install postgresql-$major-postgis-3"
  fi
  has_postgis || unavailable "postgis still not available after install"
fi

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >&2
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >&2
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION postgis" >&2
say "PostGIS $("${PSQL[@]}" -d "$DB" -c 'SELECT postgis_lib_version()') ready in database $DB"
echo "postgresql+psycopg://$USER_NAME@$HOST/$DB"
