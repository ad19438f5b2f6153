#!/usr/bin/env bash
# test_determinism.sh: embed --check N and mine --check N against the LLM
# test double (tests/llmd): a server whose results do not depend on
# batching or concurrency is IDENTICAL (exit 0); one that drifts like
# llama-server with --parallel > 1 and no unified KV cache (the double's
# --batch-noise, --batch-flip) DIFFERs (exit 5) with the advice, and stops
# differing with one lane or with lanes sending one request at a time;
# float noise is told from a difference; the records alone go one text per
# request, the run's in batches; N above the input, no input, records
# without text, a failing server, the offline hash embedder, and the
# temperature warning of mine. Prints "ok N - ..." lines and "N passed, M
# failed"; exit 1 on a failure.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly LLMD="${BUILD}/tests/llmd"
readonly EMBED_MODEL="nomic-embed-text"

# check TOOL ARGS... < input: runs TOOL --check with ARGS, stdout to
# $TMP/out, stderr to $TMP/err, the exit status to $TMP/rc.
check() {
  local tool="$1" rc=0
  shift
  LANES_LOG_TIME=0 LANES_LLM_BACKOFF_MS=2 LANES_LLM_BACKOFF_MAX_MS=20 \
    "${BIN}/${tool}" "$@" >"${TMP}/out" 2>"${TMP}/err" || rc=$?
  echo "${rc}" >"${TMP}/rc"
}

rc_is() {
  [[ "$(cat "${TMP}/rc")" == "$1" ]] || {
    echo "exit $(cat "${TMP}/rc"), not $1"
    cat "${TMP}/err"
    return 1
  }
}

# out_is EXPR: stdout is one line, a JSON object satisfying EXPR.
out_is() {
  cat "${TMP}/out"
  [[ "$(wc -l <"${TMP}/out")" == 1 ]] && jq -e "$1" "${TMP}/out"
}

records() {
  local i
  for ((i = 1; i <= $1; i++)); do
    printf '{"id":"r%d","text":"record number %d, about this and that"}\n' "${i}" "${i}"
  done
}

test_embed() {
  records 20 >"${TMP}/in"
  start_llmd --lanes 4
  check embed --url "${URL}" --model "${EMBED_MODEL}" --batch 8 --check 20 <"${TMP}/in"
  t "embed --check, a server without drift: exit 0" rc_is 0
  t "embed --check: IDENTICAL, 20 of 20 compared" out_is \
    '.check == "embed" and .verdict == "identical" and .records == 20 and .compared == 20
     and .identical == 20 and .differ == 0 and .max_abs_diff == 0 and .min_cosine == 1'
  t "embed --check: the verdict on stderr" has "${TMP}/err" "check: IDENTICAL"
  t "embed --check: alone one text per request (20), the run in batches of 8 (8, 8, 4)" \
    stat_is '.embed_requests == 23 and .batch_sizes == {"1": 20, "8": 2, "4": 1}'

  start_llmd --lanes 4 --batch-noise 0.65
  check embed --url "${URL}" --model "${EMBED_MODEL}" --batch 8 --check 20 <"${TMP}/in"
  t "embed --check, a server whose batches drift: exit 5" rc_is 5
  t "embed --check: DIFFER, min cosine below 1 (about 0.84), every vector" out_is \
    '.verdict == "differ" and .differ == 20 and .min_cosine < 0.95 and .min_cosine > 0.6
     and .max_abs_diff > 0.01 and (.example | startswith("id \"r"))'
  t "embed --check: says what to change on the server" has "${TMP}/err" \
    "start llama-server with --kv-unified (-kvu) or --parallel 1"
  t "embed --check: ... and in lanes" has "${TMP}/err" "embed.batch 1 and llm.concurrency 1"
  t "embed --check: the figures on stderr" has "${TMP}/err" "20 of 20 differ"

  check embed --url "${URL}/v1" --model text-embedding-3-small --batch 8 --check 20 <"${TMP}/in"
  t "embed --check on the OpenAI wire format: DIFFER, exit 5" \
    bash -c '[[ "$(cat "$1")" == 5 ]] && jq -e ".verdict == \"differ\"" "$2"' _ "${TMP}/rc" "${TMP}/out"

  LANES_LLM_CONCURRENCY=1 check embed --url "${URL}" --model "${EMBED_MODEL}" --batch 1 \
    --check 20 <"${TMP}/in"
  t "embed --check with the advice taken in lanes (batch 1, concurrency 1): IDENTICAL" \
    bash -c '[[ "$(cat "$1")" == 0 ]] && jq -e ".verdict == \"identical\"" "$2"' _ "${TMP}/rc" "${TMP}/out"

  start_llmd --lanes 1 --batch-noise 0.65
  check embed --url "${URL}" --model "${EMBED_MODEL}" --batch 8 --check 20 <"${TMP}/in"
  t "embed --check, the same server with one slot (--parallel 1): IDENTICAL" \
    bash -c '[[ "$(cat "$1")" == 0 ]] && jq -e ".verdict == \"identical\"" "$2"' _ "${TMP}/rc" "${TMP}/out"

  start_llmd --lanes 4 --batch-noise 1e-6
  check embed --url "${URL}" --model "${EMBED_MODEL}" --batch 8 --check 20 <"${TMP}/in"
  t "embed --check, float noise: exit 0" rc_is 0
  t "embed --check: SAME WITHIN FLOAT NOISE, the difference shown" out_is \
    '.verdict == "float_noise" and .differ == 0 and .within_noise > 0
     and .max_abs_diff > 0 and .max_abs_diff < 1e-5'
  t "embed --check: float noise on stderr" has "${TMP}/err" "SAME WITHIN FLOAT NOISE"

  start_llmd --lanes 4
  check embed --url "${URL}" --model "${EMBED_MODEL}" --check 50 <"${TMP}/in"
  t "embed --check 50 of 20 records: checks the 20" out_is '.records == 20 and .compared == 20'
  records 30 | check embed --url "${URL}" --model "${EMBED_MODEL}" --check 5
  t "embed --check 5 of 30 records: reads 5" out_is '.records == 5'
  check embed --url "${URL}" --model "${EMBED_MODEL}" --check 5 </dev/null
  t "embed --check without input: exit 2" rc_is 2
  t "embed --check without input: says so" has "${TMP}/err" "no records on stdin to check"
  check embed --url "${URL}" --model "${EMBED_MODEL}" --check 0 </dev/null
  t "embed --check 0: usage error" rc_is 2
  { echo '{"id":"none"}'; records 4; } | check embed --url "${URL}" --model "${EMBED_MODEL}" --check 5
  t "embed --check, a record without text fails both ways: not the server's, exit 0" rc_is 0
  t "embed --check: that record is not compared, and named" \
    bash -c 'jq -e ".records == 5 and .compared == 4 and .failed == 0" "$1" &&
             grep -qF "1 record not compared (id \"none\": alone no_text, in the run no_text)" "$2"' \
    _ "${TMP}/out" "${TMP}/err"
  config '{"fail_all":500}'
  LANES_LLM_MAX_ATTEMPTS=1 check embed --url "${URL}" --model "${EMBED_MODEL}" --check 4 <"${TMP}/in"
  t "embed --check, a server failing every request: nothing compared, exit 1" \
    bash -c '[[ "$(cat "$1")" == 1 ]] && jq -e ".verdict == \"none\" and .failed == 4" "$2"' \
    _ "${TMP}/rc" "${TMP}/out"
  config '{"fail_all":null}'

  check embed --model hash --check 20 <"${TMP}/in"
  t "embed --model hash --check: the offline embedder is IDENTICAL, exit 0" \
    bash -c '[[ "$(cat "$1")" == 0 ]] && jq -e ".verdict == \"identical\" and .compared == 20" "$2"' \
    _ "${TMP}/rc" "${TMP}/out"
  t "embed --model hash --check: says no server was asked" has "${TMP}/err" "(offline, no server)"
}

test_mine() {
  records 8 >"${TMP}/in"
  # 300 ms a request: the run's 8 requests in flight overlap
  start_llmd --lanes 4 --latency-ms 300
  check mine --url "${URL}" --check 8 <"${TMP}/in"
  t "mine --check, a server without drift: exit 0, IDENTICAL" \
    bash -c '[[ "$(cat "$1")" == 0 ]] && jq -e ".check == \"mine\" and .verdict == \"identical\"
             and .compared == 8 and .identical == 8" "$2"' _ "${TMP}/rc" "${TMP}/out"
  t "mine --check: 8 requests alone, 8 in the run" stat_is '.chat_requests == 16'

  start_llmd --lanes 4 --latency-ms 300 --batch-flip 1
  check mine --url "${URL}" --check 8 <"${TMP}/in"
  t "mine --check, a server whose answers change beside others: exit 5" rc_is 5
  t "mine --check: DIFFER, with the first differing record" out_is \
    '.verdict == "differ" and .differ >= 1 and .differ + .identical == 8
     and (.example | startswith("id \"r"))'
  t "mine --check: shows the two answers" has "${TMP}/err" "check: first that differs, id"
  t "mine --check: says what to change" has "${TMP}/err" "--kv-unified (-kvu) or --parallel 1"
  LANES_LLM_CONCURRENCY=1 check mine --url "${URL}" --check 8 <"${TMP}/in"
  t "mine --check with one request at a time: IDENTICAL" \
    bash -c '[[ "$(cat "$1")" == 0 ]] && jq -e ".verdict == \"identical\"" "$2"' _ "${TMP}/rc" "${TMP}/out"

  start_llmd --lanes 4
  LANES_LLM_TEMPERATURE=0.7 check mine --url "${URL}" --check 2 <"${TMP}/in"
  t "mine --check at temperature 0.7: warns that answers vary by design" has "${TMP}/err" \
    "llm.temperature is 0.7 and llm.seed 42: answers vary by design"
}

main() {
  need_llmd
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY
  test_embed
  test_mine
  stop_llmd || true
  summary
}

main "$@"
