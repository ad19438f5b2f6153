#!/usr/bin/env bash
# test_mine.sh: mine against llmd, the LLM test double. Every mined object
# must belong to its own record (llmd's answers carry the FNV-1a 64 hash of
# the prompt, and the test template is exactly {{text}}), come out in input
# order (or as the same set with --unordered), none lost or duplicated, on
# both wire formats; faults of every kind are retried away; a server that
# always fails gives errors.mine on every record and exit 1; parallel and
# sequential runs agree; connections stay near the concurrency; invalid
# answers get one feedback turn and then errors.mine invalid_answer.
# Prints "ok N - ..." lines and "N passed, M failed".
#
# Also a helper for tests/cases/mine.test:
#   test_mine.sh serve [llmd flags...] -- COMMAND
# starts llmd, runs COMMAND with bash (stdin passed on) with LLMD_URL and
# LANES_LLM_BASE_URL set to the double's address, stops llmd, and exits
# with COMMAND's status.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
BUILD="${LANES_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly BIG=2000

# stat KEY: one number of /_double/stats (a jq path).
stat() {
  stats | jq -r "$1"
}

# Runs mine against the double with the test template; $1 = output name,
# $2 = input file, the rest = extra flags. Environment from the caller.
# Sets RC.
run_mine() {
  local name="$1" input="$2"
  shift 2
  RC=0
  "${BIN}/mine" --prompt "${TMP}/text.txt" --progress never "$@" <"${input}" \
    >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || RC=$?
}

# The checker of mined objects (python3: FNV-1a 64 and UTF-8 cuts).
write_checker() {
  cat >"${TMP}/check.py" <<'EOF'
"""check.py IN OUT MODE [--correction]: every record of IN comes out once in
OUT (MODE ordered: in input order; unordered: as a set), with a mined object
whose strings are llmd's answer to a prompt that is exactly the record's
text. With --correction, records answered on the feedback turn (all the same
answer, to the correction text) are allowed and counted on stdout."""
import json
import sys

TYPES = ["fact", "opinion", "prediction", "recommendation"]
CORRECTION_ECHO = "Your answer was not vali"


def fnv64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def echo(data):
    n = min(24, len(data))
    while n < len(data) and (data[n] & 0xC0) == 0x80:
        n -= 1
    return data[:n].decode()


def strings(v, out):
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, list):
        for x in v:
            strings(x, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            if k != "type":
                strings(x, out)
    return out


def main():
    inp, outp, mode = sys.argv[1:4]
    allow_corr = "--correction" in sys.argv
    recs = [json.loads(l) for l in open(inp, encoding="utf-8")]
    outs = [json.loads(l) for l in open(outp, encoding="utf-8")]
    if len(outs) != len(recs):
        sys.exit(f"{len(outs)} records out for {len(recs)} in")
    ids_in = [r["id"] for r in recs]
    ids_out = [r["id"] for r in outs]
    if mode == "ordered" and ids_in != ids_out:
        bad = next(i for i, (a, b) in enumerate(zip(ids_in, ids_out)) if a != b)
        sys.exit(f"order differs first at line {bad + 1}: {ids_out[bad]} for {ids_in[bad]}")
    if sorted(ids_in) != sorted(ids_out) or len(set(ids_out)) != len(ids_out):
        sys.exit("the ids out are not the ids in (lost or duplicated records)")
    by_id = {r["id"]: r for r in recs}
    corrected = set()
    for o in outs:
        r = by_id[o["id"]]
        for k, v in r.items():
            if o.get(k) != v:
                sys.exit(f"{o['id']}: field {k} changed")
        if "errors" in o or "mined" not in o:
            sys.exit(f"{o['id']}: not mined: {o.get('errors')}")
        text = r["text"].encode()
        h = fnv64(text)
        want = f"{echo(text)}#{h:016x}"
        got = strings(o["mined"], [])
        if len(got) != 10:
            sys.exit(f"{o['id']}: {len(got)} strings in mined, want 10")
        if all(s == want for s in got):
            if o["mined"]["claims"][0]["type"] != TYPES[h % 4]:
                sys.exit(f"{o['id']}: claim type is not the one for its hash")
            continue
        if allow_corr and len(set(got)) == 1 and got[0].startswith(CORRECTION_ECHO):
            corrected.add(got[0])
            corrected.add("#" + o["id"])
            continue
        sys.exit(f"{o['id']}: mined strings {got[0]!r} are not the answer for its text {want!r}")
    answers = [c for c in corrected if not c.startswith("#")]
    if len(answers) > 1:
        sys.exit(f"feedback answers differ: {answers}")
    print(len(corrected) - len(answers))


main()
EOF
}

# Writes N records with varied texts (Unicode, quotes, escapes, short and
# long, some cut inside a character at byte 24) to FILE.
write_records() {
  python3 - "$1" "$2" <<'EOF'
import json
import sys

n, path = int(sys.argv[1]), sys.argv[2]
bits = ["plain words", "caf\u00e9 cr\u00e8me", "\u65e5\u672c\u8a9e\u306e\u6587",
        "quote \" and \\ backslash", "tab\there\nnewline", "emoji \U0001F600 ok",
        "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9x"]
with open(path, "w", encoding="utf-8") as f:
    for i in range(n):
        b = bits[i % len(bits)]
        text = f"{b} {i}" if i % 5 else f"Record {i}: {b} " + "long " * (i % 40)
        rec = {"id": f"r{i:05d}", "text": text, "n": i, "keep": {"a": [1, 2.50]}}
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
EOF
}

check() {
  python3 "${TMP}/check.py" "$@"
}

# mine's "llm: ..." end line: requests, connections, peak.
llm_figure() {
  local file="$1" what="$2"
  sed -n "s/.*llm: \([0-9]*\) requests, \([0-9]*\) retries, \([0-9]*\) failed calls, \([0-9]*\) connections opened, peak \([0-9]*\) in flight.*/\1 \2 \3 \4 \5/p" \
    "${file}" | awk -v w="${what}" '{ print $w }'
}

le() {
  (($1 <= $2))
}

test_big_runs() {
  start_llmd --lanes 8 --latency-ms 1 --jitter-ms 4
  local backend url name
  for backend in ollama openai; do
    url="${URL}"
    [[ "${backend}" == openai ]] && url="${URL}/v1"
    reset_stats
    name="big-${backend}"
    LANES_LLM_BASE_URL="${url}" run_mine "${name}" "${TMP}/big.ndjson"
    t "${backend}: ${BIG} records, exit 0" test "${RC}" -eq 0
    t "${backend}: every mined object is its own record's answer, in input order" \
      check "${TMP}/big.ndjson" "${TMP}/${name}.out" ordered
    t "${backend}: the summary counts ok ${BIG}" \
      grep -q "done: read ${BIG}, ok ${BIG}, skipped 0, failed 0" "${TMP}/${name}.err"
    t "${backend}: one chat request per record" test "$(stat .chat_requests)" -eq "${BIG}"
    local conns peak
    conns="$(stat .connections)"
    peak="$(llm_figure "${TMP}/${name}.err" 5)"
    t "${backend}: connections opened (${conns}) stay at the concurrency (peak ${peak} in flight)" \
      le "${conns}" "$((peak + 2))"
    t "${backend}: mined_model set; mined_digest only where the server reports one" \
      jq -se --arg b "${backend}" 'all(.[]; .mined_model != null and
        ((.mined_digest != null) == ($b == "ollama")))' "${TMP}/${name}.out"

    name="unordered-${backend}"
    LANES_LLM_BASE_URL="${url}" LANES_LLM_CONCURRENCY=7 \
      run_mine "${name}" "${TMP}/big.ndjson" --unordered
    t "${backend} --unordered (7 requests in flight): exit 0" test "${RC}" -eq 0
    t "${backend} --unordered: the same set of records and answers" \
      check "${TMP}/big.ndjson" "${TMP}/${name}.out" unordered
    t "${backend} --unordered: the same records as the ordered run" \
      cmp <(sort "${TMP}/big-${backend}.out") <(sort "${TMP}/${name}.out")
  done
}

test_faults() {
  start_llmd --lanes 8 --latency-ms 1 --jitter-ms 4 --fault-rate 0.2 --faults all \
    --slow-ms 150 --retry-after 1
  # 12 requests and 6 answers per record: with the default 3 answers, a
  # record whose three answers all draw badjson (each 0.2 / 7) fails, in
  # about 1.4% of runs of 600 records (a red run, seen three times)
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MS=5 LANES_LLM_BACKOFF_MAX_MS=40 \
    LANES_LLM_MAX_ATTEMPTS=12 LANES_MINE_ANSWER_ATTEMPTS=6 run_mine faults "${TMP}/mid.ndjson"
  t "20% faults of every kind: exit 0" test "${RC}" -eq 0
  if [[ "${RC}" != 0 ]]; then
    # what failed, for the next reader of a red run
    jq -c 'select(.errors) | {id, errors}' "${TMP}/faults.out" | head -n 5 | sed 's/^/    # /'
    tail -n 5 "${TMP}/faults.err" | sed 's/^/    # /'
  fi
  local n
  n="$(check "${TMP}/mid.ndjson" "${TMP}/faults.out" ordered --correction 2>"${TMP}/faults.check")" || n=-1
  t "20% faults: every record mined with its own answer, in order" test "${n}" -ge 0
  [[ "${n}" -ge 0 ]] || sed 's/^/    # /' "${TMP}/faults.check"
  stats >"${TMP}/faults.stats"
  t "20% faults: every kind was injected" jq -e \
    '.faults | ."429" > 0 and ."500" > 0 and ."503" > 0 and .drop > 0 and .truncate > 0
     and .badjson > 0 and .slow > 0' "${TMP}/faults.stats"
  t "20% faults: answers fixed by the feedback turn (${n}) at most the badjson faults" \
    jq -e --argjson n "${n}" '.faults.badjson >= $n' "${TMP}/faults.stats"
  t "20% faults: the summary counts the retries" \
    grep -Eq "done: read 600, ok 600, skipped 0, failed 0, retried [1-9]" "${TMP}/faults.err"

  start_llmd --lanes 4 --fail-all 500
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MS=1 LANES_LLM_MAX_ATTEMPTS=2 \
    run_mine fail "${TMP}/small.ndjson"
  t "a server that always fails: exit 1" test "${RC}" -eq 1
  t "a server that always fails: every record out, in order, with errors.mine and no mined" \
    jq -se --slurpfile in "${TMP}/small.ndjson" '
      length == ($in | length) and ([.[].id] == [$in[].id])
      and all(.[]; .mined == null and .errors.mine.code == "http_500"
              and .errors.mine.attempts == 2 and (.errors.mine.message | test("HTTP 500"))
              and .keep == {"a": [1, 2.50]})' "${TMP}/fail.out"
  t "a server that always fails: the summary shows failed 200" \
    grep -q "done: read 200, ok 0, skipped 0, failed 200" "${TMP}/fail.err"
  t "a server that always fails: the first failures are logged with their record id" \
    grep -q '^mine: id "r00000": mine: http_500 after 2 requests: HTTP 500' "${TMP}/fail.err"
}

test_sequential() {
  start_llmd --lanes 4 --jitter-ms 2
  LANES_LLM_BASE_URL="${URL}" run_mine par "${TMP}/small.ndjson"
  reset_stats
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_CONCURRENCY=1 run_mine seq "${TMP}/small.ndjson" --workers 1
  t "sequential run: exit 0 and logged as sequential" grep -q "workers=1 (sequential)" "${TMP}/seq.err"
  t "parallel and sequential runs give identical output" cmp "${TMP}/par.out" "${TMP}/seq.out"
  t "sequential: at most 1 request in flight" test "$(stat .peak_concurrency)" -eq 1
}

test_invalid_answers() {
  start_llmd --lanes 2
  local corr
  printf '%s\n' '{"id":"m","text":"[[answer:not json]]"}' >"${TMP}/marker.ndjson"
  reset_stats
  LANES_LLM_BASE_URL="${URL}" run_mine marker "${TMP}/marker.ndjson"
  corr='Your answer was not valid: the answer is not JSON (it starts "not json" and breaks at byte 1). Answer again with only the corrected JSON object, following the schema you were given, with no other text.'
  printf '%s\n' "$(jq -nc --arg t "${corr}" '{id: "m", text: $t}')" >"${TMP}/corr.ndjson"
  t "invalid answer: the feedback turn carries the error, and its answer is kept" \
    check "${TMP}/corr.ndjson" <(jq -c '.text = $t' --arg t "${corr}" "${TMP}/marker.out") ordered
  t "invalid answer then valid: 2 requests, counted as retried 1" \
    grep -q "done: read 1, ok 1, skipped 0, failed 0, retried 1" "${TMP}/marker.err"
  t "the end line counts the invalid answer and the save" \
    grep -q "answers: 1 invalid; records saved by the feedback turn 1" "${TMP}/marker.err"

  "${CURL[@]}" -d '{"faults":"badjson","fault_rate":1}' "${URL}/_double/config" >/dev/null
  reset_stats
  head -n 5 "${TMP}/small.ndjson" >"${TMP}/five.ndjson"
  LANES_LLM_BASE_URL="${URL}" run_mine badjson "${TMP}/five.ndjson"
  t "answers never valid: exit 1" test "${RC}" -eq 1
  t "answers never valid: errors.mine invalid_answer after 3 attempts, never a mined field" \
    jq -se 'length == 5 and all(.[]; .mined == null and .mined_model == null
      and .errors.mine.code == "invalid_answer" and .errors.mine.attempts == 3
      and (.errors.mine.message | startswith("the answer is not JSON (it starts \"Sure!")))' \
    "${TMP}/badjson.out"
  t "answers never valid: 3 requests per record (plain, feedback, plain)" \
    test "$(stat .chat_requests)" -eq 15
  reset_stats
  LANES_LLM_BASE_URL="${URL}" LANES_MINE_ANSWER_ATTEMPTS=1 run_mine badjson1 "${TMP}/five.ndjson"
  t "mine.answer_attempts 1: one request per record" test "$(stat .chat_requests)" -eq 5
}

test_restart() {
  start_llmd --lanes 2
  LANES_LLM_BASE_URL="${URL}" run_mine first "${TMP}/small.ndjson"
  reset_stats
  LANES_LLM_BASE_URL="${URL}" "${BIN}/mine" --prompt "${TMP}/text.txt" <"${TMP}/first.out" \
    >"${TMP}/again.out" 2>"${TMP}/again.err"
  t "a second pass skips every record, without a request" test "$(stat .chat_requests)" -eq 0
  t "a second pass passes the records on unchanged" cmp "${TMP}/first.out" "${TMP}/again.out"
  t "a second pass counts them skipped" grep -q "ok 0, skipped 200, failed 0" "${TMP}/again.err"
  LANES_LLM_BASE_URL="${URL}" "${BIN}/mine" --prompt "${TMP}/text.txt" -m gpt-4o-mini \
    <"${TMP}/first.out" >"${TMP}/other.out" 2>/dev/null
  t "another model mines them again" jq -se 'all(.[]; .mined_model == "gpt-4o-mini")' \
    "${TMP}/other.out"
}

# The helper mode for tests/cases/mine.test.
serve() {
  local flags=()
  while (($#)) && [[ "$1" != "--" ]]; do
    flags+=("$1")
    shift
  done
  if (($# < 2)); then
    err "usage: test_mine.sh serve [llmd flags...] -- COMMAND"
    exit 2
  fi
  shift
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  start_llmd "${flags[@]}"
  local rc=0
  LLMD_URL="${URL}" LANES_LLM_BASE_URL="${URL}" bash -c "$*" || rc=$?
  exit "${rc}"
}

# A call waiting to try again holds its thread, not a slot: other records
# use the slot meanwhile (lanes(7), threads per tool). Every chat request
# gets a 500 with Retry-After: 30; while the first 40 records' calls wait,
# the pool must start threads for all of them (with threads only for the
# limit of 8 plus 2, the double would see 10 requests for 30 s). The check
# waits for the state (40 requests, at most 20 s), then stops mine.
test_waiting_calls() {
  cat >"${TMP}/busy.script" <<'EOF2'
=== always busy
--- when POST /api/chat
--- status 500
--- header retry-after: 30
--- body
{"error":"busy"}
EOF2
  start_llmd --script "${TMP}/busy.script"
  head -n 40 "${TMP}/small.ndjson" >"${TMP}/forty.ndjson"
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_BACKOFF_MAX_MS=60000 \
    "${BIN}/mine" --prompt "${TMP}/text.txt" --progress never <"${TMP}/forty.ndjson" \
    >"${TMP}/wait.out" 2>"${TMP}/wait.err" &
  local pid=$! i n=0
  for ((i = 0; i < 400; i++)); do
    n="$(stat '.scripted."always busy" // 0')"
    ((n >= 40)) && break
    sleep 0.05
  done
  kill -TERM "${pid}"
  local rc=0
  wait "${pid}" || rc=$?
  t "calls waiting on Retry-After leave their slots to others: 40 records asked at once (${n})" \
    test "${n}" -ge 40
  t "... and a SIGTERM ends the waits: exit 143, every record out (${rc})" \
    bash -c "((${rc} == 143)) && [[ \$(wc -l <'${TMP}/wait.out') == 40 ]]"
}

main() {
  if [[ "${1:-}" == serve ]]; then
    shift
    serve "$@"
  fi
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  export LANES_LOG_TIME=0
  unset LANES_TUNABLES OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY
  printf '%s' '{{text}}' >"${TMP}/text.txt"
  write_checker
  write_records "${BIG}" "${TMP}/big.ndjson"
  write_records 600 "${TMP}/mid.ndjson"
  write_records 200 "${TMP}/small.ndjson"
  test_big_runs
  test_faults
  test_sequential
  test_invalid_answers
  test_restart
  test_waiting_calls
  stop_llmd
  summary
}

main "$@"
