#!/usr/bin/env bash
# test_reqlog.sh: the request log and token accounting (issue 11) against
# llmd, the LLM test double: a failed record keeps its last answer in
# errors.mine.answer with the log off; llm.log errors writes failed
# requests and invalid answers whole and the others as short lines,
# llm.log all every prompt and answer; entries name the record ids
# (embedding batches all of them), the attempt, the HTTP status and the
# tokens the server counted (the double counts ceil(bytes / 4), as the
# real servers report them in usage / prompt_eval_count / eval_count, on
# both wire formats, streamed or not); the summary line and --summary-json
# add them up; store log --add moves a log file into the store, store log
# ID / --errors / --stage read it back and store stats sums it per stage.
# Prints "ok N - ..." lines and "N passed, M failed".
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
BUILD="${LANES_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly BADJSON='Sure! Here is the JSON you asked for: {"claims": ['

# mine NAME INPUT [FLAGS...]: mine with the {{text}} template against URL;
# NAME.out, NAME.err, NAME.json (the summary); RC its exit status.
mine() {
  local name="$1" input="$2"
  shift 2
  RC=0
  LANES_LLM_BASE_URL="${URL}" "${BIN}/mine" --prompt "${TMP}/text.txt" --progress never \
    --summary-json "${TMP}/${name}.json" "$@" <"${input}" >"${TMP}/${name}.out" \
    2>"${TMP}/${name}.err" || RC=$?
}

test_answer_kept() {
  start_llmd
  config '{"faults":"badjson","fault_rate":1}'
  mine kept "${TMP}/two.ndjson"
  t "log off: a failed record keeps its last answer in errors.mine.answer" \
    jq -se --arg a "${BADJSON}" 'length == 2 and all(.[]; .errors.mine.code == "invalid_answer"
      and .errors.mine.answer == $a and .errors.mine.answer_cut == null)' "${TMP}/kept.out"
  t "log off: no log file is written" test ! -e "${TMP}/kept.log"
  config '{"fault_rate":0}'
  LANES_LLM_LOG=errors mine nofile "${TMP}/two.ndjson"
  t "llm.log without llm.log_file: exit 2, saying what to set" \
    bash -c '[[ $1 -eq 2 ]] && grep -q "llm.log_file is empty" "$2"' _ "${RC}" \
    "${TMP}/nofile.err"
}

test_errors_mode() {
  start_llmd
  config '{"faults":"badjson","fault_rate":1}'
  LANES_LLM_LOG=errors LANES_LLM_LOG_FILE="${TMP}/err.log" mine errs "${TMP}/two.ndjson"
  t "errors: 3 requests and 3 invalid answers per record are logged" \
    jq -se '(map(select(.kind == "request")) | length) == 6
      and (map(select(.kind == "answer")) | length) == 6' "${TMP}/err.log"
  t "errors: an invalid answer comes whole: id, code, prompt, answer" \
    jq -se --arg a "${BADJSON}" 'map(select(.kind == "answer" and .id == "r:1"))
      | length == 3 and all(.[]; .code == "invalid_answer" and .prompt == "alpha beta"
        and .answer == $a and .stage == "mine" and .model == "llama3.2:3b")' "${TMP}/err.log"
  t "errors: the feedback turn is logged with the correction fed back" \
    jq -se 'map(select(.kind == "answer" and .id == "r:1" and .feedback != null)) | length == 1
      and (.[0].feedback | startswith("Your answer was not valid"))' "${TMP}/err.log"
  t "errors: a request that went through is one short line, with its tokens" \
    jq -se 'map(select(.kind == "request")) | all(.[]; .prompt == null and .answer == null
      and .http_status == 200 and .attempt == 1 and (.latency_ms | type) == "number"
      and .completion_tokens == 13)' "${TMP}/err.log"
  # "alpha beta" is 10 bytes (3 tokens); the feedback turn adds the
  # answer and the correction to the prompt's messages
  t "errors: prompt tokens as the double counts them (ceil(bytes / 4))" \
    jq -se 'map(select(.kind == "request" and .id == "r:1")) | map(.prompt_tokens)
      | .[0] == 3 and .[2] == 3 and .[1] > 3' "${TMP}/err.log"

  config '{"fault_rate":0,"fail_all":500}'
  LANES_LLM_LOG=errors LANES_LLM_LOG_FILE="${TMP}/http.log" LANES_LLM_MAX_ATTEMPTS=3 \
    LANES_LLM_BACKOFF_MS=1 mine http "${TMP}/one.ndjson"
  t "errors: each failed attempt: its number, HTTP status, code and the server's body" \
    lines_are "${TMP}/http.log" '[.attempt, .http_status, .code, (.answer | length > 0)]' \
    '[1,500,"http_500",true]
[2,500,"http_500",true]
[3,500,"http_500",true]'
  t "a record failed by HTTP errors keeps no answer (none came)" \
    jq -e '.errors.mine.code == "http_500" and .errors.mine.answer == null' "${TMP}/http.out"
}

test_all_mode() {
  local api
  for api in ollama openai; do
    start_llmd --api "${api}"
    local url="${URL}"
    [[ "${api}" == openai ]] && URL="${URL}/v1"
    LANES_LLM_LOG=all LANES_LLM_LOG_FILE="${TMP}/all-${api}.log" mine "all-${api}" \
      "${TMP}/two.ndjson"
    t "all (${api}): every request whole, its answer the mined text" \
      jq -se 'length == 2 and all(.[]; .kind == "request" and .prompt != null
        and (.answer | fromjson | has("claims")))' "${TMP}/all-${api}.log"
    t "all (${api}): tokens are ceil(bytes / 4) of the prompt and of the answer" \
      jq -se 'all(.[]; .prompt_tokens == ((.prompt | length) + 3) / 4 - (((.prompt | length) + 3) % 4) / 4
        and .completion_tokens == ((.answer | length) + 3) / 4 - (((.answer | length) + 3) % 4) / 4)' \
      "${TMP}/all-${api}.log"
    t "all (${api}): the summary line and --summary-json add the tokens up" \
      bash -c 'p=$(jq -s "map(.prompt_tokens) | add" "$1"); c=$(jq -s "map(.completion_tokens) | add" "$1")
        jq -e --argjson p "$p" --argjson c "$c" ".prompt_tokens == \$p and .completion_tokens == \$c" "$2" &&
        grep -q "tokens $p prompt + $c completion" "$3"' _ "${TMP}/all-${api}.log" \
      "${TMP}/all-${api}.json" "${TMP}/all-${api}.err"
    URL="${url}"
  done
  start_llmd --api openai
  LANES_LLM_STREAM=off LANES_LLM_LOG=all LANES_LLM_LOG_FILE="${TMP}/nostream.log" URL="${URL}/v1" \
    mine nostream "${TMP}/two.ndjson"
  t "all (openai, not streamed): tokens from usage" \
    jq -se 'map(select(.id == "r:1")) | length == 1
      and all(.[]; .prompt_tokens == 3 and .completion_tokens > 0)' "${TMP}/nostream.log"
}

test_embed() {
  start_llmd
  LANES_LLM_LOG=all LANES_LLM_LOG_FILE="${TMP}/emb.log" LANES_LLM_BASE_URL="${URL}" \
    "${BIN}/embed" --progress never --summary-json "${TMP}/emb.json" <"${TMP}/two.ndjson" \
    >"${TMP}/emb.out" 2>"${TMP}/emb.err"
  t "embed: one entry for the batch, naming every record, its inputs and vectors" \
    lines_are "${TMP}/emb.log" '[.id, .ids, .input, .vectors, .dim, .prompt_tokens, .answer]' \
    '["r:1",["r:1","r:2"],["alpha beta","gamma"],2,64,5,null]'
  t "embed: --summary-json has the prompt tokens" \
    jq -e '.prompt_tokens == 5 and .completion_tokens == 0' "${TMP}/emb.json"
}

test_store() {
  local db="${TMP}/s.db"
  cat "${TMP}/err.log" "${TMP}/emb.log" >"${TMP}/both.log"
  t "store log --add moves the entries in" \
    bash -c '"$1/store" --db "$2" log --add "$3" 2>&1 | grep -q "added 13 entries"' _ "${BIN}" \
    "${db}" "${TMP}/both.log"
  "${BIN}/store" --db "${db}" log r:2 >"${TMP}/r2.out"
  t "store log ID: the entries of that record, oldest first (the batch too)" \
    lines_are "${TMP}/r2.out" '[.kind, .stage]' \
    "$(jq -c 'select(.id == "r:2" or (.ids // [] | index("r:2"))) | [.kind, .stage]' "${TMP}/both.log")"
  "${BIN}/store" --db "${db}" log --errors >"${TMP}/errors.out"
  t "store log --errors: the invalid answers, whole" \
    jq -se --arg a "${BADJSON}" 'length == 6 and all(.[]; .code == "invalid_answer"
      and .answer == $a)' "${TMP}/errors.out"
  t "store log --stage embed: that stage only" \
    bash -c '[[ $("$1/store" --db "$2" log --stage embed | jq -r .stage) == embed ]]' _ \
    "${BIN}" "${db}"
  "${BIN}/store" --db "${db}" stats --json >"${TMP}/stats.json"
  t "store stats: requests and tokens per stage, from the log" \
    jq -e --slurpfile l "${TMP}/both.log" '.requests.mine.requests == 6
      and .requests.mine.prompt_tokens == ($l | map(select(.stage == "mine" and .kind == "request")
        | .prompt_tokens) | add)
      and .requests.embed == {"requests":1,"failed":0,"prompt_tokens":5,"completion_tokens":0}' \
    "${TMP}/stats.json"
  printf '{"ts":"x"\n' >"${TMP}/cut.log"
  local rc=0
  "${BIN}/store" --db "${db}" log --add "${TMP}/cut.log" 2>"${TMP}/cut.err" || rc=$?
  t "store log --add: a cut line is said with its line number, exit 1" \
    bash -c '[[ $1 -eq 1 ]] && grep -q "cut.log:1: not JSON" "$2"' _ "${rc}" "${TMP}/cut.err"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY
  printf '%s' '{{text}}' >"${TMP}/text.txt"
  printf '%s\n' '{"id":"r:1","text":"alpha beta"}' '{"id":"r:2","text":"gamma"}' \
    >"${TMP}/two.ndjson"
  head -n 1 "${TMP}/two.ndjson" >"${TMP}/one.ndjson"
  test_answer_kept
  test_errors_mode
  test_all_mode
  test_embed
  test_store
  stop_llmd
  summary
}

main "$@"
