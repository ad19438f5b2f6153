#!/usr/bin/env bash
# test_llm_hostile.sh: the LLM client against hostile or slow servers
# (issue 8), each played by the test double (tests/llmd) with a flag or a
# table of scripted replies: bounded in time, memory and requests. A
# fallback that could loop, waits a server asks for, huge and gzip-bomb
# bodies, streams that go silent, permanent and transient errors,
# llama-server's embedding and context limits, truncated answers, the
# feedback turn and plain retries, the wire format chosen for a URL, model
# aliases, secrets, and stop requests during waits and transfers. Checks
# wait for states, never for times; `timeout` only bounds a run that would
# otherwise hang (the failure being tested).
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
BUILD="${LANES_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
export LANES_LOG_TIME=0

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds (at
# most 30 s); exits the test when it never does.
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

records() {
  local n="$1" i
  for ((i = 1; i <= n; i++)); do
    printf '{"id":"r%d","text":"record %d"}\n' "${i}" "${i}"
  done
}

# mine_run NAME [FLAGS...]: mine on $TMP/in with the small template and
# schema against $URL (Ollama) under a 60 s bound; sets RC. Extra
# environment from the caller.
mine_run() {
  local name="$1"
  shift
  RC=0
  LANES_LLM_BASE_URL="${LANES_LLM_BASE_URL:-${URL}}" timeout -k 5 60 "${BIN}/mine" \
    --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" --progress never "$@" \
    <"${TMP}/in" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || RC=$?
}

# codes FILE: the errors.mine codes and attempts, one [code, attempts] per record
codes() {
  jq -c '[.errors.mine.code, .errors.mine.attempts]' "$1" | sort | uniq -c | awk '{$1=$1; print}'
}

scripted() {
  stats | jq -r --arg n "$1" '.scripted[$n] // 0'
}

# scripted_at_least NAME N: the scripted reply NAME was sent N times or more.
scripted_at_least() {
  (($(scripted "$1") >= $2))
}

in_flight_at_least() {
  (($(stats | jq -r '.in_flight') >= $1))
}

# The json_schema fallback happens once per run and never loops: a server
# that refuses response_format whatever it is fails the records, fast.
fallback() {
  cat >"${TMP}/rf.replies" <<'TABLE'
=== refuses response_format
--- when POST /v1/chat/completions
--- status 400
--- body
{"error":{"message":"Unknown parameter: 'response_format'.","type":"invalid_request_error","param":"response_format","code":null}}
TABLE
  start_llmd --script "${TMP}/rf.replies"
  records 3 >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}/v1" LANES_LLM_CONCURRENCY=1 mine_run rf -m gpt-4o-mini
  t "response_format refused for good: the run ends (no loop), exit 1" test "${RC}" -eq 1
  t "response_format refused for good: 4 requests in all (json_schema once, then json_object)" \
    test "$(scripted 'refuses response_format')" -eq 4
  t "response_format refused for good: every record fails with the server's 400" \
    test "$(jq -r '.errors.mine.code' "${TMP}/rf.out" | sort -u)" = http_400
  cat >"${TMP}/rf2.replies" <<'TABLE'
=== no json_schema
--- when POST /v1/chat/completions
--- if-body "json_schema"
--- status 400
--- body
{"error":{"message":"response_format json_schema is not supported","type":"invalid_request_error"}}
TABLE
  start_llmd --script "${TMP}/rf2.replies"
  records 6 >"${TMP}/in"
  # the double's json_object answers hold "echo" (it knows no schema then)
  LANES_LLM_BASE_URL="${URL}/v1" mine_run rf2 -m gpt-4o-mini --schema "${TMP}/echo.json"
  t "json_schema refused: json_object instead, the schema in a system message, every record mined" \
    test "${RC}" -eq 0 -a "$(grep -c '"mined"' "${TMP}/rf2.out")" -eq 6
  t "json_schema refused: said once" test "$(grep -c 'json_object' "${TMP}/rf2.err")" -eq 1
}

# Waits a server asks for are capped and said: an x-ratelimit-reset of
# 99999999h neither crashes nor freezes the tool.
server_waits() {
  local reset
  for reset in 99999999h 1h; do
    cat >"${TMP}/reset.replies" <<TABLE
=== rate limited
--- when POST /api/chat
--- times 1
--- status 429
--- header x-ratelimit-remaining-requests: 0
--- header x-ratelimit-reset-requests: ${reset}
--- header retry-after: 999999
--- body
{"error":"rate limit exceeded"}
TABLE
    start_llmd --script "${TMP}/reset.replies"
    records 2 >"${TMP}/in"
    LANES_LLM_BACKOFF_MAX_MS=300 mine_run reset
    t "x-ratelimit-reset ${reset}: capped, the run goes on (exit 0, both mined)" \
      test "${RC}" -eq 0 -a "$(grep -c '"mined"' "${TMP}/reset.out")" -eq 2
    t "x-ratelimit-reset ${reset}: the cap is said" \
      grep -q 'asks to wait .* waiting 0.3 s (llm.backoff_max_ms)' "${TMP}/reset.err"
  done
}

# A stop request ends a wait the server asked for: the record passes on
# unchanged (it stays pending) and the tool exits 143 within its grace.
stop_during_wait() {
  cat >"${TMP}/wait.replies" <<'TABLE'
=== rate limited for an hour
--- when POST /api/chat
--- status 429
--- header retry-after: 3600
--- body
{"error":"rate limit exceeded"}
TABLE
  start_llmd --script "${TMP}/wait.replies"
  printf '{"id":"w","text":"waits"}\n' >"${TMP}/in"
  local rc=0
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MAX_MS=3600000 LANES_MINE_STOP_GRACE_MS=100 \
    timeout -k 5 60 "${BIN}/mine" --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" --progress never \
    <"${TMP}/in" >"${TMP}/wait.out" 2>"${TMP}/wait.err" &
  local pid=$!
  PIDS+=("${pid}")
  wait_for "the first 429" scripted_at_least 'rate limited for an hour' 1
  kill -TERM "${pid}"
  wait "${pid}" || rc=$?
  t "SIGTERM during an hour's Retry-After: exit 143, not a timeout" test "${rc}" -eq 143
  t "SIGTERM during the wait: the record passes on unchanged (stays pending)" \
    cmp "${TMP}/in" "${TMP}/wait.out"
}

# A stop request aborts a transfer after the grace period: a request the
# server takes an hour to answer is abandoned, the record passes on.
stop_during_transfer() {
  start_llmd --lanes 2 --latency-ms 3600000
  printf '{"id":"a","text":"slow one"}\n{"id":"b","text":"slow two"}\n' >"${TMP}/in"
  local rc=0
  LANES_LLM_BASE_URL="${URL}" LANES_MINE_STOP_GRACE_MS=200 timeout -k 5 60 "${BIN}/mine" \
    --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" --progress never \
    <"${TMP}/in" >"${TMP}/xfer.out" 2>"${TMP}/xfer.err" &
  local pid=$!
  PIDS+=("${pid}")
  wait_for "2 requests in flight" in_flight_at_least 2
  kill -TERM "${pid}"
  wait "${pid}" || rc=$?
  t "SIGTERM with 2 requests in flight for an hour: abandoned after the grace, exit 143" \
    test "${rc}" -eq 143
  t "abandoned requests: both records pass on unchanged, in order" \
    cmp "${TMP}/in" "${TMP}/xfer.out"
}

# Decoded answers are capped: a 3 MB answer or a gzip bomb fails the
# request at once, without the memory.
body_cap() {
  cat >"${TMP}/big.replies" <<'TABLE'
=== big answer
--- when POST /api/chat
--- if-body "big"
--- repeat 300000
--- body
0123456789

=== gzip bomb
--- when POST /api/chat
--- if-body "bomb"
--- gzip
--- repeat 400000000
--- body
0
TABLE
  start_llmd --script "${TMP}/big.replies"
  printf '{"id":"1","text":"big"}\n{"id":"2","text":"bomb"}\n{"id":"3","text":"fine"}\n' >"${TMP}/in"
  RC=0
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_MAX_BODY_BYTES=1000000 timeout -k 5 60 \
    /usr/bin/time -f '%M' -o "${TMP}/big.rss" "${BIN}/mine" --prompt "${TMP}/t.txt" \
    --schema "${TMP}/s.json" --progress never --max-failure-ratio 1 \
    <"${TMP}/in" >"${TMP}/big.out" 2>"${TMP}/big.err" || RC=$?
  t "body cap: exit 0 (failures allowed), the third record mined" \
    test "${RC}" -eq 0 -a "$(jq -r 'select(.id == "3") | has("mined")' "${TMP}/big.out")" = true
  t "body cap: a 3 MB answer and a 400 MB gzip bomb fail at once with body_too_large" \
    test "$(jq -c 'select(.id != "3") | [.errors.mine.code, .errors.mine.attempts]' "${TMP}/big.out" | sort -u)" \
    = '["body_too_large",1]'
  t "body cap: the message names the tunable" grep -q 'llm.max_body_bytes' "${TMP}/big.out"
  t "body cap: the bomb never took the memory (peak RSS $(cat "${TMP}/big.rss") KB < 100 MB)" \
    test "$(tail -n 1 "${TMP}/big.rss")" -lt 100000
}

# Streamed answers: a server that goes silent is given up after the idle
# timeout, one that keeps talking is waited for, however long it takes.
streaming() {
  cat >"${TMP}/stream.replies" <<'TABLE'
=== silent
--- when POST /api/chat
--- if-body "silent"
--- stream 0
--- then silent
--- body
{"model":"llama3.2:3b","message":{"role":"assistant","content":"{\"n\""},"done":false}

=== slow but alive
--- when POST /api/chat
--- if-body "slow"
--- stream 100
--- body
{"model":"llama3.2:3b","message":{"role":"assistant","content":"{"},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":"\"n\""},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":": "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":"1"},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":" "},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":"}"},"done":false}
{"model":"llama3.2:3b","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":13}
TABLE
  start_llmd --script "${TMP}/stream.replies"
  printf '{"id":"1","text":"silent"}\n' >"${TMP}/in"
  LANES_LLM_IDLE_TIMEOUT_MS=1000 LANES_LLM_MAX_ATTEMPTS=2 LANES_LLM_BACKOFF_MS=1 \
    LANES_MINE_STATS_INTERVAL=1 mine_run silent
  t "a stream gone silent: given up after the idle timeout, twice (not a hang)" \
    test "$(codes "${TMP}/silent.out")" = '1 ["timeout",2]'
  t "a stream gone silent: the message says so" grep -q 'no byte from the server for 1.0 s (llm.idle_timeout_ms)' "${TMP}/silent.out"
  printf '{"id":"2","text":"slow"}\n' >"${TMP}/in"
  LANES_LLM_IDLE_TIMEOUT_MS=1000 LANES_LLM_TIMEOUT_MS=600000 mine_run slow
  t "a slow stream that keeps talking (1.3 s, 0.1 s silences) is waited for" \
    test "${RC}" -eq 0 -a "$(jq -c '.mined' "${TMP}/slow.out")" = '{"n":1}'
}

# The progress line shows the requests in flight and the oldest one's age.
progress_age() {
  start_llmd --latency-ms 3600000
  printf '{"id":"p","text":"long"}\n' >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}" LANES_MINE_STATS_INTERVAL=1 LANES_MINE_STOP_GRACE_MS=0 \
    timeout -k 5 60 "${BIN}/mine" --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" \
    <"${TMP}/in" >"${TMP}/age.out" 2>"${TMP}/age.err" &
  local pid=$!
  PIDS+=("${pid}")
  wait_for "a stats line with an age of 1 s or more" \
    grep -Eq 'requests in flight 1/[0-9]+ \(oldest [1-9][0-9]*s\)' "${TMP}/age.err"
  t "progress: requests in flight and the oldest one's age" \
    grep -Eq 'in flight 1/[0-9]+ \(oldest [1-9][0-9]*s\)' "${TMP}/age.err"
  kill -TERM "${pid}"
  wait "${pid}" || true
}

# Permanent errors fail at once; transient ones are retried.
permanent() {
  start_llmd --api openai --no-embeddings --models e-embed
  records 2 >"${TMP}/in"
  local rc=0
  OPENAI_BASE_URL="${URL}/v1" timeout -k 5 60 "${BIN}/embed" --model e-embed --progress never \
    <"${TMP}/in" >"${TMP}/501.out" 2>"${TMP}/501.err" || rc=$?
  t "llama-server without --embeddings (501): not retried, one attempt per batch" \
    test "$(jq -c '[.errors.embed.code, .errors.embed.attempts]' "${TMP}/501.out" | sort -u)" \
    = '["http_501",1]'
  t "501: the message says what to do" grep -q 'embeddings' "${TMP}/501.out"
  cat >"${TMP}/shape.replies" <<'TABLE'
=== wrong shape
--- when POST /api/chat
--- body
{"model":"llama3.2:3b","created_at":"2024-01-01T00:00:00Z","done":true}

=== request timeout once
--- when POST /api/embed
--- times 1
--- status 408
--- body
{"error":"request timeout"}

=== conflict once
--- when POST /api/embed
--- times 1
--- status 409
--- body
{"error":"conflict"}
TABLE
  start_llmd --script "${TMP}/shape.replies"
  records 1 >"${TMP}/in"
  LANES_LLM_MAX_ATTEMPTS=5 LANES_LLM_BACKOFF_MS=1 mine_run shape
  t "a well-formed answer of the wrong shape: not retried (bad_answer, 1 attempt)" \
    test "$(codes "${TMP}/shape.out")" = '1 ["bad_answer",1]'
  rc=0
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MS=1 timeout -k 5 60 "${BIN}/embed" --progress never \
    <"${TMP}/in" >"${TMP}/408.out" 2>"${TMP}/408.err" || rc=$?
  t "408 and 409 are transient: retried, the record embedded" \
    test "${rc}" -eq 0 -a "$(jq -r 'has("embedding")' "${TMP}/408.out")" = true
  start_llmd --api openai --ctx 40 --models gpt-4o-mini
  printf '{"id":"x","text":"%s"}\n' "$(printf 'word %.0s' {1..60})" >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}/v1" LANES_LLM_MAX_ATTEMPTS=5 mine_run ctx -m gpt-4o-mini
  t "400 context overflow: not retried, its own code" \
    test "$(codes "${TMP}/ctx.out")" = '1 ["context_overflow",1]'
  t "context overflow: the message says what to change" grep -q 'context' "${TMP}/ctx.out"
}

# llama-server's /v1/embeddings answers 500 "input is too large" for a
# batch holding one text over its slot: the batch is split, only that
# text fails.
too_large() {
  start_llmd --api openai --ctx 20 --models e-embed
  {
    printf '{"id":"1","text":"short one"}\n{"id":"2","text":"short two"}\n'
    printf '{"id":"3","text":"%s"}\n' "$(printf 'long %.0s' {1..40})"
    printf '{"id":"4","text":"short four"}\n'
  } >"${TMP}/in"
  local rc=0
  OPENAI_BASE_URL="${URL}/v1" LANES_LLM_MAX_ATTEMPTS=6 timeout -k 5 60 "${BIN}/embed" --model e-embed \
    --batch 4 --workers 1 --max-failure-ratio 0.5 --progress never \
    <"${TMP}/in" >"${TMP}/big.out" 2>"${TMP}/big.err" || rc=$?
  t "500 input is too large: the other texts of the batch are embedded" \
    test "${rc}" -eq 0 -a "$(jq -c 'select(has("embedding")) | .id' "${TMP}/big.out" | tr -d '\n')" = '"1""2""4"'
  t "500 input is too large: only the long text fails, with its own code, no retries" \
    test "$(jq -c 'select(.errors) | [.id, .errors.embed.code, .errors.embed.attempts]' "${TMP}/big.out")" \
    = '["3","input_too_large",1]'
  t "input too large: 5 requests (4, 2, 2, 1, 1 texts)" stat_is '.embed_requests == 5'
}

# An answer cut by max_tokens (done_reason / finish_reason "length") has
# its own code, not invalid_answer.
truncated() {
  start_llmd
  printf '%s\n' '{"id":"t","text":"[[answer:{\"n\": 12345678901234567890}]]"}' >"${TMP}/in"
  mine_run cut --max-tokens 2 --answer-attempts 3
  t "an answer cut at max_tokens: truncated_answer" \
    test "$(jq -r '.errors.mine.code' "${TMP}/cut.out")" = truncated_answer
  t "truncated_answer: the message says to raise max_tokens" grep -q 'max_tokens' "${TMP}/cut.out"
}

# After an invalid answer: the feedback turn, and when it would overflow
# the context, a plain retry; a plain retry changes the seed (the same
# request mostly gets the same answer back).
retries() {
  cat >"${TMP}/seed.replies" <<'TABLE'
=== invalid with seed 42
--- when POST /api/chat
--- if-body "seed":42
--- body
{"model":"llama3.2:3b","message":{"role":"assistant","content":"not json"},"done":true,"done_reason":"stop"}
TABLE
  start_llmd --script "${TMP}/seed.replies"
  records 1 >"${TMP}/in"
  LANES_LLM_SEED=42 mine_run seed --answer-attempts 3
  t "a plain retry changes the seed: the third answer (seed 43) is valid" \
    test "${RC}" -eq 0 -a "$(grep -c '"mined"' "${TMP}/seed.out")" -eq 1
  t "plain retry: two answers were refused with seed 42 (the first, the feedback turn)" \
    test "$(scripted 'invalid with seed 42')" -eq 2
  cat >"${TMP}/ctx.replies" <<'TABLE'
=== invalid first answer
--- when POST /v1/chat/completions
--- if-body "seed":42
--- unless-body "role":"assistant"
--- body
{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"nope, not json at all"},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":6,"total_tokens":36}}
TABLE
  start_llmd --api openai --ctx 60 --models gpt-4o-mini --script "${TMP}/ctx.replies"
  printf '{"id":"f","text":"%s"}\n' "$(printf 'word %.0s' {1..40})" >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}/v1" LANES_LLM_SEED=42 mine_run fb -m gpt-4o-mini --answer-attempts 3
  t "a feedback turn over the context falls back to a plain retry: mined" \
    test "${RC}" -eq 0 -a "$(grep -c '"mined"' "${TMP}/fb.out")" -eq 1
  t "feedback over the context: the server refused it once (400)" \
    stat_is '.by_status["400"] == 1'
}

# OPENAI_BASE_URL without /v1: the start says which wire format and why,
# and a 404 says what to do.
wire_choice() {
  start_llmd --api openai --models gpt-4o-mini
  records 1 >"${TMP}/in"
  local rc=0
  OPENAI_BASE_URL="${URL}" timeout -k 5 60 "${BIN}/mine" -m gpt-4o-mini --prompt "${TMP}/t.txt" \
    --schema "${TMP}/s.json" <"${TMP}/in" >"${TMP}/nov1.out" 2>"${TMP}/nov1.err" || rc=$?
  t "OPENAI_BASE_URL without /v1 on an OpenAI-only server: exit 3" test "${rc}" -eq 3
  t "... the message says the Ollama API was tried and why" \
    grep -q 'Ollama API (llm.backend auto: the URL does not end in /v1)' "${TMP}/nov1.err"
  t "... and what to do on the 404" grep -q 'end the URL in /v1' "${TMP}/nov1.err"
  start_llmd
  LANES_LLM_BASE_URL="${URL}" mine_run wire
  t "the start line names the wire format and why" \
    grep -q 'backend=ollama (auto: the URL does not end in /v1)' "${TMP}/wire.err"
}

# llama-server lists its model under an alias and names all of them.
aliases() {
  start_llmd --api openai --models llama-3.2-3b-instruct-q4_k_m --aliases local,chat
  records 1 >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}/v1" mine_run alias -m chat
  t "a model named by one of llama-server's aliases is found" test "${RC}" -eq 0
}

# Secrets: a key with a line break is refused, a password in the URL and a
# bad api_key line are never shown.
secrets() {
  start_llmd --api-key sk-right
  records 1 >"${TMP}/in"
  local rc=0
  OPENAI_BASE_URL="${URL}/v1" OPENAI_API_KEY=$'sk-right\r\nX-Injected: SECRET' timeout -k 5 60 \
    "${BIN}/mine" -m gpt-4o-mini --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" \
    <"${TMP}/in" >"${TMP}/crlf.out" 2>"${TMP}/crlf.err" || rc=$?
  t "an API key with CR/LF: refused before any request (exit 2)" test "${rc}" -eq 2
  t "... says why" grep -q 'line break' "${TMP}/crlf.err"
  t "... never echoes it" bash -c '! grep -q SECRET "$1"' _ "${TMP}/crlf.err"
  t "... and no request was sent" stat_is '.http_requests == 0'
  local url="${URL/http:\/\//http://user:PaSsWoRd@}"
  LANES_LLM_BASE_URL="${url}" mine_run pw
  t "a password in the base URL: the run works" test "${RC}" -eq 0
  t "... and it is never logged" bash -c '! grep -q PaSsWoRd "$1"' _ "${TMP}/pw.err"
  rc=0
  LANES_LLM_BASE_URL="http://user:PaSsWoRd@127.0.0.1:9" timeout -k 5 60 "${BIN}/mine" \
    --prompt "${TMP}/t.txt" --schema "${TMP}/s.json" <"${TMP}/in" >/dev/null 2>"${TMP}/pw2.err" || rc=$?
  t "a password in an unreachable URL: not in the error either" \
    bash -c '[[ $1 -eq 3 ]] && ! grep -q PaSsWoRd "$2"' _ "${rc}" "${TMP}/pw2.err"
  "${BIN}/mine" --print-config 2>&1 | grep base_url >"${TMP}/pw.conf" || true
  LANES_LLM_BASE_URL="${url}" "${BIN}/mine" --print-config >"${TMP}/pw.conf" 2>&1 || true
  t "a password in the base URL: --print-config hides it" \
    bash -c '! grep -q PaSsWoRd "$1" && grep -q "user:<redacted>@" "$1"' _ "${TMP}/pw.conf"
  printf 'llm:\n  api_key sk-SECRET-key: 1\n' >"${TMP}/bad.yaml"
  rc=0
  "${BIN}/mine" --tunables "${TMP}/bad.yaml" --print-config >/dev/null 2>"${TMP}/badkey.err" || rc=$?
  t "a bad api_key line: a usage error (exit 2)" test "${rc}" -eq 2
  t "... that does not echo the key" bash -c '! grep -q SECRET "$1"' _ "${TMP}/badkey.err"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_TUNABLES LANES_LLM_BASE_URL
  printf '{{text}}' >"${TMP}/t.txt"
  printf '{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}' >"${TMP}/s.json"
  printf '{"type":"object","properties":{"echo":{"type":"string"}},"required":["echo"]}' >"${TMP}/echo.json"
  fallback
  server_waits
  stop_during_wait
  stop_during_transfer
  body_cap
  streaming
  progress_age
  permanent
  too_large
  truncated
  retries
  wire_choice
  aliases
  secrets
  summary
}

main "$@"
