#!/usr/bin/env bash
# Benchmark: classify's shortlist throughput (items/s) for a taxonomy of
# 5,000 entries x 768 dimensions, against NumPy brute force (Debian's
# python3-numpy: matrix product, then argpartition) on the same vectors in
# the same run. The entry vectors are those classify caches for a
# generated taxonomy (hash embedder, --dim 768); the items are random unit
# vectors. Figures: the shortlist kernel alone (common/vec.c, driven by
# tests/bench/bench_classify_shortlist.c as classify drives it) on 1 thread
# and on every core, NumPy on 1 thread and with its default threads, the top-1
# agreement of the two, the whole tool on item texts (hash embedder, 1 and
# all workers), and the taxonomy cache (first run against rerun).
# Every figure is the best of LANES_BENCH_RUNS (3) runs. Target: the
# kernel on 1 thread at least as fast as NumPy on 1 thread.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_classify"
readonly ENTRIES="${LANES_BENCH_CLASSIFY_ENTRIES:-5000}"
readonly ITEMS="${LANES_BENCH_CLASSIFY_ITEMS:-20000}"
readonly TEXTS="${LANES_BENCH_CLASSIFY_TEXTS:-20000}"
readonly DIM=768
readonly TOP_K=5
readonly BATCH=32
readonly NUMPY_SECONDS=3
LANES_BUILD="${LANES_BUILD:-${REPO_DIR}/build}"
PY=""

# Picks a python3 that has NumPy (Debian's /usr/bin/python3 first).
find_python() {
  local p
  for p in /usr/bin/python3 python3; do
    if "${p}" -c 'import numpy' 2>/dev/null; then
      PY="${p}"
      return 0
    fi
  done
  err "no python3 with numpy, even after installing python3-numpy"
  return 1
}

# Builds the kernel driver against classify's objects and liblanes.
build_driver() {
  local obj="${LANES_BUILD}/cmd/classify"
  if [[ ! -f "${obj}/classify_cache.o" || ! -f "${LANES_BUILD}/liblanes.a" ]]; then
    err "${obj}/classify_cache.o is missing: run make first"
    return 1
  fi
  # shellcheck disable=SC2046
  cc -std=c11 -D_GNU_SOURCE -pthread -O2 -I"${REPO_DIR}/common" -I"${REPO_DIR}/cmd/classify" \
    -o "${BENCH_TMP}/bench_shortlist" "${BENCH_DIR}/bench_classify_shortlist.c" \
    "${obj}/classify_cache.o" "${LANES_BUILD}/liblanes.a" \
    $(pkg-config --libs libcurl libcjson yaml-0.1 sqlite3 2>/dev/null) -lpq -lm -pthread
}

# field NAME LINE: prints the value of NAME=value in LINE.
field() {
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# agreement A B: share of lines (over the shorter file) that are equal, in %.
agreement() {
  awk 'NR == FNR { a[FNR] = $0; n = FNR; next }
       FNR <= n { m++; if (a[FNR] == $0) s++ }
       END { printf "%.2f", m ? 100 * s / m : 0 }' "$1" "$2"
}

# best_rate CMD...: runs CMD (which prints "... items_per_s=R ...")
# BENCH_RUNS times and prints the line of the fastest run.
best_rate() {
  local i line best="" best_r=0 r
  for (( i = 0; i < BENCH_RUNS; i++ )); do
    line="$("$@")" || return 1
    r="$(field items_per_s "${line}")"
    if [[ -z "${best}" ]] || awk -v a="${r}" -v b="${best_r}" 'BEGIN { exit !(a > b) }'; then
      best="${line}"
      best_r="${r}"
    fi
  done
  echo "${best}"
}

# Times classify over the item texts with the given workers; prints items/s.
tool_rate() {
  local workers="$1"
  best_of : "${BENCH_TMP}/texts.ndjson" /dev/null "${LANES_BIN}/classify" \
    -t "${BENCH_TMP}/tax.ndjson" -e hash --dim "${DIM}" --cache-dir "${BENCH_TMP}/cache" \
    --threshold 0.3 --workers "${workers}" || return 1
  calc "${TEXTS} / ${BEST_WALL}"
}

main() {
  export LANES_LOG_TIME=0
  bench_tmp_init
  need_debs python3-numpy >&2
  need_lanes classify
  find_python
  build_driver
  local cores
  cores="$(nproc)"

  "${PY}" "${BENCH_DIR}/bench_classify.py" taxonomy "${ENTRIES}" "${BENCH_TMP}/tax.ndjson"
  "${PY}" "${BENCH_DIR}/bench_classify.py" items "${ITEMS}" "${DIM}" 1 "${BENCH_TMP}/items.f32"
  "${PY}" "${BENCH_DIR}/bench_classify.py" texts "${TEXTS}" "${BENCH_TMP}/texts.ndjson"

  # the taxonomy's vectors: computed once, then read from the cache
  local -a tax_cmd=("${LANES_BIN}/classify" -t "${BENCH_TMP}/tax.ndjson" -e hash --dim "${DIM}"
    --cache-dir "${BENCH_TMP}/cache")
  run_timed /dev/null /dev/null "${tax_cmd[@]}" || return 1
  local first_wall="${RUN_WALL}"
  run_timed /dev/null /dev/null "${tax_cmd[@]}" || return 1
  local again_wall="${RUN_WALL}" cache_line
  cache_line="$(grep 'taxonomy: .* entries, hash' "${BENCH_TMP}/stderr" | sed 's/^classify: //')"
  local cache
  cache="$(ls "${BENCH_TMP}"/cache/classify-*.vec)"

  local one all np1 npn
  one="$(best_rate "${BENCH_TMP}/bench_shortlist" "${cache}" "hash-${DIM}" \
    "${BENCH_TMP}/items.f32" "${TOP_K}" 1 "${BATCH}" "${BENCH_TMP}/top1.lanes")"
  all="$(best_rate "${BENCH_TMP}/bench_shortlist" "${cache}" "hash-${DIM}" \
    "${BENCH_TMP}/items.f32" "${TOP_K}" "${cores}" "${BATCH}" "${BENCH_TMP}/top1.lanes")"
  np1="$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 BLIS_NUM_THREADS=1 \
    best_rate "${PY}" "${BENCH_DIR}/bench_classify.py" numpy "${cache}" \
    "${BENCH_TMP}/items.f32" "${TOP_K}" "${NUMPY_SECONDS}" "${BENCH_TMP}/top1.numpy")"
  npn="$(best_rate "${PY}" "${BENCH_DIR}/bench_classify.py" numpy "${cache}" \
    "${BENCH_TMP}/items.f32" "${TOP_K}" "${NUMPY_SECONDS}" "${BENCH_TMP}/top1.numpy")"

  local r1 rn rp1 rpn agree t1 tn blas
  r1="$(field items_per_s "${one}")"
  rn="$(field items_per_s "${all}")"
  rp1="$(field items_per_s "${np1}")"
  rpn="$(field items_per_s "${npn}")"
  blas="$(field blas "${npn}") (numpy $(field numpy "${npn}"), $(readlink -f \
    /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || echo '?'))"
  agree="$(agreement "${BENCH_TMP}/top1.numpy" "${BENCH_TMP}/top1.lanes")"
  t1="$(tool_rate 1)"
  tn="$(tool_rate "${cores}")"

  echo "classify shortlist: ${ENTRIES} entries x ${DIM} dims, top ${TOP_K}, jobs of ${BATCH}" \
    "items, ${cores} cores"
  printf '  %-44s %12s %14s\n' what "items/s" "50k items in"
  printf '  %-44s %12s %13ss\n' "lanes kernel, 1 thread" "$(fmt 0 "${r1}")" \
    "$(fmt 1 "$(calc "50000 / ${r1}")")"
  printf '  %-44s %12s %13ss\n' "lanes kernel, ${cores} threads (pool)" "$(fmt 0 "${rn}")" \
    "$(fmt 1 "$(calc "50000 / ${rn}")")"
  printf '  %-44s %12s %13ss\n' "NumPy, 1 thread ($(field items "${np1}") items)" \
    "$(fmt 0 "${rp1}")" "$(fmt 1 "$(calc "50000 / ${rp1}")")"
  printf '  %-44s %12s %13ss\n' "NumPy, default threads ($(field items "${npn}") items)" \
    "$(fmt 0 "${rpn}")" "$(fmt 1 "$(calc "50000 / ${rpn}")")"
  printf '  %-44s %12s %13ss\n' "classify tool on texts, --workers 1" "$(fmt 0 "${t1}")" \
    "$(fmt 1 "$(calc "50000 / ${t1}")")"
  printf '  %-44s %12s %13ss\n' "classify tool on texts, --workers ${cores}" "$(fmt 0 "${tn}")" \
    "$(fmt 1 "$(calc "50000 / ${tn}")")"
  echo "  NumPy BLAS: ${blas}"
  echo "  top-1 agreement with NumPy on the items both did: ${agree}%"
  echo "  (the tool figures include reading NDJSON, hashing each text into a ${DIM}-number" \
    "vector and writing the class)"
  echo "taxonomy cache: first run $(fmt 2 "${first_wall}")s (hash-embedding ${ENTRIES} entries)," \
    "rerun $(fmt 2 "${again_wall}")s: ${cache_line}"
  target "classify shortlist vs NumPy, 1 thread each" "$(fmt 1 "$(calc "${r1} / ${rp1}")")" \
    ">=" 1 "x"
  target "classify shortlist, all cores vs 1 thread" "$(fmt 1 "$(calc "${rn} / ${r1}")")" \
    ">=" 1 "x"
}

main "$@"
