#!/usr/bin/env bash
# test_probe.sh: pipelines/probe.sh against the LLM test double: the
# plateau of a 4-lane server, its table and settings, the PNG plot; a
# model whose every answer fails the schema (llmd's badjson fault) is not
# a server that refuses: the climb goes on, the answers are counted apart
# and named for what they are, the plateau is not forced to 1 (issue 9); a
# server that refuses a load (2 lanes, no queue: 503) stops the climb
# below it, named with its code; --input takes {"text": ...} records as jq
# and Python write them (blanks after the colon), with ids and earlier
# results: every record reaches the server marked as its own, none is
# skipped; a record without a text is refused with its line; a rate below
# 1/s keeps two significant digits (0.83/s, not 0.8/s).
# Prints "ok N - ..." lines and "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BUILD="$(cd "${LANES_BUILD:-./build}" && pwd)"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly PROBE="${ROOT}/pipelines/probe.sh"

RC=0

# run_probe NAME ARGS...: probe.sh against the double started last, with
# ARGS; stdout to TMP/NAME.out, stderr to TMP/NAME.err, status to RC.
run_probe() {
  local name="$1"
  shift
  RC=0
  (cd "${TMP}" && "${PROBE}" --url "${URL}" "$@") >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || RC=$?
}

# row FILE LEVEL: the table row of LEVEL requests in flight.
row() {
  awk -v l="$2" '$1 == l && NF == 8' "$1"
}

plateau_of() {
  sed -n 's/^plateau: \([0-9]*\) requests in flight.*/\1/p' "$1"
}

plateau() {
  start_llmd --lanes 4 --latency-ms 100
  run_probe plateau --plot "${TMP}/probe.png"
  t "probe.sh exits 0" test "${RC}" -eq 0
  sed 's/^/# /' "${TMP}/plateau.out"
  t "a table row per level: rate, p50/p95, refused, invalid, retries" \
    grep -qE '^ +1 +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9]+ +0 +0 +0$' "${TMP}/plateau.out"
  local p
  p="$(plateau_of "${TMP}/plateau.out")"
  t "against a 4-lane double: plateau at 4 (+-1), got '${p}'" test "${p:-0}" -ge 3 -a "${p:-0}" -le 5
  t "the settings for tunables.yaml" grep -qE "^  workers: ${p}$" "${TMP}/plateau.out"
  t "no refusal, no invalid answer is reported" \
    bash -c "! grep -qE 'refused or failed|against the schema' '${TMP}/plateau.out'"
  if command -v gnuplot >/dev/null; then
    t "with gnuplot: a PNG plot" \
      test "$(head -c 4 "${TMP}/probe.png" | od -An -c | tr -d ' ')" = '211PNG'
  else
    PASSED=$((PASSED + 1))
    echo "ok $((PASSED + FAILED)) - probe.sh PNG plot # SKIP gnuplot is not installed"
  fi
}

invalid_answers() {
  start_llmd --lanes 4 --latency-ms 30 --fault-rate 1 --faults badjson
  run_probe invalid --max 8 --no-plot
  sed 's/^/# /' "${TMP}/invalid.out"
  t "every answer against the schema: probe.sh exits 0" test "${RC}" -eq 0
  t "... the climb goes on past 1 in flight (rows for 2, 4 and 8)" \
    test -n "$(row "${TMP}/invalid.out" 2)" -a -n "$(row "${TMP}/invalid.out" 4)" -a -n "$(row "${TMP}/invalid.out" 8)"
  t "... each record counted invalid, none refused" \
    test "$(row "${TMP}/invalid.out" 1 | awk '{ print $6, $7 }')" = "0 16"
  t "... the server is not blamed" bash -c "! grep -q 'refused or failed' '${TMP}/invalid.out' '${TMP}/invalid.err'"
  t "... the report says they are the model's, not the load's" has "${TMP}/invalid.out" \
    "failed with answers against the schema (invalid_answer):"
  t "... and names the model or the prompt" has "${TMP}/invalid.out" \
    "# the model or the prompt, not the server or the load"
  local p
  p="$(plateau_of "${TMP}/invalid.out")"
  t "... the plateau is not forced to 1 request in flight (got '${p}')" test "${p:-0}" -ge 2
}

refusals() {
  start_llmd --lanes 2 --queue-max 0 --latency-ms 300
  # no retries: a 503 is the record's failure at once
  LANES_LLM_MAX_ATTEMPTS=1 run_probe refused --max 16 --no-plot
  sed 's/^/# /' "${TMP}/refused.out"
  t "a server that refuses 3 in flight: probe.sh exits 0" test "${RC}" -eq 0
  t "... the climb stops at 4, named with the code" grep -qE \
    'the server refused or failed [0-9]+ records at 4 in flight \(http_503 x[0-9]+\): not going higher' \
    "${TMP}/refused.err"
  t "... no row above 4" test -z "$(row "${TMP}/refused.out" 8)"
  t "... the refused records in their column" test "$(row "${TMP}/refused.out" 4 | awk '{ print ($6 > 0) }')" = 1
  t "... the report says so" has "${TMP}/refused.out" "# the server refused or failed records at 4 in flight (http_503"
  t "... the plateau is below it" test "$(plateau_of "${TMP}/refused.out")" = 2
}

input_records() {
  # a request without the probe's mark on its text answers 400
  cat >"${TMP}/script" <<'SCRIPT'
=== unmarked
--- when POST /api/chat
--- unless-body [probe 
--- status 400
--- body
{"error":"a text probe.sh did not mark"}
SCRIPT
  start_llmd --lanes 4 --latency-ms 10 --script "${TMP}/script"
  printf '%s\n' '{"id": "a", "text": "The cat sat on the mat.", "mined": {"claims": []}, "mined_model": "llama3.2:3b"}' \
    '' '{"text" : "Dogs bark at night.", "meta": {"text": "x"}}' >"${TMP}/in.ndjson"
  run_probe input --input "${TMP}/in.ndjson" --max 2 --no-plot
  t "--input with {\"text\": ...} records: exit 0" test "${RC}" -eq 0
  t "... every record reached the server marked (no request unmarked)" \
    test "$("${CURL[@]}" "${URL}/_double/script" | jq '.replies[0].used')" = 0
  t "... none skipped for the results it carried: 32 records, 32 requests" \
    test "$("${CURL[@]}" "${URL}/_double/stats" | jq .chat_requests)" = 32
  t "... none refused" test "$(row "${TMP}/input.out" 2 | awk '{ print $6 }')" = 0
  printf '%s\n' '{"text": "fine"}' '{"body": "no text here"}' >"${TMP}/bad.ndjson"
  run_probe bad --input "${TMP}/bad.ndjson" --max 1 --no-plot
  t "a record without a text string: exit 2" test "${RC}" -eq 2
  t "... naming its line" has "${TMP}/bad.err" "${TMP}/bad.ndjson:2: {\"body\": \"no text here\"}: no \"text\" string member"
}

slow_rate() {
  start_llmd --lanes 1 --latency-ms 1100
  run_probe slow --max 1 --no-plot
  sed 's/^/# /' "${TMP}/slow.out"
  t "a slow server: exit 0" test "${RC}" -eq 0
  t "... its rate below 1/s keeps two significant digits in the table" \
    grep -qE '^ +1 +16 +0\.[0-9]{2} ' "${TMP}/slow.out"
  t "... in the plateau line" grep -qE '^plateau: 1 requests in flight: 0\.[0-9]{2} records/s' "${TMP}/slow.out"
  t "... and in the log" grep -qE '1 in flight: 16 records, 0\.[0-9]{2}/s' "${TMP}/slow.err"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_LLM_MAX_ATTEMPTS
  plateau
  invalid_answers
  refusals
  input_records
  slow_rate
  stop_llmd
  summary
}

main "$@"
