#!/usr/bin/env bash
# test_man_examples.sh: the examples of the man pages stay true (as jq's
# man.test does for its manual). Two kinds:
#  - marked examples: every .EX/.EE block under EXAMPLES of man/*.1,
#    man/*.5, man/*.7 is run: "$ " lines are commands (a line ending in a
#    backslash or a pipe goes on on the next one), the lines after one are
#    its exact output, a line "..." standing for any lines;
#  - the offline examples of the pages written with .nf/.fi, named below
#    by page and first line: each is taken from its page as printed there
#    (so a change of the page is a change of the test), run, and its output
#    compared with the page's.
# Then the crontab of lanes(7) is the one in pipelines/examples, and every
# option of ingest.sh and probe.sh is documented in lanes(7).
# Commands run offline (no LLM server), each page in a scratch directory
# where pipelines/ is the repository's. Prints "ok N - ..." lines and
# "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/shell/man_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/man_lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
readonly MAN="${ROOT}/man"
# Offline examples of pages without .EX blocks: PAGE (PAGE#N: the Nth
# example starting with that line), TAB, the first line of the command as
# printed (without "$ "), TAB, how to judge it: "exact"
# (the lines after it in the page; " ..." for any lines), "folded" (the
# page folds one output line over several), "runs" (exit 0 and some
# output), or "contains:TEXT".
readonly LISTED=(
  $'embed.1\techo \'{"id":"a","text":"Hello world"}\' | embed --model hash --dim 8\tfolded'
  $'embed.1\tprintf \'%s\\n\' \'{"text":"The quick brown fox jumps over the lazy dog."}\' \\\texact'
  $'segment.1\tsegment pipelines/examples/docs/* | head -n 1 | jq .\truns'
  $'tunables.5\tsegment --tunables pipelines/tunables.yaml --target 800 --print-config\tcontains:  target: 800  # flag --target'
  $'classify.1\tclassify --taxonomy pipelines/examples/taxonomy.yaml --embed-model hash \\\texact'
  $'classify.1\tclassify -t pipelines/examples/taxonomy.yaml -e hash --threshold 0.3 \\\texact'
  $'classify.1#2\tclassify -t pipelines/examples/taxonomy.yaml -e hash --threshold 0.3 \\\truns'
)

scratch() {
  local dir="${TMP}/run/$1"
  mkdir -p "${dir}"
  ln -sfn "${ROOT}/pipelines" "${dir}/pipelines"
  printf '%s\n' "${dir}"
}

marked() {
  local page dir ex id name
  for page in "${MAN}"/*.[157]; do
    name="${page##*/}"
    ex="${TMP}/ex/${name}"
    mkdir -p "${ex}"
    example_blocks "${page}" | split_examples "${ex}" marked
    dir="$(scratch "${name}")"
    for id in $(example_ids "${ex}"); do
      local rc=0
      run_example "${ex}/${id}.cmd" "${ex}/${id}.got" "${dir}" || rc=$?
      t "${name}: example ${id} exits 0: $(head -n 1 "${ex}/${id}.cmd")" \
        bash -c "exit ${rc}"
      t "${name}: example ${id} prints what the page shows" \
        lines_match "${ex}/${id}.out" "${ex}/${id}.got"
    done
  done
  t "lanes.7 has at least 6 marked examples" \
    test "$(example_ids "${TMP}/ex/lanes.7" | wc -l)" -ge 6
  t "store.1 has at least 5 marked examples" \
    test "$(example_ids "${TMP}/ex/store.1" | wc -l)" -ge 5
}

listed() {
  local entry page first how nth n=0
  for entry in "${LISTED[@]}"; do
    IFS=$'\t' read -r page first how <<<"${entry}"
    n=$((n + 1))
    nth=1
    if [[ "${page}" == *'#'* ]]; then
      nth="${page#*#}"
      page="${page%%#*}"
    fi
    local ex="${TMP}/listed/${n}"
    if ! man_example "${MAN}/${page}" "${first}" "${nth}" "${ex}"; then
      t "${page}: the example '${first}' (#${nth}) is in the page" false
      continue
    fi
    local dir rc=0
    dir="$(scratch "listed-${n}")"
    run_example "${ex}/1.cmd" "${ex}/1.got" "${dir}" || rc=$?
    ((nth == 1)) || first="${first} (#${nth})"
    t "${page}: '${first}' exits 0" bash -c "exit ${rc}"
    case "${how}" in
      exact)
        t "${page}: '${first}' prints what the page shows" lines_match "${ex}/1.out" "${ex}/1.got"
        ;;
      folded)
        t "${page}: '${first}' prints the line the page folds" \
          test "$(tr -d '\n' <"${ex}/1.out")" = "$(tr -d '\n' <"${ex}/1.got")"
        ;;
      runs)
        t "${page}: '${first}' prints something" test -s "${ex}/1.got"
        ;;
      contains:*)
        t "${page}: '${first}' prints '${how#contains:}'" grep -qxF -- "${how#contains:}" "${ex}/1.got"
        ;;
    esac
  done
}

# The crontab shown in lanes(7) is the example file, line for line, and
# names the example script.
crontab_page() {
  local shown="${TMP}/crontab.shown"
  sed -e 's/\\-/-/g' "${MAN}/lanes.7" |
    awk '/^\.nf$/ { inb = 1; n = 0; blk = ""; next }
         /^\.fi$/ { if (blk ~ /nightly\.sh/) printf "%s", blk; inb = 0; next }
         inb { blk = blk $0 "\n" }' >"${shown}"
  t "lanes.7 shows a crontab" test -s "${shown}"
  t "the crontab of lanes.7 is pipelines/examples/crontab (after its header comment)" \
    cmp "${shown}" <(awk 'on || !/^#/ { on = 1; print }' "${ROOT}/pipelines/examples/crontab")
  local line
  line="$(grep -E '^[0-9*]' "${ROOT}/pipelines/examples/crontab")"
  t "the crontab line has five time fields and runs examples/nightly.sh" \
    bash -c "[[ \$(awk '{print NF}' <<<'${line}') -eq 6 && '${line}' == */examples/nightly.sh ]]"
  t "the crontab line has no '%' (a newline to cron)" bash -c "[[ '${line}' != *%* ]]"
}

# Every option of the scripts' --help is in lanes(7).
options_documented() {
  local script opt page
  page="$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "${MAN}/lanes.7")"
  for script in ingest.sh probe.sh; do
    while IFS= read -r opt; do
      t "lanes.7 documents ${script} ${opt}" grep -qF -- "${opt}" <<<"${page}"
    done < <("${ROOT}/pipelines/${script}" --help | grep -oE '^  --[a-z-]+' | sed 's/^  //')
  done
}

main() {
  need_tools jq sqlite3 flock
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  # offline and hermetic: no server, no settings from the caller
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_TUNABLES LANES_STORE_DB \
    LANES_LLM_BASE_URL
  export XDG_CACHE_HOME="${TMP}/cache" TMPDIR="${TMP}" LANES_BIN="${BIN}"
  export PATH="${BIN}:${PATH}"
  marked
  listed
  crontab_page
  options_documented
  summary
}

main "$@"
