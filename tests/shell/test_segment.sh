#!/usr/bin/env bash
# segment on files as users have them: a document that cannot be read
# comes out as one error record (nothing skipped in silence), endless input
# is capped, SIGINT/SIGTERM end a read that would never finish, and the
# error records reach the store.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-$(cd "$(dirname "$0")/../../bin" && pwd)}"
export LANES_LOG_TIME=0

# has_error FILE ID CODE: FILE holds the error record of ID with CODE, and
# no segment of ID.
has_error() {
  local file="$1" id="$2" code="$3"
  jq -e --arg id "${id}" --arg code "${code}" -s '
    [.[] | select(.doc == $id)] as $r
    | ($r | length) == 1 and $r[0].id == $id and $r[0].errors.segment.code == $code
      and $r[0].errors.segment.attempts == 1 and ($r[0] | has("seq") | not)
      and ($r[0] | has("text") | not)' "${file}"
}

error_records() {
  local d="${TMP}/docs"
  mkdir -p "${d}"
  printf 'A fine document.\n' >"${d}/good.md"
  printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' >"${d}/old.md"
  printf 'PK\x03\x04\x14\x00\x06\x00' >"${d}/report.bin"
  printf 'text then\0binary' >"${d}/nul.txt"
  printf '1\n00:00:05,000 --> 00:00:01,000\nBackwards.\n' >"${d}/back.srt"
  printf 'bad \xff byte\n' >"${d}/latin1.txt"
  local rc=0
  (cd "${TMP}" && "${BIN}/segment" docs/good.md docs/old.md docs/report.bin docs/nul.txt \
    docs/back.srt docs/latin1.txt docs/missing.md docs) >"${TMP}/err.out" 2>"${TMP}/err.err" || rc=$?
  t "unreadable documents: exit 1" test "${rc}" -eq 1
  t "the good document is segmented" jq -e -s 'map(select(.doc == "docs/good.md" and .seq == 0)) | length == 1' "${TMP}/err.out"
  t "a PNG by content, whatever its name: unsupported_type" has_error "${TMP}/err.out" docs/old.md unsupported_type
  t "the message names the type and what to do" \
    grep -qF 'docs/old.md: unsupported type: a PNG image; convert it to text first' "${TMP}/err.err"
  t "a ZIP whatever its name: unsupported_type" has_error "${TMP}/err.out" docs/report.bin unsupported_type
  t "NUL bytes: unsupported_type (binary data)" has_error "${TMP}/err.out" docs/nul.txt unsupported_type
  t "NUL bytes: where" grep -qF 'binary data (NUL byte at byte 9)' "${TMP}/err.err"
  t "a cue that ends before it starts: bad_document" has_error "${TMP}/err.out" docs/back.srt bad_document
  t "the backwards cue is reported with its line" \
    grep -qF 'docs/back.srt: cue ends before it starts at line 2' "${TMP}/err.err"
  t "invalid UTF-8: bad_document" has_error "${TMP}/err.out" docs/latin1.txt bad_document
  t "a missing file: unreadable" has_error "${TMP}/err.out" docs/missing.md unreadable
  t "a directory: unreadable" has_error "${TMP}/err.out" docs unreadable
  t "every document is counted: read 8, ok 1, failed 7" grep -qF 'read 8, ok 1, skipped 0, failed 7' "${TMP}/err.err"

  if [[ -x "${BIN}/store" ]]; then
    "${BIN}/store" --db "${TMP}/kb.db" put <"${TMP}/err.out" 2>/dev/null
    "${BIN}/store" --db "${TMP}/kb.db" dump --stage segment --status error >"${TMP}/dump.out" 2>/dev/null
    t "store keeps the error records: dump --stage segment --status error finds all 7" \
      test "$(jq -s 'map(select(.errors.segment)) | length' "${TMP}/dump.out")" -eq 7
  fi
}

endless_input() {
  local rc=0
  /usr/bin/time -f '%M' -o "${TMP}/zero.rss" "${BIN}/segment" --max-document 8000000 /dev/zero \
    >"${TMP}/zero.out" 2>"${TMP}/zero.err" || rc=$?
  t "/dev/zero: exit 1" test "${rc}" -eq 1
  t "/dev/zero: too_big record" has_error "${TMP}/zero.out" /dev/zero too_big
  t "/dev/zero: says which setting to raise" \
    grep -qF '/dev/zero: larger than segment.max_document (8000000 bytes): raise --max-document' "${TMP}/zero.err"
  if [[ -z "${LANES_SANITIZER:-}" ]]; then
    local rss
    rss="$(tail -n 1 "${TMP}/zero.rss")"
    t "/dev/zero: peak RSS ${rss} kB stays near the cap" test "${rss}" -lt 40000
  fi
  rc=0
  # before the cap this never ended: timeout turns that into a failure
  yes | LANES_SEGMENT_MAX_DOCUMENT=4000000 timeout 60 "${BIN}/segment" --doc endless - \
    >"${TMP}/yes.out" 2>"${TMP}/yes.err" || rc=$?
  t "yes | segment -: ends with exit 1" test "${rc}" -eq 1
  t "yes | segment -: too_big record for the document" has_error "${TMP}/yes.out" endless too_big
  rc=0
  head -c 5000 /dev/zero | tr '\0' 'x' >"${TMP}/exact.txt"
  "${BIN}/segment" --max-document 5000 "${TMP}/exact.txt" >"${TMP}/exact.out" 2>/dev/null || rc=$?
  t "a document of exactly max_document bytes is read" test "${rc}" -eq 0
  rc=0
  "${BIN}/segment" --max-document 5000 - <"${TMP}/exact.txt" >/dev/null 2>&1 || rc=$?
  t "... from a pipe too" test "${rc}" -eq 0
  rc=0
  "${BIN}/segment" --max-document 4999 "${TMP}/exact.txt" >/dev/null 2>&1 || rc=$?
  t "one byte more fails" test "${rc}" -eq 1
}

# wait_start FILE: waits (up to 10 s) for segment's start line in FILE.
wait_start() {
  local i
  for ((i = 0; i < 200; i++)); do
    grep -q ' start: ' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# A read that never ends (a pipe held open) stops at SIGINT/SIGTERM: the
# half-read document is abandoned, the files before it were written.
signals() {
  local sig want
  printf 'First file.\n' >"${TMP}/first.txt"
  for sig in INT TERM; do
    want=130
    [[ "${sig}" == TERM ]] && want=143
    mkfifo "${TMP}/pipe.${sig}"
    "${BIN}/segment" "${TMP}/first.txt" - <"${TMP}/pipe.${sig}" >"${TMP}/sig.out" 2>"${TMP}/sig.err" &
    local pid=$!
    exec 9>"${TMP}/pipe.${sig}"
    printf 'half a document, never ended' >&9
    wait_start "${TMP}/sig.err"
    # the first file's segment is out: segment is reading stdin now
    local i
    for ((i = 0; i < 200; i++)); do
      [[ -s "${TMP}/sig.out" ]] && break
      sleep 0.05
    done
    kill "-${sig}" "${pid}"
    local rc=0
    wait "${pid}" || rc=$?
    exec 9>&-
    t "SIG${sig} while reading a document: exit ${want}" test "${rc}" -eq "${want}"
    t "SIG${sig}: the file before it was written, the half-read one was not" \
      jq -e -s 'length == 1 and .[0].doc == "'"${TMP}"'/first.txt"' "${TMP}/sig.out"
    t "SIG${sig}: summary says interrupted" grep -q "interrupted: read 1, ok 1" "${TMP}/sig.err"
  done
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  error_records
  endless_input
  signals
  summary
}

main "$@"
