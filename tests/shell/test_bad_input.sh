#!/usr/bin/env bash
# The bad-input table of segment and store: each bad line is reported with
# its line number, the good lines around it still go through, and the exit
# status says a line was bad. Also: the text == slice invariant of segment
# on real documents, and SIGINT/SIGTERM draining.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-$(cd "$(dirname "$0")/../../bin" && pwd)}"
export LANES_LOG_TIME=0

# Writes the good line, the bad bytes, and another good line to a file.
make_input() {
  local name="$1" bad="$2"
  {
    printf '{"id":"g1","text":"Good one."}\n'
    printf '%b' "${bad}"
    printf '\n{"id":"g2","text":"Good two."}\n'
  } >"${TMP}/${name}.in"
}

# Runs tool on an input; checks the report, both good records and the exit.
run_row() {
  local tool="$1" name="$2" want_msg="$3" want_exit="$4"
  local -a cmd=("${BIN}/segment")
  if [[ "${tool}" == store ]]; then
    cmd=("${BIN}/store" --db "${TMP}/${name}.db" put --tee)
  fi
  local rc=0
  "${cmd[@]}" <"${TMP}/${name}.in" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || rc=$?
  t "${tool} ${name}: exit ${want_exit}" test "${rc}" -eq "${want_exit}"
  t "${tool} ${name}: stderr says '${want_msg}'" grep -qF -- "${want_msg}" "${TMP}/${name}.err"
  t "${tool} ${name}: good records before and after pass" \
    bash -c "grep -q '\"g1' '${TMP}/${name}.out' && grep -q '\"g2' '${TMP}/${name}.out'"
}

table() {
  local tool="$1"
  make_input "${tool}-malformed" '{"id":"x","text":'
  run_row "${tool}" "${tool}-malformed" "<stdin>:2: not JSON" 1
  make_input "${tool}-array" '["not","an","object"]'
  run_row "${tool}" "${tool}-array" "<stdin>:2: not a JSON object" 1
  make_input "${tool}-utf8" '{"id":"u","text":"bad \xff\xfe byte"}'
  run_row "${tool}" "${tool}-utf8" "<stdin>:2: invalid UTF-8 at column 23" 1
  make_input "${tool}-nul" '{"id":"n","text":"a\0b"}'
  run_row "${tool}" "${tool}-nul" "<stdin>:2: NUL byte at column 20" 1
  make_input "${tool}-dup" '{"id":"g1","text":"Same id again."}'
  if [[ "${tool}" == segment ]]; then
    run_row "${tool}" "${tool}-dup" "id \"g1\": segment: a document with this id came earlier" 1
  else
    run_row "${tool}" "${tool}-dup" "read 3, ok 3" 0
    t "store dup: one row for the duplicated id" \
      test "$(sqlite3 "${TMP}/${tool}-dup.db" "SELECT count(*) FROM records WHERE id = 'g1'")" = 1
  fi
  if [[ "${tool}" == segment ]]; then
    make_input "${tool}-notext" '{"id":"m","body":"no text"}'
    run_row "${tool}" "${tool}-notext" "id \"m\": segment: document has no \"text\" string" 1
  else
    make_input "${tool}-noid" '{"text":"no id"}'
    run_row "${tool}" "${tool}-noid" "<stdin>:2:" 1
  fi

  # empty input: nothing out, status 0
  local rc=0
  if [[ "${tool}" == store ]]; then
    "${BIN}/store" --db "${TMP}/empty.db" put </dev/null >"${TMP}/empty.out" 2>&1 || rc=$?
  else
    "${BIN}/segment" </dev/null >"${TMP}/empty.out" 2>&1 || rc=$?
  fi
  t "${tool} empty input: exit 0" test "${rc}" -eq 0

  # a 100 MB line: over the cap, reported, memory stays bounded, rest goes on
  {
    printf '{"id":"g1","text":"Good one."}\n{"id":"big","text":"'
    head -c 100000000 /dev/zero | tr '\0' 'a'
    printf '"}\n{"id":"g2","text":"Good two."}\n'
  } >"${TMP}/big.in"
  rc=0
  local -a cmd=("${BIN}/segment")
  if [[ "${tool}" == store ]]; then
    cmd=("${BIN}/store" --db "${TMP}/big.db" put --tee)
  fi
  /usr/bin/time -f '%M' -o "${TMP}/big.rss" "${cmd[@]}" <"${TMP}/big.in" >"${TMP}/big.out" 2>"${TMP}/big.err" || rc=$?
  t "${tool} 100 MB line: exit 1" test "${rc}" -eq 1
  t "${tool} 100 MB line: reported over the cap" grep -qF "<stdin>:2: line of 100000022 bytes is over the cap" "${TMP}/big.err"
  t "${tool} 100 MB line: the next line still passes" grep -q '"g2' "${TMP}/big.out"
  # sanitizers' shadow memory makes RSS meaningless there
  if [[ -z "${LANES_SANITIZER:-}" ]]; then
    local rss
    rss="$(tail -n 1 "${TMP}/big.rss")"
    t "${tool} 100 MB line: peak RSS ${rss} kB stays under the cap + 64 MB" test "${rss}" -lt $((32768 + 65536))
  fi
  rm -f "${TMP}/big.in" "${TMP}/big.out"
}

# text == document[start:end] (bytes) for every segment of real documents.
slice_invariant() {
  local docs
  docs="$(cd "$(dirname "$0")/../../pipelines/examples/docs" && pwd)"
  local f
  for f in "${docs}"/*.md "${docs}"/*.txt; do
    "${BIN}/segment" --target 120 --max 200 --overlap 30 "${f}" 2>/dev/null >"${TMP}/slice.out"
    local bad
    bad="$(python3 -c '
import json, sys
doc = open(sys.argv[1], "rb").read()
bad = 0
for line in open(sys.argv[2], encoding="utf-8"):
    r = json.loads(line)
    bad += doc[r["start"]:r["end"]].decode("utf-8") != r["text"]
print(bad)' "${f}" "${TMP}/slice.out")"
    t "text is the byte slice [start,end) of $(basename "${f}") with overlap" test "${bad}" -eq 0
  done
}

# SIGINT and SIGTERM: stop reading, write what is in flight, exit 130/143.
signals() {
  local sig want
  for sig in INT TERM; do
    want=130
    [[ "${sig}" == TERM ]] && want=143
    mkfifo "${TMP}/fifo.${sig}"
    "${BIN}/segment" <"${TMP}/fifo.${sig}" >"${TMP}/sig.out" 2>"${TMP}/sig.err" &
    local pid=$!
    exec 9>"${TMP}/fifo.${sig}"
    local i
    for i in 1 2 3 4 5; do
      printf '{"id":"s%d","text":"Sentence %d."}\n' "${i}" "${i}" >&9
    done
    # wait until the five records are written, then signal
    for i in $(seq 1 100); do
      [[ "$(wc -l <"${TMP}/sig.out")" -ge 5 ]] && break
      sleep 0.1
    done
    kill "-${sig}" "${pid}"
    local rc=0
    wait "${pid}" || rc=$?
    exec 9>&-
    t "SIG${sig}: exit ${want}" test "${rc}" -eq "${want}"
    t "SIG${sig}: records read before the signal are written" test "$(wc -l <"${TMP}/sig.out")" -eq 5
    t "SIG${sig}: summary says interrupted" grep -q "interrupted: read 5, ok 5" "${TMP}/sig.err"
  done
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  table segment
  if [[ -x "${BIN}/store" ]]; then
    table store
  fi
  slice_invariant
  signals
  summary
}

main "$@"
