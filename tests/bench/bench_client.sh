#!/usr/bin/env bash
# Benchmark: CPU cost of the client at zero server latency. The same 5000
# records (gen_records.py, 300-1000 characters each) go through `mine` and
# through two common Python patterns, all sending the same request bodies
# (Ollama /api/chat, stream false, mine_prompt.txt with the record's text,
# mine_schema.json as format) to the same server (llmd, 64 lanes, no
# latency) with the same number of requests in flight, and parsing the JSON
# answer into the record:
#   requests: requests + ThreadPoolExecutor, a Session per thread
#             (client_requests.py)
#   aiohttp:  one ClientSession + asyncio.Semaphore (client_aiohttp.py)
# The Python peers run on Debian's /usr/bin/python3 (python3-requests,
# python3-aiohttp). CPU is user + system time of the client process only
# (/usr/bin/time), best of LANES_BENCH_RUNS (3); records/s from the wall time.
# mine with its default tunables (adaptive concurrency) is shown too.
# Targets: lanes >= 10x the records per CPU-second of the requests pattern;
# mine with default tunables >= 15x (issue 12).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_client"
readonly RECORDS=5000
readonly CONCURRENCY=8
readonly SERVER_LANES=64
readonly MODEL="llama3.2:3b"
readonly PYTHON=/usr/bin/python3
readonly RATIO_TARGET=10
# issue 12: mine as a user runs it (default tunables, adaptive concurrency)
readonly DEFAULT_RATIO_TARGET=15
# Set by run_cpu and best_cpu: wall seconds and user + system CPU seconds.
CPU_WALL=""
CPU_SECS=""
# Set by row.
ROW_PER_CPU=""

# run_cpu IN OUT CMD...: runs CMD once, stdin from IN, stdout to OUT; sets
# CPU_WALL and CPU_SECS. Checks that OUT holds RECORDS mined records.
run_cpu() {
  local in="$1" out="$2"
  shift 2
  run_timed "${in}" "${out}" "$@" || return
  local mined
  mined="$(jq -c 'select(.mined.topic)' "${out}" | wc -l)"
  if (( mined != RECORDS )); then
    err "${mined} of ${RECORDS} records mined by: $*"
    return 1
  fi
  CPU_WALL="${RUN_WALL}"
  CPU_SECS="${RUN_CPU}"
}

# best_cpu CMD...: runs CMD BENCH_RUNS times on the records; sets CPU_WALL
# and CPU_SECS to the smallest of each.
best_cpu() {
  local i best_wall="" best_cpu=""
  for (( i = 0; i < BENCH_RUNS; i++ )); do
    llmd_reset
    run_cpu "${BENCH_TMP}/records.ndjson" "${BENCH_TMP}/out.ndjson" "$@" || return 1
    if [[ -z "${best_wall}" ]] || awk -v a="${CPU_WALL}" -v b="${best_wall}" 'BEGIN { exit !(a < b) }'; then
      best_wall="${CPU_WALL}"
    fi
    if [[ -z "${best_cpu}" ]] || awk -v a="${CPU_SECS}" -v b="${best_cpu}" 'BEGIN { exit !(a < b) }'; then
      best_cpu="${CPU_SECS}"
    fi
  done
  CPU_WALL="${best_wall}"
  CPU_SECS="${best_cpu}"
}

# row NAME: prints the table row of the last best_cpu; sets ROW_PER_CPU to
# its records per CPU-second.
row() {
  local name="$1"
  ROW_PER_CPU="$(calc "${RECORDS} / (${CPU_SECS} > 0 ? ${CPU_SECS} : 0.01)")"
  printf '  %-14s %9s %8s %12s\n' "${name}" "$(fmt 0 "$(calc "${RECORDS} / ${CPU_WALL}")")" \
    "${CPU_SECS}" "$(fmt 0 "${ROW_PER_CPU}")"
}

main() {
  need_llmd
  need_debs python3-requests python3-aiohttp >&2
  need_lanes mine
  default_tunables_env
  llmd_tmp_init
  "${BENCH_DIR}/gen_records.py" records "${RECORDS}" >"${BENCH_TMP}/records.ndjson"
  llmd_start --lanes "${SERVER_LANES}" --latency-ms 0 || return 1
  local -a mine_cmd=("${LANES_BIN}/mine" --model "${MODEL}"
    --prompt "${BENCH_DIR}/mine_prompt.txt" --schema "${BENCH_DIR}/mine_schema.json")
  local -a py_args=(--url "${LLMD_URL}" --model "${MODEL}"
    --prompt "${BENCH_DIR}/mine_prompt.txt" --schema "${BENCH_DIR}/mine_schema.json"
    --concurrency "${CONCURRENCY}")
  local versions
  versions="$("${PYTHON}" -c 'import sys, requests, aiohttp
print("Python %s, requests %s, aiohttp %s" % (sys.version.split()[0], requests.__version__, aiohttp.__version__))')"
  echo "input: ${RECORDS} records (gen_records.py); server: llmd, ${SERVER_LANES} lanes, no latency;" \
    "best of ${BENCH_RUNS} runs"
  echo "peers: ${versions}; ${CONCURRENCY} requests in flight for every client"
  echo
  printf '  %-14s %9s %8s %12s\n' client "rec/s" "CPU s" "rec/CPU-s"
  best_cpu env LANES_LLM_BASE_URL="${LLMD_URL}" LANES_LLM_CONCURRENCY="${CONCURRENCY}" \
    "${mine_cmd[@]}" || return 1
  row lanes
  local lanes="${ROW_PER_CPU}"
  best_cpu "${PYTHON}" "${BENCH_DIR}/client_requests.py" "${py_args[@]}" || return 1
  row requests
  local requests="${ROW_PER_CPU}"
  best_cpu "${PYTHON}" "${BENCH_DIR}/client_aiohttp.py" "${py_args[@]}" || return 1
  row aiohttp
  local aiohttp="${ROW_PER_CPU}"
  best_cpu env LANES_LLM_BASE_URL="${LLMD_URL}" "${mine_cmd[@]}" || return 1
  local limit
  limit="$(grep -o 'final limit [0-9]*' "${BENCH_TMP}/stderr" | awk '{ print $NF }' || true)"
  row lanes-default
  local lanes_default="${ROW_PER_CPU}"
  echo "  (lanes-default: mine with default tunables, adaptive concurrency, final limit ${limit:-?})"
  echo

  local vs_req vs_aio default_vs_req
  vs_req="$(fmt 1 "$(calc "${lanes} / ${requests}")")"
  vs_aio="$(fmt 1 "$(calc "${lanes} / ${aiohttp}")")"
  default_vs_req="$(fmt 1 "$(calc "${lanes_default} / ${requests}")")"
  echo "bench client: records per CPU-second, lanes vs requests ${vs_req}x, vs aiohttp ${vs_aio}x;" \
    "lanes with default tunables vs requests ${default_vs_req}x"
  target "mine records per CPU-second vs requests+ThreadPoolExecutor, ${CONCURRENCY} in flight" \
    "${vs_req}" ">=" "${RATIO_TARGET}" x
  target "mine with default tunables, records per CPU-second vs requests+ThreadPoolExecutor" \
    "${default_vs_req}" ">=" "${DEFAULT_RATIO_TARGET}" x
}

main "$@"
