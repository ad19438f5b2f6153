#!/usr/bin/env bash
# test_build: the Makefile works on a new machine on its first try. The link
# lines of the tools must name the libraries when they run, after `make
# deps` installed the packages, not when make read the Makefile (when
# pkg-config found nothing yet). Checked from make's own rule database.
# CI (.ci/run) is the README's test command, which runs the lint.
# the recipes are matched as make holds them: $(...) on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly ROOT="${LANES_ROOT:-$(dirname "${BASH_SOURCE[0]}")/../..}"

# recipe_of TARGET: the recipe make holds for TARGET, unexpanded (make -q
# exits 1 when TARGET is not up to date). The Makefile as a new user runs
# it: in a clean environment, without the outer make's variables (make
# asan and make tsan pass BIN=build/asan/bin both in MAKEFLAGS and in the
# environment of their recipes, where bin/TOOL has no rule).
recipe_of() {
  { env -i PATH="${PATH}" HOME="${HOME:-/}" make -C "${ROOT}" -pnq "$1" 2>/dev/null || true; } |
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
  # the PostgreSQL backend of store (cmd/store/pg/) links libpq, which
  # `make deps` installs on a fresh machine (libpq-dev)
  t "libpq is a package of the build (PKGS) and of apt (libpq-dev)" \
    bash -c "grep -qE '^PKGS = .*\\blibpq\\b' '${ROOT}/Makefile' && grep -qE '^APT_BUILD = .*libpq-dev|libpq-dev' '${ROOT}/Makefile'"
  t "PostgreSQL code exists (cmd/store/pg/)" test -f "${ROOT}/cmd/store/pg/pg_conn.c"
  t "bin/store is linked against libpq" \
    bash -c "ldd '${LANES_BIN:-${ROOT}/bin}/store' | grep -q 'libpq\\.so'"
  t "the tests' packages include the PostgreSQL server and psql" \
    bash -c "grep -A2 '^APT_TEST' '${ROOT}/Makefile' | grep -q 'postgresql postgresql-client'"
  # CI checks what the style promises: .ci/run is the README's test
  # command, and that command runs the lint
  local readme_cmd ci_cmd
  readme_cmd="$(awk '/^Run the tests/ { on = 1 } on && /^    [a-z]/ { sub(/^    /, ""); print; exit }' "${ROOT}/README.md")"
  ci_cmd="$(tail -n 1 "${ROOT}/.ci/run")"
  t "README's test command is make check (${readme_cmd})" test "${readme_cmd}" = "make check"
  t ".ci/run runs exactly the README's test command (${ci_cmd})" test "${ci_cmd}" = "${readme_cmd}"
  t "make check runs tests/lint.sh (the suite lint)" grep -q 'run_suite "lint" "${TESTS_DIR}/lint.sh"' "${ROOT}/tests/run.sh"
  t "make lint is tests/lint.sh" bash -c "make -C '${ROOT}' -pnq lint 2>/dev/null | grep -q 'tests/lint.sh'"
  t "ShellCheck is a package of the tests (APT_TEST) and .shellcheckrc is there" \
    bash -c "grep -A2 '^APT_TEST' '${ROOT}/Makefile' | grep -qw shellcheck && test -s '${ROOT}/.shellcheckrc'"
  # the README's map of the code names files that exist
  local f missing=""
  for f in $(awk '/^## Where to go next/ { on = 1 } on && /^\| (read|worked|waits|sent|written) /' "${ROOT}/README.md" |
    grep -oE '`[a-z_/]+\.[ch]`' | tr -d '`'); do
    [[ -e "${ROOT}/${f}" ]] || compgen -G "${ROOT}/cmd/*/${f}" >/dev/null || missing+=" ${f}"
  done
  t "README's map: five rows (read, worked on, waits, sent, written)" \
    test "$(grep -cE '^\| (read|worked on|waits|sent|written) \|' "${ROOT}/README.md")" -eq 5
  t "README's map names files that exist (missing:${missing:- none})" test -z "${missing}"
  summary
}

main "$@"
