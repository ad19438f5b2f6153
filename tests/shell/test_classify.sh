#!/usr/bin/env bash
# test_classify.sh: classify against the LLM test double (tests/llmd): the
# taxonomy vector cache (a second run sends no embedding request; a changed
# entry is embedded alone; another model has its own vectors), reuse of a
# record's embedding, every status of verify and triage (scripted answers),
# bad answers retried then error, server faults retried, a failing server,
# missing models (exit 3 before reading input), the OpenAI wire format,
# eval on a gold set, input order with many records, the example items'
# classes and the verify example of man/classify.1 as the page prints it. Counts come from /_double/stats, never from timing.
# Prints "ok N - ..." lines and "N passed, M failed"; exit 1 on a failure.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/shell/man_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/man_lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly CLASSIFY="${BIN}/classify"
readonly LLMD="${BUILD}/tests/llmd"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly DIM=64

# Runs classify against the double with fast retries and this test's cache.
run() {
  LANES_LOG_TIME=0 LANES_LLM_BASE_URL="${LANES_LLM_BASE_URL:-${URL}}" \
    LANES_LLM_BACKOFF_MS=2 LANES_LLM_BACKOFF_MAX_MS=20 LANES_LLM_MAX_CONCURRENCY=8 \
    LANES_PROMPTS="${ROOT}/pipelines/prompts" "${CLASSIFY}" --cache-dir "${TMP}/cache" "$@"
}

# jq_all FILE EXPR: every line of FILE satisfies EXPR.
jq_all() {
  jq -e -s "all(.[]; $2)" "$1"
}

grep_q() {
  grep -q -- "$1" "$2"
}

write_taxonomy() {
  cat >"${TMP}/tax.yaml" <<'EOF'
- {id: dev, label: Software developers, synonyms: [programmer, software engineer]}
- {id: nurse, label: Nurses, synonyms: [registered nurse]}
- {id: cook, label: Cooks, synonyms: [chef]}
- {id: driver, label: Truck drivers, synonyms: [HGV driver, lorry driver]}
- {id: clerk, label: Office clerks, description: Keep records and files.}
EOF
}

test_cache() {
  reset_stats
  run -t "${TMP}/tax.yaml" </dev/null 2>"${TMP}/err1"
  t "first run embeds the 5 entries in one request (batch 32)" \
    stat_is '.embed_requests == 1 and .embed_inputs == 5'
  t "the cache file is there, no temporary file left" \
    bash -c "ls '${TMP}/cache'/classify-*.vec && ! ls '${TMP}/cache' | grep -q tmp"
  reset_stats
  run -t "${TMP}/tax.yaml" </dev/null 2>"${TMP}/err2"
  t "second run: zero embedding requests for the taxonomy" stat_is '.requests == 0'
  t "and says 5 vectors came from the cache" \
    grep_q "5 vectors from the cache, 0 embedded (0 requests)" "${TMP}/err2"
  sed 's/Keep records and files./Keep records and diaries./' "${TMP}/tax.yaml" \
    >"${TMP}/tax2.yaml"
  cp "${TMP}/tax2.yaml" "${TMP}/tax.yaml"
  reset_stats
  run -t "${TMP}/tax.yaml" </dev/null 2>"${TMP}/err3"
  t "a changed description: exactly that entry is embedded again" \
    stat_is '.embed_requests == 1 and .embed_inputs == 1'
  reset_stats
  run -t "${TMP}/tax.yaml" -e text-embedding-3-small </dev/null 2>"${TMP}/err4"
  t "another embedding model: its own vectors, all 5 embedded" \
    stat_is '.embed_inputs == 5'
  reset_stats
  run -t "${TMP}/tax.yaml" </dev/null 2>/dev/null
  t "the first model's cache is still whole" stat_is '.requests == 0'
  reset_stats
  run -t "${TMP}/tax.yaml" --batch 2 --cache-dir "${TMP}/cache-b" </dev/null 2>/dev/null
  t "--batch 2: the 5 entries go in 3 requests" \
    stat_is '.embed_requests == 3 and .batch_sizes == {"2": 2, "1": 1}'
}

test_items() {
  printf '%s\n' '{"id":1,"text":"Senior programmer"}' '{"id":2,"text":"Staff nurse"}' \
    '{"id":3,"text":"Head chef"}' >"${TMP}/items.ndjson"
  reset_stats
  run -t "${TMP}/tax.yaml" --threshold -1 <"${TMP}/items.ndjson" >"${TMP}/out" 2>"${TMP}/err"
  t "embed mode: the 3 items in one embedding request, no chat" \
    stat_is '.embed_requests == 1 and .embed_inputs == 3 and .chat_requests == 0'
  t "every item matched (threshold -1), with 5 candidates best first" \
    jq_all "${TMP}/out" '.class.status == "matched" and (.class.candidates | length) == 5
      and .class.id == .class.candidates[0].id and .class.embed_model == "nomic-embed-text"
      and (.class.embed_digest | test("^[0-9a-f]{12}$")) and .class.model == null
      and ([.class.candidates[].score] | . == (sort | reverse))'
  # records that carry the double's vector for their text, named by the model
  LANES_LLM_BASE_URL="${URL}" LANES_LOG_TIME=0 "${BIN}/embed" -m nomic-embed-text \
    <"${TMP}/items.ndjson" >"${TMP}/embedded" 2>/dev/null
  reset_stats
  run -t "${TMP}/tax.yaml" --threshold -1 <"${TMP}/embedded" >"${TMP}/out2" 2>"${TMP}/err2"
  t "records embedded by embed with the same model: no request at all" \
    stat_is '.requests == 0'
  t "and the same classes as when classify embedded them" \
    bash -c "diff <(jq -c .class '${TMP}/out') <(jq -c .class '${TMP}/out2')"
  t "stderr counts them as reused" grep_q "0 embedded, 3 reused from the records" \
    "${TMP}/err2"

  local i
  for ((i = 0; i < 5; i++)); do
    echo "{\"id\":${i},\"text\":\"item number ${i}\"}"
  done >"${TMP}/five.ndjson"
  config '{"max_batch":2}'
  reset_stats
  run -t "${TMP}/tax.yaml" --threshold -1 <"${TMP}/five.ndjson" >"${TMP}/out3" 2>/dev/null
  config '{"max_batch":0}'
  t "a batch the server refuses (400) is split until it passes: every item classified" \
    bash -c "jq -e -s 'length == 5 and all(.[]; .class.status == \"matched\")' \
      '${TMP}/out3' >/dev/null && curl -sS --noproxy '*' '${URL}/_double/stats' |
      jq -e '.by_status[\"400\"] == 2 and .embed_inputs == 5'"

  {
    echo '{"id":"short","text":"programmer"}'
    printf '{"id":"long","text":"%s"}\n' "$(head -c 40000 /dev/zero | tr '\0' 'x')"
    echo '{"id":"other","text":"nurse"}'
  } >"${TMP}/long.ndjson"
  local rc=0
  LANES_LLM_BASE_URL="${URL}/v1" run -t "${TMP}/tax.yaml" -e text-embedding-3-small \
    --threshold -1 <"${TMP}/long.ndjson" >"${TMP}/out4" 2>/dev/null || rc=$?
  t "a text over the model's limit fails alone (context_overflow), the others pass" \
    lines_are "${TMP}/out4" '[.id, .class.status, .errors.classify.code]' \
    '["short","matched",null]
["long","error","context_overflow"]
["other","matched",null]'

  {
    cat "${TMP}/tax.yaml"
    printf -- '- {id: huge, label: Huge, description: %s}\n' \
      "$(head -c 40000 /dev/zero | tr '\0' 'x')"
  } >"${TMP}/tax-huge.yaml"
  config '{"max_batch":2}'
  rc=0
  LANES_LLM_BASE_URL="${URL}/v1" run -t "${TMP}/tax-huge.yaml" -e text-embedding-3-small \
    --cache-dir "${TMP}/cache-huge" </dev/null >/dev/null 2>"${TMP}/err5" || rc=$?
  config '{"max_batch":0}'
  t "a taxonomy entry over the limit: split down to it, named with its line, exit 3" \
    bash -c "[[ ${rc} == 3 ]] && grep -q \"entry 'huge' (line 6): the request is longer than the model's context (HTTP 400\" '${TMP}/err5' &&
      grep -q '5 of the 6 missing vectors embedded' '${TMP}/err5'"
}

# A verify or triage run over items with scripted answers.
test_verify() {
  cat >"${TMP}/v.ndjson" <<'EOF'
{"id":"y","text":"programmer [[answer:YES]]"}
{"id":"n","text":"programmer [[answer:no]]"}
{"id":"u","text":"programmer [[answer: Uncertain. ]]"}
{"id":"b","text":"programmer [[answer:Yes, it does]]"}
{"id":"e","text":"  "}
EOF
  reset_stats
  local rc=0
  run -t "${TMP}/tax.yaml" -m verify --threshold -1 <"${TMP}/v.ndjson" >"${TMP}/out" \
    2>"${TMP}/err" || rc=$?
  t "verify: YES, NO, UNCERTAIN, a bad answer, an empty text" \
    lines_are "${TMP}/out" '[.id, .class.status, .class.id != null, .errors.classify.code]' \
    '["y","llm_yes",true,null]
["n","llm_no",false,null]
["u","llm_uncertain",false,null]
["b","error",false,"bad_answer"]
["e","no_match",false,null]'
  t "verify: the bad answer was asked 3 times (answer_attempts), then error" \
    stat_is '.chat_requests == 6'
  t "verify: errors.classify says how many answers and what came" \
    jq -e -s '.[3].errors.classify | .attempts == 3 and (.message | contains("Yes, it does"))' \
    "${TMP}/out"
  t "verify: llm_yes labels the best candidate; class.model is the chat model" \
    jq -e -s '.[0].class | .id == .candidates[0].id and .model == "llama3.2:3b"
      and (.model_digest | length) == 12 and .mode == "verify"' "${TMP}/out"
  t "verify: exit 1 for the failed record" test "${rc}" = 1
  t "verify: stderr logs it with its record id" \
    grep_q "classify: id \"b\": classify: 3 answers not in the required form" "${TMP}/err"

  reset_stats
  run -t "${TMP}/tax.yaml" -m verify --threshold 1 <"${TMP}/v.ndjson" >"${TMP}/out" \
    2>/dev/null
  t "verify below the threshold: no_match and no chat request" \
    bash -c "jq -e -s 'all(.[]; .class.status == \"no_match\")' '${TMP}/out' >/dev/null &&
      curl -sS --noproxy '*' '${URL}/_double/stats' | jq -e '.chat_requests == 0'"

  reset_stats
  rc=0
  run -t "${TMP}/tax.yaml" -m verify --threshold -1 --answer-attempts 2 \
    <<<'{"text":"programmer [[answer:MAYBE]]"}' >"${TMP}/out" 2>/dev/null || rc=$?
  t "--answer-attempts 2: two answers, then error, exit 1" \
    bash -c "[[ ${rc} == 1 ]] && jq -e '.errors.classify.attempts == 2' '${TMP}/out' >/dev/null &&
      curl -sS --noproxy '*' '${URL}/_double/stats' | jq -e '.chat_requests == 2'"

  reset_stats
  run -t "${TMP}/tax.yaml" -m verify --threshold -1 <<<'{"text":"programmer"}' \
    >"${TMP}/out" 2>/dev/null || true
  t "verify without a script: the double's one-word verdict is parsed" \
    jq -e '.class.status | IN("llm_yes", "llm_no", "llm_uncertain")' "${TMP}/out"

  cat >"${TMP}/t.ndjson" <<'EOF'
{"id":"p2","text":"programmer [[answer:2]]"}
{"id":"p1","text":"programmer [[answer: 1.]]"}
{"id":"none","text":"programmer [[answer:NONE]]"}
{"id":"far","text":"programmer [[answer:6]]"}
{"id":"word","text":"programmer [[answer:2. Nurses]]"}
EOF
  reset_stats
  run -t "${TMP}/tax.yaml" -m triage --threshold -1 <"${TMP}/t.ndjson" >"${TMP}/out" \
    2>/dev/null || true
  t "triage: a pick, NONE, out of range, a number with text" \
    lines_are "${TMP}/out" '[.id, .class.status, .errors.classify.code]' \
    '["p2","llm_yes",null]
["p1","llm_yes",null]
["none","llm_no",null]
["far","error","bad_answer"]
["word","error","bad_answer"]'
  t "triage: the pick is that candidate, with its score" \
    jq -e -s '(.[0].class | .id == .candidates[1].id and .score == .candidates[1].score)
      and (.[1].class | .id == .candidates[0].id) and .[2].class.id == null' "${TMP}/out"
  t "triage: 3 items answered at once, 2 bad ones 3 times each" \
    stat_is '.chat_requests == 9'
}

test_faults() {
  local n=60 i
  for ((i = 0; i < n; i++)); do
    echo "{\"id\":${i},\"text\":\"item ${i} [[answer:YES]]\"}"
  done >"${TMP}/many.ndjson"
  config '{"fault_rate":0.3,"faults":"429,500,503,drop,truncate","retry_after":0}'
  reset_stats
  local rc=0
  # 12 attempts: all of one call's failing (0.3^12) never happens in practice
  LANES_LLM_MAX_ATTEMPTS=12 run -t "${TMP}/tax.yaml" -m verify --threshold -1 --batch 7 \
    <"${TMP}/many.ndjson" >"${TMP}/out" 2>"${TMP}/err" || rc=$?
  config '{"fault_rate":0}'
  t "30% faults on every request: retried, every record llm_yes, in input order" \
    bash -c "[[ ${rc} == 0 ]] && jq -c .id '${TMP}/out' | tr '\n' ' ' |
      grep -qx \"\$(seq -s ' ' 0 $((n - 1))) \" &&
      jq -e -s 'length == ${n} and all(.[]; .class.status == \"llm_yes\")' '${TMP}/out'"
  t "faults were really served" stat_is '([.faults[]] | add) > 0'
  t "the summary counts the retries" grep_q "retried" "${TMP}/err"

  config '{"fail_all":500}'
  reset_stats
  rc=0
  run -t "${TMP}/tax.yaml" -e hash -m verify --threshold -1 <<<'{"text":"programmer"}' \
    >"${TMP}/out" 2>"${TMP}/err" || rc=$?
  t "a chat server that always fails: error with the HTTP code, exit 1" \
    bash -c "[[ ${rc} == 1 ]] && jq -e '.class.status == \"error\" and
      .errors.classify.code == \"http_500\" and .class.candidates != []' '${TMP}/out'"
  rc=0
  run -t "${TMP}/tax.yaml" --cache-dir "${TMP}/cache-fail" <<<'{"text":"programmer"}' \
    >"${TMP}/out" 2>"${TMP}/err" || rc=$?
  config '{"fail_all":null}'
  t "the taxonomy cannot be embedded: exit 3 before reading input" \
    bash -c "[[ ${rc} == 3 ]] && [[ ! -s '${TMP}/out' ]] &&
      grep -q 'cannot embed the taxonomy with nomic-embed-text' '${TMP}/err'"
}

test_startup() {
  reset_stats
  local rc=0
  run -t "${TMP}/tax.yaml" -m verify --model nosuch:1b <<<'{"text":"x"}' >"${TMP}/out" \
    2>"${TMP}/err" || rc=$?
  t "unknown chat model: exit 3, nothing read or written" \
    bash -c "[[ ${rc} == 3 ]] && [[ ! -s '${TMP}/out' ]] &&
      grep -q \"model 'nosuch:1b' not found\" '${TMP}/err'"
  rc=0
  run -t "${TMP}/tax.yaml" -m triage -e nosuch-embed <<<'{"text":"x"}' >"${TMP}/out" \
    2>"${TMP}/err" || rc=$?
  t "unknown embedding model in triage mode: exit 3 too" \
    bash -c "[[ ${rc} == 3 ]] && grep -q \"model 'nosuch-embed' not found\" '${TMP}/err'"
  t "no model request was sent" stat_is '.requests == 0'
  rc=0
  reset_stats
  run -t "${TMP}/tax.yaml" -e hash -m embed <<<'{"text":"programmer"}' >"${TMP}/out" \
    2>"${TMP}/err" || rc=$?
  t "hash embedder in embed mode: no server asked at all" \
    bash -c "[[ ${rc} == 0 ]] && grep -q 'backend=none' '${TMP}/err'"
  t "(its stats did not move)" stat_is '.http_requests == 0'
}

test_openai() {
  reset_stats
  local rc=0
  LANES_LLM_BASE_URL="${URL}/v1" run -t "${TMP}/tax.yaml" -m triage -e text-embedding-3-small \
    --model gpt-4o-mini --threshold -1 <"${TMP}/t.ndjson" >"${TMP}/out" 2>/dev/null || rc=$?
  t "OpenAI wire format: triage gives the same statuses" \
    lines_are "${TMP}/out" '[.id, .class.status]' \
    '["p2","llm_yes"]
["p1","llm_yes"]
["none","llm_no"]
["far","error"]
["word","error"]'
  # beside llama-server's /props (slots, asked once at the start; issue 12)
  t "through /v1 only" stat_is '(.by_path | keys - ["/props"] | all(startswith("/v1/")))'
}

test_eval() {
  cat >"${TMP}/gold.ndjson" <<'EOF'
{"text":"programmer [[answer:YES]]","gold":"dev"}
{"text":"nurse [[answer:YES]]","gold":"nurse"}
{"text":"chef [[answer:NO]]","gold":"cook"}
{"text":"astronaut [[answer:NO]]","gold":null}
{"text":"juggler [[answer:UNCERTAIN]]","gold":null}
EOF
  run -t "${TMP}/tax.yaml" -e hash -m verify --threshold 0.2 --eval "${TMP}/gold.ndjson" \
    --json >"${TMP}/ev" 2>"${TMP}/err" || true
  t "eval --json of verify mode on a gold set" \
    jq -e '.items == 5 and .mode == "verify" and .model == "llama3.2:3b"
      and .status.llm_yes >= 1 and (.status | add) == 5 and .accuracy >= 0 and .accuracy <= 1
      and (.coverage * 5 | round) == .labelled' "${TMP}/ev"
  run -t "${TMP}/tax.yaml" -e hash -m verify --threshold 0.2 --eval "${TMP}/gold.ndjson" \
    >"${TMP}/ev.txt" 2>/dev/null || true
  t "eval text report has accuracy, coverage, statuses" \
    bash -c "grep -q '^accuracy ' '${TMP}/ev.txt' && grep -q '^coverage ' '${TMP}/ev.txt' &&
      grep -q '^status  .* llm_yes ' '${TMP}/ev.txt'"
}

# The example items of man/classify.1, offline: the class of each one.
test_example_items() {
  local ex="${ROOT}/pipelines/examples" bin
  bin="$(cd "${BIN}" && pwd)"
  (cd "${TMP}" && PATH="${bin}:${PATH}" XDG_CACHE_HOME="${TMP}/xdg" LANES_LOG_TIME=0 \
    classify --taxonomy "${ex}/taxonomy.yaml" --embed-model hash --threshold 0.3 \
      <"${ex}/items.ndjson" >"${TMP}/ex1" 2>/dev/null)
  t "the example items, offline: each one's class" \
    lines_are "${TMP}/ex1" '[.id, .class.id, .class.status]' \
    '["job-101","2512","matched"]
["job-102","2221","matched"]
["job-103","8332","matched"]
["job-104","5120","matched"]
["job-105","7411","matched"]
["job-106","5223","matched"]
["job-107","2341","matched"]
["job-108","2423","matched"]
["job-109","9333","matched"]
["job-110",null,"no_match"]'
}

# The example of man/classify.1 that needs a chat model (verify mode), as
# the page prints it (man_lib.sh), against the double; test_man_examples.sh
# runs the offline ones.
test_man_verify() {
  local bin rc=0
  bin="$(cd "${BIN}" && pwd)"
  if ! man_example "${ROOT}/man/classify.1" \
    "classify -t pipelines/examples/taxonomy.yaml -e hash --threshold 0.3 \\" 3 "${TMP}/manex"; then
    t "classify.1 shows the verify example" false
    return
  fi
  t "classify.1's third example is the verify one" grep -q -- '--mode verify' "${TMP}/manex/1.cmd"
  mkdir -p "${TMP}/manrun"
  ln -sfn "${ROOT}/pipelines" "${TMP}/manrun/pipelines"
  PATH="${bin}:${PATH}" XDG_CACHE_HOME="${TMP}/xdg" LANES_LOG_TIME=0 LANES_LLM_BASE_URL="${URL}" \
    LANES_PROMPTS="${ROOT}/pipelines/prompts" \
    run_example "${TMP}/manex/1.cmd" "${TMP}/ex4" "${TMP}/manrun" || rc=$?
  t "man example: verify mode piped to jq (against the double) exits 0" test "${rc}" -eq 0
  t "man example: verify mode piped to jq prints the confirmed labels" test -s "${TMP}/ex4"
}

# A stop signal while a big taxonomy is embedded: exit 130, what was done
# is cached, and the rerun embeds exactly the rest. (The checks hold
# whenever the signal lands, so the test does not depend on timing.)
test_interrupt() {
  local i pid rc=0
  for ((i = 0; i < 600; i++)); do
    echo "{\"id\":\"e${i}\",\"label\":\"entry number ${i}\"}"
  done >"${TMP}/big.ndjson"
  config '{"latency_ms":50}'
  # started directly, not through run(): the signal must reach classify
  LANES_LOG_TIME=0 LANES_LLM_BASE_URL="${URL}" "${CLASSIFY}" -t "${TMP}/big.ndjson" --batch 8 \
    --cache-dir "${TMP}/cache-int" </dev/null >/dev/null 2>"${TMP}/err-int" &
  pid=$!
  for ((i = 0; i < 200; i++)); do
    grep -q "taxonomy: embedding" "${TMP}/err-int" && break
    sleep 0.05
  done
  kill -INT "${pid}" 2>/dev/null || true
  wait "${pid}" || rc=$?
  config '{"latency_ms":0}'
  t "SIGINT while embedding the taxonomy: exit 130 (or 0 if it had finished)" \
    bash -c "[[ ${rc} == 130 || ${rc} == 0 ]]"
  reset_stats
  run -t "${TMP}/big.ndjson" --batch 8 --cache-dir "${TMP}/cache-int" </dev/null \
    >/dev/null 2>"${TMP}/err-int2"
  local cached embedded
  cached="$(sed -n 's/.*entries, hash [0-9a-f]*, \([0-9]*\) vectors from the cache.*/\1/p' \
    "${TMP}/err-int2")"
  embedded="$(sed -n 's/.* vectors from the cache, \([0-9]*\) embedded.*/\1/p' "${TMP}/err-int2")"
  t "the rerun embeds exactly what the first run had not cached (${cached} cached)" \
    bash -c "[[ '${cached}' =~ ^[0-9]+$ ]] && (( ${cached} + ${embedded} == 600 )) &&
      curl -sS --noproxy '*' '${URL}/_double/stats' | jq -e '.embed_inputs == ${embedded}'"
}

main() {
  trap cleanup EXIT
  TMP="$(mktemp -d)"
  if [[ ! -x "${CLASSIFY}" || ! -x "${LLMD}" ]]; then
    err "build first: make ${CLASSIFY} ${LLMD}"
    echo "0 passed, 1 failed"
    exit 1
  fi
  start_llmd --dim "${DIM}" --lanes 4
  write_taxonomy
  test_cache
  test_items
  test_verify
  test_faults
  test_startup
  test_openai
  test_eval
  test_interrupt
  test_example_items
  test_man_verify
  summary
}

main "$@"
