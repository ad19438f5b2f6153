#!/usr/bin/env bash
# Helpers shared by the lanes benchmarks (sourced by tests/bench/bench_*.sh):
# installing what a bench needs, a scratch directory removed on exit, timing
# a whole process (wall time and peak RSS, best of N runs), and the
# "target ...: met|not met" lines that tests/bench/run.sh sums up.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly BENCH_DIR
REPO_DIR="$(cd "${BENCH_DIR}/../.." && pwd)"
readonly REPO_DIR
LANES_BIN="${LANES_BIN:-${REPO_DIR}/bin}"
# How many times each measured command runs; the best run is reported.
BENCH_RUNS="${LANES_BENCH_RUNS:-3}"
BENCH_TMP=""
# Fallback text when bible-kjv cannot be had: about this many bytes.
readonly TEXT_BYTES=4500000
# Set by run_timed and best_of: wall seconds, peak RSS in KB, and (run_timed)
# user + system CPU seconds of the command.
RUN_WALL=""
RUN_RSS=""
RUN_CPU=""
BEST_WALL=""
BEST_RSS=""

err() {
  echo "${BENCH_NAME:-bench}: $*" >&2
}

# Makes BENCH_TMP, a scratch directory under ${TMPDIR:-/tmp} removed on exit.
bench_tmp_init() {
  BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/lanes-bench.XXXXXX")"
  trap bench_tmp_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_tmp_cleanup() {
  if [[ -n "${BENCH_TMP}" && -d "${BENCH_TMP}" ]]; then
    rm -rf "${BENCH_TMP}"
  fi
}

# Installs the Debian packages named, those not installed yet.
need_debs() {
  "${REPO_DIR}/tests/apt-install" --missing "$@"
}

# Checks that the lanes tools named were built.
need_lanes() {
  local t
  for t in "$@"; do
    if [[ ! -x "${LANES_BIN}/${t}" ]]; then
      err "${LANES_BIN}/${t} is missing: run make first"
      return 1
    fi
  done
}

# Makes sure node and the npm peers of package.json are in node_modules.
need_node_modules() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    need_debs nodejs npm
  fi
  if [[ -f "${BENCH_DIR}/node_modules/.package-lock.json" \
      && "${BENCH_DIR}/node_modules/.package-lock.json" -nt "${BENCH_DIR}/package-lock.json" ]]; then
    return 0
  fi
  err "npm ci in ${BENCH_DIR}"
  (cd "${BENCH_DIR}" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# run_timed IN OUT CMD...: runs CMD once with stdin from IN and stdout to OUT
# under /usr/bin/time; sets RUN_WALL (seconds, from the shell's microsecond
# clock), RUN_RSS (peak resident set, KB) and RUN_CPU (user + system CPU
# seconds). Returns CMD's status; its
# stderr goes to ${BENCH_TMP}/stderr.
run_timed() {
  local in="$1" out="$2"
  shift 2
  local t0 t1 rc=0
  t0="${EPOCHREALTIME}"
  /usr/bin/time -f '%M %U %S' -o "${BENCH_TMP}/time" "$@" <"${in}" >"${out}" \
    2>"${BENCH_TMP}/stderr" || rc=$?
  t1="${EPOCHREALTIME}"
  if (( rc != 0 )); then
    err "failed (exit ${rc}): $*"
    tail -n 5 "${BENCH_TMP}/stderr" >&2
    return "${rc}"
  fi
  RUN_WALL="$(awk -v a="${t0}" -v b="${t1}" 'BEGIN { printf "%.6f", b - a }')"
  RUN_RSS="$(tail -n 1 "${BENCH_TMP}/time" | awk '{ print $1 }')"
  # shellcheck disable=SC2034  # read by the benches that source this file
  RUN_CPU="$(tail -n 1 "${BENCH_TMP}/time" | awk '{ printf "%.2f", $2 + $3 }')"
}

# best_of BEFORE IN OUT CMD...: runs BEFORE (a function name, or :) and then
# CMD, BENCH_RUNS times; sets BEST_WALL and BEST_RSS to the smallest of each.
best_of() {
  local before="$1" in="$2" out="$3"
  shift 3
  local i
  BEST_WALL=""
  BEST_RSS=""
  for (( i = 0; i < BENCH_RUNS; i++ )); do
    "${before}"
    run_timed "${in}" "${out}" "$@" || return 1
    if [[ -z "${BEST_WALL}" ]] || awk -v a="${RUN_WALL}" -v b="${BEST_WALL}" 'BEGIN { exit !(a < b) }'; then
      BEST_WALL="${RUN_WALL}"
    fi
    if [[ -z "${BEST_RSS}" ]] || (( RUN_RSS < BEST_RSS )); then
      BEST_RSS="${RUN_RSS}"
    fi
  done
}

# Prints the whole King James Bible, pretty-printed (chapters separated by
# blank lines, verses on wrapped lines), to stdout.
print_kjv() {
  need_debs bible-kjv >&2 || return 1
  bible gen1:1-rev22:21 </dev/null
}

# Prints about TEXT_BYTES of Debian's kernel documentation as plain text.
print_linux_doc() {
  need_debs linux-doc >&2 || return 1
  find /usr/share/doc/linux-doc* -type f \( -name '*.txt' -o -name '*.rst' -o -name '*.html' \) \
      -print0 2>/dev/null | sort -z | xargs -0 cat | sed -e 's/<[^>]*>//g' | head -c "${TEXT_BYTES}"
}

# Writes the input text to $1 and prints its name.
make_text() {
  local out="$1"
  if print_kjv >"${out}" 2>/dev/null && (( $(stat -c %s "${out}") > 4000000 )); then
    echo "King James Bible (bible-kjv)"
    return 0
  fi
  err "bible-kjv unusable, falling back to linux-doc"
  print_linux_doc >"${out}" || true
  if (( $(stat -c %s "${out}") < 1000000 )); then
    err "no text of a few MB could be made (bible-kjv and linux-doc both failed)"
    return 1
  fi
  echo "Linux kernel documentation (linux-doc)"
}

# calc EXPR: prints the awk expression EXPR, e.g. calc "2 / 3".
calc() {
  awk "BEGIN { printf \"%.6f\", $1 }"
}

# fmt DIGITS NUMBER: prints NUMBER rounded to DIGITS decimals.
fmt() {
  awk -v d="$1" -v n="$2" 'BEGIN { printf "%.*f", d, n }'
}

# kb_mb KB: peak RSS in MB (1 MB = 1024 KB), one decimal.
kb_mb() {
  fmt 1 "$(calc "$1 / 1024")"
}

# met VALUE OP LIMIT: prints "met" or "not met" (OP is >= or <=).
met() {
  if awk -v v="$1" -v l="$3" -v op="$2" \
      'BEGIN { exit !((op == ">=" && v >= l) || (op == "<=" && v <= l)) }'; then
    echo "met"
  else
    echo "not met"
  fi
}

# yes_no MET: "yes" for "met", "no" otherwise (for tables).
yes_no() {
  if [[ "$1" == met ]]; then echo yes; else echo no; fi
}

# target WHAT VALUE OP LIMIT UNIT: prints the line run.sh sums up, e.g.
# "target segment speed vs langchain (>= 10x): met (22.0x)".
target() {
  local what="$1" value="$2" op="$3" limit="$4" unit="$5"
  echo "target ${what} (${op} ${limit}${unit}): $(met "${value}" "${op}" "${limit}") (${value}${unit})"
}
