#!/usr/bin/env bash
# Benchmark: peak memory stays flat whatever the input size. segment reads
# NDJSON documents (the King James Bible cut into ~64 KB documents, repeated)
# on stdin until it has written about 100k and then about 1M segments; store
# put reads 100k and then 1M generated records into a fresh database. Input
# is piped in by the generator (nothing big is kept on disk but the
# database, under ${TMPDIR:-/tmp}); peak RSS comes from /usr/bin/time.
# Target: peak RSS under 50 MB at both sizes, for both tools.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_rss"
readonly RSS_LIMIT_MB=50
readonly SMALL="${LANES_BENCH_RSS_SMALL:-100000}"
readonly BIG="${LANES_BENCH_RSS_BIG:-1000000}"
# segment settings: small segments so that 1M of them need ~200 MB of text.
readonly -a SEG_FLAGS=(--target 200 --max 200 --overlap 40 --unit chars)
# Bibles in the one big file given to segment as an argument.
readonly FILE_COPIES=10
RUN_LINES=""

# run_fed PRODUCER ARG CMD...: runs `PRODUCER ARG | CMD | wc -l` with CMD
# under /usr/bin/time; sets RUN_WALL and RUN_RSS as run_timed does, and
# RUN_LINES to the number of lines CMD wrote.
run_fed() {
  local producer="$1" arg="$2"
  shift 2
  local t0 t1 rc=0
  t0="${EPOCHREALTIME}"
  "${producer}" "${arg}" | /usr/bin/time -f '%M' -o "${BENCH_TMP}/time" "$@" \
    2>"${BENCH_TMP}/stderr" | wc -l >"${BENCH_TMP}/lines" || rc=$?
  t1="${EPOCHREALTIME}"
  if (( rc != 0 )); then
    err "failed (exit ${rc}): ${producer} ${arg} | $*"
    tail -n 5 "${BENCH_TMP}/stderr" >&2
    return "${rc}"
  fi
  RUN_WALL="$(calc "${t1} - ${t0}")"
  RUN_RSS="$(tail -n 1 "${BENCH_TMP}/time")"
  RUN_LINES="$(<"${BENCH_TMP}/lines")"
}

# docs COUNT: COUNT NDJSON documents cut from the Bible, repeated as needed.
docs() {
  "${BENCH_DIR}/gen_records.py" docs "${BENCH_TMP}/kjv.txt" --count "$1"
}

# records COUNT: COUNT generated segment-like records.
records() {
  "${BENCH_DIR}/gen_records.py" records "$1"
}

# report TOOL WHAT COUNT: prints one measurement (from RUN_WALL, RUN_RSS)
# and its target line.
report() {
  local tool="$1" what="$2" count="$3" mb
  mb="$(kb_mb "${RUN_RSS}")"
  echo "bench rss: ${tool} over ${count} ${what}: peak ${mb} MB" \
    "($(fmt 0 "$(calc "${count} / ${RUN_WALL}")") ${what}/s, $(fmt 1 "${RUN_WALL}") s)"
  target "${tool} peak RSS over ${count} ${what}" "${mb}" "<=" "${RSS_LIMIT_MB}" " MB"
}

# bench_segment_rss: segment over about SMALL and about BIG segments.
bench_segment_rss() {
  need_lanes segment || return 1
  make_text "${BENCH_TMP}/kjv.txt" >/dev/null || return 1
  local per_copy ndocs
  ndocs="$("${BENCH_DIR}/gen_records.py" docs "${BENCH_TMP}/kjv.txt" | wc -l)"
  per_copy="$(docs "${ndocs}" | "${LANES_BIN}/segment" "${SEG_FLAGS[@]}" 2>/dev/null | wc -l)"
  if (( per_copy == 0 )); then
    err "segment wrote no segment for the Bible"
    return 1
  fi
  local n count small_rss big_rss
  for n in "${SMALL}" "${BIG}"; do
    # enough documents for about n segments
    count=$(( (n * ndocs + per_copy - 1) / per_copy ))
    run_fed docs "${count}" "${LANES_BIN}/segment" "${SEG_FLAGS[@]}" || return 1
    report segment segments "${RUN_LINES}"
    if [[ "${n}" == "${SMALL}" ]]; then small_rss="${RUN_RSS}"; else big_rss="${RUN_RSS}"; fi
  done
  echo "bench rss: segment peak grows $(fmt 2 "$(calc "${big_rss} / ${small_rss}")")x" \
    "for $(fmt 0 "$(calc "${BIG} / ${SMALL}")")x the input"
  bench_segment_file_rss
  echo
}

# bench_segment_file_rss: segment given one big file (FILE_COPIES Bibles)
# rather than NDJSON documents.
bench_segment_file_rss() {
  local big="${BENCH_TMP}/big.txt" i mb
  for (( i = 0; i < FILE_COPIES; i++ )); do
    cat "${BENCH_TMP}/kjv.txt"
  done >"${big}"
  mb="$(fmt 0 "$(calc "$(stat -c %s "${big}") / 1e6")")"
  run_timed /dev/null /dev/null "${LANES_BIN}/segment" "${SEG_FLAGS[@]}" "${big}" || return 1
  rm -f "${big}"
  echo "bench rss: segment over one ${mb} MB file: peak $(kb_mb "${RUN_RSS}") MB" \
    "($(fmt 1 "$(calc "${mb} / ${RUN_WALL}")") MB/s)"
  target "segment peak RSS over one ${mb} MB file" "$(kb_mb "${RUN_RSS}")" "<=" \
    "${RSS_LIMIT_MB}" " MB"
}

# bench_store_rss: store put of SMALL and BIG records.
bench_store_rss() {
  need_lanes store || return 1
  local n small_rss big_rss
  for n in "${SMALL}" "${BIG}"; do
    rm -f "${BENCH_TMP}"/rss.db*
    run_fed records "${n}" "${LANES_BIN}/store" --db "${BENCH_TMP}/rss.db" put || return 1
    report store records "${n}"
    if [[ "${n}" == "${SMALL}" ]]; then small_rss="${RUN_RSS}"; else big_rss="${RUN_RSS}"; fi
  done
  rm -f "${BENCH_TMP}"/rss.db*
  echo "bench rss: store peak grows $(fmt 2 "$(calc "${big_rss} / ${small_rss}")")x" \
    "for $(fmt 0 "$(calc "${BIG} / ${SMALL}")")x the input"
  echo
}

main() {
  need_debs time python3
  bench_tmp_init
  echo "segment ${SEG_FLAGS[*]} on NDJSON stdin, store --db DB put on stdin;" \
    "peak RSS from /usr/bin/time (MB = MiB), one run each"
  echo
  local rc=0
  bench_segment_rss || rc=1
  bench_store_rss || rc=1
  return "${rc}"
}

main "$@"
