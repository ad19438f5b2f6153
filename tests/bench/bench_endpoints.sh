#!/usr/bin/env bash
# Benchmark: does throughput add up across several LLM servers? Three test
# doubles (llmd) of 2, 4 and 8 lanes, each with 50 ms of service time plus
# uniform [0, 5) ms of jitter, behind one endpoint list (mine.endpoints, the
# Ollama wire format); mine runs over 60 x (sum of lanes) short records
# (mine_prompt.txt, mine_schema.json):
#   default   the list alone: each endpoint's own adaptive limit
#   capacity  the list with each endpoint's capacity given (its lanes)
#   single    peer, in the same run: mine on each double alone, default
#             tunables (what one endpoint reaches on this machine)
# Figures: records/s over the whole process (start-up, ramp-up and drain
# included) as a share of the sum of the servers' limits,
# sum(lanes) / mean service time; the requests each double answered, its
# peak queue and peak concurrency (/_double/stats).
# Target: the default list reaches >= 0.9 of the sum of the limits, every
# record mined.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_endpoints"
readonly LANE_COUNTS=(2 4 8)
readonly LATENCY_MS=50
readonly JITTER_MS=5
readonly MODEL="llama3.2:3b"
readonly SHARE_TARGET=0.9
readonly ROW_FORMAT='  %-10s %7s %8s %9s %6s %4s  %s\n'
# The doubles: process ids and URLs, in the order of LANE_COUNTS.
EP_PIDS=()
EP_URLS=()

# eps_start: starts one double per LANE_COUNTS entry on a free port.
eps_start() {
  local i lanes pf k
  for i in "${!LANE_COUNTS[@]}"; do
    lanes="${LANE_COUNTS[i]}"
    pf="${BENCH_TMP}/llmd.${i}.port"
    rm -f "${pf}"
    "${LLMD_BIN}" --port 0 --port-file "${pf}" --quiet --lanes "${lanes}" \
      --latency-ms "${LATENCY_MS}" --jitter-ms "${JITTER_MS}" --seed "$((42 + i))" &
    EP_PIDS[i]="$!"
    for ((k = 0; k < 100; k++)); do
      [[ -s "${pf}" ]] && break
      sleep 0.05
    done
    if [[ ! -s "${pf}" ]]; then
      err "llmd of ${lanes} lanes did not start"
      return 1
    fi
    EP_URLS[i]="http://127.0.0.1:$(<"${pf}")"
  done
}

eps_stop() {
  local p
  for p in "${EP_PIDS[@]}"; do
    kill -TERM "${p}" 2>/dev/null || true
    wait "${p}" 2>/dev/null || true
  done
  EP_PIDS=()
}

eps_cleanup() {
  eps_stop
  bench_tmp_cleanup
}

eps_reset() {
  local u
  for u in "${EP_URLS[@]}"; do
    curl -fsS -X POST "${u}/_double/reset" >/dev/null
  done
}

# per_double: "2l:REQ/q=Q/c=C 4l:..." from each double's counters.
per_double() {
  local i s
  for i in "${!EP_URLS[@]}"; do
    s="$(curl -fsS "${EP_URLS[i]}/_double/stats")"
    printf '%sl:%s/q=%s/c=%s ' "${LANE_COUNTS[i]}" "$(jq .requests <<<"${s}")" \
      "$(jq .peak_queue <<<"${s}")" "$(jq .peak_concurrency <<<"${s}")"
  done
}

# run_list CLIENT N LIMIT ENDPOINTS: mine over N records with
# mine.endpoints ENDPOINTS; prints a row and sets RUN_SHARE.
run_list() {
  local client="$1" n="$2" limit="$3" eps="$4"
  local in="${BENCH_TMP}/in-${n}.ndjson" out="${BENCH_TMP}/out.ndjson"
  [[ -f "${in}" ]] || short_records "${n}" >"${in}"
  eps_reset
  run_timed "${in}" "${out}" env LANES_MINE_ENDPOINTS="${eps}" "${LANES_BIN}/mine" \
    --model "${MODEL}" --prompt "${BENCH_DIR}/mine_prompt.txt" \
    --schema "${BENCH_DIR}/mine_schema.json" || return 1
  local mined
  mined="$(jq -c 'select(.mined.topic)' "${out}" | wc -l)"
  if ((mined != n)); then
    err "${client}: ${mined} of ${n} records mined"
    return 1
  fi
  local rate share
  rate="$(calc "${n} / ${RUN_WALL}")"
  share="$(fmt 3 "$(calc "${rate} / ${limit}")")"
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" "${client}" "${n}" "$(fmt 1 "${rate}")" "$(fmt 1 "${limit}")" \
    "${share}" "$(yes_no "$(met "${share}" ">=" "${SHARE_TARGET}")")" "$(per_double)"
  RUN_SHARE="${share}"
}

main() {
  need_llmd
  need_lanes mine
  default_tunables_env
  bench_tmp_init
  trap eps_cleanup EXIT
  eps_start
  local per_lane sum=0 l
  per_lane="$(calc "1000 / (${LATENCY_MS} + ${JITTER_MS} / 2)")"
  for l in "${LANE_COUNTS[@]}"; do
    sum=$((sum + l))
  done
  local limit n=$((sum * 60))
  limit="$(calc "${sum} * ${per_lane}")"
  echo "servers: three llmd of ${LANE_COUNTS[*]} lanes, ${LATENCY_MS} ms + uniform [0, ${JITTER_MS})" \
    "ms per request and lane; limit = sum(lanes) / $(calc "(${LATENCY_MS} + ${JITTER_MS} / 2) / 1000" | sed 's/0*$//') s" \
    "= $(fmt 1 "${limit}") rec/s"
  echo "client: ${LANES_BIN}/mine, default tunables, the three in mine.endpoints;" \
    "rate = records / whole-process wall time; per double: requests/peak queue/peak concurrency"
  echo
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" client records "rec/s" "max rec/s" share met "per double"
  local list="" caps="" i
  for i in "${!EP_URLS[@]}"; do
    list+="${EP_URLS[i]} "
    caps+="${EP_URLS[i]},capacity=${LANE_COUNTS[i]} "
  done
  run_list default "${n}" "${limit}" "${list}"
  local share="${RUN_SHARE}"
  run_list capacity "${n}" "${limit}" "${caps}"
  local cap_share="${RUN_SHARE}"
  for i in "${!EP_URLS[@]}"; do
    l="${LANE_COUNTS[i]}"
    run_list "single ${l}" "$((l * 60 > 200 ? l * 60 : 200))" "$(calc "${l} * ${per_lane}")" \
      "${EP_URLS[i]}"
  done
  echo
  target "${BENCH_NAME}: mine over three servers, default tunables, share of the summed limits" \
    "${share}" ">=" "${SHARE_TARGET}" ""
  target "${BENCH_NAME}: mine over three servers, capacities given, share of the summed limits" \
    "${cap_share}" ">=" "${SHARE_TARGET}" ""
}

main "$@"
