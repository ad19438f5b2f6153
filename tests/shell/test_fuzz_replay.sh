#!/usr/bin/env bash
# Replays the fuzz corpus of segment's readers (tests/fuzz/corpus/<target>/:
# seeds and every input a fuzzer once found failing) through the fuzz
# targets built as plain programs (build/tests/fuzz_<target>): none may
# abort. `make fuzz` runs the same targets under libFuzzer.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly BUILD_DIR="${LANES_BUILD:-${ROOT}/build}"

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  local dir target
  for dir in "${ROOT}"/tests/fuzz/corpus/*/; do
    target="$(basename "${dir}")"
    t "fuzz_${target}: the corpus ($(find "${dir}" -type f | wc -l) inputs) replays without a failure" \
      "${BUILD_DIR}/tests/fuzz_${target}" "${dir}"*
  done
  summary
}

main "$@"
