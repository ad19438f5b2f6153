# shellcheck shell=bash
# pg_lib.sh: a real PostgreSQL server for the tests, sourced after lib.sh:
# start_pg runs initdb in a scratch directory of its own and starts the
# server on a free port, listening on a unix socket in that directory
# only; cleanup_pg stops it and removes the directory (the test's EXIT
# trap calls it). As root the server runs as the unprivileged user
# `nobody` (PostgreSQL refuses to run as root). The Debian packages
# postgresql and postgresql-client come with `make test-deps`; a machine
# without them fails the tests that need it, loudly: they never pass by
# skipping. PG_FSYNC (default off: the tests' data is scratch) is the
# server's fsync setting; the benchmarks run with it on.

PG_DIR=""   # the server's directory: data/, the socket, the log
PG_BIN=""   # initdb, pg_ctl, ...
PG_PORT=""
export PG_URL="" # postgresql://lanes@/lanes?host=PG_DIR&port=PG_PORT

# as_pg COMMAND...: COMMAND as the user the server runs as.
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- "$@"
  else
    "$@"
  fi
}

# pg_bin_dir: the newest PostgreSQL server's binaries installed.
pg_bin_dir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "${d}/initdb" && -x "${d}/pg_ctl" ]] && best="${d}"
  done
  [[ -n "${best}" ]] || return 1
  echo "${best}"
}

# free_port: a TCP port nothing listens on now (PostgreSQL names its
# socket after the port, and refuses one another server holds).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_pg: initdb and start; sets PG_DIR, PG_PORT, PG_URL (database
# lanes, user lanes, trust authentication on the socket). Returns 1 with
# the reason on stderr when it cannot.
start_pg() {
  if ! PG_BIN="$(pg_bin_dir)"; then
    err "no PostgreSQL server installed (/usr/lib/postgresql/*/bin/initdb): install the Debian package postgresql (make test-deps)"
    return 1
  fi
  PG_DIR="$(mktemp -d /tmp/lanes-pg.XXXXXX)"
  chmod 755 "${PG_DIR}"
  if [[ "$(id -u)" == 0 ]]; then
    chown nobody:nogroup "${PG_DIR}"
  fi
  if ! as_pg "${PG_BIN}/initdb" -D "${PG_DIR}/data" -U lanes --auth=trust -E UTF8 \
      --locale=C.UTF-8 --no-sync >"${PG_DIR}/initdb.log" 2>&1; then
    err "initdb failed: $(tail -n 5 "${PG_DIR}/initdb.log")"
    return 1
  fi

  local _try
  for _try in 1 2 3; do
    PG_PORT="$(free_port)"
    if as_pg "${PG_BIN}/pg_ctl" -D "${PG_DIR}/data" -l "${PG_DIR}/server.log" -w -t 60 \
        -o "-p ${PG_PORT} -k ${PG_DIR} -c listen_addresses= -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
        start >/dev/null 2>&1; then
      break
    fi
    PG_PORT=""
  done
  if [[ -z "${PG_PORT}" ]]; then
    err "the PostgreSQL server did not start: $(tail -n 5 "${PG_DIR}/server.log" 2>/dev/null)"
    return 1
  fi
  PG_URL="postgresql://lanes@/lanes?host=${PG_DIR}&port=${PG_PORT}"
  if ! pg_sql postgres "CREATE DATABASE lanes" >/dev/null; then
    err "cannot create the database lanes"
    return 1
  fi
}

# pg_sql DB SQL: psql's unaligned answer to SQL in database DB.
pg_sql() {
  psql -X -q -At -v ON_ERROR_STOP=1 -h "${PG_DIR}" -p "${PG_PORT}" -U lanes -d "$1" -c "$2"
}

# pg_new_db NAME: a new empty database NAME; prints its URL.
pg_new_db() {
  pg_sql postgres "DROP DATABASE IF EXISTS \"$1\"" >/dev/null 2>&1 &&
    pg_sql postgres "CREATE DATABASE \"$1\"" >/dev/null &&
    echo "postgresql://lanes@/$1?host=${PG_DIR}&port=${PG_PORT}"
}

# cleanup_pg: stops the server (at once: its data is scratch) and removes
# its directory.
cleanup_pg() {
  if [[ -n "${PG_DIR}" && -n "${PG_PORT}" ]]; then
    as_pg "${PG_BIN}/pg_ctl" -D "${PG_DIR}/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n "${PG_DIR}" ]]; then
    rm -rf "${PG_DIR}"
  fi
  PG_DIR=""
  PG_PORT=""
}
