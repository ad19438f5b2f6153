#!/usr/bin/env bash
# test_signals.sh: the stop rule of lanes(7) SIGNALS, with real processes
# against the LLM test double (tests/llmd) slowed down so that requests are
# in flight when the signal comes. Each check waits for a state (requests
# in flight at the double, a line in a file), never for a time.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
BUILD="${LANES_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
export LANES_LOG_TIME=0

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds (at most
# 30 s); exits the test when it never does.
wait_for() {
  local desc="$1" i
  shift
  for ((i = 0; i < 600; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  err "timed out waiting for: ${desc}"
  exit 1
}

in_flight_at_least() {
  local n
  n="$(stats | jq -r '.in_flight')"
  ((n >= $1))
}

# whole_lines FILE: empty, or every line a JSON object and the last one
# ended by a newline.
whole_lines() {
  local f="$1"
  [[ ! -s "${f}" ]] && return 0
  [[ "$(tail -c 1 "${f}" | od -An -c | tr -d ' ')" == '\n' ]] || return 1
  jq -e -c 'type == "object"' <"${f}" >/dev/null
}

# A second signal while requests are in flight ends the process at once,
# with the first signal's status and whole lines only.
second_signal() {
  local sig want
  for sig in INT TERM; do
    want=130
    [[ "${sig}" == TERM ]] && want=143
    start_llmd --lanes 8 --latency-ms 600000
    local i
    for i in 1 2 3 4; do
      printf '{"id":"r%d","text":"Record %d."}\n' "${i}" "${i}"
    done >"${TMP}/in.ndjson"
    LANES_LLM_BASE_URL="${URL}" LANES_MINE_STOP_GRACE_MS=600000 "${BIN}/mine" --prompt "${TMP}/text.txt" \
      --progress never <"${TMP}/in.ndjson" \
      >"${TMP}/second.out" 2>"${TMP}/second.err" &
    local pid=$!
    PIDS+=("${pid}")
    wait_for "4 requests in flight" in_flight_at_least 4
    kill "-${sig}" "${pid}"
    # two signals sent at once may arrive as one: the second goes after
    # the first is handled
    wait_for "the stop line" grep -q "^mine: SIG${sig}: stopping" "${TMP}/second.err"
    t "SIG${sig} once: mine keeps waiting for its requests in flight" kill -0 "${pid}"
    sleep 0.3 # past the 0.25 s in which the same signal is the same request
    kill "-${sig}" "${pid}"
    local rc=0
    wait "${pid}" || rc=$?
    t "SIG${sig} twice: exit ${want} at once" test "${rc}" -eq "${want}"
    t "SIG${sig} twice: says so" grep -q "^mine: second signal: exiting now" "${TMP}/second.err"
    t "SIG${sig} twice: whole lines only" whole_lines "${TMP}/second.out"
    stop_llmd
  done
}

# no_line PATTERN FILE: no line of FILE matches PATTERN.
no_line() {
  ! grep -q "$1" "$2"
}

# timeout(1) passes its SIGTERM to the tool and then to its process group:
# one stop request delivered twice, microseconds apart. It is one request:
# the tool finishes what is in flight (a cron job under timeout drains).
timeout_stop() {
  start_llmd --lanes 4 --latency-ms 1500
  printf '{"id":"t1","text":"One."}\n{"id":"t2","text":"Two."}\n' >"${TMP}/t.ndjson"
  LANES_LLM_BASE_URL="${URL}" LANES_MINE_STOP_GRACE_MS=600000 timeout 600 "${BIN}/mine" \
    --prompt "${TMP}/text.txt" --progress never <"${TMP}/t.ndjson" \
    >"${TMP}/timeout.out" 2>"${TMP}/timeout.err" &
  local pid=$! rc=0
  PIDS+=("${pid}")
  wait_for "2 requests in flight" in_flight_at_least 2
  kill -TERM "${pid}"
  wait "${pid}" || rc=$?
  t "timeout's SIGTERM (twice): exit 143" test "${rc}" -eq 143
  t "timeout's SIGTERM (twice): one stop request, no 'second signal'" \
    no_line "second signal: exiting" "${TMP}/timeout.err"
  t "timeout's SIGTERM (twice): the records in flight were finished" \
    test "$(grep -c '"mined"' "${TMP}/timeout.out")" -eq 2
  stop_llmd
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  printf '{{text}}' >"${TMP}/text.txt"
  second_signal
  timeout_stop
  summary
}

main "$@"
