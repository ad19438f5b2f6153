#!/usr/bin/env bash
# Benchmark: does `mine` with its DEFAULT tunables (adaptive concurrency,
# llm.concurrency: auto) fill every lane of a server without flooding it?
# For servers of 1, 2, 4, 8, 16 and 32 lanes (BENCH_LANES="4 32" measures
# some; the LLM test double, llmd, with 50 ms of service time plus uniform
# [0, 5) ms of jitter), mine runs over
# max(200, 60 x lanes) short records with a tiny prompt and schema
# (mine_prompt.txt, mine_schema.json). Its peer, measured in the same run,
# is mine with a fixed concurrency of lanes + 2, a client that knows the
# server: what this machine can reach.
# Figures: records/s over the whole process (start-up, ramp-up and drain
# included) as a share of the server's limit, lanes / mean service time
# (also against the nominal lanes / 50 ms); the server's peak queue over the
# whole run and after the ramp-up (the double's counters are reset once a
# third of the ideal run time has passed), its peak concurrency and the
# connections it accepted (/_double/stats); mine's peak requests in flight
# and final concurrency limit (its stderr summary).
# Targets, for each size: >= 0.95 of the limit and >= 0.95 of the rate of
# the fixed lanes + 2 client measured beside it; peak queue <= 4 requests
# after the ramp-up.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_lanes"
LANE_COUNTS=()
read -ra LANE_COUNTS <<<"${BENCH_LANES:-1 2 4 8 16 32}"
readonly LANE_COUNTS
readonly LATENCY_MS=50
readonly JITTER_MS=5
readonly MODEL="llama3.2:3b"
readonly SHARE_TARGET=0.95
readonly VS_FIXED_TARGET=0.95
readonly QUEUE_TARGET=4
readonly ROW_FORMAT='  %5s %-9s %7s %8s %9s %6s %8s %5s %6s %7s %5s %6s %5s %6s %6s\n'
# Set by run_mine: the share of the limit and the peak queue after ramp-up.
RUN_SHARE=""
RUN_QUEUE=""

# run_mine LANES CLIENT N [VAR=VALUE...]: runs mine (with the environment
# VAR=VALUE...) over N records against the running double of LANES lanes and
# prints a table row for CLIENT; sets RUN_SHARE and RUN_QUEUE.
run_mine() {
  local lanes="$1" client="$2" n="$3"
  shift 3
  local in="${BENCH_TMP}/in-${n}.ndjson" out="${BENCH_TMP}/out.ndjson"
  local snap="${BENCH_TMP}/ramp-stats.json"
  [[ -f "${in}" ]] || short_records "${n}" >"${in}"
  llmd_reset
  rm -f "${snap}"
  local max ramp
  max="$(calc "${lanes} * 1000 / (${LATENCY_MS} + ${JITTER_MS} / 2)")"
  ramp="$(calc "${n} / ${max} / 3")"
  (
    sleep "${ramp}"
    curl -fsS "${LLMD_URL}/_double/stats" >"${snap}" && llmd_reset
  ) &
  local snapper="$!" rc=0
  run_timed "${in}" "${out}" env "$@" LANES_LLM_BASE_URL="${LLMD_URL}" "${LANES_BIN}/mine" \
    --model "${MODEL}" --prompt "${BENCH_DIR}/mine_prompt.txt" \
    --schema "${BENCH_DIR}/mine_schema.json" || rc=$?
  if (( rc != 0 )); then
    kill "${snapper}" 2>/dev/null || true
    wait "${snapper}" 2>/dev/null || true
    return "${rc}"
  fi
  wait "${snapper}" || true
  local mined
  mined="$(jq -c 'select(.mined.topic)' "${out}" | wc -l)"
  if (( mined != n )); then
    err "${lanes} lanes, ${client}: ${mined} of ${n} records mined"
    return 1
  fi
  if [[ ! -s "${snap}" ]]; then
    err "${lanes} lanes, ${client}: no statistics after the ramp-up (the run was too short)"
    echo '{"peak_queue":0,"peak_concurrency":0,"connections":0,"rejected":0}' >"${snap}"
  fi
  local stats q_all q_steady peak_conc conns rejected
  stats="$(llmd_stat '.' | jq -rs '"\([.[].peak_queue] | max) \(.[1].peak_queue) \([.[].peak_concurrency] | max) \(.[0].connections + .[1].connections) \(.[0].rejected + .[1].rejected)"' "${snap}" -)"
  read -r q_all q_steady peak_conc conns rejected <<<"${stats}"
  local peak_inflight limit
  read -r peak_inflight limit <<<"$(mine_peak_limit "${BENCH_TMP}/stderr")"

  local rate share nominal share_met queue_met
  rate="$(calc "${n} / ${RUN_WALL}")"
  nominal="$(calc "${lanes} * 1000 / ${LATENCY_MS}")"
  share="$(fmt 3 "$(calc "${rate} / ${max}")")"
  share_met="$(met "${share}" ">=" "${SHARE_TARGET}")"
  queue_met="$(met "${q_steady}" "<=" "${QUEUE_TARGET}")"
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" "${lanes}" "${client}" "${n}" "$(fmt 1 "${rate}")" "$(fmt 1 "${max}")" \
    "${share}" "$(fmt 3 "$(calc "${rate} / ${nominal}")")" "$(yes_no "${share_met}")" \
    "${q_all}" "${q_steady}" "$(yes_no "${queue_met}")" "${peak_conc}" "${peak_inflight}" \
    "${limit}" "${conns}"
  if (( rejected > 0 )); then
    echo "  (${rejected} requests refused with 503 by the ${lanes}-lane server)"
  fi
  RUN_SHARE="${share}"
  RUN_QUEUE="${q_steady}"
}

# saturate LANES: mine with default tunables and with a fixed concurrency of
# LANES + 2 against a double of LANES lanes; appends the target lines to
# ${BENCH_TMP}/targets.
saturate() {
  local lanes="$1"
  local n=$(( lanes * 60 > 200 ? lanes * 60 : 200 ))
  llmd_start --lanes "${lanes}" --latency-ms "${LATENCY_MS}" --jitter-ms "${JITTER_MS}" || return 1
  run_mine "${lanes}" default "${n}" || return 1
  local share="${RUN_SHARE}" queue="${RUN_QUEUE}"
  run_mine "${lanes}" "fixed $(( lanes + 2 ))" "${n}" LANES_LLM_CONCURRENCY="$(( lanes + 2 ))" || return 1
  llmd_stop
  local vs_fixed
  vs_fixed="$(fmt 3 "$(calc "${share} / ${RUN_SHARE}")")"
  {
    target "mine default tunables, ${lanes} lanes, share of limit" "${share}" ">=" "${SHARE_TARGET}" ""
    target "mine default tunables, ${lanes} lanes, rate against the fixed lanes+2 client" \
      "${vs_fixed}" ">=" "${VS_FIXED_TARGET}" ""
    target "mine default tunables, ${lanes} lanes, peak queue after ramp-up" "${queue}" "<=" "${QUEUE_TARGET}" ""
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
  echo "clients: ${LANES_BIN}/mine with default tunables (llm.concurrency auto) and, as the peer," \
    "with llm.concurrency = lanes + 2; one run each; rate = records / whole-process wall time"
  echo
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" lanes client records "rec/s" "max rec/s" share nominal met \
    queue steady met lanes "req" limit conns
  local lanes rc=0
  for lanes in "${LANE_COUNTS[@]}"; do
    saturate "${lanes}" || rc=1
  done
  echo
  echo "server (/_double/stats): queue = peak queue over the run, steady = peak queue after the"
  echo "ramp-up (first third of the ideal run time), lanes = peak lanes busy, conns = connections;"
  echo "mine (stderr summary): req = peak requests in flight, limit = final concurrency limit"
  cat "${BENCH_TMP}/targets"
  return "${rc}"
}

main "$@"
