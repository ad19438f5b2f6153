#!/usr/bin/env bash
# Benchmark: `store --db FILE put` throughput (records/s) against
# `sqlite-utils upsert DB records - --nl --pk id` (Debian's sqlite-utils) on
# the same generated NDJSON file of segment-like records (100k records,
# text of 300-1000 characters), fresh database each run, whole processes
# timed, best of LANES_BENCH_RUNS (3). Target: lanes >= 5x sqlite-utils.
# Also: records/s with a 384-number "embedding" field in every record.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_store"
readonly SPEED_TARGET=5
readonly RECORDS="${LANES_BENCH_STORE_RECORDS:-100000}"
readonly EMB_RECORDS="${LANES_BENCH_EMB_RECORDS:-20000}"
readonly EMB_DIM=384

# Removes the databases of the previous run (each run starts fresh).
fresh_db() {
  rm -f "${BENCH_TMP}"/lanes.db* "${BENCH_TMP}"/su.db*
}

# su_rows DB: prints the row count sqlite-utils wrote.
su_rows() {
  sqlite3 "$1" 'SELECT count(*) FROM records' 2>/dev/null || echo "?"
}

# lanes_stats DB: prints the records and vectors `store stats` counts.
lanes_stats() {
  "${LANES_BIN}/store" --db "$1" stats --json 2>/dev/null \
    | jq -r '"\(.records) records, \(.vectors) vectors"' 2>/dev/null || echo "?"
}

# compare LABEL FILE COUNT: times store put and sqlite-utils upsert on FILE
# and prints the table, the summary line and the target line.
compare() {
  local label="$1" file="$2" count="$3"
  local bytes l_wall l_rss c_wall c_rss l_stats c_rows
  bytes="$(stat -c %s "${file}")"
  best_of fresh_db "${file}" /dev/null "${LANES_BIN}/store" --db "${BENCH_TMP}/lanes.db" put \
    || return 1
  l_wall="${BEST_WALL}"
  l_rss="${BEST_RSS}"
  l_stats="$(lanes_stats "${BENCH_TMP}/lanes.db")"
  best_of fresh_db "${file}" /dev/null sqlite-utils upsert "${BENCH_TMP}/su.db" records - \
    --nl --pk id || return 1
  c_wall="${BEST_WALL}"
  c_rss="${BEST_RSS}"
  c_rows="$(su_rows "${BENCH_TMP}/su.db")"
  fresh_db

  local l_rps c_rps speed speed_met
  l_rps="$(calc "${count} / ${l_wall}")"
  c_rps="$(calc "${count} / ${c_wall}")"
  speed="$(fmt 1 "$(calc "${l_rps} / ${c_rps}")")"
  speed_met="$(met "${speed}" ">=" "${SPEED_TARGET}")"

  echo "store put: ${label}: ${count} records, $(fmt 1 "$(calc "${bytes} / 1e6")") MB"
  printf '  %-13s %10s %8s %12s %8s %5s\n' tool "records/s" "MB/s" "peak RSS MB" speed met
  printf '  %-13s %10s %8s %12s %8s %5s\n' lanes "$(fmt 0 "${l_rps}")" \
    "$(fmt 1 "$(calc "${bytes} / 1e6 / ${l_wall}")")" "$(kb_mb "${l_rss}")" "${speed}x" \
    "$(yes_no "${speed_met}")"
  printf '  %-13s %10s %8s %12s %8s %5s\n' sqlite-utils "$(fmt 0 "${c_rps}")" \
    "$(fmt 1 "$(calc "${bytes} / 1e6 / ${c_wall}")")" "$(kb_mb "${c_rss}")" 1x -
  echo "  stored: lanes ${l_stats} | sqlite-utils ${c_rows} rows"
  echo "bench store: lanes $(fmt 0 "${l_rps}") records/s (peak $(kb_mb "${l_rss}") MB)" \
    "| sqlite-utils $(fmt 0 "${c_rps}") records/s (peak $(kb_mb "${c_rss}") MB)" \
    "| ${speed}x speed (target >= ${SPEED_TARGET}x: ${speed_met})"
  target "store put speed vs sqlite-utils, ${label}" "${speed}" ">=" "${SPEED_TARGET}" x
  echo
  # for the embedding line of main
  LAST_LANES_RPS="${l_rps}"
}

main() {
  need_debs time python3 jq sqlite3 sqlite-utils
  need_lanes store
  bench_tmp_init
  local plain="${BENCH_TMP}/records.ndjson" emb="${BENCH_TMP}/records-emb.ndjson"
  "${BENCH_DIR}/gen_records.py" records "${RECORDS}" >"${plain}"
  "${BENCH_DIR}/gen_records.py" records "${EMB_RECORDS}" --dim "${EMB_DIM}" >"${emb}"
  echo "input: tests/bench/gen_records.py records; best of ${BENCH_RUNS} runs;" \
    "fresh database each run; MB = 10^6 bytes, RSS MB = MiB"
  echo "lanes: ${LANES_BIN}/store --db DB put; peer: sqlite-utils" \
    "$(sqlite-utils --version | awk '{ print $NF }') upsert DB records - --nl --pk id"
  echo
  local rc=0 plain_rps emb_rps
  LAST_LANES_RPS=""
  compare "no embedding" "${plain}" "${RECORDS}" || rc=1
  plain_rps="${LAST_LANES_RPS}"
  LAST_LANES_RPS=""
  compare "with a ${EMB_DIM}-number embedding" "${emb}" "${EMB_RECORDS}" || rc=1
  emb_rps="${LAST_LANES_RPS}"
  if [[ -n "${plain_rps}" && -n "${emb_rps}" ]]; then
    echo "bench store: lanes with a ${EMB_DIM}-number embedding: $(fmt 0 "${emb_rps}") records/s," \
      "without: $(fmt 0 "${plain_rps}") records/s" \
      "($(fmt 2 "$(calc "${emb_rps} / ${plain_rps}")")x)"
  fi
  return "${rc}"
}

main "$@"
