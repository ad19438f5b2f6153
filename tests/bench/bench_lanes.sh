#!/usr/bin/env bash
# Benchmark: does `mine` with its DEFAULT tunables (adaptive concurrency,
# llm.concurrency: auto) fill every lane of a server without flooding it?
# For servers of 1, 2, 4, 8 and 16 lanes (the LLM test double, llmd, with
# 50 ms of service time plus up to 5 ms of jitter), mine runs over
# max(200, 60 x lanes) short records with a tiny prompt and schema
# (mine_prompt.txt, mine_schema.json). Figures: records/s over the whole
# process (start-up, ramp-up and drain included) as a share of the server's
# limit, lanes / mean service time (also shown against lanes / 50 ms), the
# server's peak queue and peak concurrency (/_double/stats), mine's peak in
# flight and final limit (its stderr summary).
# Targets: >= 0.95 of the limit, peak queue <= 4 requests, at every size.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_lanes"
readonly LANE_COUNTS=(1 2 4 8 16)
readonly LATENCY_MS=50
readonly JITTER_MS=5
readonly MODEL="llama3.2:3b"
readonly SHARE_TARGET=0.95
readonly QUEUE_TARGET=4

# short_records N: N records with short texts, one per line.
short_records() {
  awk -v n="$1" 'BEGIN {
    for (i = 1; i <= n; i++)
      printf "{\"id\":\"r%d\",\"text\":\"Record %d: a short note about topic %d.\"}\n", i, i, i % 37
  }'
}

# saturate LANES: runs mine against a double of LANES lanes, prints one
# table row and leaves the target lines in ${BENCH_TMP}/targets.
saturate() {
  local lanes="$1"
  local n=$(( lanes * 60 > 200 ? lanes * 60 : 200 ))
  local in="${BENCH_TMP}/in-${lanes}.ndjson" out="${BENCH_TMP}/out.ndjson"
  short_records "${n}" >"${in}"
  llmd_start --lanes "${lanes}" --latency-ms "${LATENCY_MS}" --jitter-ms "${JITTER_MS}" || return 1
  llmd_reset
  run_timed "${in}" "${out}" env LANES_LLM_BASE_URL="${LLMD_URL}" "${LANES_BIN}/mine" \
    --model "${MODEL}" --prompt "${BENCH_DIR}/mine_prompt.txt" \
    --schema "${BENCH_DIR}/mine_schema.json" || return 1
  local mined stats
  mined="$(jq -c 'select(.mined.topic)' "${out}" | wc -l)"
  if (( mined != n )); then
    err "${lanes} lanes: ${mined} of ${n} records mined"
    return 1
  fi
  stats="$(llmd_stat '"\(.peak_queue) \(.peak_concurrency) \(.connections) \(.rejected)"')"
  local peak_queue peak_conc conns rejected
  read -r peak_queue peak_conc conns rejected <<<"${stats}"
  local summary limit peak_inflight
  summary="$(grep -o 'peak [0-9]* in flight, final limit [0-9]*' "${BENCH_TMP}/stderr" || true)"
  peak_inflight="$(awk '{ print $2 }' <<<"${summary}")"
  limit="$(awk '{ print $NF }' <<<"${summary}")"
  llmd_stop

  local rate max nominal share share_nominal
  rate="$(calc "${n} / ${RUN_WALL}")"
  max="$(calc "${lanes} * 1000 / (${LATENCY_MS} + ${JITTER_MS} / 2)")"
  nominal="$(calc "${lanes} * 1000 / ${LATENCY_MS}")"
  share="$(fmt 3 "$(calc "${rate} / ${max}")")"
  share_nominal="$(fmt 3 "$(calc "${rate} / ${nominal}")")"
  local share_met queue_met
  share_met="$(met "${share}" ">=" "${SHARE_TARGET}")"
  queue_met="$(met "${peak_queue}" "<=" "${QUEUE_TARGET}")"
  printf '  %5s %7s %8s %9s %6s %9s %5s %10s %10s %5s %9s %11s %6s\n' "${lanes}" "${n}" \
    "$(fmt 1 "${rate}")" "$(fmt 1 "${max}")" "${share}" "${share_nominal}" \
    "$(yes_no "${share_met}")" "${peak_queue}" "${peak_conc}" "$(yes_no "${queue_met}")" \
    "${peak_inflight:-?}" "${limit:-?}" "${conns}"
  if (( rejected > 0 )); then
    echo "  (${rejected} requests refused with 503 by the ${lanes}-lane server)"
  fi
  {
    target "mine default tunables, ${lanes} lanes, share of limit" "${share}" ">=" "${SHARE_TARGET}" ""
    target "mine default tunables, ${lanes} lanes, server peak queue" "${peak_queue}" "<=" "${QUEUE_TARGET}" ""
  } >>"${BENCH_TMP}/targets"
}

main() {
  need_llmd
  need_lanes mine
  default_tunables_env
  llmd_tmp_init
  : >"${BENCH_TMP}/targets"
  echo "server: llmd, ${LATENCY_MS} ms + uniform [0, ${JITTER_MS}) ms per request and lane;" \
    "limit = lanes / $(calc "(${LATENCY_MS} + ${JITTER_MS} / 2) / 1000" | sed 's/0*$//') s" \
    "(nominal: lanes / $(calc "${LATENCY_MS} / 1000" | sed 's/0*$//') s)"
  echo "client: ${LANES_BIN}/mine with default tunables (llm.concurrency auto), one run per size;" \
    "rate = records / whole-process wall time"
  echo
  printf '  %5s %7s %8s %9s %6s %9s %5s %10s %10s %5s %9s %11s %6s\n' lanes records "rec/s" \
    "max rec/s" share nominal met "peak queue" "peak lanes" met "peak req" "final limit" conns
  local lanes rc=0
  for lanes in "${LANE_COUNTS[@]}"; do
    saturate "${lanes}" || rc=1
  done
  echo
  echo "peak queue, peak lanes, conns: the server's peak_queue, peak_concurrency, connections;"
  echo "peak req, final limit: mine's peak requests in flight and final concurrency limit"
  cat "${BENCH_TMP}/targets"
  return "${rc}"
}

main "$@"
