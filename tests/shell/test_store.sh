#!/usr/bin/env bash
# store under stress: concurrent writers on one database, a put killed with
# SIGKILL and run again, a backup taken while a writer runs, --tee in a
# pipe (and a closed stdout), SIGINT/SIGTERM draining (the examples of
# man/store.1 run in test_man_examples.sh). Pass/fail never depends on timing: a run
# that ends before it is killed or backed up proves the same invariants.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN="${LANES_BIN:-$(cd "$(dirname "$0")/../../bin" && pwd)}"
readonly BIN
readonly WRITERS=4
readonly PER_WRITER=20000
readonly KILL_RECORDS=200000
export LANES_LOG_TIME=0

pass=0
fail=0
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

err() {
  echo "$*" >&2
}

check() {
  local what="$1"
  shift
  if "$@"; then
    pass=$((pass + 1))
    echo "ok $((pass + fail)) - ${what}"
  else
    fail=$((fail + 1))
    echo "not ok $((pass + fail)) - ${what}"
  fi
}

# sql DB QUERY: prints the answer of sqlite3.
sql() {
  sqlite3 "$1" "$2"
}

# has_records DB N: DB exists and holds at least N committed records (a
# file not made yet is not made by asking).
has_records() {
  [[ -s "$1" ]] && (($(sql "$1" 'SELECT count(*) FROM records' 2>/dev/null || echo 0) >= $2))
}

# gen FIRST COUNT TAG: COUNT records with ids rFIRST.. carrying "TAG":true;
# every tenth one has a 4-number embedding.
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

# Four writers at once, overlapping ids: none fails, none sees "locked",
# every record is there once, and the overlaps carry both writers' fields
# (merges are never lost between processes).
concurrent_writers() {
  local db="${tmp}/conc.db" w
  local -a pids=()
  for ((w = 0; w < WRITERS; w++)); do
    gen $((w * PER_WRITER / 2)) "${PER_WRITER}" "w${w}" >"${tmp}/conc.${w}.in"
  done
  for ((w = 0; w < WRITERS; w++)); do
    "${BIN}/store" --db "${db}" --batch-records 500 put \
      <"${tmp}/conc.${w}.in" 2>"${tmp}/conc.${w}.err" &
    pids+=("$!")
  done
  local rc bad=0
  for w in "${!pids[@]}"; do
    rc=0
    wait "${pids[${w}]}" || rc=$?
    if ((rc != 0)); then
      bad=1
      err "writer ${w} exited ${rc}: $(tail -n 3 "${tmp}/conc.${w}.err")"
    fi
  done
  check "${WRITERS} concurrent writers all exit 0" test "${bad}" -eq 0
  check "no writer reports a locked database" \
    bash -c "! grep -qi 'locked' '${tmp}'/conc.*.err"
  local want=$(((WRITERS + 1) * PER_WRITER / 2))
  check "concurrent writers: ${want} records, each once" \
    test "$(sql "${db}" 'SELECT count(*), count(DISTINCT id) FROM records')" = "${want}|${want}"
  check "concurrent writers: every overlap carries both writers' fields" \
    test "$(sql "${db}" "SELECT count(*) FROM records WHERE body LIKE '%\"w1\":true%' AND body LIKE '%\"w2\":true%'")" \
    = $((PER_WRITER / 2))
  check "concurrent writers: one vector per tenth record" \
    test "$(sql "${db}" 'SELECT count(*) FROM vectors')" = $((want / 10))
  check "concurrent writers: integrity_check ok" test "$(sql "${db}" 'PRAGMA integrity_check')" = ok
}

# SIGKILL in the middle of a put, then the same input again: every record
# exactly once, the database intact.
sigkill_rerun() {
  local db="${tmp}/kill.db" in="${tmp}/kill.in"
  gen 0 "${KILL_RECORDS}" k >"${in}"
  "${BIN}/store" --db "${db}" put <"${in}" 2>/dev/null &
  local pid=$!
  # killed once it has committed records, in the middle of its input
  wait_state "${pid}" has_records "${db}" 1 || true
  kill -KILL "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  check "after SIGKILL: the database passes integrity_check" \
    test "$(sql "${db}" 'PRAGMA integrity_check')" = ok
  local rc=0
  "${BIN}/store" --db "${db}" put <"${in}" 2>"${tmp}/kill.err" || rc=$?
  check "rerun after SIGKILL exits 0" test "${rc}" -eq 0
  check "rerun after SIGKILL: ${KILL_RECORDS} records, each once" \
    test "$(sql "${db}" 'SELECT count(*), count(DISTINCT id) FROM records')" \
    = "${KILL_RECORDS}|${KILL_RECORDS}"
  check "rerun after SIGKILL: one segment status per record" \
    test "$(sql "${db}" "SELECT count(*) FROM stages WHERE stage = 'segment' AND status = 'ok'")" \
    = "${KILL_RECORDS}"
  check "rerun after SIGKILL: vectors exact" \
    test "$(sql "${db}" 'SELECT count(*) FROM vectors')" = $((KILL_RECORDS / 10))
  check "rerun after SIGKILL: integrity_check ok" test "$(sql "${db}" 'PRAGMA integrity_check')" = ok
}

# A backup taken while a writer runs: it opens, passes integrity_check, and
# holds a consistent prefix of the records; the writer is not disturbed.
backup_under_load() {
  local db="${tmp}/bk.db"
  gen 0 1 first | "${BIN}/store" --db "${db}" put 2>/dev/null
  gen 0 "${KILL_RECORDS}" b >"${tmp}/bk.in"
  "${BIN}/store" --db "${db}" --batch-records 200 put <"${tmp}/bk.in" 2>"${tmp}/bk.w.err" &
  local pid=$!
  # backed up once the writer has committed some of its records
  wait_state "${pid}" has_records "${db}" 2 || true
  local rc=0
  "${BIN}/store" --db "${db}" backup "${tmp}/copy.db" 2>"${tmp}/bk.err" || rc=$?
  check "backup during a put exits 0" test "${rc}" -eq 0
  local wrc=0
  wait "${pid}" || wrc=$?
  check "the writer is not disturbed by the backup" test "${wrc}" -eq 0
  check "the backup passes integrity_check" test "$(sql "${tmp}/copy.db" 'PRAGMA integrity_check')" = ok
  local n
  n="$(sql "${tmp}/copy.db" 'SELECT count(*) FROM records')"
  check "the backup holds between 1 and ${KILL_RECORDS} records (${n})" \
    test "${n}" -ge 1 -a "${n}" -le "${KILL_RECORDS}"
  check "the backup is one file, readable by store" \
    bash -c "[[ ! -e '${tmp}/copy.db-wal' ]] && '${BIN}/store' --db '${tmp}/copy.db' get r0 >/dev/null"
  check "the database after the writer: ${KILL_RECORDS} records" \
    test "$(sql "${db}" 'SELECT count(*) FROM records')" = "${KILL_RECORDS}"
}

# --tee in the middle of a pipe passes each record unchanged; a reader that
# goes away ends store quietly.
tee_pipe() {
  local db="${tmp}/tee.db"
  gen 0 5000 t >"${tmp}/tee.in"
  local rc=0
  "${BIN}/store" --db "${db}" put --tee <"${tmp}/tee.in" >"${tmp}/tee.out" 2>/dev/null || rc=$?
  check "--tee exits 0" test "${rc}" -eq 0
  check "--tee passes every record byte for byte, in order" cmp -s "${tmp}/tee.in" "${tmp}/tee.out"
  check "--tee: every record passed on is stored" \
    test "$(sql "${db}" 'SELECT count(*) FROM records')" = 5000
  local out
  out="$("${BIN}/store" --db "${tmp}/tee2.db" put --tee <"${tmp}/tee.in" 2>"${tmp}/tee2.err" | head -n 1)"
  check "--tee | head -1: the first record" test "${out}" = "$(head -n 1 "${tmp}/tee.in")"
  check "--tee | head -1: no error on stderr" bash -c "! grep -qi 'error' '${tmp}/tee2.err'"
}

# SIGINT and SIGTERM: stop reading, commit what is in flight, exit 130/143.
signals() {
  local sig want
  for sig in INT TERM; do
    want=130
    [[ "${sig}" == TERM ]] && want=143
    local db="${tmp}/sig${sig}.db" fifo="${tmp}/fifo.${sig}"
    mkfifo "${fifo}"
    "${BIN}/store" --db "${db}" put --tee <"${fifo}" >"${tmp}/sig.out" 2>"${tmp}/sig.err" &
    local pid=$!
    exec 9>"${fifo}"
    gen 0 5 s >&9
    # the input is idle: the five records are committed and passed on
    local _
    for _ in $(seq 1 100); do
      [[ "$(wc -l <"${tmp}/sig.out")" -ge 5 ]] && break
      sleep 0.1
    done
    kill "-${sig}" "${pid}"
    local rc=0
    wait "${pid}" || rc=$?
    exec 9>&-
    check "store SIG${sig}: exit ${want}" test "${rc}" -eq "${want}"
    check "store SIG${sig}: the records read are stored" \
      test "$(sql "${db}" 'SELECT count(*) FROM records')" = 5
    check "store SIG${sig}: summary says interrupted" grep -q "interrupted: read 5, ok 5" "${tmp}/sig.err"
  done
}

main() {
  if ! command -v sqlite3 >/dev/null; then
    err "test_store.sh needs the sqlite3 command-line tool"
    echo "0 passed, 1 failed"
    return 1
  fi
  concurrent_writers
  sigkill_rerun
  backup_under_load
  tee_pipe
  signals
  echo "${pass} passed, ${fail} failed"
  ((fail == 0))
}

main "$@"
