#!/usr/bin/env bash
# Benchmark (issue 13): `store put` records/s into PostgreSQL against the
# same `store put` into SQLite, on the same generated NDJSON records, in
# the same run. The PostgreSQL server is a real one started here
# (tests/shell/pg_lib.sh: initdb in a scratch directory, a free port, a
# unix socket only), with fsync on; SQLite with the store's defaults (WAL,
# synchronous=normal). A fresh database for every run (PostgreSQL: DROP
# and CREATE DATABASE; the store makes its schema, as on SQLite), whole
# store processes timed, best of LANES_BENCH_RUNS (3). Figures: records/s,
# MB/s, the store process's peak RSS and CPU, the database's size after.
# No target: the issue asks for the comparison.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/shell/pg_lib.sh
source "${REPO_DIR}/tests/shell/pg_lib.sh"

readonly BENCH_NAME="bench_store_pg"
readonly RECORDS="${LANES_BENCH_PG_RECORDS:-50000}"
readonly EMB_RECORDS="${LANES_BENCH_PG_EMB_RECORDS:-10000}"
readonly EMB_DIM=384
# The PostgreSQL store (database bench, made again by fresh_db).
PG_DB_URL=""

cleanup() {
  cleanup_pg
  bench_tmp_cleanup
}

# A fresh database on both sides before each run.
fresh_db() {
  rm -f "${BENCH_TMP}"/lanes.db*
  PG_DB_URL="$(pg_new_db bench)"
}

# pg_size: the PostgreSQL database's size in MB (pg_database_size).
pg_size() {
  pg_sql postgres "SELECT round(pg_database_size('bench') / 1048576.0, 1)"
}

# sqlite_size: the SQLite store's size in MB (the file and its -wal).
sqlite_size() {
  local bytes
  bytes="$(cat "${BENCH_TMP}"/lanes.db "${BENCH_TMP}"/lanes.db-wal 2>/dev/null | wc -c)"
  fmt 1 "$(calc "${bytes} / 1048576")"
}

# stats URL_OR_FILE: the records and vectors `store stats` counts.
stats() {
  "${LANES_BIN}/store" --db "$1" stats --json 2>/dev/null |
    jq -r '"\(.records) records, \(.vectors) vectors"' 2>/dev/null || echo "?"
}

# row NAME WALL RSS CPU BYTES COUNT SIZE: one line of the table.
row() {
  printf '  %-11s %10s %8s %12s %8s %9s\n' "$1" "$(fmt 0 "$(calc "$6 / $2")")" \
    "$(fmt 1 "$(calc "$5 / 1e6 / $2")")" "$(kb_mb "$3")" "$4" "$7"
}

# compare LABEL FILE COUNT: times store put on both backends on FILE and
# prints the table and the summary line.
compare() {
  local label="$1" file="$2" count="$3"
  local bytes s_wall s_rss s_cpu s_size s_stats p_wall p_rss p_cpu p_size p_stats
  bytes="$(stat -c %s "${file}")"
  best_of fresh_db "${file}" /dev/null "${LANES_BIN}/store" --db "${BENCH_TMP}/lanes.db" put ||
    return 1
  s_wall="${BEST_WALL}" s_rss="${BEST_RSS}" s_cpu="${RUN_CPU}"
  s_size="$(sqlite_size)"
  s_stats="$(stats "${BENCH_TMP}/lanes.db")"
  best_of fresh_db "${file}" /dev/null "${LANES_BIN}/store" --db "${PG_DB_URL}" put || return 1
  p_wall="${BEST_WALL}" p_rss="${BEST_RSS}" p_cpu="${RUN_CPU}"
  p_size="$(pg_size)"
  p_stats="$(stats "${PG_DB_URL}")"

  local ratio
  ratio="$(fmt 2 "$(calc "${s_wall} / ${p_wall}")")"
  echo "store put: ${label}: ${count} records, $(fmt 1 "$(calc "${bytes} / 1e6")") MB"
  printf '  %-11s %10s %8s %12s %8s %9s\n' backend "records/s" "MB/s" "peak RSS MB" "CPU s" "size MB"
  # CPU s: user + system of the last run
  row SQLite "${s_wall}" "${s_rss}" "${s_cpu}" "${bytes}" "${count}" "${s_size}"
  row PostgreSQL "${p_wall}" "${p_rss}" "${p_cpu}" "${bytes}" "${count}" "${p_size}"
  echo "  stored: SQLite ${s_stats} | PostgreSQL ${p_stats}"
  echo "bench store_pg: ${label}: PostgreSQL $(fmt 0 "$(calc "${count} / ${p_wall}")") records/s" \
    "(peak $(kb_mb "${p_rss}") MB) | SQLite $(fmt 0 "$(calc "${count} / ${s_wall}")") records/s" \
    "(peak $(kb_mb "${s_rss}") MB) | PostgreSQL at ${ratio}x SQLite's rate"
  echo
}

main() {
  need_debs time python3 jq sqlite3 postgresql postgresql-client
  need_lanes store
  bench_tmp_init
  trap cleanup EXIT
  PG_FSYNC=on
  if ! start_pg; then
    err "cannot start a PostgreSQL server (Debian packages postgresql, postgresql-client)"
    return 1
  fi
  # the same URL for every run: fresh_db drops and creates database bench
  fresh_db
  local plain="${BENCH_TMP}/records.ndjson" emb="${BENCH_TMP}/records-emb.ndjson"
  "${BENCH_DIR}/gen_records.py" records "${RECORDS}" >"${plain}"
  "${BENCH_DIR}/gen_records.py" records "${EMB_RECORDS}" --dim "${EMB_DIM}" >"${emb}"
  echo "input: tests/bench/gen_records.py records; best of ${BENCH_RUNS} runs; fresh database" \
    "each run; MB = 10^6 bytes, RSS MB = MiB (the store process; the server's own memory not counted)"
  echo "lanes: ${LANES_BIN}/store --db DB put; PostgreSQL $("${PG_BIN}/postgres" --version |
    awk '{ print $3 }') on a unix socket, fsync on, default settings otherwise;" \
    "SQLite $(sqlite3 --version 2>/dev/null | awk '{ print $1 }') WAL, synchronous=normal"
  echo
  local rc=0
  compare "no embedding" "${plain}" "${RECORDS}" || rc=1
  compare "with a ${EMB_DIM}-number embedding" "${emb}" "${EMB_RECORDS}" || rc=1
  return "${rc}"
}

main "$@"
