#!/usr/bin/env bash
# test_progress.sh: the progress line's counters mean what they say
# (lanes(7) Logs): records read, answered and written, each counted where
# it happens, with N/TOTAL and an ETA when --total gives the count, and
# ingest.sh passing each LLM step's pending count as the total. A record
# held by the test double (a scripted reply that waits an hour) stops the
# run in a state that stays put: the record before it written, the ones
# after it answered and waiting for it (output is in input order), every
# line read. Checks wait for that state, never for a time.
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
export LANES_LOG_TIME=0

# A chat request whose text holds HOLD is answered after an hour (the
# double wakes it when it stops); the others at once.
write_script() {
  cat >"${TMP}/hold.script" <<'EOF'
=== hold
--- when POST /api/chat
--- if-body HOLD
--- delay-ms 3600000
--- body
{"model":"llama3.2:3b","message":{"role":"assistant","content":"{}"},"done":true}
EOF
}

# records N HELD: N records r1..rN, record HELD's text holding HOLD.
records() {
  local n="$1" held="$2" i text
  for ((i = 1; i <= n; i++)); do
    text="record ${i}"
    ((i == held)) && text="HOLD ${i}"
    printf '{"id":"r%d","text":"%s"}\n' "${i}" "${text}"
  done
}

# The last progress line of FILE (from TOOL), without its prefix.
last_progress() {
  grep "^$2: progress: " "$1" | tail -n 1 | sed "s/^$2: progress: //"
}

# counters LINE: "read answered written" of a progress line.
counters() {
  sed -E 's/^read ([0-9]+), answered ([0-9]+)(\/[0-9]+)? \(.*\), (written|stored) ([0-9]+),.*/\1 \2 \5/' <<<"$1"
}

# mine_held NAME [FLAGS...]: mine over 10 records, the 6th held, with two
# workers and two requests at once and a stats line a second; waits until
# a line shows 10 read and 9 answered, then stops mine (SIGTERM, no
# grace). Sets LINE (that stats line) and RC.
mine_held() {
  local name="$1" pid
  shift
  records 10 6 >"${TMP}/in"
  LANES_LLM_BASE_URL="${URL}" LANES_LLM_CONCURRENCY=2 LANES_MINE_STATS_INTERVAL=1 \
    LANES_MINE_STOP_GRACE_MS=0 timeout -k 5 120 "${BIN}/mine" --prompt "${TMP}/t.txt" \
    --workers 2 "$@" <"${TMP}/in" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" &
  pid=$!
  PIDS+=("${pid}")
  wait_state "${pid}" grep -q '^mine: progress: read 10, answered 9[ /]' "${TMP}/${name}.err" || true
  LINE="$(last_progress "${TMP}/${name}.err" mine)"
  kill -TERM "${pid}" 2>/dev/null || true
  RC=0
  wait "${pid}" || RC=$?
}

# The counters of a held run: read > answered > written, and each what it
# must be; N/TOTAL and an ETA only with --total.
held_counts() {
  mine_held total --total 10
  echo "with --total: ${LINE}"
  t "read, answered, written: every line read, all but the held one answered, those before it written" \
    eq "$(counters "${LINE}")" "10 9 5"
  t "answered is ok + skipped + failed" has <(echo "${LINE}") "answered 9/10 (ok 9, skipped 0, failed 0), written 5,"
  t "with --total: an ETA once a rate is known" \
    grep -qE ', ETA ([0-9]+h[0-9]{2}m|([0-9]+m)?[0-9]+s),' <<<"${LINE}"
  t "the run was stopped (exit 143) with every record written" \
    eq "${RC} $(wc -l <"${TMP}/total.out")" "143 10"
  t "the summary counts the ten records read" \
    grep -q '^mine: interrupted: read 10, ok 9, skipped 1, failed 0,' "${TMP}/total.err"

  mine_held plain
  echo "without --total: ${LINE}"
  t "without --total: the same counters" eq "$(counters "${LINE}")" "10 9 5"
  t "without --total: no N/TOTAL" has <(echo "${LINE}") "answered 9 (ok 9,"
  t "without --total: no ETA" bash -c "! grep -q 'ETA' <<<'${LINE}'"
}

# --total takes a whole number.
bad_total() {
  RC=0
  "${BIN}/segment" --total many </dev/null >/dev/null 2>"${TMP}/bad.err" || RC=$?
  t "--total many: exit 2" eq "${RC}" 2
  t "--total many: says why" grep -q "^segment: --total 'many': not a number of records" "${TMP}/bad.err"
  RC=0
  "${BIN}/segment" --total -1 </dev/null >/dev/null 2>&1 || RC=$?
  t "--total -1: exit 2" eq "${RC}" 2
  t "--help lists --total" bash -c "'${BIN}/embed' --help | grep -q -- '--total N'"
}

# A written line is counted when it is written: with nothing held, every
# line is written by the end, and the store counts what it stored.
whole_run() {
  records 4 0 >"${TMP}/in4"
  LANES_STORE_STATS_INTERVAL=0 "${BIN}/store" --db "${TMP}/w.db" put --total 4 \
    --summary-json "${TMP}/put.json" <"${TMP}/in4" 2>"${TMP}/put.err"
  t "store put: stored 4 of 4" eq "$(jq -c '[.read, .written]' "${TMP}/put.json")" "[4,4]"
}

# ingest.sh gives each LLM step's tool and its store put the pending count
# as --total: their progress lines show answered N/4. The fourth document
# is held in mine; the run is stopped (SIGTERM) once both lines are there.
ingest_total() {
  local docs="${TMP}/docs" pid i
  mkdir -p "${docs}"
  for i in 1 2 3; do
    printf 'Document number %d says something.\n' "${i}" >"${docs}/d${i}.txt"
  done
  printf 'Document four says HOLD.\n' >"${docs}/d4.txt"
  LANES_LLM_BASE_URL="${URL}" LANES_MINE_STATS_INTERVAL=1 LANES_STORE_STATS_INTERVAL=1 \
    LANES_MINE_STOP_GRACE_MS=0 timeout -k 5 120 "${INGEST}" --db "${TMP}/kb.db" \
    --steps segment,mine "${docs}" >/dev/null 2>"${TMP}/ingest.err" &
  pid=$!
  PIDS+=("${pid}")
  wait_state "${pid}" grep -q '^store: progress: read 3, answered 3/4 ' "${TMP}/ingest.err" || true
  wait_state "${pid}" grep -q '^mine: progress: read 4, answered 3/4 ' "${TMP}/ingest.err" || true
  kill -TERM "${pid}" 2>/dev/null || true
  RC=0
  wait "${pid}" || RC=$?
  t "ingest.sh: the mine step pends 4 records" grep -q '^ingest: step mine: 4 records pending' "${TMP}/ingest.err"
  t "ingest.sh: mine's progress shows answered N/4 and an ETA" \
    grep -qE '^mine: progress: read 4, answered 3/4 \(ok 3, skipped 0, failed 0\), written 3, .*, ETA ' \
    "${TMP}/ingest.err"
  t "ingest.sh: store put's progress shows answered N/4 and what it stored" \
    grep -qE '^store: progress: read 3, answered 3/4 \(ok 3, skipped 0, failed 0\), stored 3, ' \
    "${TMP}/ingest.err"
  t "ingest.sh: every progress line of the run keeps written <= answered <= read" \
    bash -c "grep -E '^(mine|store): progress: ' '${TMP}/ingest.err' | sed 's/^[a-z]*: progress: //' |
      sed -E 's/^read ([0-9]+), answered ([0-9]+)(\\/[0-9]+)? \\(.*\\), (written|stored) ([0-9]+),.*/\\1 \\2 \\5/' |
      awk '!(\$3 <= \$2 && \$2 <= \$1) { bad = 1 } END { exit bad }'"
  t "ingest.sh: stopped by SIGTERM (exit 143)" eq "${RC}" 143
}

main() {
  need_tools jq sqlite3 curl flock
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_TUNABLES LANES_STORE_DB
  export LANES_BIN="${BIN}" PATH="${BIN}:${PATH}" TMPDIR="${TMP}"
  printf 'Facts of: {{text}}\n' >"${TMP}/t.txt"
  write_script
  start_llmd --script "${TMP}/hold.script"
  held_counts
  bad_total
  whole_run
  ingest_total
  summary
}

main "$@"
