#!/usr/bin/env bash
# test_app.sh: what every tool does around its records (common/app.c):
# --help, --version and --print-config check their writes; --summary-json
# tells the truth when writing stdout fails; out of memory exits with the
# internal-error status 4; --progress always draws its line while other
# threads log (the race on the progress state is gone: run under
# `make tsan` too).
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly TOOLS=(segment mine embed classify store consolidate)
export LANES_LOG_TIME=0

# run_rc CMD...: runs CMD, output to files; sets RC.
run_rc() {
  RC=0
  "$@" >"${TMP}/out" 2>"${TMP}/err" || RC=$?
}

# Every tool's --help, --version and --print-config: to a full disk, an
# error and status 1; to a closed pipe, a quiet end.
info_writes() {
  local tool flag
  for tool in "${TOOLS[@]}"; do
    for flag in --help --version --print-config; do
      RC=0
      "${BIN}/${tool}" "${flag}" >/dev/full 2>"${TMP}/err" || RC=$?
      t "${tool} ${flag} >/dev/full: exit 1" test "${RC}" -eq 1
      t "${tool} ${flag} >/dev/full: says why" \
        grep -q "^${tool}: write error on standard output: No space left on device" "${TMP}/err"
    done
    RC=0
    "${BIN}/${tool}" --help 2>"${TMP}/err" | head -n 1 >/dev/null || RC=$?
    t "${tool} --help | head -n 1: quiet" test ! -s "${TMP}/err"
  done
}

# --summary-json: a failed write to stdout is in the summary's exit and
# status, as in the tool's exit status.
summary_truth() {
  printf '{"id":"a","text":"A sentence."}\n' >"${TMP}/one.ndjson"
  local -a cmd
  local name
  for name in segment embed store; do
    case "${name}" in
      segment) cmd=("${BIN}/segment") ;;
      embed) cmd=("${BIN}/embed" --model hash) ;;
      store) cmd=("${BIN}/store" --db "${TMP}/s.db" put --tee) ;;
    esac
    RC=0
    "${cmd[@]}" --summary-json "${TMP}/sum.json" <"${TMP}/one.ndjson" >/dev/full \
      2>"${TMP}/err" || RC=$?
    t "${name} >/dev/full: exit 1" test "${RC}" -eq 1
    t "${name} >/dev/full: says why" \
      grep -q "^${name}: write error on standard output: No space left on device" "${TMP}/err"
    t "${name} >/dev/full: --summary-json says exit 1, write error" \
      jq -e '.exit == 1 and .status == "write error"' "${TMP}/sum.json"
    t "${name} >/dev/full: the summary line says write error" \
      grep -q "^${name}: write error: read 1" "${TMP}/err"
  done
}

# Out of memory: status 4 and one line, not the usage status 2. The
# address-space limit is what segment maps once it runs (measured) plus
# 32 MB; the document line is 100 MB.
out_of_memory() {
  # the sanitizers reserve terabytes of address space at start
  if [[ -n "${LANES_SANITIZER:-}" ]]; then
    return 0
  fi
  mkfifo "${TMP}/oom.fifo"
  "${BIN}/segment" --workers 1 <"${TMP}/oom.fifo" >"${TMP}/oom.out" 2>/dev/null &
  local pid=$!
  PIDS+=("${pid}")
  exec 7>"${TMP}/oom.fifo"
  printf '{"id":"a","text":"One."}\n' >&7
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -s "${TMP}/oom.out" ]] && break
    sleep 0.05
  done
  local vm
  vm="$(awk '/^VmPeak:/ {print $2}' "/proc/${pid}/status")"
  exec 7>&-
  wait "${pid}" || true
  {
    printf '{"id":"big","text":"'
    head -c 100000000 /dev/zero | tr '\0' 'a'
    printf '"}\n'
  } >"${TMP}/big.ndjson"
  RC=0
  (ulimit -v $((vm + 32768)) && exec "${BIN}/segment" --workers 1 --max-line 200000000 \
    <"${TMP}/big.ndjson" >/dev/null 2>"${TMP}/err") || RC=$?
  t "out of memory (limit $((vm + 32768)) kB): exit 4" test "${RC}" -eq 4
  t "out of memory: one line that says so" \
    grep -q "^segment: internal error: out of memory allocating [0-9]* bytes$" "${TMP}/err"
  rm -f "${TMP}/big.ndjson"
}

# --progress always draws the line, and a log line from another thread
# clears it first. Waits for the line, then sends a bad record.
progress_always() {
  mkfifo "${TMP}/fifo"
  "${BIN}/segment" --progress always <"${TMP}/fifo" >"${TMP}/p.out" 2>"${TMP}/p.err" &
  local pid=$!
  PIDS+=("${pid}")
  exec 8>"${TMP}/fifo"
  printf '{"id":"a","text":"One."}\n' >&8
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q $'\r\e\\[Ksegment: read 1, answered 1 (ok 1' "${TMP}/p.err" && break
    sleep 0.05
  done
  t "--progress always: the line is drawn" grep -q $'\r\e\\[Ksegment: read 1, answered 1 (ok 1' "${TMP}/p.err"
  printf 'not json\n' >&8
  exec 8>&-
  RC=0
  wait "${pid}" || RC=$?
  t "--progress always: exit 1 (a rejected line)" test "${RC}" -eq 1
  t "--progress always: the log line clears the progress line first" \
    grep -q $'\r\e\\[Ksegment: <stdin>:2: not JSON' "${TMP}/p.err"
  t "--progress always: the summary comes last" \
    bash -c "tail -n 1 '${TMP}/p.err' | grep -q 'done: read 2, ok 1'"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  info_writes
  summary_truth
  out_of_memory
  progress_always
  summary
}

main "$@"
