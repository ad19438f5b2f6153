#!/usr/bin/env bash
# test_llmd.sh: checks llmd, the LLM test double, with curl and jq: both
# wire formats (Ollama, OpenAI), streaming, embeddings (batch order, index
# mapping, base64), deterministic answers, errors, lanes, faults, counters,
# and a clean stop on SIGTERM. Prints "ok N - ..." lines and "N passed,
# M failed"; exits 1 if any check failed.
# jq and awk programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BUILD="${LANES_BUILD:-./build}"
readonly LLMD="${BUILD}/tests/llmd"
readonly VERDICT_LINE='ANSWER WITH ONE WORD: YES, NO or UNCERTAIN'

# FNV-1a 64 of $1 as 16 hex digits (bash arithmetic wraps like uint64).
fnv64() {
  local h=$((0xcbf29ce484222325)) b
  for b in $(printf '%s' "$1" | od -An -tu1 -v); do
    h=$(((h ^ b) * 0x100000001b3))
  done
  printf '%016x\n' "${h}"
}

# The plain-text answer to prompt $1 (ASCII prompts of up to 24 bytes).
expected_text() {
  echo "echo: ${1:0:24} #$(fnv64 "$1")"
}

# YES, NO or UNCERTAIN by the hash of $1 modulo 3 (2^32 = 1 mod 3).
expected_verdict() {
  local hex
  hex="$(fnv64 "$1")"
  local -a words=(YES NO UNCERTAIN)
  echo "${words[$(((0x${hex:0:8} + 0x${hex:8:8}) % 3))]}"
}

post() {
  local path="$1" body="$2"
  shift 2
  "${CURL[@]}" "$@" -H 'Content-Type: application/json' -d "${body}" "${URL}${path}"
}

# Prints the HTTP status of a POST and stores the body in $TMP/body.
status_of() {
  local path="$1" body="$2"
  shift 2
  post "${path}" "${body}" -o "${TMP}/body" -w '%{http_code}' "$@" || true
}

same_file() {
  [[ "$(cat "$1")" == "$(cat "$2")" ]]
}

# jq_file FILE EXPR [jq options...]: EXPR holds for FILE.
jq_file() {
  jq -e "${@:3}" "$2" "$1"
}

test_basics() {
  t "GET / says Ollama is running" \
    test "$("${CURL[@]}" "${URL}/")" = "Ollama is running"
  "${CURL[@]}" "${URL}/api/version" >"${TMP}/version"
  t "GET /api/version has a version" jq_file "${TMP}/version" '.version == "0.6.0"'
  "${CURL[@]}" "${URL}/api/tags" >"${TMP}/tags"
  t "/api/tags lists models with 64-hex digests" jq_file "${TMP}/tags" \
    '(.models | map(.name) | index("llama3.2:3b") != null)
     and all(.models[]; (.digest | test("^[0-9a-f]{64}$")) and .details.format == "gguf")
     and (.models | map(.name) | index("nomic-embed-text:latest") != null)'
  "${CURL[@]}" "${URL}/v1/models" >"${TMP}/models"
  t "/v1/models is an OpenAI list" jq_file "${TMP}/models" \
    '.object == "list" and (.data | map(.id) | index("gpt-4o-mini") != null)
     and all(.data[]; .object == "model" and (.created | type) == "number")'
}

test_ollama_chat() {
  local p="hello world" want
  want="$(expected_text "${p}")"
  post /api/chat "{\"model\":\"llama3.2:3b\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"${p}\"}]}" \
    -D "${TMP}/h" >"${TMP}/stream"
  t "Ollama chat streams by default (chunked NDJSON)" \
    grep -qi '^content-type: application/x-ndjson' "${TMP}/h"
  t "Ollama chat stream is chunked" grep -qi '^transfer-encoding: chunked' "${TMP}/h"
  t "Ollama stream: pieces join to the answer, last done with counts" \
    jq -se --arg want "${want}" \
    'length > 2 and (map(.message.content) | join("")) == $want
     and (.[-1] | .done and .done_reason == "stop" and .eval_count > 0
          and .prompt_eval_count == 5 and .total_duration > 0)
     and all(.[:-1][]; .done == false)' "${TMP}/stream"
  post /api/chat "{\"model\":\"llama3.2:3b\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" >"${TMP}/one"
  t "Ollama chat stream:false is one object with the answer" jq_file "${TMP}/one" \
    '.message.role == "assistant" and .message.content == $want
     and .done == true and .done_reason == "stop"
     and .eval_count == ((($want | length) + 3) / 4 | floor)
     and (.created_at | test("^[0-9]{4}-"))' --arg want "${want}"
  post /api/generate "{\"model\":\"llama3.2:3b\",\"stream\":false,\"prompt\":\"${p}\"}" >"${TMP}/gen"
  t "Ollama generate answers in .response" jq_file "${TMP}/gen" \
    ".response == \"${want}\" and .done"
  post /api/chat "{\"model\":\"llama3.2:3b\",\"stream\":false,\"format\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" >"${TMP}/json"
  t "Ollama format json: content is a JSON object with the hash" jq_file "${TMP}/json" \
    ".message.content | fromjson | .echo == \"${p}\" and .hash == \"$(fnv64 "${p}")\""
}

test_openai_chat() {
  local p="hello openai" want
  want="$(expected_text "${p}")"
  post /v1/chat/completions "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" >"${TMP}/oc"
  t "OpenAI chat completion shape and answer" jq_file "${TMP}/oc" \
    ".object == \"chat.completion\" and .choices[0].index == 0
     and .choices[0].message.role == \"assistant\"
     and .choices[0].message.content == \"${want}\"
     and .choices[0].finish_reason == \"stop\"
     and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens"
  post /v1/chat/completions "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" \
    -D "${TMP}/h" >"${TMP}/sse"
  t "OpenAI stream is text/event-stream" grep -qi '^content-type: text/event-stream' "${TMP}/h"
  t "OpenAI stream ends with data: [DONE]" \
    test "$(grep '^data: ' "${TMP}/sse" | tail -n 1)" = "data: [DONE]"
  sed -n 's/^data: //p' "${TMP}/sse" | grep -v '^\[DONE\]$' >"${TMP}/chunks"
  t "OpenAI stream deltas join to the answer" jq -se --arg want "${want}" \
    'length > 2 and (map(.choices[0].delta.content // "") | join("")) == $want
     and .[-1].choices[0].finish_reason == "stop"
     and all(.[]; .object == "chat.completion.chunk")' "${TMP}/chunks"
}

test_answers() {
  local schema p="schema please"
  schema='{"type":"object","properties":{"claims":{"type":"array","items":{"type":"object","properties":{"text":{"type":"string","maxLength":12},"score":{"type":"number","minimum":0,"maximum":1},"n":{"type":"integer","minimum":3,"maximum":5},"label":{"enum":["a","b","c"]},"ok":{"type":"boolean"}},"required":["text","score","n","label","ok"]}}},"required":["claims"]}'
  local valid='.claims | length == 1 and (.[0] | (.text | type == "string" and length <= 12)
    and .score >= 0 and .score <= 1 and (.n | . >= 3 and . <= 5 and floor == .)
    and (.label | IN("a","b","c")) and (.ok | type == "boolean"))'
  post /api/chat "{\"model\":\"llama3.2:3b\",\"stream\":false,\"format\":${schema},\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" >"${TMP}/s1"
  t "Ollama format schema: content validates" jq_file "${TMP}/s1" \
    ".message.content | fromjson | ${valid}"
  post /v1/chat/completions "{\"model\":\"gpt-4o-mini\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"claims\",\"strict\":true,\"schema\":${schema}}},\"messages\":[{\"role\":\"user\",\"content\":\"${p}\"}]}" >"${TMP}/s2"
  t "OpenAI json_schema: content validates" jq_file "${TMP}/s2" \
    ".choices[0].message.content | fromjson | ${valid}"
  t "same prompt, same structured answer on both wire formats" test \
    "$(jq -r .message.content "${TMP}/s1")" = "$(jq -r '.choices[0].message.content' "${TMP}/s2")"
  local v="Is the sky green?
${VERDICT_LINE}"
  post /api/chat "$(jq -nc --arg c "${v}" '{model:"llama3.2:3b",stream:false,messages:[{role:"user",content:$c}]}')" >"${TMP}/v1"
  t "verdict line: answer is YES/NO/UNCERTAIN by hash % 3" jq_file "${TMP}/v1" \
    ".message.content == \"$(expected_verdict "${v}")\""
  post /api/chat "$(jq -nc --arg c "${v} [[answer:UNCERTAIN]]" '{model:"llama3.2:3b",stream:false,messages:[{role:"user",content:$c}]}')" >"${TMP}/v2"
  t "[[answer:X]] scripts the answer" jq_file "${TMP}/v2" '.message.content == "UNCERTAIN"'
}

test_embeddings() {
  post /api/embed '{"model":"nomic-embed-text","input":["alpha","beta","gamma"]}' >"${TMP}/batch"
  local w
  for w in alpha beta gamma; do
    post /api/embed "{\"model\":\"nomic-embed-text\",\"input\":\"${w}\"}" | jq -c '.embeddings[0]'
  done >"${TMP}/singles"
  jq -c '.embeddings[]' "${TMP}/batch" >"${TMP}/batched"
  t "Ollama embed: batch in input order equals single calls" same_file "${TMP}/batched" "${TMP}/singles"
  t "Ollama embed: shape, dim 64, L2-normalised" jq_file "${TMP}/batch" \
    '.model == "nomic-embed-text" and (.embeddings | length == 3)
     and all(.embeddings[]; length == 64 and ((map(. * .) | add) - 1 | fabs) < 1e-5)
     and .prompt_eval_count > 0'
  post /v1/embeddings '{"model":"text-embedding-3-small","input":["gamma","alpha","beta","delta"]}' >"${TMP}/oe"
  t "OpenAI embeddings: data is shuffled (not input order)" jq_file "${TMP}/oe" \
    '.object == "list" and ([.data[].index] != [0,1,2,3]) and ([.data[].index] | sort) == [0,1,2,3]'
  t "OpenAI embeddings: mapped by index, same vectors as Ollama" test \
    "$(jq -c '.data | sort_by(.index) | map(.embedding) | .[1], .[2], .[0]' "${TMP}/oe")" = "$(cat "${TMP}/singles")"
  post /v1/embeddings '{"model":"text-embedding-3-small","input":["alpha","beta"],"encoding_format":"base64"}' >"${TMP}/b64"
  jq -r '.data | sort_by(.index) | .[0].embedding' "${TMP}/b64" | base64 -d |
    od -An -tf4 -v | tr -s ' ' '\n' | sed '/^$/d' >"${TMP}/b64floats"
  head -n 1 "${TMP}/singles" | jq '.[]' >"${TMP}/floats"
  t "OpenAI base64 = little-endian float32 of the same vector" \
    awk 'NR == FNR { a[FNR] = $1; n = FNR; next }
         { d = a[FNR] - $1; if (d < 0) d = -d; if (d > 1e-6) bad = 1; m = FNR }
         END { exit (bad || m != n || n != 64) }' "${TMP}/b64floats" "${TMP}/floats"
  post /v1/embeddings '{"model":"text-embedding-3-small","input":"alpha","dimensions":8}' >"${TMP}/d8"
  t "OpenAI dimensions: 8" jq_file "${TMP}/d8" '.data[0].embedding | length == 8'
  if command -v python3 >/dev/null; then
    t "embedding of alpha matches the README formula (python)" \
      python3 - "${TMP}/singles" <<'EOF'
import json, math, sys
def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    return h
h, v = fnv(b"alpha"), []
for _ in range(64):
    h = (h * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
    v.append((h >> 11) / 9007199254740992.0 * 2 - 1)
n = math.sqrt(sum(x * x for x in v))
got = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if len(got) == 64 and all(abs(a / n - b) < 1e-6 for a, b in zip(v, got)) else 1)
EOF
  fi
}

test_errors() {
  t "Ollama unknown model: 404 with Ollama wording" test \
    "$(status_of /api/chat '{"model":"nope:1b","messages":[{"role":"user","content":"x"}]}')" = 404
  t "Ollama 404 body" jq_file "${TMP}/body" \
    '.error == "model \"nope:1b\" not found, try pulling it first"'
  t "OpenAI unknown model: 404 model_not_found" test \
    "$(status_of /v1/embeddings '{"model":"nope","input":"x"}')" = 404
  t "OpenAI 404 body shape" jq_file "${TMP}/body" \
    '.error.code == "model_not_found" and .error.type == "invalid_request_error" and (.error.message | type) == "string"'
  t "missing model: 400 model is required" test \
    "$(status_of /api/embed '{"input":"x"}')" = 400
  t "bad JSON: 400 OpenAI invalid_request_error" test \
    "$(status_of /v1/chat/completions '{"model":')" = 400
}

test_http() {
  local out
  out="$(post /api/embed '{"model":"nomic-embed-text","input":"chunky"}' \
    -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' -v 2>&1)"
  t "chunked request body with Expect: 100-continue" \
    grep -q '100 Continue' <<<"${out}"
  t "chunked request body answered" grep -q '"embeddings":\[\[' <<<"${out}"
  "${CURL[@]}" -D "${TMP}/h" -o /dev/null -H 'Connection: close' "${URL}/api/version"
  t "Connection: close is honoured" grep -qi '^connection: close' "${TMP}/h"
  post /_double/reset '{}' >/dev/null
  local -a urls=()
  local i
  for i in 1 2 3 4 5; do
    urls+=(-o /dev/null "${URL}/api/version")
  done
  "${CURL[@]}" "${urls[@]}" -o "${TMP}/stats" "${URL}/_double/stats"
  t "keep-alive: 5 requests + stats over 1 connection" jq_file "${TMP}/stats" \
    '.connections == 1 and .http_requests == 5 and .by_path["/api/version"] == 5'
}

test_lanes() {
  config '{"lanes":1,"queue_max":1,"latency_ms":600}'
  post /_double/reset '{}' >/dev/null
  local i
  local -a pids=()
  for i in 1 2 3 4; do
    post /api/embed '{"model":"nomic-embed-text","input":"q"}' \
      -o "${TMP}/q${i}.body" -D "${TMP}/q${i}.h" -w '%{http_code}' >"${TMP}/q${i}.code" &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do
    wait "${i}" || true
  done
  local ok=0 busy=0 c
  for i in 1 2 3 4; do
    c="$(<"${TMP}/q${i}.code")"
    if [[ "${c}" == 200 ]]; then
      ok=$((ok + 1))
    elif [[ "${c}" == 503 ]]; then
      busy=$((busy + 1))
      cp "${TMP}/q${i}.body" "${TMP}/busy.body"
      cp "${TMP}/q${i}.h" "${TMP}/busy.h"
    fi
  done
  t "lanes 1 + queue-max 1: 2 served, 2 refused with 503" test "${ok}:${busy}" = "2:2"
  t "503 body is Ollama's exact text" test \
    "$(cat "${TMP}/busy.body")" = '{"error":"server busy, please try again.  maximum pending requests exceeded"}'
  t "503 has no Retry-After" bash -c '! grep -qi "^retry-after" "$1"' _ "${TMP}/busy.h"
  "${CURL[@]}" "${URL}/_double/stats" >"${TMP}/stats"
  t "stats: peak_concurrency 1, peak_queue 1, rejected 2" jq_file "${TMP}/stats" \
    '.peak_concurrency == 1 and .peak_queue == 1 and .rejected == 2 and .by_status["503"] == 2'
  config '{"lanes":3,"queue_max":512,"latency_ms":300}'
  post /_double/reset '{}' >/dev/null
  pids=()
  for i in 1 2 3; do
    post /v1/chat/completions '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}' \
      -o /dev/null &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do
    wait "${i}" || true
  done
  "${CURL[@]}" "${URL}/_double/stats" >"${TMP}/stats"
  t "lanes 3: 3 requests served at once" jq_file "${TMP}/stats" \
    '.peak_concurrency == 3 and .chat_requests == 3 and .in_flight == 0'
  config '{"lanes":1,"latency_ms":0}'
}

test_faults() {
  config '{"fail_all":429,"retry_after":2}'
  status_of /api/embed '{"model":"nomic-embed-text","input":"x"}' -D "${TMP}/h" >"${TMP}/code"
  t "429 on /api with Retry-After" test "$(<"${TMP}/code")" = 429
  t "429 Retry-After: 2" grep -qi '^retry-after: 2' "${TMP}/h"
  status_of /v1/chat/completions '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}' \
    -D "${TMP}/h" >"${TMP}/code"
  t "429 on /v1: OpenAI rate_limit_exceeded shape" jq_file "${TMP}/body" \
    '.error.code == "rate_limit_exceeded" and .error.type == "rate_limit_error"'
  t "429 on /v1: x-ratelimit headers" bash -c \
    'grep -qi "^x-ratelimit-remaining-requests: 0" "$1" && grep -qi "^x-ratelimit-reset-requests: 2s" "$1"' \
    _ "${TMP}/h"
  config '{"fail_all":500}'
  t "fail_all 500 on /v1: server_error" test \
    "$(status_of /v1/embeddings '{"model":"text-embedding-3-small","input":"x"}')" = 500
  config '{"fail_all":null,"fault_rate":1,"faults":"truncate"}'
  local rc=0
  post /api/chat '{"model":"llama3.2:3b","stream":false,"messages":[{"role":"user","content":"x"}]}' \
    -o /dev/null 2>/dev/null || rc=$?
  t "truncate: curl sees a partial body (exit 18)" test "${rc}" = 18
  config '{"faults":"drop"}'
  rc=0
  post /api/embed '{"model":"nomic-embed-text","input":"x"}' -o /dev/null 2>/dev/null || rc=$?
  t "drop: curl sees an empty reply (exit 52)" test "${rc}" = 52
  config '{"faults":["badjson"]}'
  post /api/chat '{"model":"llama3.2:3b","stream":false,"format":"json","messages":[{"role":"user","content":"x"}]}' >"${TMP}/bad"
  t "badjson: valid HTTP, content is not JSON" jq_file "${TMP}/bad" \
    '.done and (.message.content | startswith("Sure! Here is the JSON")) and ([.message.content | try fromjson catch "bad"] == ["bad"])'
  config '{"fault_rate":0,"faults":"all"}'
  "${CURL[@]}" "${URL}/_double/stats" >"${TMP}/stats"
  t "stats count the faults" jq_file "${TMP}/stats" \
    '.faults.truncate >= 1 and .faults.drop >= 1 and .faults.badjson >= 1 and .faults["429"] >= 2'
  # answered: whole, valid model answers only (not 429/500/drop, not the
  # 200s that truncate and badjson spoil)
  "${CURL[@]}" -X POST "${URL}/_double/reset" >/dev/null
  config '{"fault_rate":1,"faults":"badjson,truncate"}'
  post /api/chat '{"model":"llama3.2:3b","stream":false,"messages":[{"role":"user","content":"y"}]}' \
    -o /dev/null 2>/dev/null || true
  config '{"fault_rate":0}'
  post /api/chat '{"model":"llama3.2:3b","stream":false,"messages":[{"role":"user","content":"y"}]}' >/dev/null
  post /api/embed '{"model":"nomic-embed-text","input":["a","b"]}' >/dev/null
  "${CURL[@]}" "${URL}/api/tags" >/dev/null
  "${CURL[@]}" "${URL}/_double/stats" >"${TMP}/stats"
  t "stats: answered counts the model answers sent whole, by path" jq_file "${TMP}/stats" \
    '.answered == {"/api/chat": 1, "/api/embed": 1} and .by_status["200"] == 4'
}

# Scripted replies: a table of fixed answers (README.md "Scripted replies").
test_script() {
  cat >"${TMP}/replies" <<'TABLE'
# refuse json_schema once, as a server without it would
=== no json_schema
--- when POST /v1/chat/completions
--- if-body "json_schema"
--- times 1
--- status 400
--- header x-why: scripted
--- body
{"error":{"message":"response_format json_schema is not supported"}}

=== big
--- when GET /big
--- repeat 1000
--- body
0123456789

=== bomb
--- when GET /bomb
--- gzip
--- repeat 5000000
--- body
0

=== silent after two chunks
--- when POST /api/chat
--- if-body hang
--- stream 0
--- then silent
--- body
{"message":{"role":"assistant","content":"a"},"done":false}
{"message":{"role":"assistant","content":"b"},"done":false}

=== cut
--- when POST /api/chat
--- if-body cut
--- then cut
--- body
{"message":{"role":"assistant","content":"whole"},"done":true}

=== drop
--- when POST /api/*
--- if-body drop
--- drop
TABLE
  start_llmd --script "${TMP}/replies"
  local chat='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}}}'
  t "script: a matching request gets the scripted status"     test "$(status_of /v1/chat/completions "${chat}" -D "${TMP}/h")" = 400
  t "script: ... its headers" grep -qi '^x-why: scripted' "${TMP}/h"
  t "script: ... and its body" jq_file "${TMP}/body" '.error.message | test("json_schema")'
  t "script: used up (times 1), the same request gets the double's own answer"     test "$(status_of /v1/chat/completions "${chat}")" = 200
  t "script: a request no entry matches is answered as usual"     test "$(status_of /api/chat '{"model":"llama3.2:3b","stream":false,"messages":[{"role":"user","content":"hi"}]}')" = 200
  t "script: repeat 1000 sends the body 1000 times"     test "$("${CURL[@]}" "${URL}/big" | wc -c)" = 10000
  t "script: gzip sends it compressed (Content-Encoding: gzip)"     test "$("${CURL[@]}" "${URL}/bomb" | wc -c)" -lt 100000
  t "script: which decodes to the body repeated (5 MB)"     test "$("${CURL[@]}" --compressed "${URL}/bomb" | wc -c)" = 5000000
  local rc=0
  post /api/chat '{"model":"llama3.2:3b","messages":[{"role":"user","content":"hang"}]}'     --max-time 1 >"${TMP}/hang" 2>/dev/null || rc=$?
  t "script: then silent: the chunks come, then nothing (curl times out, exit 28)"     test "${rc}" = 28 -a "$(wc -l <"${TMP}/hang")" = 2
  rc=0
  post /api/chat '{"model":"llama3.2:3b","messages":[{"role":"user","content":"cut"}]}'     -o /dev/null 2>/dev/null || rc=$?
  t "script: then cut: the body is cut short (curl exit 18)" test "${rc}" = 18
  rc=0
  post /api/embed '{"model":"nomic-embed-text","input":"drop"}' -o /dev/null 2>/dev/null || rc=$?
  t "script: drop (a path prefix matched): no answer at all (curl exit 52)" test "${rc}" = 52
  t "script: stats count the scripted replies by name, and their model requests" stat_is \
    '.scripted == {"no json_schema":1,"big":1,"bomb":2,"silent after two chunks":1,"cut":1,"drop":1}'
  "${CURL[@]}" "${URL}/_double/script" >"${TMP}/script"
  t "script: GET /_double/script lists the entries and their uses" jq_file "${TMP}/script" \
    '.replies[0] == {"name":"no json_schema","used":1,"times":1} and (.replies | length) == 6'
  printf '=== x\n--- when GET /x\n--- statuz 200\n' >"${TMP}/bad"
  t "script: a bad table is refused with its line (400)" test \
    "$("${CURL[@]}" -o "${TMP}/body" -w '%{http_code}' --data-binary "@${TMP}/bad" "${URL}/_double/script")" = 400
  t "script: ... saying which line" jq_file "${TMP}/body" '.error | startswith("line 3: ")'
  printf '=== teapot\n--- when GET /api/version\n--- status 418\n' >"${TMP}/new"
  "${CURL[@]}" --data-binary "@${TMP}/new" "${URL}/_double/script" >/dev/null
  t "script: POST /_double/script replaces the table" \
    test "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${URL}/api/version")" = 418
  t "script: --script with a bad table: llmd refuses to start" \
    bash -c '! "$1" --port 0 --quiet --script "$2" 2>"$3" && grep -q "line 3" "$3"' \
    _ "${LLMD}" "${TMP}/bad" "${TMP}/bad.err"
}

test_api_key() {
  start_llmd --api-key sk-test-123456
  t "--api-key: /v1 without key is 401" test \
    "$("${CURL[@]}" -o "${TMP}/body" -w '%{http_code}' "${URL}/v1/models")" = 401
  t "401 body: invalid_api_key" jq_file "${TMP}/body" '.error.code == "invalid_api_key"'
  t "--api-key: /v1 with the key is 200" test \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-test-123456' "${URL}/v1/models")" = 200
  t "--api-key: /api needs no key" test \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${URL}/api/tags")" = 200
}

# llama-server's /props and /slots, as llama-server answers them.
test_llama_props() {
  t "without --llama-props: /props is 404" test \
    "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "${URL}/props")" = 404
  start_llmd --llama-props --lanes 3 --ctx 512 --api openai
  "${CURL[@]}" "${URL}/props" >"${TMP}/props"
  t "/props: total_slots is the lanes" jq_file "${TMP}/props" '.total_slots == 3'
  t "/props: n_ctx is --ctx" jq_file "${TMP}/props" '.default_generation_settings.n_ctx == 512'
  "${CURL[@]}" "${URL}/slots" >"${TMP}/slots"
  t "/slots: one idle object a slot" \
    jq_file "${TMP}/slots" '[.[] | select(.is_processing == false)] | length == 3'
  t "/slots: ids 0..2" jq_file "${TMP}/slots" '[.[].id] == [0, 1, 2]'
}

# cosine of the vectors on lines $2 and $3 of file $1 (JSON arrays)
cosine_of() {
  jq -s --argjson a "$2" --argjson b "$3" \
    '.[$a] as $x | .[$b] as $y | [range($x | length) | $x[.] * $y[.]] | add' "$1"
}

# Batch drift: llama-server with --parallel > 1 and no unified KV cache.
test_batch_drift() {
  local body='{"model":"nomic-embed-text","input":["alpha","beta","gamma"]}'
  start_llmd --lanes 4 --batch-noise 0.5
  post /api/embed "${body}" | jq -c '.embeddings[]' >"${TMP}/drift1"
  post /api/embed "${body}" | jq -c '.embeddings[]' >"${TMP}/drift2"
  for w in alpha beta gamma; do
    post /api/embed "{\"model\":\"nomic-embed-text\",\"input\":\"${w}\"}" | jq -c '.embeddings[0]'
  done >"${TMP}/alone"
  t "batch noise: texts sent alone, one at a time, keep their vectors" \
    same_file "${TMP}/alone" "${TMP}/singles"
  cat "${TMP}/alone" "${TMP}/drift1" >"${TMP}/pairs"
  local c
  c="$(cosine_of "${TMP}/pairs" 0 3)"
  t "batch noise 0.5: a text in a batch of 3 drifts (cosine ${c} about 0.89)" \
    awk -v c="${c}" 'BEGIN { exit !(c > 0.8 && c < 0.97) }'
  t "batch noise: every vector of the batch drifts, each still unit length" jq -se \
    --slurpfile a "${TMP}/alone" \
    '[range(3) as $i | .[$i] != $a[$i]] == [true, true, true]
     and all(.[]; ((map(. * .) | add) - 1 | fabs) < 1e-5)' "${TMP}/drift1"
  t "batch noise: the same batch drifts the same way" same_file "${TMP}/drift1" "${TMP}/drift2"
  post /v1/embeddings '{"model":"text-embedding-3-small","input":["gamma","alpha","beta"]}' |
    jq -c '.data | sort_by(.index) | .[1].embedding' >"${TMP}/odrift"
  c="$(cat "${TMP}/alone" "${TMP}/odrift" | cosine_of /dev/stdin 0 3)"
  t "batch noise: OpenAI embeddings drift too (cosine ${c})" \
    awk -v c="${c}" 'BEGIN { exit !(c > 0.8 && c < 0.97) }'
  post /_double/config '{"lanes":1}' >/dev/null
  post /api/embed "${body}" | jq -c '.embeddings[]' >"${TMP}/oneslot"
  t "batch noise with one lane: a batch is computed input by input, no drift" \
    same_file "${TMP}/oneslot" "${TMP}/singles"
  post /_double/config '{"lanes":4,"batch_noise":0}' >"${TMP}/cfg"
  t "/_double/config sets and shows batch_noise" jq_file "${TMP}/cfg" '.batch_noise == 0 and .batch_flip == 0'
  post /api/embed "${body}" | jq -c '.embeddings[]' >"${TMP}/nonoise"
  t "batch_noise 0: a batch equals single calls again" same_file "${TMP}/nonoise" "${TMP}/singles"

  # chat: answers computed beside others change (--batch-flip 1: all);
  # 400 ms of service time each, so the two requests overlap
  start_llmd --lanes 4 --batch-flip 1 --latency-ms 400
  local q='{"model":"llama3.2:3b","stream":false,"messages":[{"role":"user","content":"hello world"}]}'
  post /api/chat "${q}" | jq -r .message.content >"${TMP}/chat_alone"
  t "batch flip: a chat request alone gets the usual answer" \
    test "$(cat "${TMP}/chat_alone")" = "$(expected_text 'hello world')"
  post /api/chat "${q}" | jq -r .message.content >"${TMP}/chat_c1" &
  local pid=$!
  post /v1/chat/completions "${q}" | jq -r '.choices[0].message.content' >"${TMP}/chat_c2"
  wait "${pid}"
  t "batch flip 1: two chat requests computed together both change their answers" \
    bash -c '[[ "$(cat "$1")" != "$(cat "$3")" && "$(cat "$2")" != "$(cat "$3")" \
               && "$(cat "$1")" == "echo: hello world #"* ]]' _ \
    "${TMP}/chat_c1" "${TMP}/chat_c2" "${TMP}/chat_alone"
  post /api/chat "${q}" | jq -r .message.content >"${TMP}/chat_again"
  t "batch flip: alone again, the usual answer again" same_file "${TMP}/chat_again" "${TMP}/chat_alone"
  stop_llmd || true
  start_llmd
}

test_stop() {
  local rc=0
  stop_llmd || rc=$?
  t "SIGTERM: llmd exits 0" test "${rc}" = 0
}

main() {
  need_llmd
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  start_llmd
  test_basics
  test_ollama_chat
  test_openai_chat
  test_answers
  test_embeddings
  test_batch_drift
  test_errors
  test_http
  test_lanes
  test_faults
  test_script
  test_stop
  test_api_key
  test_stop
  start_llmd
  test_llama_props
  test_stop
  summary
}

main "$@"
