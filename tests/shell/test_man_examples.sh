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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
readonly MAN="${ROOT}/man"
# Offline examples of pages without .EX blocks: PAGE, TAB, the first line
# of the command as printed (without "$ "), TAB, how to judge it: "exact"
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
)

# The text of the example blocks of a page (.nf/.fi and .EX/.EE under
# EXAMPLES, troff escapes undone), one "@@ kind" line before each block.
example_blocks() {
  awk '
    /^\.SH EXAMPLES/ { sec = 1; next }
    /^\.SH / { sec = 0 }
    !sec { next }
    /^\.(EX|nf)$/ { inb = 1; print "@@ " ($0 == ".EX" ? "marked" : "listed"); next }
    /^\.(EE|fi)$/ { inb = 0; next }
    inb { print }
  ' "$1" | sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' \
    -e 's/\\e/\\/g'
}

# Splits the blocks on stdin into examples: for each command, a file
# N.cmd (the command, its continuation lines joined by newlines) and N.out
# (the lines shown after it), in DIR. KIND: only blocks of that kind.
split_examples() {
  local dir="$1" kind="$2"
  awk -v dir="${dir}" -v kind="${kind}" '
    function close_ex() { if (n) { close(cmd); close(out) } }
    /^@@ / { take = ($2 == kind); cont = 0; inex = 0; next }
    !take { next }
    cont { print > cmd; cont = ($0 ~ /[\\|]$/); next }
    /^\$ / {
      close_ex(); n++
      cmd = dir "/" n ".cmd"; out = dir "/" n ".out"
      printf "" > out
      print substr($0, 3) > cmd
      cont = ($0 ~ /[\\|]$/); inex = 1
      next
    }
    inex { print > out }
  '
}

# Prints 0-padded numbers of the examples in DIR, in order.
example_ids() {
  find "$1" -name '*.cmd' -printf '%f\n' | sed 's/\.cmd$//' | sort -n
}

# lines_match EXPECTED GOT: the lines of GOT are those of EXPECTED, where
# an expected line "..." (spaces around allowed) stands for any lines.
lines_match() {
  awk '
    function m(i, j,   k) {
      if (i > ne) return j > ng
      if (e[i] ~ /^ *\.\.\. *$/) {
        for (k = j; k <= ng + 1; k++) if (m(i + 1, k)) return 1
        return 0
      }
      return j <= ng && e[i] == g[j] && m(i + 1, j + 1)
    }
    FNR == NR { e[++ne] = $0; next }
    { g[++ng] = $0 }
    END {
      if (m(1, 1)) exit 0
      print "expected:"; for (i = 1; i <= ne; i++) print "  " e[i]
      print "got:"; for (i = 1; i <= ng; i++) print "  " g[i]
      exit 1
    }' "$1" "$2"
}

# Runs the command file CMD in DIR (the scratch directory of its page);
# writes its stdout to OUT. Returns its exit status.
run_example() {
  local cmd="$1" out="$2" dir="$3"
  (cd "${dir}" && bash -o pipefail "${cmd}") >"${out}" 2>"${out}.err"
}

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
}

listed() {
  local entry page first how n=0
  for entry in "${LISTED[@]}"; do
    IFS=$'\t' read -r page first how <<<"${entry}"
    n=$((n + 1))
    local ex="${TMP}/listed/${n}"
    mkdir -p "${ex}"
    # the example of the page that starts with this line, up to the next
    # command or the end of its block
    example_blocks "${MAN}/${page}" |
      FIRST="${first}" awk '
        BEGIN { first = ENVIRON["FIRST"] }
        /^@@ / { on = 0; next }
        !found && ($0 == first || $0 == "$ " first) {
          found = 1; on = 1; print "@@ x"; print "$ " first; next
        }
        on && /^\$ / { on = 0 }
        on { print }' |
      split_examples "${ex}" x
    if [[ ! -s "${ex}/1.cmd" ]]; then
      t "${page}: the example '${first}' is in the page" false
      continue
    fi
    local dir rc=0
    dir="$(scratch "listed-${n}")"
    run_example "${ex}/1.cmd" "${ex}/1.got" "${dir}" || rc=$?
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
  local tool
  for tool in jq sqlite3 flock; do
    if ! command -v "${tool}" >/dev/null; then
      err "needs ${tool}"
      echo "0 passed, 1 failed"
      return 1
    fi
  done
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
