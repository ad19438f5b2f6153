#!/usr/bin/env bash
# lint.sh: what the style promises, checked by `make lint` and, as the
# suite "lint", by `make check` (so CI's `make check` runs it): every C
# file builds without a warning under -Werror (make lint-build), every
# shell file passes ShellCheck with the repository's .shellcheckrc,
# tests/lint-pipelines (bash -n, every command defined) and tests/banned
# (the banned C functions). Prints "ok N - ..." lines, a failing step's
# output, and "N passed, M failed"; exit 1 on a failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

passed=0
failed=0

# step DESCRIPTION COMMAND...: one check; the command's output is shown
# (its last 60 lines) when it fails.
step() {
  local desc="$1" out
  shift
  out="$(mktemp)"
  if (cd "${ROOT}" && "$@") >"${out}" 2>&1; then
    passed=$((passed + 1))
    echo "ok $((passed + failed)) - ${desc}"
  else
    failed=$((failed + 1))
    echo "not ok $((passed + failed)) - ${desc}"
    tail -n 60 "${out}" | sed 's/^/    # /'
  fi
  rm -f "${out}"
}

# The shell files, checked with the settings of .shellcheckrc.
shellcheck_all() {
  local -a files=()
  mapfile -t files < <(tests/shell-files)
  shellcheck -x "${files[@]}"
}

main() {
  local build="${LANES_BUILD:-${ROOT}/build}"
  step "C builds without a warning (-Werror: cmd/, common/, tests)" \
    make --no-print-directory lint-build BUILD="${build}"
  if tests/apt-install --missing shellcheck >/dev/null 2>&1 || command -v shellcheck >/dev/null; then
    step "ShellCheck (.shellcheckrc) on every shell file" shellcheck_all
  else
    step "ShellCheck is installed (Debian package shellcheck)" false
  fi
  step "pipelines: bash -n, every command defined (tests/lint-pipelines)" tests/lint-pipelines
  step "no banned C functions (tests/banned)" tests/banned
  echo "${passed} passed, ${failed} failed"
  ((failed == 0))
}

main "$@"
