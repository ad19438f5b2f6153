#!/usr/bin/env bash
# test_json_input.sh: JSON texts that cJSON reads differently from other
# readers mean the same thing in every tool (issue 8, common/json.c):
# segment (NDJSON input), mine, embed, classify and store put each refuse a
# line with a control byte between tokens, \u0000, an invalid \u escape or
# a repeated member name (plain or escaped), naming it, and pass the good
# lines around it; each drops a byte order mark at the start of a line and
# reads an escaped member name as the name. Every line they write is
# strict JSON without repeated names (python3's json). Also store's two
# old bugs (a \v that made "failures"1, a line starting with \v that
# overwrote a record) and mine's answer check on repeated names and
# \u0000. Prints "ok N - ..." lines and "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly LLMD="${BUILD}/tests/llmd"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly TOOLS=(segment mine embed classify store)
RC=0

# Writes a good line, the row's bytes, another good line.
make_input() {
  local name="$1" bytes="$2"
  {
    printf '{"id":"g1","text":"Good one."}\n'
    printf '%b\n' "${bytes}"
    printf '{"id":"g2","text":"Good two."}\n'
  } >"${TMP}/${name}.in"
}

# run_tool TOOL NAME [FLAGS...]: TOOL on NAME.in into NAME.TOOL.out/.err;
# sets RC.
run_tool() {
  local tool="$1" name="$2"
  shift 2
  local -a cmd
  case "${tool}" in
    segment) cmd=("${BIN}/segment") ;;
    mine) cmd=("${BIN}/mine" --prompt "${TMP}/text.txt") ;;
    embed) cmd=("${BIN}/embed" -m nomic-embed-text) ;;
    classify)
      cmd=("${BIN}/classify" -t "${TMP}/tax.yaml" --threshold -1 --cache-dir "${TMP}/cache")
      ;;
    store) cmd=("${BIN}/store" --db "${TMP}/${name}.db" put --tee) ;;
  esac
  RC=0
  LANES_LLM_BASE_URL="${URL}" LANES_PROMPTS="${ROOT}/pipelines/prompts" \
    "${cmd[@]}" "$@" --progress never <"${TMP}/${name}.in" \
    >"${TMP}/${name}.${tool}.out" 2>"${TMP}/${name}.${tool}.err" || RC=$?
}

# strict FILE: every line is JSON to python3 (no byte order mark, no
# control byte between tokens), with no member name twice in an object.
strict() {
  python3 - "$1" <<'PY'
import json, sys

def pairs(ps):
    names = [k for k, _ in ps]
    dup = {k for k in names if names.count(k) > 1}
    if dup:
        raise ValueError("repeated names %s" % sorted(dup))
    return dict(ps)

for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        json.loads(line, object_pairs_hook=pairs)
    except ValueError as e:
        sys.exit("line %d: %s: %r" % (n, e, line[:80]))
PY
}

# ids FILE: the records' ids, one line (segment's g1:0 counts as g1).
ids() {
  jq -r '.id | sub(":[0-9]+$"; "")' "$1" | tr '\n' ' '
}

# A row every tool refuses: exit 1, the reason on stderr with the line
# number, the good lines through, the output strict.
refused_row() {
  local name="$1" bytes="$2" want="$3" tool
  make_input "${name}" "${bytes}"
  for tool in "${TOOLS[@]}"; do
    run_tool "${tool}" "${name}"
    local out="${TMP}/${name}.${tool}.out"
    t "${tool} ${name}: exit 1" test "${RC}" -eq 1
    t "${tool} ${name}: stderr says '<stdin>:2: ${want}'" \
      grep -qF -- "<stdin>:2: ${want}" "${TMP}/${name}.${tool}.err"
    t "${tool} ${name}: the good lines pass, the bad one does not" \
      test "$(ids "${out}")" = "g1 g2 "
    t "${tool} ${name}: what it writes is strict JSON" strict "${out}"
  done
}

# A row every tool takes: exit 0, three records out, strict; check is a
# jq test on the record of the row (its id starts with the row's id).
taken_row() {
  local name="$1" bytes="$2" id="$3" tool
  make_input "${name}" "${bytes}"
  for tool in "${TOOLS[@]}"; do
    run_tool "${tool}" "${name}"
    local out="${TMP}/${name}.${tool}.out" check
    t "${tool} ${name}: exit 0" test "${RC}" -eq 0
    t "${tool} ${name}: all three records out" test "$(ids "${out}")" = "g1 ${id} g2 "
    t "${tool} ${name}: what it writes is strict JSON" strict "${out}"
    case "${tool}" in
      segment) check='.text == "Row text."' ;;
      mine) check='.mined | type == "object"' ;;
      embed) check='.embedding | length == 64' ;;
      classify) check='.class.status == "matched"' ;;
      store) check='.text == "Row text."' ;;
    esac
    t "${tool} ${name}: the row's record is read as meant (${check})" \
      jq -se "map(select(.id | startswith(\"${id}\")))[0] | ${check}" "${out}"
  done
}

table() {
  refused_row vt '\v{"id":"v1","text":"Vertical tab before."}' \
    "control byte 0x0B outside a string at column 1"
  refused_row ff '{"id":"f1",\f"text":"Form feed between."}' \
    "control byte 0x0C outside a string at column 12"
  refused_row nul '{"id":"n1","text":"cut \\u0000 here"}' \
    '\u0000 (a NUL character, which lanes strings cannot hold) at column 24'
  refused_row badu '{"id":"u1","text":"bad \\uZZZZ escape"}' \
    'invalid \u escape at column 24'
  refused_row surrogate '{"id":"s1","text":"lone \\ud83d surrogate"}' \
    'invalid \u escape (a lone surrogate) at column 25'
  refused_row dup '{"id":"d1","text":"one","text":"two"}' \
    'duplicate member "text" at column 25'
  refused_row dupesc '{"id":"d2","text":"one","\\u0074ext":"two"}' \
    'duplicate member "text" at column 25'
  taken_row bom '\xEF\xBB\xBF{"id":"b1","text":"Row text."}' b1
  taken_row escname '{"id":"e1","\\u0074ext":"Row text."}' e1
}

# store: the two bugs of issue 8, and an escaped "embedding" stored once.
store_cases() {
  local db="${TMP}/s.db"
  printf '{"id":"a","text":"one","k":1}\n' | "${BIN}/store" --db "${db}" put 2>/dev/null
  RC=0
  printf '\v{"id":"a","text":"two"}\n' | "${BIN}/store" --db "${db}" put 2>"${TMP}/s.err" || RC=$?
  t "store: a line starting with \\v is refused (exit 1)" test "${RC}" -eq 1
  t "store: ... and does not overwrite the stored record" \
    lines_are <("${BIN}/store" --db "${db}" get a) '.' '{"id":"a","text":"one","k":1}'
  RC=0
  printf '{"id":"c","text":"x","errors":{"mine":{"code":"e","failures"\v:1}}}\n' |
    "${BIN}/store" --db "${db}" put 2>"${TMP}/s.err" || RC=$?
  t "store: a \\v before a colon is refused, never stored as \"failures\"1" \
    grep -qF '<stdin>:1: control byte 0x0B outside a string at column 61' "${TMP}/s.err"
  t "store: ... and nothing of it is stored" test -z "$("${BIN}/store" --db "${db}" get c 2>/dev/null || true)"
  printf '{"\\u0069d":"e","text":"t","\\u0065mbedding":[0.5,1],"embedding_model":"m"}\n' |
    "${BIN}/store" --db "${db}" put 2>/dev/null
  "${BIN}/store" --db "${db}" get e >"${TMP}/e.out"
  t "store: an escaped \"embedding\" is the embedding, dumped once" strict "${TMP}/e.out"
  t "store: ... with its vector" lines_are "${TMP}/e.out" '.embedding' '[0.5,1]'
}

# mine: an answer with a repeated name or \u0000 is not taken.
mine_answers() {
  local name
  for name in dup nul; do
    if [[ "${name}" == dup ]]; then
      printf '{"id":"m1","text":"[[answer:{\\"a\\":1,\\"a\\":2}]]"}\n' >"${TMP}/ans-${name}.in"
    else
      printf '{"id":"m1","text":"[[answer:{\\"a\\":\\"x\\\\u0000y\\"}]]"}\n' >"${TMP}/ans-${name}.in"
    fi
    RC=0
    LANES_LLM_BASE_URL="${URL}" LANES_MINE_ANSWER_ATTEMPTS=1 "${BIN}/mine" \
      --prompt "${TMP}/text.txt" --progress never <"${TMP}/ans-${name}.in" \
      >"${TMP}/ans-${name}.out" 2>"${TMP}/ans-${name}.err" || RC=$?
    t "mine: an answer with ${name} fails the record (exit 1)" test "${RC}" -eq 1
    t "mine: ... it has no \"mined\", and the error says why" \
      jq -e '(has("mined") | not) and (.errors.mine.message | test("reads alike"))' \
      "${TMP}/ans-${name}.out"
  done
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY
  printf '%s' '{{text}}' >"${TMP}/text.txt"
  cat >"${TMP}/tax.yaml" <<'EOF'
- {id: row, label: Row text.}
- {id: good, label: Good one.}
EOF
  start_llmd --dim 64 --lanes 4
  table
  store_cases
  mine_answers
  summary
}

main "$@"
