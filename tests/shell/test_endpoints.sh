#!/usr/bin/env bash
# test_endpoints.sh: per-tool servers and endpoint lists (issue 13) against
# several LLM test doubles (tests/llmd) side by side: the settings (text
# and YAML list forms, errors, --print-config), one ingest.sh run with a
# chat server for mine and a separate embedding server for embed and
# classify, a key per server, balancing by capacity (the request log naming each request's
# server), a double killed mid-run (every record exactly once, none
# failed) and probed back in when it is started again.
# Prints "ok N - ..." lines and "N passed, M failed"; exit 1 on a failure.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
BUILD="$(cd "${LANES_BUILD:-./build}" && pwd)"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly INGEST="${ROOT}/pipelines/ingest.sh"
readonly DOCS="${ROOT}/pipelines/examples/docs"
readonly TAXONOMY="${ROOT}/pipelines/examples/taxonomy.yaml"
export PATH="${BIN}:${PATH}"
export LANES_LOG_TIME=0 LANES_LLM_BACKOFF_MS=2 LANES_LLM_BACKOFF_MAX_MS=50

# records N FILE: N records r1..rN with distinct texts.
records() {
  seq 1 "$1" | jq -c '{id: "r\(.)", text: "text of record \(.)"}' >"$2"
}

# once IN OUT: every id of IN comes out of OUT exactly once, none failed.
once() {
  local want got errs
  want="$(jq -r .id "$1" | sort)"
  got="$(jq -r .id "$2" | sort)"
  errs="$(jq -c 'select(.errors) | {id, errors}' "$2" | head -n 3)"
  if [[ "${want}" != "${got}" ]]; then
    echo "ids differ: $(diff <(echo "${want}") <(echo "${got}") | head -n 5)"
    return 1
  fi
  if [[ -n "${errs}" ]]; then
    echo "failed records: ${errs}"
    return 1
  fi
}

# requests_of NAME: model requests the double NAME answered.
requests_of() {
  stats_of "$1" | jq .requests
}

# wait_for COMMAND...: until COMMAND holds (at most 30 s) while the run
# RUN_PID goes on; fails when the run ended first.
wait_for() {
  local i
  for ((i = 0; i < 600; i++)); do
    if "$@"; then
      return 0
    fi
    if ! kill -0 "${RUN_PID}" 2>/dev/null; then
      echo "the run ended before: $*"
      return 1
    fi
    sleep 0.05
  done
  echo "not within 30 s: $*"
  return 1
}

served_at_least() {
  local n
  n="$(requests_of "$1" 2>/dev/null)" || return 1
  ((n >= $2))
}

test_settings() {
  local rc=0 out
  out="$(LANES_MINE_ENDPOINTS="http://h1:1,capacity=2 http://u:pw@h2:2/v1,model=m2,weight=3" \
    mine --print-config)"
  t "--print-config: mine's chat servers, with where they come from (password hidden)" \
    grep -Fx '# chat servers (mine.endpoints): http://h1:1 (ollama, capacity 2), http://u:<redacted>@h2:2/v1 (openai, model m2, weight 3)' <<<"${out}"
  cat >"${TMP}/eps.yaml" <<'EOF'
llm:
  endpoints:
    - url: http://a:1/v1
      capacity: 4
    - http://b:2
embed:
  endpoints:
    - {url: "http://c:3", backend: openai, weight: 2}
EOF
  out="$(classify --tunables "${TMP}/eps.yaml" --print-config)"
  t "YAML lists: llm.endpoints for classify's chat, embed.endpoints for its embeddings" \
    grep -Fx -e '# chat servers (llm.endpoints): http://a:1/v1 (openai, capacity 4), http://b:2 (ollama)' \
    -e '# embedding servers (embed.endpoints): http://c:3 (openai, weight 2)' <<<"${out}"
  t "YAML lists: shown in the text form" \
    grep -F 'endpoints: "http://a:1/v1,capacity=4\nhttp://b:2\n"  # file' <<<"${out}"
  out="$(mine --tunables "${TMP}/eps.yaml" --url http://flag:9 --print-config)"
  t "--url wins over the file's endpoint lists" \
    grep -Fx '# chat servers (llm.base_url): http://flag:9 (ollama)' <<<"${out}"
  printf 'llm:\n  endpoints:\n    - {model: x}\n' >"${TMP}/nourl.yaml"
  rc=0
  mine --tunables "${TMP}/nourl.yaml" </dev/null 2>"${TMP}/nourl.err" || rc=$?
  t "an endpoint without a url: exit 2, with the line" \
    bash -c "((${rc} == 2)) && grep -F 'nourl.yaml:3: llm.endpoints: an endpoint needs a url' '${TMP}/nourl.err'"
  rc=0
  LANES_LLM_ENDPOINTS="http://a:1,speed=3" mine </dev/null 2>"${TMP}/opt.err" || rc=$?
  t "an unknown option: exit 2, naming it" \
    bash -c "((${rc} == 2)) && grep -F \"llm.endpoints: http://a:1: unknown option 'speed'\" '${TMP}/opt.err'"
  rc=0
  LANES_LLM_ENDPOINTS="http://a:1,capacity=0" mine </dev/null 2>"${TMP}/cap.err" || rc=$?
  t "capacity 0: exit 2" \
    bash -c "((${rc} == 2)) && grep -F \"capacity '0' is not a whole number\" '${TMP}/cap.err'"
  # a server of a list that cannot be reached: the message names the list,
  # not llm.base_url, which does not apply (port 1, tcpmux: nothing listens)
  rc=0
  echo '{"id":"a","text":"x"}' | LANES_LLM_MAX_ATTEMPTS=1 \
    LANES_EMBED_ENDPOINTS="http://127.0.0.1:1" embed --model m >/dev/null \
    2>"${TMP}/unreach.err" || rc=$?
  t "an unreachable server of embed.endpoints: exit 3, naming the list" \
    bash -c "((${rc} == 3)) && grep -F 'is it running? Check the list in embed.endpoints' '${TMP}/unreach.err'"
}

# An embedding list whose endpoints serve two models is refused.
test_mixed_embed() {
  start_llmd_as E1 --models nomic-embed-text,all-minilm
  start_llmd_as E2 --models nomic-embed-text,all-minilm
  local rc=0
  echo '{"id":"a","text":"x"}' |
    LANES_EMBED_ENDPOINTS="${LLMD_URLS[E1]} ${LLMD_URLS[E2]},model=all-minilm" \
      embed >/dev/null 2>"${TMP}/mixed.err" || rc=$?
  t "an embedding list with two models: exit 2, vectors would not be comparable" \
    bash -c "((${rc} == 2)) && grep -F 'embeddings of two models are not comparable' '${TMP}/mixed.err'"
  rc=0
  echo '{"id":"a","text":"x"}' |
    LANES_EMBED_ENDPOINTS="${LLMD_URLS[E1]},model=all-minilm ${LLMD_URLS[E2]},model=all-minilm" \
      embed >"${TMP}/same.out" 2>"${TMP}/same.err" || rc=$?
  t "an embedding list with one model (its own name on each): embedded with it" \
    bash -c "((${rc} == 0)) && jq -e '.embedding | length == 64' '${TMP}/same.out'"
  kill_llmd_as E1 TERM
  kill_llmd_as E2 TERM
}

# Each endpoint with its own API key (api_key_file=): two OpenAI-style
# doubles that take different keys serve one list; a key a server refuses
# is named by its file; the keys are never shown.
test_keys() {
  start_llmd_as K1 --api openai --api-key key-one-secret
  start_llmd_as K2 --api openai --api-key key-two-secret
  printf 'key-one-secret\n' >"${TMP}/k1"
  printf 'key-two-secret\n' >"${TMP}/k2"
  records 40 "${TMP}/keys.in"
  local rc=0 list="${LLMD_URLS[K1]}/v1,api_key_file=${TMP}/k1 ${LLMD_URLS[K2]}/v1,api_key_file=${TMP}/k2"
  OPENAI_API_KEY=wrong-key LANES_MINE_ENDPOINTS="${list}" \
    mine <"${TMP}/keys.in" >"${TMP}/keys.out" 2>"${TMP}/keys.err" || rc=$?
  t "two servers, each with its own api_key_file: exit 0, every record once" \
    bash -c "((${rc} == 0)) && $(declare -f once); once '${TMP}/keys.in' '${TMP}/keys.out'"
  t "... both served (K1 $(requests_of K1), K2 $(requests_of K2))" \
    bash -c "(($(requests_of K1) > 0 && $(requests_of K2) > 0))"
  LANES_MINE_ENDPOINTS="${list}" mine --print-config >"${TMP}/keys.conf"
  t "the keys are never shown (log, --print-config)" \
    bash -c "! grep -q 'secret' '${TMP}/keys.err' '${TMP}/keys.conf'"
  rc=0
  records 1 "${TMP}/key1.in"
  LANES_LLM_MAX_ATTEMPTS=1 LANES_MINE_ENDPOINTS="${LLMD_URLS[K2]}/v1,api_key_file=${TMP}/k1" \
    mine <"${TMP}/key1.in" >/dev/null 2>"${TMP}/badkey.err" || rc=$?
  t "a key the server refuses: the record fails, the message names its api_key_file" \
    bash -c "((${rc} != 0)) && grep -F 'refused the API key of its api_key_file ${TMP}/k1' '${TMP}/badkey.err'"
  rc=0
  printf 'llm:\n  endpoints:\n    - {url: "%s/v1", api_key_file: "%s"}\n' \
    "${LLMD_URLS[K1]}" "${TMP}/k1" >"${TMP}/keys.yaml"
  OPENAI_API_KEY=wrong-key mine --tunables "${TMP}/keys.yaml" <"${TMP}/key1.in" \
    >"${TMP}/key1.out" 2>"${TMP}/key1.err" || rc=$?
  t "api_key_file in a YAML list entry" \
    bash -c "((${rc} == 0)) && jq -e '.mined' '${TMP}/key1.out' >/dev/null"
  rc=0
  LANES_MINE_ENDPOINTS="${LLMD_URLS[K1]}/v1,api_key_file=${TMP}/nokey" \
    mine </dev/null 2>"${TMP}/nokey.err" || rc=$?
  t "an api_key_file that cannot be read: exit 2, naming it" \
    bash -c "((${rc} == 2)) && grep -F \"cannot read api_key_file '${TMP}/nokey'\" '${TMP}/nokey.err'"
  kill_llmd_as K1 TERM
  kill_llmd_as K2 TERM
}

# One ingest.sh run: mine on a chat-only server, embed and classify on an
# embedding-only one; nothing goes to llm.base_url.
test_per_tool() {
  start_llmd_as CHAT --models llama3.2:3b --lanes 2
  start_llmd_as EMB --models nomic-embed-text --lanes 2
  local dead rc=0
  dead="http://127.0.0.1:9"
  local -a env=(LANES_LLM_BASE_URL="${dead}" LANES_MINE_ENDPOINTS="${LLMD_URLS[CHAT]}"
    LANES_EMBED_ENDPOINTS="${LLMD_URLS[EMB]}")
  env "${env[@]}" "${INGEST}" --db "${TMP}/tools.db" --taxonomy "${TAXONOMY}" --print-config \
    >"${TMP}/tools.conf" 2>&1 || rc=$?
  t "ingest.sh --print-config: mine's, embed's and classify's servers" \
    grep -Fx -e "# chat servers (mine.endpoints): ${LLMD_URLS[CHAT]} (ollama)" \
    -e "# embedding servers (embed.endpoints): ${LLMD_URLS[EMB]} (ollama)" "${TMP}/tools.conf"
  t "... classify embeds on embed's servers too" \
    bash -c "[[ \$(grep -c -Fx '# embedding servers (embed.endpoints): ${LLMD_URLS[EMB]} (ollama)' '${TMP}/tools.conf') == 2 ]]"
  rc=0
  env "${env[@]}" "${INGEST}" --db "${TMP}/tools.db" --taxonomy "${TAXONOMY}" "${DOCS}" \
    >/dev/null 2>"${TMP}/tools.err" || rc=$?
  t "one ingest.sh run with a chat server and an embedding server: exit 0" \
    bash -c "((${rc} == 0)) || { tail -n 5 '${TMP}/tools.err'; exit 1; }"
  t "mine's requests went to the chat server only" \
    jq -e '.chat_requests > 0 and .embed_requests == 0' <<<"$(stats_of CHAT)"
  t "embed's and classify's went to the embedding server only" \
    jq -e '.embed_requests > 0 and .chat_requests == 0' <<<"$(stats_of EMB)"
  t "the store holds every segment mined, embedded and classified" \
    bash -c "store --db '${TMP}/tools.db' dump | jq -e -s 'length > 0 and all(.mined and .embedding and .class)' >/dev/null"
  kill_llmd_as CHAT TERM
  kill_llmd_as EMB TERM
}

# Two doubles of 1 and 3 lanes: the requests share out by capacity.
test_balance() {
  start_llmd_as A --lanes 1 --latency-ms 20
  start_llmd_as B --lanes 3 --latency-ms 20
  records 120 "${TMP}/bal.in"
  local rc=0
  LANES_MINE_ENDPOINTS="${LLMD_URLS[A]},capacity=1 ${LLMD_URLS[B]},capacity=3" \
    LANES_LLM_LOG=errors LANES_LLM_LOG_FILE="${TMP}/bal.log" \
    mine <"${TMP}/bal.in" >"${TMP}/bal.out" 2>"${TMP}/bal.err" || rc=$?
  t "two endpoints: exit 0, every record once" \
    bash -c "((${rc} == 0)) && $(declare -f once); once '${TMP}/bal.in' '${TMP}/bal.out'"
  local a b
  a="$(requests_of A)"
  b="$(requests_of B)"
  t "the 3-lane double got at least twice the 1-lane one's requests (A ${a}, B ${b})" \
    bash -c "((${a} > 0 && ${b} >= 2 * ${a} && ${a} + ${b} == 120))"
  t "neither double queued: at most its capacity in flight" \
    bash -c "[[ \$(curl -s '${LLMD_URLS[A]}/_double/stats' | jq .peak_queue) == 0 && \$(curl -s '${LLMD_URLS[B]}/_double/stats' | jq .peak_queue) == 0 ]]"
  t "the start line names each endpoint with its capacity" \
    grep -F "endpoints=${LLMD_URLS[A]} (ollama, capacity 1, weight 1),${LLMD_URLS[B]} (ollama, capacity 3, weight 1) from=mine.endpoints" "${TMP}/bal.err"
  t "the summary has a line per endpoint" \
    grep -F "mine: llm: ${LLMD_URLS[B]}: ${b} requests, 0 failed calls, taken out 0 times" "${TMP}/bal.err"
  # shellcheck disable=SC2016 # jq's variables
  t "the request log names the server of each request (A ${a}, B ${b})" \
    jq -se --arg a "${LLMD_URLS[A]}" --arg b "${LLMD_URLS[B]}" --argjson na "${a}" --argjson nb "${b}" \
      'map(select(.kind == "request")) | (map(select(.server == $a)) | length) == $na
        and (map(select(.server == $b)) | length) == $nb' "${TMP}/bal.log"
  kill_llmd_as A TERM
  kill_llmd_as B TERM
}

# The example of lanes(7), SCALE-OUT, "One box, many servers", as printed
# there (its .EX block: "$ " lines are commands, the lines after one its
# output), with three doubles in place of gpu1:8000 (vLLM's model name),
# gpu2:11434 and gpu1:8081 (embeddings); "$ cat FILE" writes FILE.
test_lanes7() {
  start_llmd_as V --api openai --models meta-llama/Llama-3.2-3B-Instruct --lanes 2
  start_llmd_as O --api ollama --models llama3.2:3b --lanes 2
  start_llmd_as L --api openai --models nomic-embed-text --lanes 2
  local dir="${TMP}/lanes7" subst
  mkdir -p "${dir}/ex"
  ln -s "${ROOT}/pipelines" "${dir}/pipelines"
  subst="s|http://gpu1:8000|${LLMD_URLS[V]}|g; s|http://gpu2:11434|${LLMD_URLS[O]}|g; s|http://gpu1:8081|${LLMD_URLS[L]}|g"
  awk '/^\.SS One box, many servers/ { on = 1; next } /^\.S[SH] / { on = 0 }
    on && /^\.EX$/ { inb = 1; next } on && /^\.EE$/ { inb = 0; next } on && inb' \
    "${ROOT}/man/lanes.7" |
    sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\\\(dq/"/g' -e "${subst}" |
    awk -v dir="${dir}/ex" '/^\$ / { n++; print substr($0, 3) > (dir "/" n ".cmd"); printf "" > (dir "/" n ".out"); next }
      { print > (dir "/" n ".out") }'
  local n
  n="$(find "${dir}/ex" -name '*.cmd' | wc -l)"
  t "lanes(7) One box, many servers: an example of 4 commands" test "${n}" -eq 4
  local i rc cmd
  for ((i = 1; i <= n; i++)); do
    cmd="$(<"${dir}/ex/${i}.cmd")"
    if [[ "${cmd}" =~ ^cat\ ([a-z.]+)$ ]]; then
      cp "${dir}/ex/${i}.out" "${dir}/${BASH_REMATCH[1]}"
    fi
    rc=0
    (cd "${dir}" && bash -o pipefail -c "${cmd}") >"${dir}/ex/${i}.got" 2>"${dir}/ex/${i}.err" || rc=$?
    t "lanes(7) One box, many servers: ${cmd%% |*} exits 0 and prints what the page shows" \
      bash -c "((${rc} == 0)) || { tail -n 5 '${dir}/ex/${i}.err'; exit 1; }; diff '${dir}/ex/${i}.out' '${dir}/ex/${i}.got'"
  done
  t "... both chat servers mined, the embedding server embedded only" \
    bash -c "(($(requests_of V) > 0 && $(requests_of O) > 0)) && jq -e '.chat_requests == 0 and .embed_requests > 0' <<<'$(stats_of L)' >/dev/null"
  kill_llmd_as V TERM
  kill_llmd_as O TERM
  kill_llmd_as L TERM
}

# A double killed mid-run: its requests go to the other one, nothing is
# lost; started again, it is probed back in and serves again.
test_failover() {
  start_llmd_as A --lanes 2 --latency-ms 20
  start_llmd_as B --lanes 2 --latency-ms 20
  records 1500 "${TMP}/fo.in"
  LANES_MINE_ENDPOINTS="${LLMD_URLS[A]} ${LLMD_URLS[B]}" LANES_MINE_STATS_INTERVAL=1 \
    mine <"${TMP}/fo.in" >"${TMP}/fo.out" 2>"${TMP}/fo.err" &
  RUN_PID=$!
  PIDS+=("${RUN_PID}")
  t "the run is under way on A" wait_for served_at_least A 20
  kill_llmd_as A KILL
  t "A, killed, is taken out" wait_for grep -q "${LLMD_URLS[A]}: taken out" "${TMP}/fo.err"
  start_llmd_as A --lanes 2 --latency-ms 20
  t "A, started again, serves again" wait_for served_at_least A 10
  local rc=0
  wait "${RUN_PID}" || rc=$?
  t "the run ends with exit 0" bash -c "((${rc} == 0)) || { tail -n 5 '${TMP}/fo.err'; exit 1; }"
  t "every record came out exactly once, none failed" once "${TMP}/fo.in" "${TMP}/fo.out"
  t "A was probed back in" grep -F "${LLMD_URLS[A]}: back in" "${TMP}/fo.err"
  t "the progress lines show each endpoint" \
    grep -E "; ${LLMD_URLS[B]} [0-9]+/[0-9]+" "${TMP}/fo.err"
  kill_llmd_as A TERM
  kill_llmd_as B TERM
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  test_settings
  test_mixed_embed
  test_keys
  test_per_tool
  test_lanes7
  test_balance
  test_failover
  summary
}

main "$@"
