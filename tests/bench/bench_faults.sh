#!/usr/bin/env bash
# Benchmark: does `mine` with its DEFAULT tunables keep its concurrency
# where throughput is best when the server fails some requests? Against the
# LLM test double (llmd) with 8 lanes of 50 ms + uniform [0, 5) ms, FAULTS
# of 0, 10, 20 and 50 % (BENCH_FAULT_RATES="0.2" picks some) of mixed
# kinds: 429 with Retry-After: 1, 500, 503 and dropped connections. 429 and
# 503 say "slow down"; a 500 or a drop says nothing about load. mine runs
# over RECORDS short records with default tunables and, as the peers
# measured in the same run, with a fixed concurrency of lanes + 2 (a client
# that knows the server) and of 32 (more threads for the calls waiting to
# try again); all with llm.max_attempts 20, so that no record fails and
# all do the same work.
# Figures: records/s over the whole process; the ratio default / the best
# fixed client;
# the final limit and peak requests in flight of mine (its stderr summary);
# the faults the double injected (/_double/stats).
# Target, for each rate: default >= 0.9 of the best fixed client (issue 12).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_faults"
FAULT_RATES=()
read -ra FAULT_RATES <<<"${BENCH_FAULT_RATES:-0 0.1 0.2 0.5}"
readonly FAULT_RATES
readonly LANES=8
readonly LATENCY_MS=50
readonly JITTER_MS=5
readonly RECORDS=600
# the fixed peers: lanes + 2, and more for the calls that wait to try again
readonly FIXED=(10 32)
readonly MODEL="llama3.2:3b"
readonly VS_FIXED_TARGET=0.9
readonly ROW_FORMAT='  %6s %-9s %7s %8s %6s %5s %6s %7s %s\n'
# Set by run_mine: records/s.
RUN_RATE=""

# run_mine RATE CLIENT [VAR=VALUE...]: runs mine over the records against
# the running double and prints a table row; sets RUN_RATE.
run_mine() {
  local rate="$1" client="$2"
  shift 2
  local in="${BENCH_TMP}/in.ndjson" out="${BENCH_TMP}/out.ndjson"
  llmd_reset
  run_timed "${in}" "${out}" env "$@" LANES_LLM_BASE_URL="${LLMD_URL}" \
    LANES_LLM_MAX_ATTEMPTS=20 "${LANES_BIN}/mine" --model "${MODEL}" \
    --prompt "${BENCH_DIR}/mine_prompt.txt" --schema "${BENCH_DIR}/mine_schema.json" || return 1
  local mined
  mined="$(jq -c 'select(.mined.topic)' "${out}" | wc -l)"
  if (( mined != RECORDS )); then
    err "${rate} faults, ${client}: ${mined} of ${RECORDS} records mined"
    return 1
  fi
  local peak limit faults
  read -r peak limit <<<"$(mine_peak_limit "${BENCH_TMP}/stderr")"
  faults="$(llmd_stat '.faults | to_entries | map(select(.value > 0) | "\(.key) \(.value)") | join(", ")')"
  RUN_RATE="$(calc "${RECORDS} / ${RUN_WALL}")"
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" "${rate}" "${client}" "${RECORDS}" "$(fmt 1 "${RUN_RATE}")" "" \
    "${peak}" "${limit}" "" "${faults:-none}"
}

# at_rate RATE: both clients against a double failing RATE of the requests;
# appends the target line to ${BENCH_TMP}/targets.
at_rate() {
  local rate="$1"
  llmd_start --lanes "${LANES}" --latency-ms "${LATENCY_MS}" --jitter-ms "${JITTER_MS}" \
    --fault-rate "${rate}" --faults 429,500,503,drop --retry-after 1 --seed 7 || return 1
  run_mine "${rate}" default || return 1
  local dflt="${RUN_RATE}" best="" conc
  for conc in "${FIXED[@]}"; do
    run_mine "${rate}" "fixed ${conc}" LANES_LLM_CONCURRENCY="${conc}" || return 1
    if [[ -z "${best}" ]] || awk -v a="${RUN_RATE}" -v b="${best}" 'BEGIN { exit !(a > b) }'; then
      best="${RUN_RATE}"
    fi
  done
  llmd_stop
  local ratio
  ratio="$(fmt 3 "$(calc "${dflt} / ${best}")")"
  echo "         default / best fixed: ${ratio}"
  target "mine default tunables, $(fmt 0 "$(calc "${rate} * 100")")% faults, rate against the best fixed client" \
    "${ratio}" ">=" "${VS_FIXED_TARGET}" "" >>"${BENCH_TMP}/targets"
}

main() {
  need_llmd
  need_lanes mine
  default_tunables_env
  llmd_tmp_init
  : >"${BENCH_TMP}/targets"
  short_records "${RECORDS}" >"${BENCH_TMP}/in.ndjson"
  echo "server: llmd, ${LANES} lanes, ${LATENCY_MS} ms + uniform [0, ${JITTER_MS}) ms per request;" \
    "faults 429 (Retry-After: 1), 500, 503, drop, in equal shares"
  echo "clients: ${LANES_BIN}/mine with default tunables and with llm.concurrency ${FIXED[*]};" \
    "llm.max_attempts 20; one run each; rate = records / whole-process wall time"
  echo
  # shellcheck disable=SC2059 # the format is a constant
  printf "${ROW_FORMAT}" faults client records "rec/s" "" "req" limit "" "injected"
  local rate rc=0
  for rate in "${FAULT_RATES[@]}"; do
    at_rate "${rate}" || rc=1
  done
  echo
  echo "mine (stderr summary): req = peak requests in flight, limit = final concurrency limit;"
  echo "injected: the faults the double served (/_double/stats)"
  cat "${BENCH_TMP}/targets"
  return "${rc}"
}

main "$@"
