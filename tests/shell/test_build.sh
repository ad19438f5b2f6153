#!/usr/bin/env bash
# test_build: the Makefile works on a new machine on its first try. The link
# lines of the tools must name the libraries when they run, after `make
# deps` installed the packages, not when make read the Makefile (when
# pkg-config found nothing yet). Checked from make's own rule database.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly ROOT="${LANES_ROOT:-$(dirname "${BASH_SOURCE[0]}")/../..}"

# recipe_of TARGET: the recipe make holds for TARGET, unexpanded.
recipe_of() {
  make -C "${ROOT}" -pnq "$1" 2>/dev/null |
    awk -v t="$1:" '$1 == t { on = 1; next } on && /^\t/ { print; next } on && !/^#/ { on = 0 }'
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  local tool recipe
  for tool in segment mine embed classify store; do
    recipe="$(recipe_of "bin/${tool}")"
    t "bin/${tool}: a recipe is found" test -n "${recipe}"
    t "bin/${tool}: libraries expanded at link time" grep -qF '$(LDLIBS)' <<<"${recipe}"
    t "bin/${tool}: flags expanded at link time" grep -qF '$(ALL_CFLAGS)' <<<"${recipe}"
  done
  t "no libpq before PostgreSQL code exists" bash -c "! grep -nE -- '-lpq|libpq' '${ROOT}/Makefile'"
  summary
}

main "$@"
