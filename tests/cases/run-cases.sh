#!/usr/bin/env bash
# Runs one case table (tests/cases/<tool>.test), jq/curl style: each case is
# a command, its stdin, and the expected stdout, stderr and exit status.
#
#   === name of the case
#   $ segment --target 40            command, run by bash in a scratch dir
#   --- file NAME                    (optional, repeatable) a file to create
#   --- stdin                        lines fed to the command
#   --- stdout                       expected stdout, exactly
#   --- stdout-jq FILTER             instead: expected output of jq -c FILTER
#   --- stderr                       each line must occur in stderr, in order
#   --- exit N                       expected exit status (default 0)
#
# Lines starting with '#' outside sections are comments. Inputs are taken
# literally; bytes that are not text (NUL, bad UTF-8) are tested in
# tests/shell/test_bad_input.sh.
#
# With CASES_DB (a database URL) and CASES_DB_RESET (a command that empties
# it), each case whose command names the database t.db only through store
# runs with that database in place of t.db, emptied first, and its output
# shows t.db where it shows the URL, and `sqlite3 t.db SQL` runs SQL with
# psql: the cases of store.test run against PostgreSQL
# (tests/shell/test_store_pg.sh). Cases that name other files, and those
# named in CASES_SKIP ("|name|name|"), are counted as not portable and
# printed, never run.
set -euo pipefail

table="$1"
export LANES_LOG_TIME=0
PATH="${LANES_BIN:-$(cd "$(dirname "$0")/../../bin" 2>/dev/null && pwd)}:${PATH}"
pass=0
fail=0
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

name=""
cmd=""
section=""
want_exit=0
jq_filter=""
file_name=""

reset_case() {
  name=""
  cmd=""
  section=""
  want_exit=0
  jq_filter=""
  rm -rf "${tmp}/case"
  mkdir -p "${tmp}/case/files"
  : >"${tmp}/case/stdin"
  : >"${tmp}/case/stdout"
  : >"${tmp}/case/stderr"
}

report() {
  local ok="$1" why="$2"
  if (( ok )); then
    pass=$((pass + 1))
    echo "ok $((pass + fail)) - ${name}"
  else
    fail=$((fail + 1))
    echo "not ok $((pass + fail)) - ${name}: ${why}"
  fi
}

# Fails if any expected stderr line is missing (in order).
stderr_matches() {
  local want="$1" got="$2" line rest
  rest="$(cat "${got}")"
  while IFS= read -r line; do
    [[ -z "${line}" ]] && continue
    if [[ "${rest}" != *"${line}"* ]]; then
      echo "stderr lacks: ${line}"
      return 1
    fi
    rest="${rest#*"${line}"}"
  done <"${want}"
}

not_portable=0

run_case() {
  [[ -n "${name}" ]] || return 0
  local dir="${tmp}/case/files" got_out="${tmp}/case/got.out" got_err="${tmp}/case/got.err"
  local rc=0
  if [[ -n "${CASES_DB:-}" ]]; then
    local rest="${cmd//t.db/}"
    if [[ "${rest}" == *.db* || "${CASES_SKIP:-}" == *"|${name}|"* ]]; then
      not_portable=$((not_portable + 1))
      echo "# not portable to ${CASES_DB%%:*}: ${name}"
      return 0
    fi
    bash -c "${CASES_DB_RESET}"
    # sqlite3 t.db "SQL": the same SQL through psql (the views and
    # tables are the same), its answer as sqlite3 prints it
    cmd="sqlite3() { psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -d \"\$1\" -c \"\$2\"; }; ${cmd//t.db/\"\$CASES_DB\"}"
  fi
  (cd "${dir}" && bash -o pipefail -c "${cmd}" <"${tmp}/case/stdin.bin" >"${got_out}" 2>"${got_err}") || rc=$?
  if [[ -n "${CASES_DB:-}" ]]; then
    local re
    re="$(printf '%s' "${CASES_DB}" | sed 's/[][\\.*^$|]/\\&/g')"
    sed -i "s|${re}|t.db|g" "${got_out}" "${got_err}"
  fi
  if (( rc != want_exit )); then
    report 0 "exit ${rc}, want ${want_exit}; stderr: $(head -c 400 "${got_err}")"
    return
  fi
  if [[ -n "${jq_filter}" ]]; then
    local norm="${tmp}/case/norm.out"
    if ! jq -c "${jq_filter}" <"${got_out}" >"${norm}" 2>"${tmp}/case/jq.err"; then
      report 0 "jq failed on stdout: $(head -c 300 "${tmp}/case/jq.err"); stdout: $(head -c 300 "${got_out}")"
      return
    fi
    got_out="${norm}"
  fi
  if ! cmp -s "${got_out}" "${tmp}/case/stdout"; then
    report 0 "stdout differs: $(diff "${tmp}/case/stdout" "${got_out}" | head -n 8 | tr '\n' '|')"
    return
  fi
  local why
  if ! why="$(stderr_matches "${tmp}/case/stderr" "${got_err}")"; then
    report 0 "${why}; got: $(head -c 400 "${got_err}")"
    return
  fi
  report 1 ""
}

# Blank lines that end a section only separate cases: drop them.
trim_trailing_blank() {
  local f="$1"
  while [[ -s "${f}" && -z "$(tail -n 1 "${f}")" ]]; do
    sed -i '$ d' "${f}"
  done
}

finish_inputs() {
  local f
  for f in "${tmp}/case/stdin" "${tmp}/case/stdout" "${tmp}/case/stderr" "${tmp}/case/files/"*; do
    [[ -f "${f}" ]] && trim_trailing_blank "${f}"
  done
  cp "${tmp}/case/stdin" "${tmp}/case/stdin.bin"
}

main() {
  reset_case
  local line
  while IFS= read -r line || [[ -n "${line}" ]]; do
    case "${line}" in
      "=== "*)
        if [[ -n "${name}" ]]; then
          finish_inputs
          run_case
        fi
        reset_case
        name="${line#=== }"
        continue
        ;;
      '$ '*)
        cmd="${line#\$ }"
        continue
        ;;
      "--- stdin") section=stdin; continue ;;
      "--- stdout") section=stdout; continue ;;
      "--- stdout-jq "*) section=stdout; jq_filter="${line#--- stdout-jq }"; continue ;;
      "--- stderr") section=stderr; continue ;;
      "--- exit "*) want_exit="${line#--- exit }"; section=""; continue ;;
      "--- file "*)
        section="file"
        file_name="${line#--- file }"
        : >"${tmp}/case/files/${file_name}"
        continue
        ;;
    esac
    case "${section}" in
      stdin) printf '%s\n' "${line}" >>"${tmp}/case/stdin" ;;
      stdout) printf '%s\n' "${line}" >>"${tmp}/case/stdout" ;;
      stderr) printf '%s\n' "${line}" >>"${tmp}/case/stderr" ;;
      file) printf '%s\n' "${line}" >>"${tmp}/case/files/${file_name}" ;;
      *) ;;
    esac
  done <"${table}"
  if [[ -n "${name}" ]]; then
    finish_inputs
    run_case
  fi
  if [[ -n "${CASES_DB:-}" ]]; then
    echo "# ${pass} cases run against ${CASES_DB%%:*}, ${not_portable} not portable"
  fi
  echo "${pass} passed, ${fail} failed"
  (( fail == 0 ))
}

main "$@"
