#!/usr/bin/env bash
# test_embed.sh: embed against the LLM test double (tests/llmd): 2,000
# records over several lanes with jitter, on the Ollama and the OpenAI wire
# format (shuffled `data`), each vector checked against the double's
# documented embedding function; ordered and --unordered; parallel equals
# sequential; 20% faults of every kind; a server that always fails;
# batching, dedup, skip and connection counts from /_double/stats; unknown
# models; and, with scripted replies of the double, dimension mismatches,
# bad numbers and a refused batch split until the bad text stands alone;
# one spelling of a float32 in embed and in store dump/export.
# Prints "ok N - ..." lines and "N passed, M failed"; exit 1 on a failure.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly EMBED="${BIN}/embed"
readonly LLMD="${BUILD}/tests/llmd"
readonly DIM=64
readonly MAXC=8

# Runs embed with the fast-retry environment; stdin/stdout as given.
embed_run() {
  LANES_LOG_TIME=0 LANES_LLM_BACKOFF_MS=2 LANES_LLM_BACKOFF_MAX_MS=20 \
    LANES_LLM_MAX_CONCURRENCY="${MAXC}" "${EMBED}" "$@"
}

# The checker: every output record holds the double's vector of its own
# text (README "Embedding of a text t"), in input order (or the same set),
# none lost, none duplicated.
write_verifier() {
  cat >"${TMP}/verify.py" <<'PY'
import json, math, sys

M = (1 << 64) - 1

def fnv64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    return h

def ref(text, dim):
    h = fnv64(text.encode("utf-8"))
    d = []
    for _ in range(dim):
        h = (h * 6364136223846793005 + 1442695040888963407) & M
        d.append(((h >> 11) / 9007199254740992.0) * 2 - 1)
    n = math.sqrt(sum(x * x for x in d))
    return [x / n for x in d]

inp, out, dim, mode, model = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
src = [json.loads(l) for l in open(inp, encoding="utf-8") if l.strip()]
got = [json.loads(l) for l in open(out, encoding="utf-8")]
if len(got) != len(src):
    sys.exit("%d records in, %d out" % (len(src), len(got)))
ids_in = [r["id"] for r in src]
ids_out = [r["id"] for r in got]
if mode == "ordered" and ids_in != ids_out:
    sys.exit("not in input order")
if sorted(ids_in) != sorted(ids_out) or len(set(ids_out)) != len(ids_out):
    sys.exit("records lost or duplicated")
for r in got:
    if r.get("embedding_model") != model:
        sys.exit("record %s: embedding_model %r" % (r["id"], r.get("embedding_model")))
    v = r.get("embedding")
    if not isinstance(v, list) or len(v) != dim:
        sys.exit("record %s: no %d-vector" % (r["id"], dim))
    want = ref(r["text"], dim)
    worst = max(abs(a - b) for a, b in zip(v, want))
    if worst > 1e-6:
        sys.exit("record %s: vector off by %g" % (r["id"], worst))
print("ok", len(got))
PY
}

verify() {
  python3 "${TMP}/verify.py" "$@"
}

# 2,000 records with distinct texts (ASCII, accents, CJK, quotes).
make_input() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n, words = int(sys.argv[2]), ["alpha", "beta", "café", "日本語", "say \"hi\"", "tab\there", "émoji 😀"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(n):
        text = "record %d: %s %s" % (i, words[i % len(words)], words[(i * 3) % len(words)])
        f.write(json.dumps({"id": "r%d" % i, "text": text, "keep": {"n": i}}, ensure_ascii=False) + "\n")
PY
}

test_ollama() {
  make_input "${TMP}/in.ndjson" 2000
  reset_stats
  local rc=0
  embed_run --url "${URL}" --batch 16 <"${TMP}/in.ndjson" >"${TMP}/o1" 2>"${TMP}/e1" || rc=$?
  t "ollama: 2000 records, exit 0" test "${rc}" = 0
  t "ollama: every vector is its own record's, in input order" \
    verify "${TMP}/in.ndjson" "${TMP}/o1" "${DIM}" ordered nomic-embed-text
  t "ollama: batches of 16: 125 requests of 16 texts" \
    stat_is '.embed_requests == 125 and .batch_sizes == {"16":125} and .embed_inputs == 2000'
  t "ollama: connections opened stay within the concurrency (<= ${MAXC} + 2)" \
    stat_is ".connections <= ${MAXC} + 2"
  t "ollama: embedding_digest is the server's digest" \
    jq -se 'all(.[]; .embedding_digest == "f66ff22ef887")' "${TMP}/o1"
  t "ollama: other fields pass through in their order" \
    jq -se 'all(.[]; (keys_unsorted | .[0:3]) == ["id","text","keep"])' "${TMP}/o1"
  t "start line: workers, batch, model, concurrency" \
    grep -E "embed: start: workers=up to ${MAXC} .*backend=ollama .*model=nomic-embed-text@f66ff22ef887 requests-in-flight=adaptive from [0-9]+ up to ${MAXC} .*batch=16 field=text" "${TMP}/e1"
  t "summary counts 2000 ok" grep -q 'done: read 2000, ok 2000, skipped 0, failed 0' "${TMP}/e1"

  reset_stats
  embed_run --url "${URL}" --batch 16 --unordered <"${TMP}/in.ndjson" >"${TMP}/o2" 2>"${TMP}/e2"
  t "ollama --unordered: the same records and vectors" \
    verify "${TMP}/in.ndjson" "${TMP}/o2" "${DIM}" unordered nomic-embed-text

  LANES_LLM_CONCURRENCY=1 embed_run --url "${URL}" --batch 16 --workers 1 \
    <"${TMP}/in.ndjson" >"${TMP}/o3" 2>"${TMP}/e3"
  t "sequential (--workers 1, concurrency 1) output equals the parallel one" \
    cmp "${TMP}/o1" "${TMP}/o3"
  t "sequential run says so" grep -q 'workers=1 (sequential)' "${TMP}/e3"

  reset_stats
  local rc2=0
  embed_run --url "${URL}" <"${TMP}/o1" >"${TMP}/o4" 2>"${TMP}/e4" || rc2=$?
  t "skip: embed over its own output sends no embedding request" \
    stat_is '.embed_requests == 0'
  t "skip: records pass through unchanged, counted skipped" \
    cmp "${TMP}/o1" "${TMP}/o4"
  t "skip: summary says skipped 2000, exit 0" \
    grep -q 'done: read 2000, ok 0, skipped 2000, failed 0' "${TMP}/e4"
  test "${rc2}" = 0 || err "skip run exit ${rc2}"
}

# The vectors' text of a file: one line per record, "id embedding-array" as
# written (jq would respell the numbers).
vectors_of() {
  sed -nE 's/^\{"id": ?"([^"]*)".*"embedding":(\[[^]]*\]).*$/\1 \2/p' "$1" | sort
}

# One spelling of a float32: embed's output, and store's dump, get and
# export of what store put kept of it, give each number the same text (the
# shortest that reads back as the same float32), for the double's vectors
# (a wire format's doubles) and the offline hash model's.
test_one_spelling() {
  local db="${TMP}/spell.db"
  rm -f "${db}"
  head -n 200 "${TMP}/o1" >"${TMP}/spell.wire"
  head -n 200 "${TMP}/in.ndjson" | embed_run --model hash --dim 384 >"${TMP}/spell.hash" 2>/dev/null
  "${BIN}/store" put --db "${db}" <"${TMP}/spell.wire" 2>/dev/null
  "${BIN}/store" put --db "${db}" <"${TMP}/spell.hash" 2>/dev/null
  "${BIN}/store" dump --db "${db}" --model nomic-embed-text >"${TMP}/spell.dump" 2>/dev/null
  "${BIN}/store" export --db "${db}" --model nomic-embed-text --fields id,embedding \
    >"${TMP}/spell.export" 2>/dev/null
  "${BIN}/store" dump --db "${db}" --model hash-384 >"${TMP}/spell.hdump" 2>/dev/null
  vectors_of "${TMP}/spell.wire" >"${TMP}/spell.want"
  vectors_of "${TMP}/spell.hash" >"${TMP}/spell.hwant"
  t "one spelling: 200 vectors from the server (64 numbers each) and 200 hash vectors" \
    test "$(wc -l <"${TMP}/spell.want")-$(head -n 1 "${TMP}/spell.want" | tr ',' '\n' | wc -l)-$(wc -l <"${TMP}/spell.hwant")" = "200-64-200"
  t "one spelling: no number has more digits than a float32 needs (no 0.600000024)" \
    bash -c "! grep -qE '[0-9]\.[0-9]*0000[0-9]{2}[],]' '${TMP}/spell.want'"
  t "one spelling: store dump writes embed's vectors byte for byte" \
    cmp "${TMP}/spell.want" <(vectors_of "${TMP}/spell.dump")
  t "one spelling: store export writes embed's vectors byte for byte" \
    cmp "${TMP}/spell.want" <(vectors_of "${TMP}/spell.export")
  t "one spelling: the hash model's vectors too (store dump)" \
    cmp "${TMP}/spell.hwant" <(vectors_of "${TMP}/spell.hdump")
}

test_openai() {
  reset_stats
  embed_run --url "${URL}/v1" --model text-embedding-3-small --batch 32 \
    <"${TMP}/in.ndjson" >"${TMP}/p1" 2>"${TMP}/f1"
  t "openai: shuffled data mapped back by index, in input order" \
    verify "${TMP}/in.ndjson" "${TMP}/p1" "${DIM}" ordered text-embedding-3-small
  t "openai: 63 requests (62 of 32, one of 16)" \
    stat_is '.embed_requests == 63 and .batch_sizes == {"16":1,"32":62} and (.by_path["/v1/embeddings"] == 63)'
  t "openai: no digest, so no embedding_digest" \
    jq -se 'all(.[]; has("embedding_digest") | not)' "${TMP}/p1"
  embed_run --url "${URL}/v1" --model text-embedding-3-small --batch 32 --unordered \
    <"${TMP}/in.ndjson" >"${TMP}/p2" 2>"${TMP}/f2"
  t "openai --unordered: the same records and vectors" \
    verify "${TMP}/in.ndjson" "${TMP}/p2" "${DIM}" unordered text-embedding-3-small
  head -n 100 "${TMP}/in.ndjson" >"${TMP}/in100"
  embed_run --url "${URL}/v1" --model text-embedding-3-small --dim 24 \
    <"${TMP}/in100" >"${TMP}/p3" 2>"${TMP}/f3"
  t "openai --dim 24 asks for dimensions and gets 24-vectors" \
    verify "${TMP}/in100" "${TMP}/p3" 24 ordered text-embedding-3-small
}

test_faults() {
  config '{"fault_rate":0.2,"faults":"429,500,503,drop,truncate,slow","slow_ms":30,"retry_after":1,"jitter_ms":0}'
  reset_stats
  local rc=0
  LANES_LLM_MAX_ATTEMPTS=12 embed_run --url "${URL}" --batch 8 \
    <"${TMP}/in.ndjson" >"${TMP}/q1" 2>"${TMP}/g1" || rc=$?
  t "faults 20%: exit 0" test "${rc}" = 0
  t "faults 20%: every record embedded, right vector, input order" \
    verify "${TMP}/in.ndjson" "${TMP}/q1" "${DIM}" ordered nomic-embed-text
  t "faults 20%: every kind happened (429, 500, 503, drop, truncate, slow)" \
    stat_is '.faults | ."429" > 0 and ."500" > 0 and ."503" > 0 and .drop > 0 and .truncate > 0 and .slow > 0'
  t "faults 20%: summary shows retries and no failure" \
    grep -Eq 'done: read 2000, ok 2000, skipped 0, failed 0, retried [1-9]' "${TMP}/g1"
  config '{"fault_rate":0}'
}

test_fail_all() {
  config '{"fail_all":500}'
  head -n 56 "${TMP}/in.ndjson" >"${TMP}/in56"
  local rc=0
  embed_run --url "${URL}" --batch 8 <"${TMP}/in56" >"${TMP}/r1" 2>"${TMP}/h1" || rc=$?
  t "fail-all 500: exit status 1" test "${rc}" = 1
  t "fail-all 500: all 56 records come out, each with errors.embed" \
    jq -se 'length == 56 and all(.[]; .errors.embed.code == "http_500"
      and .errors.embed.attempts == 6 and (.errors.embed.message | test("HTTP 500"))
      and (has("embedding") | not))' "${TMP}/r1"
  t "fail-all 500: records keep their order and fields" \
    cmp <(jq -c '{id, text, keep}' "${TMP}/in56") <(jq -c '{id, text, keep}' "${TMP}/r1")
  t "fail-all 500: the summary is loud (failed 56, FAILED)" \
    grep -Eq 'done: read 56, ok 0, skipped 0, failed 56, .*FAILED' "${TMP}/h1"
  t "fail-all 500: failures logged with their record ids" \
    grep -q '^embed: id "r0": embed: HTTP 500' "${TMP}/h1"
  config '{"fail_all":null}'
}

test_dedup() {
  python3 -c 'import json
for i in range(100): print(json.dumps({"id": i, "text": "distinct text %d" % (i % 10)}))' >"${TMP}/dup"
  reset_stats
  embed_run --url "${URL}" --batch 8 <"${TMP}/dup" >"${TMP}/d1" 2>"${TMP}/k1"
  t "dedup: 100 records with 10 distinct texts send 10 texts" \
    stat_is '.embed_inputs == 10'
  t "dedup: every record still gets its vector" \
    verify "${TMP}/dup" "${TMP}/d1" "${DIM}" ordered nomic-embed-text
  t "dedup: the log counts 90 duplicates reused" \
    grep -q 'texts: 10 sent in [0-9]* requests, 90 duplicates reused' "${TMP}/k1"
}

test_start_errors() {
  local rc=0
  echo '{"text":"x"}' | embed_run --url "${URL}" --model no-such-model >"${TMP}/s1" 2>"${TMP}/t1" || rc=$?
  t "unknown ollama model: exit 3" test "${rc}" = 3
  t "unknown ollama model: says run ollama pull" \
    grep -q "model 'no-such-model' not found on ${URL}.*run \`ollama pull no-such-model\`" "${TMP}/t1"
  t "unknown model: nothing written" test ! -s "${TMP}/s1"
  rc=0
  echo '{"text":"x"}' | embed_run --url "${URL}/v1" --model nope >/dev/null 2>"${TMP}/t2" || rc=$?
  t "unknown openai model: exit 3" test "${rc}" = 3
  local dead
  dead="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  rc=0
  echo '{"text":"x"}' | embed_run --url "http://127.0.0.1:${dead}" >/dev/null 2>"${TMP}/t3" || rc=$?
  t "unreachable server: exit 3 with one message" \
    test "${rc}" = 3 -a "$(grep -c 'cannot reach the LLM server' "${TMP}/t3")" = 1
}

# An odd server, the double with a script: the batch holding LONG texts
# gets 4 numbers per vector (others 3), INF gets 1e999, a batch holding BAD
# is refused with 400.
test_odd_server() {
  cat >"${TMP}/odd.replies" <<'TABLE'
=== BAD refused
--- when POST /api/embed
--- if-body BAD
--- status 400
--- body
{"error":"input BAD refused"}

=== LONG answered with 4 numbers
--- when POST /api/embed
--- if-body "LONG 5"
--- body
{"model":"odd","embeddings":[[0.5,0.5,0.5,0.5],[0.5,0.5,0.5,0.5],[0.5,0.5,0.5,0.5],[0.5,0.5,0.5,0.5]]}

=== INF out of float32
--- when POST /api/embed
--- if-body "INF 9"
--- body
{"model":"odd","embeddings":[[1e999,0,0],[0.6,0.8,0]]}
TABLE
  start_llmd --models odd --dim 3 --script "${TMP}/odd.replies"
  local i
  for i in first second "BAD third" fourth "LONG 5" "LONG 6" "LONG 7" "LONG 8" "INF 9" tenth; do
    jq -cn --arg t "${i}" '{text: $t}'
  done | jq -c '. + {id: input_line_number}' >"${TMP}/odd.in"
  local rc=0
  embed_run --url "${URL}" --model odd --workers 1 --batch 4 <"${TMP}/odd.in" \
    >"${TMP}/odd.out" 2>"${TMP}/odd.err" || rc=$?
  t "odd server: exit 1 (6 of 10 failed)" test "${rc}" = 1
  t "odd server: a refused batch is split until the bad text stands alone; other dims and non-finite numbers refused" \
    jq -se '[.[] | [.id, (.embedding | if . then length else null end), .errors.embed.code]] ==
      [[1,3,null],[2,3,null],[3,null,"http_400"],[4,3,null],
       [5,null,"dim_mismatch"],[6,null,"dim_mismatch"],[7,null,"dim_mismatch"],
       [8,null,"dim_mismatch"],[9,null,"bad_vector"],[10,3,null]]' "${TMP}/odd.out"
  t "odd server: 5 requests for the refused batch (4, 2, 2, 1, 1 texts), 1 for each other" \
    stat_is '.embed_requests == 7 and .embed_inputs == 16 and .scripted["BAD refused"] == 3'
  local digest
  digest="$("${CURL[@]}" "${URL}/api/tags" | jq -r '.models[0].digest[0:12]')"
  # shellcheck disable=SC2016
  t "odd server: digest written cut to 12" \
    jq -se --arg d "${digest}" '.[0].embedding_digest == $d and ($d | length) == 12' "${TMP}/odd.out"
  t "odd server: the summary counts 6 failed" grep -q 'ok 4, skipped 0, failed 6' "${TMP}/odd.err"
}

# In a pipe behind a slow stage, a record is embedded when the input pauses,
# not when a batch of 32 has filled or the input has ended: the first
# record's vector comes out while the input is still open.
test_streaming() {
  local fifo="${TMP}/slow.in"
  mkfifo "${fifo}"
  start_llmd --dim "${DIM}" --lanes 4
  embed_run --url "${URL}" <"${fifo}" >"${TMP}/slow.out" 2>"${TMP}/slow.err" &
  local pid=$!
  exec 8>"${fifo}"
  printf '{"id":"s1","text":"first of a slow stream"}\n' >&8
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s "${TMP}/slow.out" ]] && break
    sleep 0.05
  done
  t "streaming: a record comes out before the batch fills or the input ends" \
    grep -q '"s1"' "${TMP}/slow.out"
  printf '{"id":"s2","text":"second"}\n' >&8
  exec 8>&-
  local rc=0
  wait "${pid}" || rc=$?
  t "streaming: both records embedded, exit 0" \
    test "${rc}-$(grep -c '"embedding"' "${TMP}/slow.out")" = "0-2"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  if [[ ! -x "${EMBED}" || ! -x "${LLMD}" ]]; then
    err "build first: make bin/embed build/tests/llmd"
    exit 1
  fi
  write_verifier
  start_llmd --dim "${DIM}" --lanes 4 --jitter-ms 3 --latency-ms 1
  test_ollama
  test_one_spelling
  test_openai
  test_dedup
  test_start_errors
  test_faults
  test_fail_all
  test_odd_server
  test_streaming
  summary
}

main "$@"
