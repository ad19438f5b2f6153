#!/usr/bin/env bash
# test_store_search.sh: `store similar` and `store export`. similar: the
# hits against a brute force in Python (NumPy, Debian's python3-numpy),
# best first with rank, score and model, the query as a text (the hash
# embedder, or the LLM test double's model), a stored record (left out of
# its own answer) or a vector on stdin, -k, --min-score, the filters
# (--doc, --stage/--status, --where), vectors of any length scored by
# their cosine, workers giving the same answer, and the errors (two models,
# another size, no vectors, no query). export: CSV and TSV with their
# quoting, fields through lists and --explode, NDJSON rows, --order, and
# vectors as .npy (read back by NumPy, equal to store get's) and raw
# float32 with their ids.
# Prints "ok N - ..." lines and "N passed, M failed"; exit 1 on a failure.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly BUILD="${LANES_BUILD:-./build}"
readonly STORE="${BIN}/store"
readonly LLMD="${BUILD}/tests/llmd"
readonly PY=/usr/bin/python3

st() {
  LANES_LOG_TIME=0 "${STORE}" --db "${TMP}/kb.db" "$@"
}

# 300 records of 3 documents, vectors of 24 random numbers (not unit
# length), two speakers, every tenth with an embed error.
write_records() {
  "${PY}" - "${TMP}/recs.ndjson" <<'EOF'
import json, random, sys
rng = random.Random(7)
with open(sys.argv[1], "w") as f:
    for i in range(300):
        v = [rng.uniform(-1, 1) * (1 + i % 5) for _ in range(24)]
        r = {"id": "r%03d" % i, "doc": "d%d" % (i % 3), "seq": i, "text": "text %d" % i,
             "speaker": "Ana" if i % 2 else "Ben", "n": i % 4, "ok": i % 7 == 0,
             "embedding": v, "embedding_model": "m24"}
        if i % 10 == 5:
            del r["embedding"], r["embedding_model"]
            r["errors"] = {"embed": {"code": "timeout", "message": "x", "attempts": 1}}
        f.write(json.dumps(r) + "\n")
EOF
  st put <"${TMP}/recs.ndjson" 2>/dev/null
}

# The ids of the k records nearest query vector Q (a JSON array) by cosine,
# by brute force in NumPy, over records.ndjson filtered by the jq FILTER.
brute() {
  local q="$1" k="$2" filter="$3"
  jq -c "select(.embedding) | select(${filter}) | {id, embedding}" "${TMP}/recs.ndjson" |
    "${PY}" -c '
import json, sys
import numpy as np
q = np.array(json.loads(sys.argv[1]), dtype=np.float64)
rows = [json.loads(l) for l in sys.stdin]
v = np.array([r["embedding"] for r in rows], dtype=np.float32).astype(np.float64)
s = v @ q / np.linalg.norm(v, axis=1) / np.linalg.norm(q)
for i in np.argsort(-s, kind="stable")[:int(sys.argv[2])]:
    print(rows[i]["id"], "%.4f" % s[i])
' "${q}" "${k}"
}

test_similar() {
  local q
  q="$(jq -c 'select(.id == "r042") | .embedding' "${TMP}/recs.ndjson")"
  echo "${q}" | st similar -k 5 >"${TMP}/out" 2>"${TMP}/err"
  t "a vector on stdin: the 5 nearest by cosine, as NumPy finds them, best first" \
    diff <(jq -r '"\(.id) \(.similar.score | tostring | if test("\\.") then . else . + ".0" end)"' \
      "${TMP}/out" | awk '{ printf "%s %.4f\n", $1, $2 }') <(brute "${q}" 5 'true')
  t "rank, score and model; the record without its vector" \
    jq -e -s 'map(.similar.rank) == [1,2,3,4,5] and .[0].id == "r042"
      and (.[0].similar.score == 1) and all(.[]; .similar.model == "m24"
      and (has("embedding") | not) and .text != null)' "${TMP}/out"
  t "stderr says how many vectors were searched" grep -q 'similar: 270 vectors of m24' "${TMP}/err"
  st similar --id r042 -k 3 >"${TMP}/out" 2>/dev/null
  brute "${q}" 4 'true' | tail -n 3 | cut -d' ' -f1 >"${TMP}/want"
  t "--id: the stored record's vector; the record itself left out" \
    diff <(jq -r .id "${TMP}/out") "${TMP}/want"
  jq -c 'select(.id == "r042")' "${TMP}/recs.ndjson" | st similar -k 1 >"${TMP}/out" 2>/dev/null
  t "a record with embedding on stdin" jq -e '.id == "r042"' "${TMP}/out"
  for w in 1 3; do
    echo "${q}" | st similar -k 20 -w "${w}" >"${TMP}/out.${w}" 2>/dev/null
  done
  t "1 or 3 workers: the same answer" cmp "${TMP}/out.1" "${TMP}/out.3"
  echo "${q}" | st similar -k 50 --min-score 0.2 >"${TMP}/out" 2>/dev/null
  brute "${q}" 300 true | awk '$2 >= 0.2' >"${TMP}/want"
  t "--min-score: only scores at or above it" \
    bash -c "jq -e -s 'length < 50 and length > 0 and all(.[]; .similar.score >= 0.2)' '${TMP}/out' \
      >/dev/null && [[ \$(wc -l <'${TMP}/want') == \$(wc -l <'${TMP}/out') ]]"
  echo "${q}" | st similar -k 4 --doc d1 --where speaker=Ana --where n=3 >"${TMP}/out" 2>/dev/null
  t "--doc and --where (a string, a number): as the brute force over those records" \
    diff <(jq -r .id "${TMP}/out") \
      <(brute "${q}" 4 '.doc == "d1" and .speaker == "Ana" and .n == 3' | cut -d' ' -f1)
  echo "${q}" | st similar -k 300 --where ok=true >"${TMP}/out" 2>/dev/null
  t "--where FIELD=true" \
    bash -c "[[ \$(wc -l <'${TMP}/out') == \$(jq -c 'select(.ok and .embedding)' '${TMP}/recs.ndjson' | wc -l) ]]"
  echo "${q}" | st similar -k 300 --stage embed --status ok >"${TMP}/out" 2>/dev/null
  t "--stage embed --status ok: the 270 with a vector" test "$(wc -l <"${TMP}/out")" = 270
}

test_text() {
  # the offline hash embedder: a store of hash-64 vectors, a text query
  local db="${TMP}/hash.db"
  printf '%s\n' '{"id":"a","text":"the cat sat on the mat"}' \
    '{"id":"b","text":"rate limits and retries with backoff"}' \
    '{"id":"c","text":"a database in WAL mode"}' |
    "${BIN}/embed" --model hash --dim 64 2>/dev/null | "${STORE}" --db "${db}" put 2>/dev/null
  "${STORE}" --db "${db}" similar "retries and rate limits" -k 1 >"${TMP}/out" 2>/dev/null
  t "a text, embedded with the store's model (hash-64, offline)" \
    jq -e '.id == "b" and .similar.model == "hash-64"' "${TMP}/out"
  # the double's embedding model: the same text gives the same vector
  start_llmd --lanes 2
  local sdb="${TMP}/server.db"
  printf '%s\n' '{"id":"x","text":"alpha"}' '{"id":"y","text":"beta"}' '{"id":"z","text":"gamma"}' |
    LANES_LLM_BASE_URL="${URL}" "${BIN}/embed" --model nomic-embed-text 2>/dev/null |
    "${STORE}" --db "${sdb}" put 2>/dev/null
  reset_stats
  LANES_LLM_BASE_URL="${URL}" "${STORE}" --db "${sdb}" similar "beta" -k 1 >"${TMP}/out" \
    2>/dev/null
  t "a text embedded by the server's model: the record of the same text scores 1" \
    bash -c "jq -e '.id == \"y\" and .similar.score == 1' '${TMP}/out' >/dev/null &&
      curl -sS --noproxy '*' '${URL}/_double/stats' | jq -e '.embed_inputs == 1'"
  local rc=0
  LANES_LLM_BASE_URL="${URL}" "${STORE}" --db "${sdb}" similar "beta" --model nosuch \
    >/dev/null 2>"${TMP}/err" || rc=$?
  t "a model the store does not hold: exit 2, naming the ones it holds" \
    bash -c "[[ ${rc} == 2 ]] && grep -q \"no vectors of model 'nosuch'; it holds nomic-embed-text (3 vectors of 64 numbers)\" '${TMP}/err'"
  stop_llmd
}

test_errors() {
  local rc=0
  printf '%s\n' '{"id":"h1","embedding":[1,0,0],"embedding_model":"h3"}' | st put 2>/dev/null
  st similar "x" >/dev/null 2>"${TMP}/err" || rc=$?
  t "two models and no --model: exit 2, naming both" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'vectors of 2 models: h3 (1 vectors of 3 numbers), m24 (270 vectors of 24 numbers)' '${TMP}/err'"
  rc=0
  echo '[1,2]' | st similar --model m24 >/dev/null 2>"${TMP}/err" || rc=$?
  t "a vector of another size: exit 2" \
    bash -c "[[ ${rc} == 2 ]] && grep -q 'has 2 numbers, the store.s vectors of .m24. have 24' '${TMP}/err'"
  rc=0
  st similar --model m24 </dev/null >/dev/null 2>"${TMP}/err" || rc=$?
  t "no query: exit 2" bash -c "[[ ${rc} == 2 ]] && grep -q 'no query' '${TMP}/err'"
  rc=0
  st similar --model h3 --id r001 >/dev/null 2>"${TMP}/err" || rc=$?
  t "--id of a record without a vector of the model: exit 1" \
    bash -c "[[ ${rc} == 1 ]] && grep -q \"record 'r001' has no vector of model 'h3'\" '${TMP}/err'"
  rc=0
  "${STORE}" --db "${TMP}/none.db" put </dev/null 2>/dev/null
  "${STORE}" --db "${TMP}/none.db" similar x >/dev/null 2>"${TMP}/err" || rc=$?
  t "a store without vectors: exit 1, saying how to embed" \
    bash -c "[[ ${rc} == 1 ]] && grep -q 'holds no vectors: embed the records first' '${TMP}/err'"
  rc=0
  st similar a b >/dev/null 2>&1 || rc=$?
  t "two texts: exit 2" test "${rc}" = 2
  rc=0
  st similar --where nofield x >/dev/null 2>"${TMP}/err" || rc=$?
  t "--where without =: exit 2" bash -c "[[ ${rc} == 2 ]] && grep -q 'is not FIELD=VALUE' '${TMP}/err'"
  rc=0
  st put --where a=b </dev/null >/dev/null 2>&1 || rc=$?
  t "--where does not apply to put: exit 2" test "${rc}" = 2
}

test_export() {
  local db="${TMP}/ex.db"
  printf '%s\n' \
    '{"id":"e1","doc":"d","seq":1,"text":"plain","mined":{"people":[{"name":"Ana","role":"lead"},{"name":"Ben"}]}}' \
    '{"id":"e2","doc":"d","seq":2,"text":"a, \"quoted\"\nline\tand tab \\ slash","mined":{"people":[]}}' \
    '{"id":"e0","doc":"c","seq":0,"text":" padded ","n":1.5,"flag":true}' |
    "${STORE}" --db "${db}" put 2>/dev/null
  "${STORE}" --db "${db}" export --format csv >"${TMP}/out.csv" 2>/dev/null
  t "csv: header id,doc,seq,text; by doc then seq; RFC 4180 quoting, read back by Python's csv" \
    bash -c "head -n 1 '${TMP}/out.csv' | grep -qx 'id,doc,seq,text' && \"${PY}\" -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline=\"\")))
want = [json.loads(l) for l in open(sys.argv[2])]
want = sorted(want, key=lambda r: (r[\"doc\"], r[\"seq\"]))
assert [r[\"id\"] for r in rows] == [w[\"id\"] for w in want], rows
assert all(r[\"text\"] == w[\"text\"] and r[\"seq\"] == str(w[\"seq\"]) for r, w in zip(rows, want)), rows
' '${TMP}/out.csv' <(printf '%s\n' \
    '{\"id\":\"e1\",\"doc\":\"d\",\"seq\":1,\"text\":\"plain\"}' \
    '{\"id\":\"e2\",\"doc\":\"d\",\"seq\":2,\"text\":\"a, \\\"quoted\\\"\\nline\\tand tab \\\\ slash\"}' \
    '{\"id\":\"e0\",\"doc\":\"c\",\"seq\":0,\"text\":\" padded \"}')"
  "${STORE}" --db "${db}" export --format tsv --fields id,text,n,flag,mined.people.name \
    >"${TMP}/out.tsv" 2>/dev/null
  t "tsv: tab, line break and backslash escaped; numbers, booleans, lists through a path" \
    bash -c "[[ \"\$(cat '${TMP}/out.tsv')\" == \"\$(printf 'id\ttext\tn\tflag\tmined.people.name\ne0\t padded \t1.5\ttrue\t\ne1\tplain\t\t\t[\"Ana\",\"Ben\"]\ne2\ta, \"quoted\"\\\\nline\\\\tand tab \\\\\\\\ slash\t\t\t[]')\" ]]"
  "${STORE}" --db "${db}" export --format csv --fields id,mined.people.name,mined.people.role \
    --explode mined.people --order id >"${TMP}/out.csv" 2>/dev/null
  t "--explode: a row per item, the record's fields repeated, a record without items one row" \
    diff "${TMP}/out.csv" <(printf '%s\n' 'id,mined.people.name,mined.people.role' 'e0,,' \
      'e1,Ana,lead' 'e1,Ben,' 'e2,,')
  "${STORE}" --db "${db}" export --fields id,n,mined.people.name --where flag=true \
    >"${TMP}/out.nd" 2>/dev/null
  t "ndjson with --fields: typed values named as given; --where" \
    lines_are "${TMP}/out.nd" '.' '{"id":"e0","n":1.5,"mined.people.name":null}'
  "${STORE}" --db "${db}" dump --where n=1.50 >"${TMP}/out.nd" 2>/dev/null
  t "dump --where: a number equal as a number (1.50 is 1.5)" lines_are "${TMP}/out.nd" '.id' '"e0"'
  "${STORE}" --db "${db}" export >"${TMP}/out.nd" 2>/dev/null
  t "ndjson without --fields: the records as dump writes them" \
    diff "${TMP}/out.nd" <("${STORE}" --db "${db}" dump --order doc 2>/dev/null)
  local rc=0
  "${STORE}" --db "${db}" export --explode mined.people >/dev/null 2>&1 || rc=$?
  t "--explode without --fields (ndjson): exit 2" test "${rc}" = 2

  # vectors: .npy read back by NumPy equals what store get writes
  st export --vectors "${TMP}/v.npy" --model m24 --where speaker=Ana 2>"${TMP}/err"
  t "--vectors x.npy: NumPy reads (120, 24) float32, ids in x.ids, equal to store get's" \
    "${PY}" -c '
import json, subprocess, sys
import numpy as np
v = np.load(sys.argv[1])
ids = open(sys.argv[2]).read().splitlines()
assert v.shape == (120, 24) and v.dtype == np.float32, v.shape
for i in (0, 67, 119):
    rec = json.loads(subprocess.run([sys.argv[3], "--db", sys.argv[4], "get", ids[i]],
                                    capture_output=True, text=True).stdout)
    assert rec["speaker"] == "Ana"
    assert np.array_equal(np.array(rec["embedding"], dtype=np.float32), v[i]), ids[i]
' "${TMP}/v.npy" "${TMP}/v.ids" "${STORE}" "${TMP}/kb.db"
  st export --vectors "${TMP}/v.f32" --ids "${TMP}/ids.txt" --model m24 2>/dev/null
  t "raw float32 with --ids: 270 x 24 numbers, 270 ids" \
    bash -c "[[ \$(stat -c %s '${TMP}/v.f32') == \$((270 * 24 * 4)) && \$(wc -l <'${TMP}/ids.txt') == 270 ]]"
  printf '%s\n' '{"id":"bad\nid","embedding":[1,2,3],"embedding_model":"h3"}' | st put 2>/dev/null
  rc=0
  st export --vectors "${TMP}/h.npy" --model h3 2>"${TMP}/err" || rc=$?
  t "an id with a line break cannot go into the ids file: exit 1" \
    bash -c "[[ ${rc} == 1 ]] && grep -q 'holds a line break' '${TMP}/err'"
  rc=0
  st export --vectors "${TMP}/h.npy" --format csv >/dev/null 2>&1 || rc=$?
  t "--vectors with --format: exit 2" test "${rc}" = 2
}

main() {
  trap cleanup EXIT
  TMP="$(mktemp -d)"
  if [[ ! -x "${STORE}" || ! -x "${LLMD}" ]]; then
    err "build first: make ${STORE} ${LLMD}"
    echo "0 passed, 1 failed"
    exit 1
  fi
  if ! "${PY}" -c 'import numpy' 2>/dev/null; then
    "$(dirname "${BASH_SOURCE[0]}")/../apt-install" --missing python3-numpy >&2 || true
  fi
  write_records
  test_similar
  test_text
  test_errors
  test_export
  summary
}

main "$@"
