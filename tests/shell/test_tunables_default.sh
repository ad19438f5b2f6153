#!/usr/bin/env bash
# test_tunables_default.sh: the tunables file a tool reads when neither
# --tunables nor $LANES_TUNABLES names one (issue 9): the tunables.yaml
# beside the binary, pipelines/ of a source checkout or share/lanes/ of an
# installed prefix (where make install puts it); LANES_TUNABLES= (empty),
# --tunables '' and /dev/null mean the built-in defaults; a file named, and
# the environment, still come first; a broken default file is an error
# naming it; --help and --print-config say which file is read; a binary
# with no file beside it runs on the built-in defaults and says so. The
# shipped pipelines/tunables.yaml restates the built-in defaults, so a
# tool gives the same settings with it and without it.
# Prints "ok N - ..." lines and "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
readonly TOOLS=(segment mine embed classify store consolidate)

# conf TOOL ARGS...: TOOL's --print-config to TMP/conf (stderr too), with
# no LANES_TUNABLES unless ARGS set it (env VAR=... first); RC its status.
conf() {
  RC=0
  env -u LANES_TUNABLES "$@" --print-config >"${TMP}/conf" 2>&1 || RC=$?
}

# The values of a --print-config listing without their sources.
values() {
  sed -e 's/  # .*$//' -e '/^#/d' "$1"
}

checkout() {
  # a source checkout: bin/ and pipelines/ side by side
  local co="${TMP}/co"
  mkdir -p "${co}/bin" "${co}/pipelines"
  cp "${BIN}/segment" "${co}/bin/"
  printf 'segment:\n  target: 777\n  max: 900\n' >"${co}/pipelines/tunables.yaml"
  conf "${co}/bin/segment"
  t "checkout: a tool run from bin/ reads pipelines/tunables.yaml" \
    has "${TMP}/conf" "  target: 777  # file ${co}/pipelines/tunables.yaml:2"
  t "checkout: --print-config names the default file" has "${TMP}/conf" \
    "# tunables file: ${co}/pipelines/tunables.yaml (the default: neither --tunables nor \$LANES_TUNABLES names one)"
  printf 'A sentence. %.0s' {1..200} >"${TMP}/long.txt"
  local n
  n="$(env -u LANES_TUNABLES "${co}/bin/segment" "${TMP}/long.txt" 2>/dev/null | jq -s 'map(.end - .start) | max')"
  t "checkout: the segments follow it (target 777, max 900: none longer than 900)" \
    test "${n}" -le 900 -a "${n}" -gt 700
  t "checkout: --help says which file is read" \
    has <(env -u LANES_TUNABLES "${co}/bin/segment" --help) \
    "Settings: read from ${co}/pipelines/tunables.yaml, the default file"
  conf env LANES_TUNABLES= "${co}/bin/segment"
  t "LANES_TUNABLES= (empty): the built-in defaults" has "${TMP}/conf" "  target: 1000  # default"
  t "... and says so" has "${TMP}/conf" "# tunables file: none (built-in defaults)"
  conf env LANES_TUNABLES=/dev/null "${co}/bin/segment"
  t "LANES_TUNABLES=/dev/null: the built-in defaults" has "${TMP}/conf" "  target: 1000  # default"
  conf "${co}/bin/segment" --tunables ''
  t "--tunables '': the built-in defaults" has "${TMP}/conf" "  target: 1000  # default"
  printf 'segment:\n  target: 555\n' >"${TMP}/mine.yaml"
  conf "${co}/bin/segment" --tunables "${TMP}/mine.yaml"
  t "--tunables FILE: that file, not the default one" has "${TMP}/conf" "  target: 555  # file ${TMP}/mine.yaml:2"
  t "... whose other keys are the built-in defaults" has "${TMP}/conf" "  max: 1500  # default"
  conf env LANES_TUNABLES="${TMP}/mine.yaml" "${co}/bin/segment"
  t "\$LANES_TUNABLES: that file" has "${TMP}/conf" "  target: 555  # file ${TMP}/mine.yaml:2"
  conf env LANES_SEGMENT_TARGET=600 "${co}/bin/segment"
  t "the environment comes before the default file" has "${TMP}/conf" "  target: 600  # env LANES_SEGMENT_TARGET"
  t "... which still gives the rest" has "${TMP}/conf" "  max: 900  # file ${co}/pipelines/tunables.yaml:3"
  printf 'segment:\n  targt: 1\n' >"${co}/pipelines/tunables.yaml"
  conf "${co}/bin/segment"
  t "a broken default file: exit 2" test "${RC}" -eq 2
  t "... naming the file and the line" grep -q "${co}/pipelines/tunables.yaml:2" "${TMP}/conf"
}

installed() {
  t "make install puts pipelines/ (tunables.yaml) into PREFIX/share/lanes" \
    has <(make -s -n -C "${ROOT}" install PREFIX=/opt/lanes DESTDIR= 2>&1) \
    "cp -R pipelines/. /opt/lanes/share/lanes/"
  local p="${TMP}/prefix"
  mkdir -p "${p}/bin" "${p}/share/lanes"
  cp "${BIN}/store" "${p}/bin/"
  printf 'store:\n  batch_records: 321\n' >"${p}/share/lanes/tunables.yaml"
  conf "${p}/bin/store"
  t "installed: a tool in PREFIX/bin reads PREFIX/share/lanes/tunables.yaml" has "${TMP}/conf" \
    "  batch_records: 321  # file ${p}/share/lanes/tunables.yaml:2"
}

alone() {
  mkdir -p "${TMP}/lone/bin"
  cp "${BIN}/embed" "${TMP}/lone/bin/"
  conf "${TMP}/lone/bin/embed"
  t "a binary with no tunables file beside it: the built-in defaults" \
    has "${TMP}/conf" "# tunables file: none (built-in defaults)"
  t "... its --help says so" has <(env -u LANES_TUNABLES "${TMP}/lone/bin/embed" --help) \
    "Settings: built-in defaults: no share/lanes/tunables.yaml or"
}

# Every tool under test reads the shipped file (bin/ of this checkout, or
# a build directory in it, build/asan/bin), which restates the built-in
# defaults.
shipped() {
  local tool
  for tool in "${TOOLS[@]}"; do
    conf "${BIN}/${tool}"
    cp "${TMP}/conf" "${TMP}/conf.file"
    t "${tool} of the checkout reads pipelines/tunables.yaml" \
      has "${TMP}/conf.file" "# tunables file: ${ROOT}/pipelines/tunables.yaml"
    conf env LANES_TUNABLES= "${BIN}/${tool}"
    t "${tool}: pipelines/tunables.yaml gives the built-in defaults" \
      diff <(values "${TMP}/conf.file") <(values "${TMP}/conf")
  done
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  unset LANES_SEGMENT_TARGET LANES_SEGMENT_MAX LANES_STORE_BATCH_RECORDS
  checkout
  installed
  alone
  shipped
  summary
}

main "$@"
