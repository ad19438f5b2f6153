#!/usr/bin/env bash
# test_probe.sh: pipelines/probe.sh against the LLM test double: the
# plateau of a slow-ish 4-lane server (300 ms) is 4 or above, each level
# measured in 3 parts of whole rounds, the table with its spread column,
# a confidence line, the settings, the PNG plot; a noisy server (jitter 30
# times the latency, parts of one round) is never called sure and shows
# a wide spread; --per-level is gone (exit 2); a
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
  awk -v l="$2" '$1 == l && NF == 9' "$1"
}

plateau_of() {
  sed -n 's/^plateau: \([0-9]*\) requests in flight.*/\1/p' "$1"
}

# whole_parts FILE ROUNDS: every row has 3 parts or more of ROUNDS whole
# rounds or more.
whole_parts() {
  awk -v r="$2" '$1 ~ /^[0-9]+$/ && NF == 9 && ($2 < 3 * r * $1 || $2 % $1) { bad = 1 }
    END { exit bad }' "$1"
}

# wide_spread FILE: some row has a spread over 10%.
wide_spread() {
  awk '$1 ~ /^[0-9]+$/ && NF == 9 && $4 + 0 > 10 { wide = 1 } END { exit !wide }' "$1"
}

# confidence_after_plateau FILE: the line after the plateau's says how
# sure it is, in one of the two forms of probe.sh --help.
confidence_after_plateau() {
  grep -A1 '^plateau: ' "$1" | tail -n 1 |
    grep -qE '^confidence: (sure: spread within levels at most [0-9]+%|unsure: .*rerun with --seconds [0-9]+$)'
}

# A slow-ish server whose latency sets the rate: 4 lanes, 300 ms a
# request, 2 seconds a level. Nothing here depends on the machine's speed:
# a level below 4 cannot pass 3/4 of the rate of 4 lanes, whatever the load.
plateau() {
  start_llmd --lanes 4 --latency-ms 300
  run_probe plateau --seconds 2 --rounds 2 --max 8 --plot "${TMP}/probe.png"
  t "probe.sh exits 0" test "${RC}" -eq 0
  sed 's/^/# /' "${TMP}/plateau.out"
  t "the table has a spread column" \
    grep -qE '^ *in_flight +records +rate/s +spread +p50_ms +p95_ms +refused +invalid +retries$' \
    "${TMP}/plateau.out"
  t "a table row per level: rate, spread, p50/p95, refused, invalid, retries" \
    grep -qE '^ +1 +[0-9]+ +[0-9.]+ +[0-9]+% +[0-9]+ +[0-9]+ +0 +0 +0$' "${TMP}/plateau.out"
  t "rows for 1, 2, 4 and 8 in flight" \
    test -n "$(row "${TMP}/plateau.out" 1)" -a -n "$(row "${TMP}/plateau.out" 2)" \
    -a -n "$(row "${TMP}/plateau.out" 4)" -a -n "$(row "${TMP}/plateau.out" 8)"
  t "each level in 3 parts or more, each of 2 whole rounds or more" whole_parts "${TMP}/plateau.out" 2
  t "... the parts' rates in the log" grep -qE \
    '^probe: 4 in flight: [0-9]+ records in [3-6] parts, [0-9.]+ s: [0-9.]+/s \(parts [0-9.]+, [0-9.]+, [0-9.]+(, [0-9.]+)*: spread [0-9]+%\)' \
    "${TMP}/plateau.err"
  local p
  p="$(plateau_of "${TMP}/plateau.out")"
  t "4 lanes, 300 ms: the plateau is 4 or above (not 1 or 2), at most 8: got '${p}'" \
    test "${p:-0}" -ge 4 -a "${p:-0}" -le 8
  t "a confidence line after the plateau" confidence_after_plateau "${TMP}/plateau.out"
  t "the settings for tunables.yaml" grep -qE "^  workers: ${p}$" "${TMP}/plateau.out"
  t "no refusal, no invalid answer is reported" \
    bash -c "! grep -qE 'refused or failed|against the schema' '${TMP}/plateau.out'"
  t "the warm-up request is named, not counted" grep -qE '^probe: warm-up: 1 request in [0-9.]+ s \(not counted\)$' \
    "${TMP}/plateau.err"
  if command -v gnuplot >/dev/null; then
    t "with gnuplot: a PNG plot" \
      test "$(head -c 4 "${TMP}/probe.png" | od -An -c | tr -d ' ')" = '211PNG'
  else
    PASSED=$((PASSED + 1))
    echo "ok $((PASSED + FAILED)) - probe.sh PNG plot # SKIP gnuplot is not installed"
  fi
}

# Latency 50 ms plus up to 1.5 s of jitter, parts of one round: the parts
# of a level cannot agree within 10% (three draws of a latency spread over
# 30 times its least value), so probe.sh must not say it is sure.
noisy() {
  start_llmd --lanes 4 --latency-ms 50 --jitter-ms 1500
  run_probe noisy --seconds 1 --rounds 1 --max 4 --no-plot
  sed 's/^/# /' "${TMP}/noisy.out"
  t "a noisy server: exit 0 all the same" test "${RC}" -eq 0
  t "... a plateau" test -n "$(plateau_of "${TMP}/noisy.out")"
  t "... unsure, with a longer --seconds to rerun with" \
    grep -qE '^confidence: unsure: .*; rerun with --seconds [0-9]+$' "${TMP}/noisy.out"
  t "... never sure" bash -c "! grep -q '^confidence: sure' '${TMP}/noisy.out'"
  t "... a wide spread in the table (over 10% at some level)" wide_spread "${TMP}/noisy.out"
  run_probe gone --per-level 4
  t "--per-level is gone: exit 2, naming what replaced it" \
    bash -c "[[ ${RC} == 2 ]] && grep -q -- '--per-level is gone: each level lasts --seconds' '${TMP}/gone.err'"
}

invalid_answers() {
  start_llmd --lanes 4 --latency-ms 30 --fault-rate 1 --faults badjson
  run_probe invalid --max 8 --seconds 1 --rounds 2 --no-plot
  sed 's/^/# /' "${TMP}/invalid.out"
  t "every answer against the schema: probe.sh exits 0" test "${RC}" -eq 0
  t "... the climb goes on past 1 in flight (rows for 2, 4 and 8)" \
    test -n "$(row "${TMP}/invalid.out" 2)" -a -n "$(row "${TMP}/invalid.out" 4)" -a -n "$(row "${TMP}/invalid.out" 8)"
  t "... each record counted invalid, none refused" \
    test "$(row "${TMP}/invalid.out" 1 | awk '{ print $7, ($8 == $2 && $2 > 0) }')" = "0 1"
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
  LANES_LLM_MAX_ATTEMPTS=1 run_probe refused --max 16 --seconds 1 --rounds 2 --no-plot
  sed 's/^/# /' "${TMP}/refused.out"
  t "a server that refuses 3 in flight: probe.sh exits 0" test "${RC}" -eq 0
  t "... the climb stops at 4, named with the code" grep -qE \
    'the server refused or failed [0-9]+ records at 4 in flight \(http_503 x[0-9]+\): not going higher' \
    "${TMP}/refused.err"
  t "... no row above 4" test -z "$(row "${TMP}/refused.out" 8)"
  t "... the refused records in their column" test "$(row "${TMP}/refused.out" 4 | awk '{ print ($7 > 0) }')" = 1
  t "... measured in one part there (the refusals end the level): no spread" \
    test "$(row "${TMP}/refused.out" 4 | awk '{ print $4 }')" = -
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
  run_probe input --input "${TMP}/in.ndjson" --max 2 --seconds 1 --rounds 2 --no-plot
  t "--input with {\"text\": ...} records: exit 0" test "${RC}" -eq 0
  t "... every record reached the server marked (no request unmarked)" \
    test "$("${CURL[@]}" "${URL}/_double/script" | jq '.replies[0].used')" = 0
  local sent
  sent="$(awk '$1 ~ /^[0-9]+$/ && NF == 9 { n += $2 } END { print n + 1 }' "${TMP}/input.out")"
  t "... none skipped for the results it carried: a request a record (${sent} with the warm-up)" \
    test "$("${CURL[@]}" "${URL}/_double/stats" | jq .chat_requests)" = "${sent}"
  t "... none refused" test "$(row "${TMP}/input.out" 2 | awk '{ print $7 }')" = 0
  printf '%s\n' '{"text": "fine"}' '{"body": "no text here"}' >"${TMP}/bad.ndjson"
  run_probe bad --input "${TMP}/bad.ndjson" --max 1 --no-plot
  t "a record without a text string: exit 2" test "${RC}" -eq 2
  t "... naming its line" has "${TMP}/bad.err" "${TMP}/bad.ndjson:2: {\"body\": \"no text here\"}: no \"text\" string member"
}

slow_rate() {
  start_llmd --lanes 1 --latency-ms 1100
  run_probe slow --max 1 --seconds 1 --rounds 1 --no-plot
  sed 's/^/# /' "${TMP}/slow.out"
  t "a slow server: exit 0" test "${RC}" -eq 0
  t "... its rate below 1/s keeps two significant digits in the table" \
    grep -qE '^ +1 +[0-9]+ +0\.[0-9]{2} ' "${TMP}/slow.out"
  t "... in the plateau line" grep -qE '^plateau: 1 requests in flight: 0\.[0-9]{2} records/s' "${TMP}/slow.out"
  t "... and in the log, with its parts'" \
    grep -qE '1 in flight: [0-9]+ records in 3 parts, [0-9.]+ s: 0\.[0-9]{2}/s \(parts 0\.[0-9]{2}, 0\.[0-9]{2}, 0\.[0-9]{2}:' \
    "${TMP}/slow.err"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_LLM_MAX_ATTEMPTS
  plateau
  noisy
  invalid_answers
  refusals
  input_records
  slow_rate
  stop_llmd
  summary
}

main "$@"
