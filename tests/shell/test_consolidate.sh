#!/usr/bin/env bash
# test_consolidate.sh: consolidate offline (hash embedder) and against the
# LLM test double (tests/llmd): names merged by the rules (titles,
# initials, partial names, acronyms, spelling), near-misses kept apart, the
# document deciding a partial name, mentions with their quote, time span
# and item members, reruns that only add (--entities, ids kept, nothing
# written when nothing changed), --all, the labelled set's pairwise
# precision and recall (--eval, text and JSON), the LLM check of the
# uncertain band (scripted YES/NO, bad answers, counts from
# /_double/stats), store round trips, and errors (usage, bad entities
# file, records without id, rejected lines, a missing model).
# Prints "ok N - ..." lines and "N passed, M failed"; exit 1 on a failure.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly CONSOLIDATE="${BIN}/consolidate"
readonly LLMD="${BUILD}/tests/llmd"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly GOLD="${ROOT}/tests/consolidate/gold.ndjson"

# Runs consolidate offline unless told otherwise.
run() {
  LANES_LOG_TIME=0 LANES_PROMPTS="${ROOT}/pipelines/prompts" "${CONSOLIDATE}" "$@"
}

# Runs consolidate against the double, with fast retries.
run_llm() {
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MS=2 LANES_LLM_BACKOFF_MAX_MS=20 \
    LANES_LLM_MAX_CONCURRENCY=8 run "$@"
}

write_records() {
  cat >"${TMP}/r.ndjson" <<'EOF'
{"id":"a:0","doc":"a","text":"Dr. Claire Moreau leads the lab at the World Health Organization (WHO). She said LLMs are overrated.","mined":{"people":[{"name":"Dr. Claire Moreau","role":"lab lead"}],"organisations":[{"name":"World Health Organization (WHO)","description":"UN agency"}],"jargon":[{"term":"LLMs","definition":"large language models"}]}}
{"id":"a:1","doc":"a","text":"Later the WHO asked Anna Schmidt about fine-tuning.","mined":{"people":[{"name":"Anna Schmidt","role":"adviser"}],"organisations":[{"name":"the WHO","description":""}],"jargon":[{"term":"fine-tuning","definition":""}]}}
{"id":"b:0","doc":"b","text":"Pierre Moreau and Anne Schmidt met at the World Health Organisation.","mined":{"people":[{"name":"Pierre Moreau","role":""},{"name":"Anne Schmidt","role":""}],"organisations":[{"name":"World Health Organisation","description":""}]}}
{"id":"b:1","doc":"b","text":"Moreau presented the large language model results on finetuning.","t0":12.5,"t1":18,"mined":{"people":[{"name":"Moreau","role":"presenter"}],"jargon":[{"term":"large language model","definition":"a model"},{"term":"finetuning","definition":""}]}}
{"id":"c:0","doc":"c","text":"C. Moreau wrote the report.","mined":{"people":[{"name":"C. Moreau","role":"author","t0":3}]}}
{"id":"d:0","doc":"d","text":"Nothing mined here."}
EOF
}

test_rules() {
  local rc=0
  run -e hash <"${TMP}/r.ndjson" >"${TMP}/e.ndjson" 2>"${TMP}/err" || rc=$?
  t "offline run: exit 0" test "${rc}" = 0
  t "entities in the order of their first mention, each with its aliases" \
    lines_are "${TMP}/e.ndjson" '[.id, .aliases]' \
    '["people:claire-moreau",["Dr. Claire Moreau","C. Moreau"]]
["organisations:world-health-organization",["World Health Organization (WHO)","the WHO","World Health Organisation"]]
["jargon:large-language-model",["LLMs","large language model"]]
["people:anna-schmidt",["Anna Schmidt"]]
["jargon:fine-tuning",["fine-tuning","finetuning"]]
["people:pierre-moreau",["Pierre Moreau","Moreau"]]
["people:anne-schmidt",["Anne Schmidt"]]'
  t "an entity's id comes from its name with the most words; its mentions in input order" \
    jq -e -s 'map(select(.list == "jargon"))[0].mentions | map(.record) == ["a:0", "b:1"]' \
      "${TMP}/e.ndjson"
  t "the partial name Moreau goes to the Moreau of its document (b: Pierre)" \
    jq -e -s 'map(select(.id == "people:pierre-moreau"))[0].mentions | map(.record) == ["b:0", "b:1"]' \
      "${TMP}/e.ndjson"
  t "a mention: record, doc, name, quote (its sentence), t0/t1 of the record, the item's members" \
    lines_are "${TMP}/e.ndjson" 'select(.id == "people:pierre-moreau") | .mentions[1]' \
    '{"record":"b:1","doc":"b","name":"Moreau","quote":"Moreau presented the large language model results on finetuning.","t0":12.5,"t1":18,"role":"presenter"}'
  t "an item's own t0 beats the record's; docs list every document" \
    jq -e -s 'map(select(.id == "people:claire-moreau"))[0] | .mentions[1].t0 == 3
      and .docs == ["a", "c"] and .mention_count == 2 and .kind == "person"
      and .list == "people" and .name == "Dr. Claire Moreau" and .text == .name' \
      "${TMP}/e.ndjson"
  t "stderr: the mentions line and the entities line" \
    bash -c "grep -q 'consolidate: mentions: 13 (0 items without a name skipped), 0 already held' \
      '${TMP}/err' && grep -q 'consolidate: entities: 7 written (7 new, 0 updated)' '${TMP}/err' &&
      grep -q 'done: read 6, ok 5, skipped 1, failed 0' '${TMP}/err'"
  printf '%s\n' '{"id":"w:0","doc":"w","mined":{"people":[{"name":"Li Wei"}]}}' \
    '{"id":"w:1","doc":"v","mined":{"people":[{"name":"Wei Li"}]}}' >"${TMP}/wei.ndjson"
  run -e hash <"${TMP}/wei.ndjson" >"${TMP}/wei.out" 2>"${TMP}/err"
  t "no rule ties Li Wei and Wei Li; their embeddings do (above the threshold)" \
    bash -c "jq -e '.aliases == [\"Li Wei\", \"Wei Li\"]' '${TMP}/wei.out' &&
      grep -q 'by embedding 1;' '${TMP}/err'"
  run -e hash --threshold 0.95 <"${TMP}/wei.ndjson" >"${TMP}/wei.out" 2>/dev/null
  t "above their cosine, they stay apart" test "$(wc -l <"${TMP}/wei.out")" = 2
  run -e hash --lists 'people:name,jargon:term=organisation' <"${TMP}/r.ndjson" \
    >"${TMP}/e2.ndjson" 2>/dev/null
  t "--lists: only the lists named, a field and a kind given" \
    lines_are "${TMP}/e2.ndjson" '[.list, .kind]' \
    '["people","person"]
["jargon","organisation"]
["people","person"]
["jargon","organisation"]
["people","person"]
["people","person"]'
}

test_rerun() {
  run -e hash <"${TMP}/r.ndjson" >"${TMP}/e.ndjson" 2>/dev/null
  run -e hash --entities "${TMP}/e.ndjson" <"${TMP}/r.ndjson" >"${TMP}/again.ndjson" \
    2>"${TMP}/err"
  t "a rerun over the same records writes nothing" test ! -s "${TMP}/again.ndjson"
  t "and says every mention was already held" \
    grep -q 'mentions: 13 (0 items without a name skipped), 13 already held' "${TMP}/err"
  cat >"${TMP}/new.ndjson" <<'EOF'
{"id":"e:0","doc":"e","text":"Claire Moreau, now director, and Dr. Schmidt of Acme spoke about RAG.","mined":{"people":[{"name":"Claire Moreau","role":"director"},{"name":"Dr. Schmidt","role":""}],"organisations":[{"name":"Acme","description":""}],"jargon":[{"term":"RAG","definition":""}]}}
EOF
  run -e hash --entities "${TMP}/e.ndjson" <"${TMP}/new.ndjson" >"${TMP}/more.ndjson" \
    2>"${TMP}/err"
  t "new records: only the entities they change or add are written" \
    lines_are "${TMP}/more.ndjson" '[.id, .mention_count]' \
    '["people:claire-moreau",3]
["people:schmidt",1]
["organisations:acme",1]
["jargon:rag",1]'
  t "an entity read back keeps its id and its earlier mentions" \
    jq -e -s '.[0].mentions | map(.record) == ["a:0", "c:0", "e:0"]' "${TMP}/more.ndjson"
  t "an ambiguous partial name (Dr. Schmidt: Anna or Anne, new document) stays apart" \
    grep -q '1 ambiguous partial names' "${TMP}/err"
  t "the entities line counts new and updated" \
    grep -q 'entities: 4 written (3 new, 1 updated), 7 read back from' "${TMP}/err"
  run -e hash --all --entities "${TMP}/e.ndjson" <"${TMP}/new.ndjson" >"${TMP}/all.ndjson" \
    2>/dev/null
  t "--all writes every entity" test "$(wc -l <"${TMP}/all.ndjson")" = 10
  # the same through store: entities upserted by id
  local db="${TMP}/ent.db"
  run -e hash <"${TMP}/r.ndjson" 2>/dev/null | "${BIN}/store" --db "${db}" put 2>/dev/null
  run -e hash --entities <("${BIN}/store" --db "${db}" dump 2>/dev/null) \
    <"${TMP}/new.ndjson" 2>/dev/null | "${BIN}/store" --db "${db}" put 2>/dev/null
  t "through store: read back with store dump, upserted by id" \
    bash -c "[[ \$('${BIN}/store' --db '${db}' dump 2>/dev/null | wc -l) == 10 ]] &&
      '${BIN}/store' --db '${db}' get people:claire-moreau 2>/dev/null |
        jq -e '.mention_count == 3 and (.aliases | length) == 3'"
}

test_eval() {
  local rc=0
  run -e hash --eval "${GOLD}" >"${TMP}/report" 2>"${TMP}/err" || rc=$?
  t "eval of the labelled set: exit 0, a table per list" \
    bash -c "[[ ${rc} == 0 ]] && grep -qE '^  people +252 +22 ' '${TMP}/report' &&
      grep -qE '^  all +576 +50 ' '${TMP}/report'"
  run -e hash --eval "${GOLD}" --json >"${TMP}/report.json" 2>/dev/null
  t "eval --json: offline pairwise precision >= 0.99 and recall >= 0.9 on the labelled set" \
    jq -e '.all.precision >= 0.99 and .all.recall >= 0.9 and .all.mentions == 576
      and .lists.people.gold == 22 and .mode == "embed" and .embed_model == "hash-384"
      and .model == null and .left_out == 0' "${TMP}/report.json"
  t "eval --json lists the splits with their parts" \
    jq -e '.splits | length > 0 and all(.[]; (.parts | length) >= 2 and .missed_pairs > 0)' \
      "${TMP}/report.json"
  printf '%s\n' \
    '{"id":"x:0","doc":"x","mined":{"people":[{"name":"Ann Lee","gold":"A"},{"name":"Ann Lee","gold":"B"}]}}' \
    '{"id":"x:1","doc":"x","mined":{"people":[{"name":"Bo Ek","gold":"B"},{"name":"Ola Ek"}]}}' \
    >"${TMP}/tiny.ndjson"
  run -e hash --eval "${TMP}/tiny.ndjson" --json >"${TMP}/tiny.json" 2>/dev/null
  t "eval counts pairs: a wrong merge costs precision, a split recall; no gold is left out" \
    jq -e '.left_out == 1 and .all.pairs_found == 1 and .all.pairs_right == 0
      and .all.pairs_gold == 1 and .all.precision == 0 and .all.recall == 0
      and .merges[0].entity == "people:ann-lee"' "${TMP}/tiny.json"
  run -e hash --threshold 0.3 --uncertain 0.3 --eval "${GOLD}" --json >"${TMP}/low.json" \
    2>/dev/null
  t "a low threshold merges near-misses: precision drops" \
    jq -e --slurpfile hi "${TMP}/report.json" '.all.precision < $hi[0].all.precision' \
      "${TMP}/low.json"
}

test_check() {
  cat >"${TMP}/pairs.ndjson" <<'EOF'
{"id":"a:0","doc":"a","text":"Meta Platforms reported results.","mined":{"organisations":[{"name":"Meta Platforms","description":""}]}}
{"id":"b:0","doc":"b","text":"Meta said so [[answer:YES]].","mined":{"organisations":[{"name":"Meta","description":""}]}}
{"id":"c:0","doc":"c","text":"Acme Robotics [[answer:NO]] builds arms.","mined":{"organisations":[{"name":"Acme Robotics","description":""}]}}
{"id":"d:0","doc":"d","text":"Acme sells anvils.","mined":{"organisations":[{"name":"Acme","description":""}]}}
EOF
  reset_stats
  local rc=0
  run_llm -e hash -m verify --uncertain 0.3 --lists organisations <"${TMP}/pairs.ndjson" \
    >"${TMP}/v.ndjson" 2>"${TMP}/err" || rc=$?
  t "verify: a YES merges, a NO keeps apart" \
    lines_are "${TMP}/v.ndjson" '.aliases' '["Meta Platforms","Meta"]
["Acme Robotics"]
["Acme"]'
  t "verify: one question per pair in the band, exit 0" \
    bash -c "[[ ${rc} == 0 ]] && grep -q 'check: 2 pairs asked: 1 yes (1 merged), 1 no, 0 uncertain, 0 failed' \
      '${TMP}/err'"
  t "verify: the double saw 2 chat requests" stat_is '.chat_requests == 2'
  reset_stats
  run_llm -e hash -m verify --uncertain 0.85 --lists organisations <"${TMP}/pairs.ndjson" \
    >/dev/null 2>"${TMP}/err"
  t "verify: nothing in the band, no question" stat_is '.chat_requests == 0'
  sed 's/\[\[answer:YES\]\]/[[answer:Yes, they are]]/' "${TMP}/pairs.ndjson" >"${TMP}/bad.ndjson"
  reset_stats
  rc=0
  run_llm -e hash -m verify --uncertain 0.3 --lists organisations <"${TMP}/bad.ndjson" \
    >"${TMP}/v.ndjson" 2>"${TMP}/err" || rc=$?
  t "verify: an answer not in the form is asked 3 times, then the pair stays apart, exit 1" \
    bash -c "[[ ${rc} == 1 ]] && grep -q '1 failed' '${TMP}/err' &&
      grep -q 'first: bad_answer: 3 answers not in the required form' '${TMP}/err' &&
      [[ \$(wc -l <'${TMP}/v.ndjson') == 4 ]]"
  t "verify: 3 answers for the bad pair, 1 for the other" stat_is '.chat_requests == 4'
  rc=0
  run_llm -e hash -m verify --model nosuch:1b <"${TMP}/pairs.ndjson" >/dev/null \
    2>"${TMP}/err" || rc=$?
  t "verify: a chat model the server lacks: exit 3 before reading input" \
    bash -c "[[ ${rc} == 3 ]] && grep -q 'nosuch:1b' '${TMP}/err'"
  reset_stats
  run_llm -e nomic-embed-text <"${TMP}/r.ndjson" >"${TMP}/s.ndjson" 2>"${TMP}/err"
  t "a server embedding model: names embedded in batches, rules give the same entities" \
    bash -c "stat=\$(curl -sS --noproxy '*' '${URL}/_double/stats') &&
      jq -e '.embed_requests >= 1 and .chat_requests == 0' <<<\"\${stat}\" >/dev/null &&
      diff <(jq -c .aliases '${TMP}/s.ndjson') <(jq -c .aliases '${TMP}/e.ndjson')"
}

test_errors() {
  local rc=0
  run -e hash --lists 'people,,jargon' </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--lists with an empty name: exit 2" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'an empty list name' '${TMP}/err'"
  rc=0
  run -e hash --lists 'people=animal' </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--lists with an unknown kind: exit 2" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'a kind other than person, organisation or term' '${TMP}/err'"
  rc=0
  run -e hash --threshold 0.5 --uncertain 0.7 </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--uncertain above --threshold: exit 2" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'uncertain (0.7) is above' '${TMP}/err'"
  printf '%s\n' '{"id":"people:x","list":"people","aliases":["X Y"],"mentions":[]}' \
    '{"id":"a:0","text":"not an entity"}' >"${TMP}/bad-ent.ndjson"
  rc=0
  run -e hash --entities "${TMP}/bad-ent.ndjson" </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--entities with a line that is no entity: exit 2 with file:line" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'bad-ent.ndjson:2: not an entity' '${TMP}/err'"
  rc=0
  run -e hash --entities "${TMP}/nosuch" </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--entities that cannot be opened: exit 2" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'cannot open the entities' '${TMP}/err'"
  rc=0
  printf '%s\n' '{"doc":"x","mined":{"people":[{"name":"A B"}]}}' 'not json' \
    '{"id":"y","mined":{"people":[{"name":"C D"},{"role":"no name"},"E F"]}}' |
    run -e hash >"${TMP}/o.ndjson" 2>"${TMP}/err" || rc=$?
  t "a record without id fails, a line that is not JSON is rejected: exit 1" \
    bash -c "[[ ${rc} == 1 ]] && grep -q 'record has no \"id\"' '${TMP}/err' &&
      grep -q 'read 3, ok 1, skipped 0, failed 1, retried 0, rejected 1' '${TMP}/err'"
  t "an item without a name is skipped and counted; a plain string is a name" \
    bash -c "grep -q '1 items without a name skipped' '${TMP}/err' &&
      [[ \$(jq -c '[.name]' '${TMP}/o.ndjson' | paste -sd ' ') == '[\"C D\"] [\"E F\"]' ]]"
  rc=0
  run -e hash --json </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "--json without --eval: exit 2" test "${rc}" = 2
}

# SIGINT while the input is still open: what was read is consolidated and
# written, exit 130 (the stats line says when the records are in).
test_signal() {
  local fifo="${TMP}/in.fifo" pid rc=0 i
  mkfifo "${fifo}"
  # not through run(): $! must be consolidate itself
  LANES_LOG_TIME=0 LANES_CONSOLIDATE_STATS_INTERVAL=1 "${CONSOLIDATE}" -e hash <"${fifo}" \
    >"${TMP}/sig.ndjson" 2>"${TMP}/sig.err" &
  pid=$!
  PIDS+=("${pid}")
  exec 3>"${fifo}"
  cat "${TMP}/r.ndjson" >&3
  for ((i = 0; i < 200; i++)); do
    grep -q 'progress: read 6,' "${TMP}/sig.err" && break
    sleep 0.05
  done
  kill -INT "${pid}"
  wait "${pid}" || rc=$?
  exec 3>&-
  t "SIGINT with the input open: exit 130, the records read are consolidated and written" \
    bash -c "[[ ${rc} == 130 ]] && [[ \$(wc -l <'${TMP}/sig.ndjson') == 7 ]] &&
      grep -q 'entities: 7 written' '${TMP}/sig.err'"
}

main() {
  trap cleanup EXIT
  TMP="$(mktemp -d)"
  if [[ ! -x "${CONSOLIDATE}" || ! -x "${LLMD}" ]]; then
    err "build first: make ${CONSOLIDATE} ${LLMD}"
    echo "0 passed, 1 failed"
    exit 1
  fi
  start_llmd --lanes 4
  write_records
  test_rules
  test_rerun
  test_eval
  test_check
  test_errors
  test_signal
  summary
}

main "$@"
