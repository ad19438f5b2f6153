#!/usr/bin/env bash
# Benchmark: what a taxonomy entry's examples are worth to classify, on a
# labelled set nobody here wrote: Debian's package descriptions and their
# sections (`apt-cache dumpavail` of this machine's package lists). Each
# section with at least 30 packages is an entry (id and label: the
# section's name, e.g. "gnu-r", "libdevel"), with 20 package descriptions
# as its examples; up to 30 other packages per section are the items
# (bench_classify_examples.py picks them by a hash of the package name).
# In the same run, on the same split: classify --eval offline (hash
# embedder, threshold -1 so that every item gets its best entry) with
# --examples prompt (the label alone is embedded: before) and --examples
# shortlist (the label and the examples: after), and scikit-learn's
# 1-nearest-neighbour classifier (cosine, brute force; Debian's
# python3-sklearn) trained on the same examples, on its own TF-IDF
# features and on lanes' hash vectors of the same texts. Figures:
# accuracy, and the wall time of each whole run (classify: the process;
# scikit-learn: features, fit and predict, without the interpreter's
# start). Targets: the examples raise classify's accuracy, and it reaches
# at least 0.9 of scikit-learn's on TF-IDF.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_classify_examples"
readonly EXAMPLES="${LANES_BENCH_EXAMPLES_PER_SECTION:-20}"
readonly ITEMS="${LANES_BENCH_ITEMS_PER_SECTION:-30}"
readonly PY=/usr/bin/python3

# field NAME LINE: prints the value of NAME=value in LINE.
field() {
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# accuracy of a classify --eval --json report on stdin.
accuracy() {
  jq -r '.accuracy'
}

# Runs classify --eval with the given --examples; prints "accuracy seconds".
classify_eval() {
  local how="$1"
  run_timed /dev/null "${BENCH_TMP}/report.${how}" "${LANES_BIN}/classify" \
    -t "${BENCH_TMP}/tax.ndjson" -e hash --threshold -1 --examples "${how}" \
    --cache-dir "${BENCH_TMP}/cache-${how}" --eval "${BENCH_TMP}/gold.ndjson" --json || return 1
  echo "$(accuracy <"${BENCH_TMP}/report.${how}") ${RUN_WALL}"
}

main() {
  export LANES_LOG_TIME=0
  bench_tmp_init
  need_debs python3-sklearn python3-numpy jq >&2
  need_lanes classify embed
  apt-cache dumpavail >"${BENCH_TMP}/dump.txt"
  local split
  split="$("${PY}" "${BENCH_DIR}/bench_classify_examples.py" split "${BENCH_TMP}/dump.txt" \
    "${BENCH_TMP}" "${EXAMPLES}" "${ITEMS}")"

  local before after
  before="$(classify_eval prompt)"
  after="$(classify_eval shortlist)"
  cat "${BENCH_TMP}/train.ndjson" "${BENCH_TMP}/gold.ndjson" |
    "${LANES_BIN}/embed" --model hash 2>/dev/null >"${BENCH_TMP}/vectors.ndjson"
  local peers tfidf lv
  peers="$("${PY}" "${BENCH_DIR}/bench_classify_examples.py" sklearn "${BENCH_TMP}" \
    "${BENCH_TMP}/vectors.ndjson")"
  tfidf="$(grep -- '-tfidf ' <<<"${peers}")"
  lv="$(grep -- '-lanes-vectors ' <<<"${peers}")"

  local a_before a_after a_tfidf a_lv
  a_before="${before%% *}"
  a_after="${after%% *}"
  a_tfidf="$(field accuracy "${tfidf}")"
  a_lv="$(field accuracy "${lv}")"
  echo "Debian sections ($(field sections "${split}") sections, ${EXAMPLES} examples each:" \
    "$(field examples "${split}") examples, $(field items "${split}") items to classify)"
  printf '  %-58s %9s %9s\n' what accuracy seconds
  printf '  %-58s %9s %9s\n' "classify, hash embedder, label only (--examples prompt)" \
    "$(fmt 4 "${a_before}")" "$(fmt 2 "${before#* }")"
  printf '  %-58s %9s %9s\n' "classify, hash embedder, label and examples (shortlist)" \
    "$(fmt 4 "${a_after}")" "$(fmt 2 "${after#* }")"
  printf '  %-58s %9s %9s\n' "$(field peer "${tfidf}"): 1-NN, TF-IDF words+pairs" \
    "$(fmt 4 "${a_tfidf}")" "$(fmt 2 "$(field seconds "${tfidf}")")"
  printf '  %-58s %9s %9s\n' "$(field peer "${lv}"): 1-NN on lanes' hash vectors" \
    "$(fmt 4 "${a_lv}")" "$(fmt 2 "$(field seconds "${lv}")")"
  echo "  (classify: the whole process, taxonomy embedded from nothing; scikit-learn: features," \
    "fit, predict)"
  target "classify accuracy, examples vs label only" "$(fmt 2 "$(calc "${a_after} / ${a_before}")")" \
    ">=" 1 "x"
  target "classify with examples vs scikit-learn 1-NN (TF-IDF), accuracy" \
    "$(fmt 2 "$(calc "${a_after} / ${a_tfidf}")")" ">=" 0.9 "x"
}

main "$@"
