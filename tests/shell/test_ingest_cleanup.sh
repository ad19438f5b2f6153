#!/usr/bin/env bash
# test_ingest_cleanup.sh: ingest.sh --cleanup (issue 9), on SQLite and on
# a real PostgreSQL server: documents gone from the DIRs named are deleted
# from the store, counted in the health report; --dry-run lists them and
# changes nothing; only ids under the DIRs named go (a sibling tree under
# the same root stays), never a document whose file is there (a hidden
# file named on its own), never when the search failed or a DIR that
# holds stored documents lists none now; ids with a quote or spaces; a
# rerun deletes nothing; segment --names. No LLM: --steps segment.
# Prints "ok N - ..." lines and "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/shell/pg_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
readonly INGEST="${ROOT}/pipelines/ingest.sh"

RC=0

eq() {
  if [[ "$1" != "$2" ]]; then
    printf 'expected:\n%s\ngot:\n%s\n' "$2" "$1"
    return 1
  fi
}

# run_ingest NAME ARGS...: ingest.sh ARGS, stderr to TMP/NAME.err, exit
# status to RC.
run_ingest() {
  local name="$1"
  shift
  RC=0
  LANES_LOG_TIME=0 "${INGEST}" --steps segment "$@" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || RC=$?
}

# docs_of DB: the stored documents' ids, sorted, one a line.
docs_of() {
  LANES_STORE_DB="$1" "${BIN}/store" docs | jq -r .doc | LC_ALL=C sort
}

# make_tree DIR: the source tree of the tests, under DIR/src: two
# folders of one root, a name with a quote and spaces.
make_tree() {
  local s="$1/src"
  rm -rf "${s}"
  mkdir -p "${s}/docs/sub" "${s}/notes"
  printf 'Alpha one. Alpha two.\n' >"${s}/docs/a.md"
  printf 'Beta one.\n' >"${s}/docs/sub/b.md"
  printf 'Gamma "quoted".\n' >"${s}/docs/sub/c \"q\" d.md"
  printf 'Delta.\n' >"${s}/docs/keep.txt"
  printf 'Note one.\n' >"${s}/notes/n1.md"
  printf 'Note two.\n' >"${s}/notes/n2.md"
  printf 'Hidden.\n' >"${s}/docs/.hidden.md"
}

# scenario NAME DB: the cleanup checks on store DB (a file or a URL).
scenario() {
  local name="$1" db="$2"
  local s="${TMP}/${name}/src"
  mkdir -p "${TMP}/${name}"
  make_tree "${TMP}/${name}"
  run_ingest "${name}-first" --db "${db}" --root "${s}" "${s}/docs" "${s}/notes"
  t "${name}: the first run exits 0" eq "${RC}" 0
  # a hidden file is not found by a search: named on its own, it is stored
  run_ingest "${name}-hidden" --db "${db}" --root "${s}" "${s}/docs/.hidden.md"
  t "${name}: the stored documents are the tree's" eq "$(docs_of "${db}")" \
    "$(printf '%s\n' docs/.hidden.md docs/a.md docs/keep.txt docs/sub/b.md 'docs/sub/c "q" d.md' notes/n1.md notes/n2.md)"

  rm "${s}/docs/sub/b.md" "${s}/docs/sub/c \"q\" d.md" "${s}/notes/n2.md"
  local before
  before="$(LANES_STORE_DB="${db}" "${BIN}/store" docs)"
  run_ingest "${name}-dry" --db "${db}" --root "${s}" --cleanup --dry-run "${s}/docs"
  t "${name}: --cleanup --dry-run exits 0" eq "${RC}" 0
  t "${name}: --dry-run changes nothing" eq "$(LANES_STORE_DB="${db}" "${BIN}/store" docs)" "${before}"
  t "${name}: --dry-run lists each document gone from docs/" \
    eq "$(grep 'would delete' "${TMP}/${name}-dry.err")" \
    "$(printf '%s\n' 'ingest: cleanup: would delete docs/sub/b.md (1 records): gone from the source' \
      'ingest: cleanup: would delete docs/sub/c "q" d.md (1 records): gone from the source' \
      "ingest: cleanup would delete 2 documents (2 records) gone from the source (under ${s}/docs)")"

  run_ingest "${name}-clean" --db "${db}" --root "${s}" --cleanup "${s}/docs"
  t "${name}: --cleanup exits 0" eq "${RC}" 0
  t "${name}: the gone documents of docs/ are deleted; notes/ (not named), the hidden file (there) stay" \
    eq "$(docs_of "${db}")" \
    "$(printf '%s\n' docs/.hidden.md docs/a.md docs/keep.txt notes/n1.md notes/n2.md)"
  t "${name}: the health report counts them" has "${TMP}/${name}-clean.err" \
    "  cleanup   ok       deleted 2 documents (2 records) gone from the source (under ${s}/docs)"
  t "${name}: the log names each one" has "${TMP}/${name}-clean.err" \
    'ingest: cleanup: deleting docs/sub/c "q" d.md (1 records): gone from the source'
  t "${name}: a document not found by the search whose file is there is kept, said so" \
    has "${TMP}/${name}-clean.err" "1 documents not found by the search are kept: their files are there"

  run_ingest "${name}-again" --db "${db}" --root "${s}" --cleanup "${s}/docs" "${s}/notes"
  t "${name}: naming notes/ too deletes its gone document" eq "$(docs_of "${db}")" \
    "$(printf '%s\n' docs/.hidden.md docs/a.md docs/keep.txt notes/n1.md)"
  run_ingest "${name}-rerun" --db "${db}" --root "${s}" --cleanup "${s}/docs" "${s}/notes"
  t "${name}: a rerun deletes nothing" has "${TMP}/${name}-rerun.err" \
    "  cleanup   ok       no document gone from the source (under ${s}/docs, ${s}/notes)"

  # an emptied (or unmounted) source: nothing deleted, loudly
  rm -f "${s}/notes/"*
  run_ingest "${name}-empty" --db "${db}" --root "${s}" --cleanup "${s}/docs" "${s}/notes"
  t "${name}: a DIR with stored documents that lists none now: exit 1" eq "${RC}" 1
  t "${name}: ... and nothing is deleted" eq "$(docs_of "${db}")" \
    "$(printf '%s\n' docs/.hidden.md docs/a.md docs/keep.txt notes/n1.md)"
  t "${name}: ... the report says why" has "${TMP}/${name}-empty.err" \
    "  cleanup   FAILED   nothing deleted: ${s}/notes lists no documents now, and the store holds 1 under it"
  run_ingest "${name}-empty-dry" --db "${db}" --root "${s}" --cleanup --dry-run "${s}/notes"
  t "${name}: --dry-run says it would delete nothing, and why" has "${TMP}/${name}-empty-dry.err" \
    "cleanup would delete nothing: ${s}/notes lists no documents now"
}

# A search that fails (find exits 1 after listing part of the tree):
# the run stops before any step, nothing is deleted.
search_fails() {
  local s="${TMP}/sq/src" db="${TMP}/sq.db"
  mkdir -p "${TMP}/sq"
  make_tree "${TMP}/sq"
  run_ingest sq-first --db "${db}" --root "${s}" "${s}/docs"
  rm "${s}/docs/a.md"
  mkdir -p "${TMP}/stub"
  # find lists what it can, then fails, as with an unreadable folder
  cat >"${TMP}/stub/find" <<'STUB'
#!/bin/sh
/usr/bin/find "$@"
echo "find: '$1/sub': Permission denied" >&2
exit 1
STUB
  chmod +x "${TMP}/stub/find"
  RC=0
  PATH="${TMP}/stub:${PATH}" LANES_LOG_TIME=0 "${INGEST}" --steps segment --db "${db}" \
    --root "${s}" --cleanup "${s}/docs" 2>"${TMP}/sq.err" || RC=$?
  t "a failed search of a DIR: exit 2" eq "${RC}" 2
  t "... nothing is deleted" eq "$(docs_of "${db}" | wc -l | tr -d ' ')" 4
}

usage_errors() {
  mkdir -p "${TMP}/u"
  printf 'x.\n' >"${TMP}/u/x.md"
  run_ingest u-file --db "${TMP}/u.db" --cleanup "${TMP}/u/x.md"
  t "--cleanup without a DIR: exit 2" eq "${RC}" 2
  t "... says it needs one" has "${TMP}/u-file.err" "--cleanup needs a DIR"
  run_ingest u-worker --db "${TMP}/u.db" --cleanup --worker
  t "--cleanup with --worker: exit 2" eq "${RC}" 2
  t "--help documents --cleanup" has <("${INGEST}" --help) "--cleanup"
}

names() {
  mkdir -p "${TMP}/n/docs/sub"
  : >"${TMP}/n/docs/a.md"
  local got rc=0
  got="$(cd "${TMP}/n" && "${BIN}/segment" --names --root docs docs ./docs/sub docs/sub/../a.md \
    "${TMP}/n/docs/sub/new.md" 2>&1)" || rc=$?
  t "segment --names: a DIR's id prefix, files' ids as segment writes them, read nothing" eq "${got}" \
    "$(printf '%s\n' '{"dir":""}' '{"dir":"sub"}' '{"doc":"a.md"}' '{"doc":"sub/new.md"}')"
  t "segment --names exits 0" eq "${rc}" 0
  rc=0
  got="$(cd "${TMP}/n" && "${BIN}/segment" --names --root docs /etc 2>&1)" || rc=$?
  t "segment --names: a path not under the root fails, named" eq "${rc}:${got}" \
    "1:segment: /etc: not under --root ${TMP}/n/docs"
}

main() {
  TMP="$(mktemp -d)"
  trap 'cleanup; cleanup_pg' EXIT
  export TMPDIR="${TMP}"
  names
  usage_errors
  scenario sqlite "${TMP}/sqlite.db"
  search_fails
  if ! command -v psql >/dev/null || ! start_pg; then
    t "a PostgreSQL server for the tests (make test-deps)" false
  else
    scenario pg "$(pg_new_db cleanup)"
  fi
  summary
}

main "$@"
