#!/usr/bin/env bash
# store on PostgreSQL (issue 13), against a real server started here
# (pg_lib.sh: initdb in a scratch directory, a free port, a unix socket
# only; stopped on exit). The store's case table (tests/cases/store.test)
# and the reuse test (test_reuse.sh) run again on PostgreSQL; then what
# only a server has: concurrent writers, batches sent whole (merges of one
# id within a batch, a batch the server refuses), a put killed and rerun, a backup
# (pg_dump) under load restored with pg_restore, passwords never shown,
# foreign and newer databases refused; and store claim on both backends:
# workers draining one backlog, one dead with its records leased, no
# record put twice, none stranded; claim --follow (records held at most,
# a dead worker's taken, a stop); ingest.sh --worker with a worker
# killed mid-run; the commands of lanes(7) SCALE-OUT as printed (PG_ONLY=FUNCTION
# runs one part). Without a PostgreSQL server this test FAILS: it never
# passes by skipping. Pass/fail never depends on timing.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/shell/pg_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_lib.sh"
# shellcheck source=tests/shell/man_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/man_lib.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
BIN="${LANES_BIN:-${HERE}/../../bin}"
readonly BIN
BUILD="${LANES_BUILD:-${HERE}/../../build}"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly SECRET="s3cr3t-Pw"
export LANES_LOG_TIME=0
PATH="${BIN}:${PATH}"

# the cases of store.test that look at what only SQLite has: its file,
# PRAGMAs, .dump, typeof/hex of BLOBs, its schema numbers
readonly SKIP_CASES="|a rerun writes nothing: every row keeps its bytes and its updated time\
|vectors are little-endian float32 BLOBs of 4 x dim bytes, not JSON in the body\
|stats: counts per stage and status, vectors per model, as text\
|stats --json\
|a file that is not a database: exit 3\
|a database of a newer lanes is refused: exit 3\
|a SQLite database of something else is refused: exit 3\
|schema: user_version and application_id\
|backup where the copy written first (FILE.tmp) would be the live database is refused\
|a database of schema 1 is brought to schema 3 on open, its records kept|"

eq() {
  if [[ "$1" != "$2" ]]; then
    echo "got '$1', want '$2'"
    return 1
  fi
}

# q DB SQL: psql's answer (DB a URL).
q() {
  psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# has_records DB N: DB holds at least N committed records.
has_records() {
  (($(q "$1" 'SELECT count(*) FROM records' 2>/dev/null || echo 0) >= $2))
}

# gen FIRST COUNT TAG: records rFIRST.., "TAG":true, a vector every tenth.
gen() {
  awk -v first="$1" -v n="$2" -v tag="$3" 'BEGIN {
    for (i = first; i < first + n; i++) {
      printf "{\"id\":\"r%d\",\"doc\":\"d%d\",\"seq\":%d,\"text\":\"record %d\",\"%s\":true", \
        i, int(i / 50), i % 50, i, tag
      if (i % 10 == 0)
        printf ",\"embedding\":[%d,0.5,-0.25,1],\"embedding_model\":\"e\"", i
      printf "}\n"
    }
  }'
}

# suite NAME COMMAND...: a whole test of its own as one check: it ends with
# "N passed, 0 failed" for at least MIN checks (its not-ok lines shown).
suite() {
  local name="$1" min="$2"
  shift 2
  local out="${TMP}/suite.out" rc=0 line p f
  "$@" >"${out}" 2>&1 || rc=$?
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "${out}" | tail -n 1 || true)"
  p="${line%% passed*}"
  f="${line#*passed, }"
  f="${f%% failed*}"
  grep -E '^not ok|^# [0-9]+ cases' "${out}" | head -n 20 || true
  t "${name}: ${p:-0} checks passed (at least ${min}), ${f:-?} failed, exit ${rc}" \
    test -n "${line}" -a "${rc}" -eq 0 -a "${f:-1}" -eq 0 -a "${p:-0}" -ge "${min}"
}

cases_on_pg() {
  local url
  url="$(pg_new_db cases)"
  CASES_DB="${url}" CASES_SKIP="${SKIP_CASES}" \
    CASES_DB_RESET="psql -X -q -d '${url}' -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' 2>/dev/null" \
    suite "tests/cases/store.test on PostgreSQL" 45 "${HERE}/../cases/run-cases.sh" "${HERE}/../cases/store.test"
  CASES_DB="" LANES_TEST_STORE_DB="$(pg_new_db reuse)" \
    suite "test_reuse.sh on PostgreSQL (results reused by content)" 6 bash "${HERE}/test_reuse.sh"
}

# Four writers at once with overlapping ids: none fails, every record once,
# every overlap carries both writers' fields (merges are never lost).
concurrent_writers() {
  local db w rc bad=0
  db="$(pg_new_db conc)"
  local -a pids=()
  for ((w = 0; w < 4; w++)); do
    gen $((w * 2500)) 5000 "w${w}" >"${TMP}/conc.${w}.in"
  done
  for ((w = 0; w < 4; w++)); do
    store --db "${db}" --batch-records 500 put <"${TMP}/conc.${w}.in" 2>"${TMP}/conc.${w}.err" &
    pids+=("$!")
  done
  for w in "${!pids[@]}"; do
    rc=0
    wait "${pids[${w}]}" || rc=$?
    if ((rc != 0)); then
      bad=1
      err "writer ${w} exited ${rc}: $(tail -n 3 "${TMP}/conc.${w}.err")"
    fi
  done
  t "4 concurrent writers on PostgreSQL all exit 0" test "${bad}" -eq 0
  t "concurrent writers: 12500 records, each once" \
    eq "$(q "${db}" 'SELECT count(*), count(DISTINCT id) FROM records')" "12500|12500"
  t "concurrent writers: every overlap carries both writers' fields" \
    eq "$(q "${db}" "SELECT count(*) FROM records WHERE body LIKE '%\"w1\":true%' AND body LIKE '%\"w2\":true%'")" 2500
  t "concurrent writers: one vector per tenth record" eq "$(q "${db}" 'SELECT count(*) FROM vectors')" 1250
}

# Records are sent to the server a batch at a time (libpq's pipeline):
# one id three times in one batch merges as three puts one after the
# other; a put that changes nothing rewrites no row, not even its time.
batch_merges() {
  local db before
  db="$(pg_new_db merges)"
  printf '%s\n' '{"id":"n","text":"kept"}' | store --db "${db}" put 2>/dev/null
  printf '%s\n' '{"id":"m","a":1}' '{"id":"n","text":"kept"}' '{"id":"m","b":2}' \
    '{"id":"m","a":3,"c":4}' | store --db "${db}" put 2>/dev/null
  t "one id three times in one batch: each merged over the one before" \
    eq "$(store --db "${db}" get m n 2>&1)" \
    "$(printf '%s\n' '{"id":"m","a":3,"b":2,"c":4}' '{"id":"n","text":"kept"}')"
  before="$(q "${db}" 'SELECT id, updated, xmin FROM records ORDER BY id')"
  printf '%s\n' '{"id":"m","b":2}' '{"id":"n","text":"kept"}' '{"id":"m","c":4}' |
    store --db "${db}" put 2>/dev/null
  t "a batch that changes nothing rewrites no row (same time, same row version)" \
    eq "$(q "${db}" 'SELECT id, updated, xmin FROM records ORDER BY id')" "${before}"
}

# A statement the server refuses in the middle of a batch (a trigger that
# raises for id "bad"): the batch is rolled back whole, its records go on
# with errors.store (--tee) and count as failed; the batches around it
# are stored, on the same connection.
batch_error() {
  local db rc=0
  db="$(pg_new_db batcherr)"
  store --db "${db}" stats >/dev/null 2>&1
  q "${db}" "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
    IF NEW.id = 'bad' THEN RAISE EXCEPTION 'boom on %', NEW.id; END IF; RETURN NEW; END \$\$;
    CREATE TRIGGER boom BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION boom()"
  printf '{"id":"%s"}\n' a b bad c d e |
    store --db "${db}" --batch-records 2 put --tee >"${TMP}/berr.out" 2>"${TMP}/berr.err" || rc=$?
  # c goes with bad unless the input went idle between them (a commit)
  local stored failed n
  stored="$(q "${db}" "SELECT string_agg(id, ',' ORDER BY id) FROM records")"
  failed="$(jq -r 'select(.errors.store) | .id' "${TMP}/berr.out" | paste -sd, -)"
  n="$(jq -s 'map(select(.errors.store)) | length' "${TMP}/berr.out")"
  t "a refused batch: exit 1, the batches before and after it stored (${stored})" \
    eq "${rc} ${stored/,c,/,}" "1 a,b,d,e"
  t "a refused batch: what is not stored goes on with errors.store, nothing else (${failed})" \
    eq "$(jq -r '.id' "${TMP}/berr.out" | paste -sd, -) ${failed/bad,c/bad}" "a,b,bad,c,d,e bad"
  t "a refused batch: every record stored or failed, none both" \
    eq "$(jq -r 'select(.errors.store == null) | .id' "${TMP}/berr.out" | paste -sd, -)" "${stored}"
  t "a refused batch: the error is the server's reason" \
    eq "$(jq -r 'select(.errors.store) | .errors.store.message' "${TMP}/berr.out" | sort -u)" \
    "cannot write record: boom on bad"
  t "a refused batch: the summary counts ${n} failed" has "${TMP}/berr.err" "ok $((6 - n)), skipped 0, failed ${n}"
}

# SIGKILL in the middle of a put, then the same input again.
sigkill_rerun() {
  local db rc=0
  db="$(pg_new_db kill)"
  gen 0 30000 k >"${TMP}/kill.in"
  store --db "${db}" put <"${TMP}/kill.in" 2>/dev/null &
  local pid=$!
  # killed once it has committed records, in the middle of its input
  wait_state "${pid}" has_records "${db}" 1 || true
  kill -KILL "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  store --db "${db}" put <"${TMP}/kill.in" 2>"${TMP}/kill.err" || rc=$?
  t "rerun after SIGKILL exits 0" test "${rc}" -eq 0
  t "rerun after SIGKILL: 30000 records, each once, one segment status each" \
    eq "$(q "${db}" "SELECT (SELECT count(DISTINCT id) FROM records), (SELECT count(*) FROM stages WHERE stage = 'segment' AND status = 'ok')")" "30000|30000"
}

# A backup (pg_dump) while a writer runs: restored with pg_restore into a
# new database, it holds a consistent prefix; the writer is undisturbed.
backup_under_load() {
  local db copy rc=0 wrc=0 n
  db="$(pg_new_db bk)"
  gen 0 1 first | store --db "${db}" put 2>/dev/null
  gen 0 30000 b >"${TMP}/bk.in"
  store --db "${db}" --batch-records 200 put <"${TMP}/bk.in" 2>"${TMP}/bk.w.err" &
  local pid=$!
  # backed up once the writer has committed some of its records
  wait_state "${pid}" has_records "${db}" 2 || true
  store --db "${db}" backup "${TMP}/bk.dump" 2>"${TMP}/bk.err" || rc=$?
  wait "${pid}" || wrc=$?
  t "backup (pg_dump) during a put exits 0" test "${rc}" -eq 0
  t "the writer is not disturbed by the backup" test "${wrc}" -eq 0
  t "no FILE.tmp is left" test ! -e "${TMP}/bk.dump.tmp"
  copy="$(pg_new_db bkcopy)"
  pg_restore --no-owner -d "${copy}" "${TMP}/bk.dump" 2>"${TMP}/restore.err" || true
  n="$(q "${copy}" 'SELECT count(*) FROM records' 2>/dev/null || echo 0)"
  t "the backup restores (pg_restore) with between 1 and 30000 records (${n})" \
    test "${n}" -ge 1 -a "${n}" -le 30000
  t "the restored copy is a lanes store: store reads it" \
    bash -c "store --db '${copy}' get r0 | grep -q '\"id\":\"r0\"'"
}

# A password in the URL is never shown: not in logs, stats, errors,
# --print-config or ingest.sh's lines (trust authentication ignores it).
secrets() {
  local url bad
  url="postgresql://lanes:${SECRET}@/secret?host=${PG_DIR}&port=${PG_PORT}"
  pg_new_db secret >/dev/null
  bad="postgresql://lanes:${SECRET}@/secret?host=${PG_DIR}&port=1"
  {
    gen 0 3 s | store --db "${url}" put
    store --db "${url}" stats
    store --db "${url}" stats --json
    store --db "${url}" backup "${TMP}/s.dump"
    store --db "${url}" --print-config
    LANES_STORE_DB="${url}" store --print-config
    store --db "${bad}" stats || true
    store --db "${url}&password=${SECRET}" stats || true
    store --db "${bad}?password=${SECRET}" stats || true
    LANES_BIN="${BIN}" "${HERE}/../../pipelines/ingest.sh" --offline --db "${url}" --steps embed
    LANES_BIN="${BIN}" "${HERE}/../../pipelines/ingest.sh" --db "${url}" --steps embed --dry-run
  } >"${TMP}/secret.out" 2>&1 || true
  t "the password is in no output of store or ingest.sh" \
    bash -c "! grep -n -- '${SECRET}' '${TMP}/secret.out'"
  t "the URL is shown with <redacted> in its place" grep -q "lanes:<redacted>@" "${TMP}/secret.out"
  t "a server that does not answer: exit 3, the URL redacted" \
    bash -c "store --db '${bad}' stats 2>&1 >/dev/null; test \$? -eq 3"
  t "the password goes to pg_dump by its environment: the backup was written" test -s "${TMP}/s.dump"
}

# A database of something else, and one of a newer lanes, are refused.
refusals() {
  local db rc=0
  db="$(pg_new_db foreign)"
  q "${db}" 'CREATE TABLE payroll (x int)'
  store --db "${db}" stats >/dev/null 2>"${TMP}/f.err" || rc=$?
  t "a database with other tables: exit 3, not a lanes database" \
    bash -c "test ${rc} -eq 3 && grep -q 'not a lanes database' '${TMP}/f.err'"
  db="$(pg_new_db newer)"
  store --db "${db}" stats >/dev/null 2>&1
  q "${db}" 'INSERT INTO lanes_schema(version) VALUES (99)'
  rc=0
  store --db "${db}" stats >/dev/null 2>"${TMP}/n.err" || rc=$?
  t "a database of a newer lanes: exit 3, use a newer lanes" \
    bash -c "test ${rc} -eq 3 && grep -q 'newer than this store' '${TMP}/n.err'"
  db="$(pg_new_db fresh)"
  t "stats of a new database: schema ${PG_SCHEMA:-1}, versioned in lanes_schema" \
    bash -c "store --db '${db}' stats --json | jq -e '.schema == 1' >/dev/null && test \"\$(psql -X -At -d '${db}' -c 'SELECT max(version) FROM lanes_schema')\" = 1"
}

# worker DB N: claims, embeds (hash) and puts until nothing is pending;
# records leased to others are waited for. Its puts go to claim.N.out.
claim_worker() {
  local db="$1" n="$2"
  while :; do
    store --db "${db}" claim --stage embed --limit 7 --lease 20s --worker "w${n}" \
      >"${TMP}/claim.${n}.in" 2>>"${TMP}/claim.err"
    if [[ -s "${TMP}/claim.${n}.in" ]]; then
      embed --model hash --dim 8 <"${TMP}/claim.${n}.in" 2>>"${TMP}/claim.err" |
        store --db "${db}" put --tee >>"${TMP}/claim.${n}.out" 2>>"${TMP}/claim.err" || return 1
      continue
    fi
    [[ -n "$(store --db "${db}" pending --stage embed | head -c 1)" ]] || return 0
    sleep 0.2
  done
}

# The request log (store log) on PostgreSQL: the example log of lanes(7)
# goes in, comes back whole, by id, and stats counts its requests.
request_log() {
  local db ex="${HERE}/../../pipelines/examples/requests.ndjson" n
  db="$(pg_new_db reqlog)"
  n="$(wc -l <"${ex}")"
  store --db "${db}" log --add - <"${ex}" 2>/dev/null
  t "store log on PostgreSQL gives back the ${n} entries added, in order" \
    bash -c "store --db '${db}' log | cmp -s - '${ex}'"
  t "store log ID on PostgreSQL: the entries of one record" \
    eq "$(store --db "${db}" log field-report.txt:0 | wc -l)" \
    "$(jq -c 'select(.id == "field-report.txt:0" or ((.ids // []) | index("field-report.txt:0")))' "${ex}" | wc -l)"
  t "stats on PostgreSQL counts the logged requests" \
    bash -c "store --db '${db}' stats --json | jq -e '[.requests[].requests] | add > 0' >/dev/null"
}

# An entry the server refuses (a trigger on the 12th of 23) in a log whose
# entries are sent without waiting for each answer: the run says which
# statement failed and why, exits 1, and adds nothing (one batch, rolled
# back); the same log again, the trigger gone, goes in whole once.
request_log_refused() {
  local db ex="${HERE}/../../pipelines/examples/requests.ndjson" rc=0 n
  db="$(pg_new_db reqlogerr)"
  n="$(wc -l <"${ex}")"
  store --db "${db}" stats >/dev/null 2>&1
  q "${db}" "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
    IF NEW.n = 12 THEN RAISE EXCEPTION 'boom on entry %', NEW.n; END IF; RETURN NEW; END \$\$;
    CREATE TRIGGER boom BEFORE INSERT ON llm_log FOR EACH ROW EXECUTE FUNCTION boom()"
  store --db "${db}" log --add - <"${ex}" 2>"${TMP}/logerr.err" || rc=$?
  t "store log --add, entry 12 refused: exit 1, the server's reason" \
    eq "${rc} $(grep -c 'cannot add to the request log: boom on entry 12' "${TMP}/logerr.err")" "1 1"
  t "store log --add, entry 12 refused: nothing added (the batch rolled back)" \
    eq "$(q "${db}" 'SELECT count(*) FROM llm_log') $(q "${db}" 'SELECT count(*) FROM llm_log_ids')" "0 0"
  q "${db}" "DROP TRIGGER boom ON llm_log"
  store --db "${db}" log --add - <"${ex}" 2>/dev/null
  t "store log --add again, the trigger gone: the ${n} entries, in order" \
    bash -c "store --db '${db}' log | cmp -s - '${ex}'"
}

# Three workers drain one backlog of 400 records; a fourth claimed 20 and
# died before putting them (their lease runs out, another worker takes
# them); a fifth is killed mid-run. No record is put twice, none is left.
claims() {
  local label="$1" db="$2" w
  gen 0 400 c | jq -c 'del(.embedding, .embedding_model)' | store --db "${db}" put 2>/dev/null
  rm -f "${TMP}"/claim.*.out "${TMP}"/claim.*.in
  # leases long enough for a loaded machine (a live worker's lease running
  # out mid-round is a put twice; the dead one's before the second claim,
  # a record handed out again): pass/fail must not depend on timing
  store --db "${db}" claim --stage embed --limit 20 --lease 8s --worker dead >"${TMP}/dead.in"
  t "${label}: a claim hands out 20 records in doc order" \
    eq "$(jq -r .id "${TMP}/dead.in" | head -n 2 | tr '\n' ' ')" "r0 r1 "
  t "${label}: a second claim does not hand them out again" \
    bash -c "store --db '${db}' claim --stage embed --limit 5 --lease 0.05s --worker peek | jq -r .id | grep -vxFf <(jq -r .id '${TMP}/dead.in') | wc -l | grep -qx 5"
  local -a pids=()
  for w in 1 2 3 4; do
    claim_worker "${db}" "${w}" &
    pids+=("$!")
  done
  # the fourth worker is killed at once, whatever it was doing
  kill -KILL "${pids[3]}" 2>/dev/null || true
  local rc bad=0
  for w in 0 1 2; do
    rc=0
    wait "${pids[${w}]}" || rc=$?
    ((rc == 0)) || bad=1
  done
  wait "${pids[3]}" 2>/dev/null || true
  t "${label}: the workers end when the backlog is empty" test "${bad}" -eq 0
  local total distinct
  total="$(cat "${TMP}"/claim.[123].out | wc -l)"
  distinct="$(cat "${TMP}"/claim.[123].out | jq -r .id | sort -u | wc -l)"
  t "${label}: no record put twice by the live workers (${total} puts, ${distinct} ids)" \
    test "${total}" -eq "${distinct}"
  t "${label}: none stranded: every record embedded, nothing pending" \
    bash -c "test \"\$(store --db '${db}' stats --json | jq .stages.embed.ok)\" = 400 && test -z \"\$(store --db '${db}' pending --stage embed)\""
  t "${label}: the dead worker's records were taken by the others" \
    bash -c "cat '${TMP}'/claim.[123].out | jq -r .id | grep -cxFf <(jq -r .id '${TMP}/dead.in') | grep -qx 20"
}

# held DB WORKER: the claims of WORKER on embed (psql, or sqlite3 for a file).
held() {
  local sql="SELECT count(*) FROM claims WHERE stage = 'embed' AND worker = '$2'"
  if [[ "$1" == postgresql://* ]]; then
    q "$1" "${sql}"
  else
    sqlite3 "$1" "${sql}"
  fi
}

# claim --follow: one claim process for a whole backlog, holding 5 records
# at most, claiming again as a slow consumer puts them one by one; ten
# records leased to a dead worker are taken when its lease runs out; it
# ends when nothing is pending. Then a SIGTERM while it waits: exit 143.
claims_follow() {
  local label="$1" db="$2" line rc
  gen 0 60 f | jq -c 'del(.embedding, .embedding_model)' | store --db "${db}" put 2>/dev/null
  store --db "${db}" claim --stage embed --limit 10 --lease 1s --worker dead >"${TMP}/fdead.in"
  : >"${TMP}/follow.held"
  store --db "${db}" claim --follow --stage embed --limit 5 --lease 1m --worker f1 \
    2>"${TMP}/follow.err" |
    while IFS= read -r line; do
      held "${db}" f1 >>"${TMP}/follow.held"
      printf '%s\n' "${line}" | embed --model hash --dim 8 2>/dev/null |
        store --db "${db}" put --tee 2>/dev/null
    done >"${TMP}/follow.out"
  rc="${PIPESTATUS[0]}"
  t "${label}: claim --follow ends when nothing is pending (exit ${rc})" test "${rc}" -eq 0
  t "${label}: claim --follow handed out every record once, the dead worker's too" \
    eq "$(jq -r .id "${TMP}/follow.out" | sort -u | wc -l) $(wc -l <"${TMP}/follow.out")" "60 60"
  t "${label}: claim --follow held 5 records at most (claimed, not yet put)" \
    bash -c "test \"\$(sort -n '${TMP}/follow.held' | tail -n 1)\" -le 5 && test \"\$(sort -n '${TMP}/follow.held' | head -n 1)\" -ge 1"
  t "${label}: claim --follow left nothing pending: every record embedded" \
    bash -c "test -z \"\$(store --db '${db}' pending --stage embed)\" && test \"\$(store --db '${db}' stats --json | jq .stages.embed.ok)\" = 60"
  t "${label}: claim --follow left no claim of its own" eq "$(held "${db}" f1)" 0

  # a backlog of 3: one for the follower, two leased for an hour to another
  gen 100 3 g | jq -c 'del(.embedding, .embedding_model)' | store --db "${db}" put 2>/dev/null
  store --db "${db}" claim --stage embed --limit 2 --lease 1h --worker other >/dev/null
  # the first label's output must not look like this run's first record:
  # a SIGTERM sent before the follower runs is lost (bash's child between
  # fork and exec) or kills it before it says anything
  rm -f "${TMP}/follow2.out"
  store --db "${db}" claim --follow --stage embed --limit 5 --lease 1h --worker f2 \
    >"${TMP}/follow2.out" 2>"${TMP}/follow2.err" &
  local pid=$! i
  for ((i = 0; i < 600; i++)); do
    [[ -s "${TMP}/follow2.out" ]] && break
    sleep 0.05
  done
  kill -TERM "${pid}"
  rc=0
  wait "${pid}" || rc=$?
  t "${label}: claim --follow waiting on others' leases: SIGTERM ends it, exit 143" \
    eq "${rc} $(wc -l <"${TMP}/follow2.out") $(cat "${TMP}/follow2.err")" \
    "143 1 store: SIGTERM: stopping: no new work; records in flight may finish for 10s, then stay pending; a second signal exits now"
}

# Three claim --follow | embed | store put pipelines drain 600 records at
# once: each record is handed out once (a record put while another claim
# waited for its row was handed out again before the claim rechecked it).
follow_workers() {
  local label="$1" db="$2" w
  gen 0 600 w | jq -c 'del(.embedding, .embedding_model)' | store --db "${db}" put 2>/dev/null
  local -a pids=()
  for w in 1 2 3; do
    (store --db "${db}" claim --follow --stage embed --limit 7 --lease 1m --worker "fw${w}" |
      tee "${TMP}/fw.${w}.claimed" | embed --model hash --dim 8 | store --db "${db}" put) \
      2>>"${TMP}/fw.err" &
    pids+=("$!")
  done
  local bad=0
  for w in 0 1 2; do
    wait "${pids[w]}" || bad=1
  done
  t "${label}: three claim --follow pipelines end ok" test "${bad}" -eq 0
  t "${label}: three claim --follow pipelines: each record handed out once" \
    eq "$(cat "${TMP}"/fw.[123].claimed | wc -l) $(cat "${TMP}"/fw.[123].claimed | jq -r .id | sort -u | wc -l)" \
    "600 600"
  t "${label}: three claim --follow pipelines: nothing pending" \
    eq "$(store --db "${db}" pending --stage embed | wc -l)" 0
}

claim_usage() {
  local db="$1" rc=0
  store --db "${db}" claim --stage embed --lease forever >/dev/null 2>"${TMP}/u.err" || rc=$?
  t "claim --lease forever: usage error" bash -c "test ${rc} -eq 2 && grep -q 'is not a duration' '${TMP}/u.err'"
  rc=0
  store --db "${db}" claim >/dev/null 2>"${TMP}/u.err" || rc=$?
  t "claim without --stage: usage error" bash -c "test ${rc} -eq 2 && grep -q 'claim needs --stage' '${TMP}/u.err'"
}

# Three ingest.sh --worker runs against the double drain one backlog; one
# is killed (SIGKILL) mid-run: the others finish its records.
ingest_workers() {
  local db dir w
  db="$(pg_new_db workers)"
  dir="${TMP}/docs"
  mkdir -p "${dir}"
  for w in $(seq 1 40); do
    printf 'Document %d is about topic %d.\n' "${w}" "${w}" >"${dir}/d${w}.md"
  done
  start_llmd --lanes 2 --latency-ms 30
  export LANES_LLM_BASE_URL="${URL}"
  LANES_BIN="${BIN}" "${HERE}/../../pipelines/ingest.sh" --db "${db}" --steps segment "${dir}" \
    >/dev/null 2>&1
  local -a pids=()
  for w in 1 2 3; do
    setsid "${HERE}/../../pipelines/ingest.sh" --db "${db}" --worker --claim 3 --lease 2s \
      --steps mine,embed >"${TMP}/iw.${w}.out" 2>&1 &
    pids+=("$!")
  done
  # the third is killed once it has claimed records
  local i
  for ((i = 0; i < 200; i++)); do
    grep -q 'records claimed\|step mine' "${TMP}/iw.3.out" 2>/dev/null && break
    [[ -n "$(psql -X -At -d "${db}" -c "SELECT 1 FROM claims WHERE worker LIKE '%:${pids[2]}' LIMIT 1" 2>/dev/null)" ]] && break
    sleep 0.05
  done
  kill -KILL -- "-${pids[2]}" 2>/dev/null || true
  local rc bad=0
  for w in 0 1; do
    rc=0
    wait "${pids[${w}]}" || rc=$?
    ((rc == 0)) || bad=1
  done
  wait "${pids[2]}" 2>/dev/null || true
  stop_llmd || true
  t "ingest.sh --worker: the two live workers end ok" test "${bad}" -eq 0
  t "ingest.sh --worker: every record mined and embedded despite the killed worker" \
    eq "$(store --db "${db}" stats --json | jq -c '[.records, .stages.mine.ok, .stages.embed.ok]')" "[40,40,40]"
  t "ingest.sh --worker: its report says how many it claimed" grep -q 'records claimed' "${TMP}/iw.1.out"
}

# The commands of lanes(7), SCALE-OUT, as printed there, against this
# server (its URL in place of the page's) and the double.
scale_out_examples() {
  local dir="${TMP}/man" url
  mkdir -p "${dir}/docs"
  ln -s "${HERE}/../../pipelines" "${dir}/pipelines"
  for w in 1 2 3 4 5 6; do
    printf 'Chapter %d tells of topic %d.\n' "${w}" "${w}" >"${dir}/docs/c${w}.md"
  done
  man_script "${HERE}/../../man/lanes.7" 'SCALE\-OUT' >"${TMP}/scale.sh"
  t "lanes(7) SCALE-OUT shows createdb, ingest.sh --worker and store claim" \
    bash -c "grep -q '^createdb ' '${TMP}/scale.sh' && grep -q 'ingest.sh --worker' '${TMP}/scale.sh' && grep -q '^store claim' '${TMP}/scale.sh'"
  pg_sql postgres 'DROP DATABASE IF EXISTS scaleout' >/dev/null 2>&1 || true
  url="postgresql://lanes@/scaleout?host=${PG_DIR}\\&port=${PG_PORT}"
  sed -i -e "s|postgresql://lanes@db.example/lanes|'${url}'|" -e 's/^createdb lanes$/createdb scaleout/' \
    "${TMP}/scale.sh"
  start_llmd --lanes 4
  local rc=0
  (cd "${dir}" && PGHOST="${PG_DIR}" PGPORT="${PG_PORT}" PGUSER=lanes LANES_LLM_BASE_URL="${URL}" \
    LANES_BIN="${BIN}" bash -e "${TMP}/scale.sh") >"${TMP}/scale.out" 2>&1 || rc=$?
  stop_llmd || true
  t "lanes(7) SCALE-OUT: the commands run as printed (exit ${rc})" test "${rc}" -eq 0
  t "lanes(7) SCALE-OUT: every chapter segmented, mined and embedded" \
    eq "$(store --db "${url//\\/}" stats --json | jq -c '[.records, .stages.mine.ok, .stages.embed.ok]')" "[6,6,6]"
}

main() {
  TMP="$(mktemp -d)"
  trap 'cleanup; cleanup_pg' EXIT
  unset LANES_TUNABLES LANES_STORE_DB OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY
  if ! command -v psql >/dev/null || ! start_pg; then
    err "cannot start a PostgreSQL server (Debian packages postgresql, postgresql-client: make test-deps)"
    echo "0 passed, 1 failed"
    exit 1
  fi
  if [[ -n "${PG_ONLY:-}" ]]; then
    "${PG_ONLY}"
    summary
    return
  fi
  cases_on_pg
  concurrent_writers
  batch_merges
  batch_error
  sigkill_rerun
  backup_under_load
  secrets
  refusals
  request_log
  request_log_refused
  claim_usage "$(pg_new_db usage)"
  claims PostgreSQL "$(pg_new_db claims)"
  claims SQLite "${TMP}/claims.db"
  claims_follow PostgreSQL "$(pg_new_db follow)"
  claims_follow SQLite "${TMP}/follow.db"
  follow_workers PostgreSQL "$(pg_new_db followers)"
  follow_workers SQLite "${TMP}/followers.db"
  ingest_workers
  scale_out_examples
  summary
}

main "$@"
