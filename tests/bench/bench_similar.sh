#!/usr/bin/env bash
# Benchmark: `store similar` over 100,000 stored vectors of 768 numbers
# (random unit vectors, NumPy's default_rng(1)), against NumPy brute force
# on the same vectors (Debian's python3-numpy: a matrix-vector product,
# argpartition, sort) and against jq (the shell way: a dot product per
# record over an NDJSON export, then sort), in the same run. The records
# go into the store with `store put`; their vectors are written into the
# store's vector table by bench_similar.py with Python's sqlite3, as
# `store put` writes them, to spare 1 GB of JSON numbers.
# Figures, each the best of LANES_BENCH_RUNS (3) runs of the whole
# process, for the same query vector (a stored one, so that both find it
# first): store similar on 1 thread and on every core; NumPy loading the
# .npy file and searching, with 1 BLAS thread and its default; NumPy's
# search alone with the vectors already in memory; the agreement of the
# top k; jq over the first 5,000 records against store similar over a
# store of those 5,000.
# Targets: store similar on 1 thread at least as fast as NumPy on 1 thread
# (both from storage), faster on every core than on 1, under 0.5 s for
# 100,000 x 768, and at least 100x jq.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_similar"
readonly N="${LANES_BENCH_SIMILAR_N:-100000}"
readonly JQ_N="${LANES_BENCH_SIMILAR_JQ_N:-5000}"
readonly DIM=768
readonly K=10
readonly MODEL="bench-${DIM}"
readonly PY=/usr/bin/python3

# field NAME LINE: prints the value of NAME=value in LINE.
field() {
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# Best wall time of store similar over DB with W workers; writes the ids
# of the hits to OUT.
similar_wall() {
  local db="$1" w="$2" out="$3"
  best_of : "${BENCH_TMP}/q.json" "${BENCH_TMP}/hits.ndjson" "${LANES_BIN}/store" --db "${db}" \
    similar -w "${w}" -k "${K}" || return 1
  jq -r '.id | ltrimstr("r") | tonumber' "${BENCH_TMP}/hits.ndjson" | paste -sd, >"${out}"
  echo "${BEST_WALL}"
}

# Best wall time of the NumPy helper (the whole process) and its report.
numpy_wall() {
  local threads="$1" i line best="" wall
  for (( i = 0; i < BENCH_RUNS; i++ )); do
    if [[ "${threads}" == 1 ]]; then
      OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 run_timed /dev/null "${BENCH_TMP}/np.out" \
        "${PY}" "${BENCH_DIR}/bench_similar.py" numpy "${BENCH_TMP}/v.npy" "${BENCH_TMP}/q.json" \
        "${K}" || return 1
    else
      run_timed /dev/null "${BENCH_TMP}/np.out" "${PY}" "${BENCH_DIR}/bench_similar.py" numpy \
        "${BENCH_TMP}/v.npy" "${BENCH_TMP}/q.json" "${K}" || return 1
    fi
    wall="${RUN_WALL}"
    if [[ -z "${best}" ]] || awk -v a="${wall}" -v b="${best}" 'BEGIN { exit !(a < b) }'; then
      best="${wall}"
      line="$(cat "${BENCH_TMP}/np.out")"
    fi
  done
  echo "wall=${best} ${line}"
}

main() {
  export LANES_LOG_TIME=0
  bench_tmp_init
  need_debs python3-numpy jq sqlite3 >&2
  need_lanes store
  local cores db="${BENCH_TMP}/s.db" small="${BENCH_TMP}/small.db"
  cores="$(nproc)"
  "${PY}" "${BENCH_DIR}/bench_similar.py" make "${N}" "${DIM}" 1 "${BENCH_TMP}/v.npy" \
    "${BENCH_TMP}/r.ndjson"
  "${LANES_BIN}/store" --db "${db}" put <"${BENCH_TMP}/r.ndjson" 2>/dev/null
  "${PY}" "${BENCH_DIR}/bench_similar.py" fill "${db}" "${MODEL}" "${BENCH_TMP}/v.npy"
  "${PY}" "${BENCH_DIR}/bench_similar.py" query "${BENCH_TMP}/v.npy" 4242 "${BENCH_TMP}/q.json"

  local one all
  one="$(similar_wall "${db}" 1 "${BENCH_TMP}/top.lanes")"
  all="$(similar_wall "${db}" "${cores}" "${BENCH_TMP}/top.lanes")"
  local np1 npn npm
  np1="$(numpy_wall 1)"
  npn="$(numpy_wall default)"
  npm="$("${PY}" "${BENCH_DIR}/bench_similar.py" numpy "${BENCH_TMP}/v.npy" "${BENCH_TMP}/q.json" \
    "${K}" memory)"
  local agree="no"
  [[ "$(cat "${BENCH_TMP}/top.lanes")" == "$(field top "${npn}")" ]] && agree="yes"

  # jq and store similar over the first JQ_N records
  "${PY}" "${BENCH_DIR}/bench_similar.py" ndjson "${BENCH_TMP}/v.npy" "${JQ_N}" \
    "${BENCH_TMP}/small.ndjson" "${MODEL}"
  "${LANES_BIN}/store" --db "${small}" put <"${BENCH_TMP}/small.ndjson" 2>/dev/null
  local small_wall jq_wall
  small_wall="$(similar_wall "${small}" "${cores}" "${BENCH_TMP}/top.small")"
  run_timed "${BENCH_TMP}/small.ndjson" "${BENCH_TMP}/jq.out" jq -c --slurpfile q \
    "${BENCH_TMP}/q.json" \
    '{id, score: ([.embedding, $q[0]] | transpose | map(.[0] * .[1]) | add)}' || return 1
  jq_wall="${RUN_WALL}"
  jq -s -c "sort_by(-.score) | .[:${K}] | map(.id)" "${BENCH_TMP}/jq.out" >"${BENCH_TMP}/jq.top"

  echo "store similar: ${N} vectors x ${DIM} float32 (model ${MODEL}), top ${K}, ${cores} cores"
  printf '  %-60s %10s\n' what seconds
  printf '  %-60s %10s\n' "store similar -w 1 (whole process)" "$(fmt 3 "${one}")"
  printf '  %-60s %10s\n' "store similar -w ${cores} (whole process)" "$(fmt 3 "${all}")"
  printf '  %-60s %10s\n' "NumPy, 1 BLAS thread: python3, np.load, search" \
    "$(fmt 3 "$(field wall "${np1}")")"
  printf '  %-60s %10s\n' "NumPy, default threads: python3, np.load, search" \
    "$(fmt 3 "$(field wall "${npn}")")"
  printf '  %-60s %10s\n' "  of which np.load of the .npy file" "$(fmt 3 "$(field load "${npn}")")"
  printf '  %-60s %10s\n' "NumPy search alone, vectors in memory (best of 5)" \
    "$(fmt 3 "$(field seconds "${npm}")")"
  printf '  %-60s %10s\n' "jq over ${JQ_N} records (NDJSON with embeddings)" "$(fmt 3 "${jq_wall}")"
  printf '  %-60s %10s\n' "store similar -w ${cores} over a store of the same ${JQ_N}" \
    "$(fmt 3 "${small_wall}")"
  echo "  top ${K} equal to NumPy's: ${agree}; jq's best: $(jq -r '.[0]' "${BENCH_TMP}/jq.top")"
  target "store similar vs NumPy, 1 thread each, from storage" \
    "$(fmt 2 "$(calc "$(field wall "${np1}") / ${one}")")" ">=" 1 "x"
  target "store similar, ${cores} threads vs 1" "$(fmt 2 "$(calc "${one} / ${all}")")" ">=" 1 "x"
  target "store similar over ${N} x ${DIM}, seconds" "$(fmt 3 "${all}")" "<=" 0.5 ""
  target "store similar vs jq over ${JQ_N} records" "$(fmt 0 "$(calc "${jq_wall} / ${small_wall}")")" \
    ">=" 100 "x"
}

main "$@"
