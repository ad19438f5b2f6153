#!/usr/bin/env bash
# Benchmark: segment's document readers against peers on the same files in
# one run. PDF: `segment --extract` and `segment` (extract + split) against
# pdftotext (poppler-utils, the same poppler underneath); DOCX and HTML:
# against pandoc -t plain. The files are made here from the King James
# Bible (bible-kjv): its first MB typeset by groff into a PDF, and
# converted by pandoc into DOCX and HTML. Whole processes are timed (wall
# clock, peak RSS), best of LANES_BENCH_RUNS (3). Figures are input bytes
# per second. Target: segment --extract within 1.5x of pdftotext's time
# (it drives the same library) and below 2x its memory.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BENCH_NAME="bench_formats"
readonly TEXT_KB=1000

# row LABEL BYTES: times the command after it; prints a table row.
row() {
  local label="$1" bytes="$2"
  shift 2
  best_of : /dev/null "${BENCH_TMP}/row.out" "$@" || return 1
  printf '  %-34s %8s MB/s %8s MB peak\n' "${label}" \
    "$(fmt 2 "$(calc "${bytes} / 1e6 / ${BEST_WALL}")")" "$(kb_mb "${BEST_RSS}")"
  ROW_WALL="${BEST_WALL}"
  ROW_RSS="${BEST_RSS}"
}

make_inputs() {
  local text="${BENCH_TMP}/kjv.txt"
  make_text "${text}" >/dev/null
  head -c "$((TEXT_KB * 1000))" "${text}" >"${BENCH_TMP}/part.txt"
  # one paragraph per verse block, as a typesetter gets it
  sed -e 's/^$/.PP/' -e 's/^\./\\\&./' "${BENCH_TMP}/part.txt" >"${BENCH_TMP}/part.roff"
  groff -Tpdf "${BENCH_TMP}/part.roff" >"${BENCH_TMP}/kjv.pdf" 2>/dev/null
  pandoc -f markdown -t docx "${BENCH_TMP}/part.txt" -o "${BENCH_TMP}/kjv.docx"
  pandoc -f markdown -t html -s --metadata title=KJV "${BENCH_TMP}/part.txt" -o "${BENCH_TMP}/kjv.html"
}

main() {
  need_debs time groff pandoc poppler-utils bible-kjv
  need_lanes segment
  bench_tmp_init
  make_inputs
  local pdf="${BENCH_TMP}/kjv.pdf" pages
  pages="$(pdfinfo "${pdf}" | awk '/^Pages:/ { print $2 }')"
  echo "inputs: the first ${TEXT_KB} kB of the King James Bible as PDF (groff, ${pages} pages," \
    "$(stat -c %s "${pdf}") bytes), DOCX and HTML (pandoc $(pandoc --version | head -n 1 | cut -d ' ' -f 2));" \
    "best of ${BENCH_RUNS} runs; MB/s = input file bytes per second"
  echo "peers: $(pdftotext -v 2>&1 | head -n 1), pandoc -t plain"
  echo
  local b s_wall s_rss
  b="$(stat -c %s "${pdf}")"
  echo "PDF"
  row "segment --extract" "${b}" "${LANES_BIN}/segment" --extract "${pdf}"
  s_wall="${ROW_WALL}"
  s_rss="${ROW_RSS}"
  row "segment (extract + split 1000)" "${b}" "${LANES_BIN}/segment" "${pdf}"
  row "pdftotext" "${b}" pdftotext "${pdf}" -
  local t_ratio m_ratio
  t_ratio="$(fmt 2 "$(calc "${s_wall} / ${ROW_WALL}")")"
  m_ratio="$(fmt 2 "$(calc "${s_rss} / ${ROW_RSS}")")"
  echo "bench formats: segment --extract takes ${t_ratio}x pdftotext's time, ${m_ratio}x its memory"
  target "segment --extract time vs pdftotext" "${t_ratio}" "<=" 1.5 x
  target "segment --extract memory vs pdftotext" "${m_ratio}" "<=" 2 x
  echo
  local f
  for f in docx html; do
    b="$(stat -c %s "${BENCH_TMP}/kjv.${f}")"
    echo "${f^^} (${b} bytes)"
    row "segment --extract" "${b}" "${LANES_BIN}/segment" --extract "${BENCH_TMP}/kjv.${f}"
    s_wall="${ROW_WALL}"
    row "segment (extract + split 1000)" "${b}" "${LANES_BIN}/segment" "${BENCH_TMP}/kjv.${f}"
    row "pandoc -t plain" "${b}" pandoc -t plain "${BENCH_TMP}/kjv.${f}"
    echo "bench formats: ${f}: segment --extract is $(fmt 1 "$(calc "${ROW_WALL} / ${s_wall}")")x" \
      "faster than pandoc"
    echo
  done
}

ROW_WALL=""
ROW_RSS=""
main "$@"
