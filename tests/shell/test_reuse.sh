#!/usr/bin/env bash
# Results reused by content (issue 9): a 20-segment document is segmented,
# mined and embedded through the store against the LLM test double; then
# a section is inserted near its top, which shifts every later segment to
# another id (doc:seq). Rerun with `store pending --fingerprint` (the
# fingerprints and fields the tools print), only the new and the changed
# segments reach the server: the double's request counters say so. The
# same rerun without reuse sends the shifted ones too, so the check could
# fail.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
BUILD="${LANES_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"

# paragraphs FIRST LAST: one sentence per paragraph, each its own segment.
paragraphs() {
  local i
  for ((i = $1; i <= $2; i++)); do
    printf 'Paragraph %d says something of its own about topic %d.\n\n' "${i}" "${i}"
  done
}

# run_stages DB DOCDIR: segment (pruning), then mine and embed of what is
# pending, each with its fingerprint and the fields it reads.
run_stages() {
  local db="$1" dir="$2" fp
  "${BIN}/segment" --root "${dir}" --target 60 --max 80 "${dir}/doc.md" 2>>"${TMP}/log" |
    "${BIN}/store" --db "${db}" put --prune-docs 2>>"${TMP}/log"
  fp="$("${BIN}/mine" -p "${TMP}/t.txt" -s "${TMP}/s.json" --fingerprint)"
  "${BIN}/store" --db "${db}" pending --stage mine --fingerprint "${fp}" 2>>"${TMP}/log" |
    "${BIN}/mine" -p "${TMP}/t.txt" -s "${TMP}/s.json" 2>>"${TMP}/log" |
    "${BIN}/store" --db "${db}" put 2>>"${TMP}/log"
  fp="$("${BIN}/embed" -m nomic-embed-text --fingerprint)"
  "${BIN}/store" --db "${db}" pending --stage embed --fingerprint "${fp}" 2>>"${TMP}/log" |
    "${BIN}/embed" -m nomic-embed-text --batch 1 2>>"${TMP}/log" |
    "${BIN}/store" --db "${db}" put 2>>"${TMP}/log"
}

texts() {
  "${BIN}/store" --db "$1" dump --order doc | jq -r .text | sort
}

# mined DB: "text<TAB>mined" of every record, by text.
mined() {
  "${BIN}/store" --db "$1" dump | jq -r '[.text, (.mined | tojson)] | @tsv' | sort
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_STORE_DB
  start_llmd --lanes 4
  export LANES_LLM_BASE_URL="${URL}"
  printf '%s' 'Facts of: {{text}}' >"${TMP}/t.txt"
  printf '%s' '{"type":"object","properties":{"topic":{"type":"string"}},"required":["topic"]}' \
    >"${TMP}/s.json"
  # LANES_TEST_STORE_DB: another store (test_store_pg.sh runs this test
  # on PostgreSQL)
  local db="${LANES_TEST_STORE_DB:-${TMP}/r.db}" dir="${TMP}/docs"
  mkdir -p "${dir}"
  paragraphs 1 20 >"${dir}/doc.md"
  run_stages "${db}" "${dir}"
  t "first version: 20 segments, each mined and embedded" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '[.records, .stages.mine.ok, .stages.embed.ok]')" \
    "[20,20,20]"
  t "first version: 20 chat and 20 embedding requests" \
    stat_is '.by_path["/api/chat"] == 20 and .by_path["/api/embed"] == 20'
  texts "${db}" >"${TMP}/v1.texts"
  mined "${db}" >"${TMP}/v1.mined"
  "${BIN}/store" --db "${db}" dump --order doc | jq -r '[.id, .text] | @tsv' >"${TMP}/v1.ids"

  # a section of three paragraphs inserted after the second one
  {
    paragraphs 1 2
    printf '## A new section\n\n'
    paragraphs 101 102
    paragraphs 3 20
  } >"${dir}/doc.md"
  reset_stats
  run_stages "${db}" "${dir}"
  texts "${db}" >"${TMP}/v2.texts"
  local new shifted
  new="$(comm -13 "${TMP}/v1.texts" "${TMP}/v2.texts" | wc -l)"
  shifted="$("${BIN}/store" --db "${db}" dump --order doc | jq -r '[.id, .text] | @tsv' |
    join -t $'\t' - "${TMP}/v1.ids" | awk -F '\t' '$2 != $3' | wc -l)"
  t "second version: some segments are new (${new}), most kept their text under another id (${shifted})" \
    test "${new}" -ge 1 -a "${new}" -le 4 -a "${shifted}" -ge 15
  t "second version: only the new segments reach the server (${new} chat, ${new} embedding requests)" \
    stat_is ".by_path[\"/api/chat\"] == ${new} and .by_path[\"/api/embed\"] == ${new}"
  t "second version: every segment mined and embedded, nothing stale" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '[.records, .stages.mine.ok, .stages.embed.ok, .stages.mine.stale]')" \
    "[$((20 + new)),$((20 + new)),$((20 + new)),0]"
  t "pending said how many it reused" \
    grep -q "pending mine: $((shifted + new)) records, ${shifted} of them reused" "${TMP}/log"
  mined "${db}" >"${TMP}/v2.mined"
  t "every reused result is the one its text got before" \
    eq "$(join -t $'\t' "${TMP}/v1.mined" "${TMP}/v2.mined" | awk -F '\t' '$2 == $3' | wc -l)" 20

  # without reuse (no fields after the fingerprint) the shifted ones go too
  paragraphs 1 20 >"${dir}/doc.md"
  reset_stats
  "${BIN}/segment" --root "${dir}" --target 60 --max 80 "${dir}/doc.md" 2>>"${TMP}/log" |
    "${BIN}/store" --db "${db}" put --prune-docs 2>>"${TMP}/log"
  local fp
  fp="$("${BIN}/mine" -p "${TMP}/t.txt" -s "${TMP}/s.json" --fingerprint)"
  "${BIN}/store" --db "${db}" pending --stage mine --fingerprint "${fp%%:*}" 2>>"${TMP}/log" |
    "${BIN}/mine" -p "${TMP}/t.txt" -s "${TMP}/s.json" 2>>"${TMP}/log" |
    "${BIN}/store" --db "${db}" put 2>>"${TMP}/log"
  t "without reuse, every shifted segment is mined again" stat_is '.by_path["/api/chat"] >= 15'
  summary
}

main "$@"
