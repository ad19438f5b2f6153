#!/usr/bin/env bash
# Helpers of the LLM benchmarks (bench_lanes.sh, bench_client.sh,
# bench_batch.sh), sourced after lib.sh: the LLM test double (llmd, see
# tests/llmd/README.md) started on a free loopback port and stopped on exit,
# its counters, and an environment that leaves every lanes tunable at its
# built-in default.

LANES_BUILD="${LANES_BUILD:-${REPO_DIR}/build}"
LLMD_BIN="${LANES_BUILD}/tests/llmd"
# Set by llmd_start: the double's process id and base URL.
LLMD_PID=""
LLMD_URL=""

# Checks that the double was built and that curl and jq are there.
need_llmd() {
  need_debs curl jq time >&2 || return 1
  if [[ ! -x "${LLMD_BIN}" ]]; then
    err "${LLMD_BIN} is missing: run make build/tests/llmd (make bench builds it)"
    return 1
  fi
}

# Makes BENCH_TMP (lib.sh) and stops the double on exit, before the scratch
# directory goes.
llmd_tmp_init() {
  bench_tmp_init
  trap llmd_cleanup EXIT
}

llmd_cleanup() {
  llmd_stop
  bench_tmp_cleanup
}

# llmd_start FLAGS...: starts the double with FLAGS (after stopping the one
# running, if any) and waits until it listens; sets LLMD_PID and LLMD_URL.
llmd_start() {
  llmd_stop
  local port_file="${BENCH_TMP}/llmd.port" i
  rm -f "${port_file}"
  "${LLMD_BIN}" --port 0 --port-file "${port_file}" --quiet "$@" &
  LLMD_PID="$!"
  for (( i = 0; i < 100; i++ )); do
    if [[ -s "${port_file}" ]]; then
      LLMD_URL="http://127.0.0.1:$(<"${port_file}")"
      return 0
    fi
    if ! kill -0 "${LLMD_PID}" 2>/dev/null; then
      break
    fi
    sleep 0.05
  done
  err "llmd did not start: ${LLMD_BIN} $*"
  llmd_stop
  return 1
}

llmd_stop() {
  if [[ -n "${LLMD_PID}" ]]; then
    kill -TERM "${LLMD_PID}" 2>/dev/null || true
    wait "${LLMD_PID}" 2>/dev/null || true
  fi
  LLMD_PID=""
  LLMD_URL=""
}

# Zeroes the double's counters.
llmd_reset() {
  curl -fsS -X POST "${LLMD_URL}/_double/reset" >/dev/null
}

# llmd_stat FILTER: prints the jq FILTER (e.g. .peak_queue) of the double's
# /_double/stats.
llmd_stat() {
  curl -fsS "${LLMD_URL}/_double/stats" | jq -r "$1"
}

# short_records N: N records with a short text each (ids r1 to rN), one
# per line: the input of the LLM benches.
short_records() {
  awk -v n="$1" 'BEGIN {
    for (i = 1; i <= n; i++)
      printf "{\"id\":\"r%d\",\"text\":\"Record %d: a short note about topic %d.\"}\n", i, i, i % 37
  }'
}

# mine_peak_limit FILE: "PEAK LIMIT" from mine's summary line in FILE
# (its stderr: "llm: ... peak N in flight, final limit N"); "? ?" if none.
mine_peak_limit() {
  local s
  s="$(grep -o 'peak [0-9]* in flight, final limit [0-9]*' "$1" || true)"
  if [[ -z "${s}" ]]; then
    echo "? ?"
  else
    awk '{ print $2, $NF }' <<<"${s}"
  fi
}

# Unsets the variables that would move a lanes tool off its built-in
# defaults (tunables file, LANES_<SECTION>_<KEY>, server variables), so that
# "default tunables" means the defaults whatever the caller's environment.
default_tunables_env() {
  local v
  while IFS= read -r v; do
    case "${v}" in
      LANES_BIN | LANES_BUILD | LANES_LOG_TIME | LANES_BENCH_RUNS) ;;
      LANES_* | OLLAMA_HOST | OPENAI_*) unset "${v}" ;;
    esac
  done < <(compgen -e)
}
