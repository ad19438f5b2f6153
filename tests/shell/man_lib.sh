# shellcheck shell=bash
# man_lib.sh: the one runner of the man pages' examples, sourced by
# test_man_examples.sh (every example that runs offline) and by the tests
# that run an example against a server they start (test_classify.sh,
# test_store_pg.sh):
# examples are taken from the pages as printed, never copied.

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
  ' "$1" | troff_text
}

# The troff escapes of the examples undone, stdin to stdout.
troff_text() {
  sed -e 's/\\-/-/g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' -e 's/\\&//g' -e 's/\\e/\\/g'
}

# man_script PAGE SECTION: the .nf blocks of section SECTION of the page
# PAGE (a path; SECTION as the .SH line writes it, escapes included), one
# after the other, as text: commands printed without "$ " prompts, to be
# run as one script.
man_script() {
  SECTION=".SH $2" awk '
    $0 == ENVIRON["SECTION"] { on = 1; next }
    /^\.SH / { on = 0 }
    on && /^\.nf$/ { inb = 1; next }
    on && /^\.fi$/ { inb = 0; next }
    on && inb' "$1" | troff_text
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

# man_example PAGE FIRST NTH DIR: the NTH example (1 = the first) of the
# page PAGE (a path) whose command starts with the line FIRST (as printed,
# without "$ ") into DIR/1.cmd (the command) and DIR/1.out (the lines the
# page shows after it, up to the next command or the end of its block).
# Returns 1 when the page has no such example.
man_example() {
  local page="$1" first="$2" nth="$3" dir="$4"
  mkdir -p "${dir}"
  example_blocks "${page}" |
    FIRST="${first}" awk -v nth="${nth}" '
      BEGIN { first = ENVIRON["FIRST"] }
      /^@@ / { on = 0; next }
      ($0 == first || $0 == "$ " first) && ++seen == nth {
        on = 1; print "@@ x"; print "$ " first; next
      }
      on && /^\$ / { on = 0 }
      on { print }' |
    split_examples "${dir}" x
  [[ -s "${dir}/1.cmd" ]]
}
