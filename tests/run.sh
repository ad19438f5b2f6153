#!/usr/bin/env bash
# Runs every test of lanes: the unit-test binaries, the per-tool case tables
# (tests/cases/*.test), the shell tests (tests/shell/test_*.sh) and the
# lint (tests/lint.sh, but not under a sanitizer), then prints the total
# as "N passed, N failed". Exit status 1 if any failed.
set -euo pipefail

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly TESTS_DIR
export LANES_BIN="${LANES_BIN:-${TESTS_DIR}/../bin}"
export LANES_BUILD="${LANES_BUILD:-${TESTS_DIR}/../build}"
export LANES_LOG_TIME=0
export LANES_ROOT="${TESTS_DIR}/.."
export PATH="${LANES_BIN}:${PATH}"

total_pass=0
total_fail=0
failed_suites=()

# Runs one suite, shows its failing lines, adds up its final count line.
run_suite() {
  local name="$1"
  shift
  local out rc=0
  out="$(mktemp)"
  "$@" >"${out}" 2>&1 || rc=$?
  local line p f
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "${out}" | tail -n 1 || true)"
  if [[ -z "${line}" ]]; then
    p=0
    f=1
    echo "not ok - ${name}: no result line (exit ${rc})"
    tail -n 20 "${out}" | sed 's/^/    /'
  else
    p="${line%% passed*}"
    f="${line#*passed, }"
    f="${f%% failed*}"
    if (( rc != 0 && f == 0 )); then
      f=1
      echo "not ok - ${name}: exit status ${rc}"
      tail -n 20 "${out}" | sed 's/^/    /'
    fi
  fi
  grep -E '^not ok' "${out}" | sed "s|^|${name}: |" || true
  if (( f > 0 )); then
    failed_suites+=("${name}")
    # what a failing test printed for its reader (indented "# " lines:
    # the failed records, the tool's last words), so a CI log shows why
    grep -E '^[[:space:]]+# ' "${out}" | head -n 40 | sed "s|^|${name}: |" || true
  fi
  printf '%-40s %s passed, %s failed\n' "${name}" "${p}" "${f}"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  rm -f "${out}"
}

main() {
  local t
  # one binary per source: a stale binary of a removed test never runs
  for t in "${TESTS_DIR}"/unit/test_*.c; do
    [[ -f "${t}" ]] || continue
    t="$(basename "${t}" .c)"
    run_suite "unit/${t}" "${LANES_BUILD}/tests/${t}"
  done
  for t in "${TESTS_DIR}"/cases/*.test; do
    [[ -f "${t}" ]] || continue
    run_suite "cases/$(basename "${t}")" "${TESTS_DIR}/cases/run-cases.sh" "${t}"
  done
  for t in "${TESTS_DIR}"/shell/test_*.sh; do
    [[ -f "${t}" ]] || continue
    run_suite "shell/$(basename "${t}")" bash "${t}"
  done
  # what `make lint` checks, so that `make check` (CI's command) does too;
  # the sanitizer builds run the same code, linted once already
  if [[ -z "${LANES_SANITIZER:-}" ]]; then
    run_suite "lint" "${TESTS_DIR}/lint.sh"
  fi
  if (( ${#failed_suites[@]} )); then
    echo "failing suites: ${failed_suites[*]}"
  fi
  echo "${total_pass} passed, ${total_fail} failed"
  (( total_fail == 0 ))
}

main "$@"
