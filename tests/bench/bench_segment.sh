#!/usr/bin/env bash
# Benchmark: segment throughput and peak memory against LangChain's
# RecursiveCharacterTextSplitter (npm @langchain/textsplitters, run by
# tests/bench/langchain_split.mjs) on the same real text, the King James
# Bible printed by Debian's bible-kjv (about 4.3 MB), same chunk size and
# overlap, both writing NDJSON chunks to a file. Whole processes are timed
# (wall clock, peak RSS from /usr/bin/time), best of LANES_BENCH_RUNS (3).
# Also ten copies in one file (about 43 MB) at 2000/200, issue 12's case.
# Targets: lanes >= 10x LangChain's MB/s, <= 1/4 of its peak RSS.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_segment"
readonly SPEED_TARGET=10
readonly MEM_TARGET=0.25
# compare LABEL IN_FILE|- INPUT_BYTES SIZE OVERLAP: times segment and the
# LangChain splitter on the same input (the file as one document, or with -
# the NDJSON documents in ${BENCH_TMP}/docs.ndjson on stdin) and prints the
# table, the summary line and the target lines.
compare() {
  local label="$1" file="$2" bytes="$3" size="$4" overlap="$5"
  local -a seg_cmd=("${LANES_BIN}/segment" --target "${size}" --max "${size}"
    --overlap "${overlap}" --unit chars)
  local timing="${BENCH_TMP}/langchain.timing"
  local -a lc_cmd=(env "LANGCHAIN_SPLIT_TIMING=${timing}" node "${BENCH_DIR}/langchain_split.mjs"
    --chunk-size "${size}" --overlap "${overlap}")
  local in=/dev/null
  if [[ "${file}" == - ]]; then
    in="${BENCH_TMP}/docs.ndjson"
  else
    seg_cmd+=("${file}")
    lc_cmd+=("${file}")
  fi
  local l_wall l_rss l_n c_wall c_rss c_n
  best_of : "${in}" "${BENCH_TMP}/lanes.out" "${seg_cmd[@]}" || return 1
  l_wall="${BEST_WALL}"
  l_rss="${BEST_RSS}"
  l_n="$(wc -l <"${BENCH_TMP}/lanes.out")"
  rm -f "${timing}"
  best_of : "${in}" "${BENCH_TMP}/langchain.out" "${lc_cmd[@]}" || return 1
  c_wall="${BEST_WALL}"
  c_rss="${BEST_RSS}"
  c_n="$(wc -l <"${BENCH_TMP}/langchain.out")"
  rm -f "${BENCH_TMP}/lanes.out" "${BENCH_TMP}/langchain.out"

  # LangChain's own reading+splitting+writing time, without node start-up
  local c_work c_start
  c_work="$(sort -k2,2n "${timing}" | head -n 1)"
  c_start="${c_work%% *}"
  c_work="${c_work##* }"
  local l_mbs c_mbs speed mem speed_met mem_met
  l_mbs="$(calc "${bytes} / 1e6 / ${l_wall}")"
  c_mbs="$(calc "${bytes} / 1e6 / ${c_wall}")"
  speed="$(fmt 1 "$(calc "${l_mbs} / ${c_mbs}")")"
  mem="$(fmt 2 "$(calc "${l_rss} / ${c_rss}")")"
  speed_met="$(met "${speed}" ">=" "${SPEED_TARGET}")"
  mem_met="$(met "${mem}" "<=" "${MEM_TARGET}")"

  echo "segment: ${label}, size ${size}, overlap ${overlap}"
  printf '  %-10s %8s %12s %9s %10s %5s %10s %5s\n' tool "MB/s" "peak RSS MB" segments \
    "speed" "met" "memory" "met"
  printf '  %-10s %8s %12s %9s %10s %5s %10s %5s\n' lanes "$(fmt 1 "${l_mbs}")" "$(kb_mb "${l_rss}")" \
    "${l_n}" "${speed}x" "$(yes_no "${speed_met}")" "${mem}x" "$(yes_no "${mem_met}")"
  printf '  %-10s %8s %12s %9s %10s %5s %10s %5s\n' langchain "$(fmt 1 "${c_mbs}")" "$(kb_mb "${c_rss}")" \
    "${c_n}" "1x" "-" "1x" "-"
  echo "  langchain without node start-up and module loading ($(fmt 0 "${c_start}") ms):" \
    "$(fmt 1 "$(calc "${bytes} / 1e3 / ${c_work}")") MB/s;" \
    "lanes is $(fmt 1 "$(calc "${l_mbs} / (${bytes} / 1e3 / ${c_work})")")x that (information only)"
  echo "bench segment: lanes $(fmt 1 "${l_mbs}") MB/s (peak $(kb_mb "${l_rss}") MB)" \
    "| langchain $(fmt 1 "${c_mbs}") MB/s (peak $(kb_mb "${c_rss}") MB)" \
    "| ${speed}x speed (target >= ${SPEED_TARGET}x: ${speed_met})," \
    "${mem}x memory (target <= ${MEM_TARGET}x: ${mem_met})"
  target "segment speed vs langchain, ${label} ${size}/${overlap}" "${speed}" ">=" "${SPEED_TARGET}" x
  target "segment memory vs langchain, ${label} ${size}/${overlap}" "${mem}" "<=" "${MEM_TARGET}" x
  echo
}

main() {
  need_debs time python3
  need_lanes segment
  need_node_modules
  bench_tmp_init
  local text="${BENCH_TMP}/kjv.txt" name bytes nd_bytes ndocs
  name="$(make_text "${text}")"
  bytes="$(stat -c %s "${text}")"
  "${BENCH_DIR}/gen_records.py" docs "${text}" >"${BENCH_TMP}/docs.ndjson"
  nd_bytes="$(stat -c %s "${BENCH_TMP}/docs.ndjson")"
  ndocs="$(wc -l <"${BENCH_TMP}/docs.ndjson")"
  echo "input: ${name}, ${bytes} bytes; best of ${BENCH_RUNS} runs; MB = 10^6 bytes, RSS MB = MiB"
  echo "lanes: ${LANES_BIN}/segment; peer: LangChain RecursiveCharacterTextSplitter" \
    "$(cd "${BENCH_DIR}" && node -p 'require("./node_modules/@langchain/textsplitters/package.json").version')" \
    "on node $(node --version)"
  echo
  local rc=0
  compare "one file" "${text}" "${bytes}" 1000 200 || rc=1
  compare "one file" "${text}" "${bytes}" 1000 0 || rc=1
  compare "NDJSON stdin (${ndocs} docs)" - "${nd_bytes}" 1000 200 || rc=1
  # at scale (issue 12): ten copies, where node's start-up no longer
  # flatters the ratio
  local big="${BENCH_TMP}/kjv10.txt" i
  for ((i = 0; i < 10; i++)); do
    cat "${text}"
  done >"${big}"
  compare "ten copies in one file" "${big}" "$(stat -c %s "${big}")" 2000 200 || rc=1
  rm -f "${big}"
  return "${rc}"
}

main "$@"
