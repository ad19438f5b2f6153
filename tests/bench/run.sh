#!/usr/bin/env bash
# Runs every benchmark of lanes (tests/bench/bench_*.sh, or those named as
# arguments, e.g. `run.sh segment store`), shows their figures, then sums up
# every target they printed. Benchmarks measure, they do not pass or fail:
# the exit status is 1 only when a benchmark could not run.
# `make bench` calls this with LANES_BIN and LANES_BUILD set.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly BENCH_DIR
# Output of the bench being run, scanned for its target lines.
OUT=""

err() {
  echo "bench: $*" >&2
}

# Lists the bench scripts to run: all, or bench_<name>.sh for each argument.
bench_files() {
  local name
  if (( $# == 0 )); then
    printf '%s\n' "${BENCH_DIR}"/bench_*.sh
    return 0
  fi
  for name in "$@"; do
    name="${name#bench_}"
    name="${name%.sh}"
    if [[ ! -f "${BENCH_DIR}/bench_${name}.sh" ]]; then
      err "no benchmark ${BENCH_DIR}/bench_${name}.sh"
      return 2
    fi
    echo "${BENCH_DIR}/bench_${name}.sh"
  done
}

main() {
  export LANES_BIN="${LANES_BIN:-${BENCH_DIR}/../../bin}"
  export LANES_BUILD="${LANES_BUILD:-${BENCH_DIR}/../../build}"
  export LANES_LOG_TIME=0
  local -a files=() targets=() failed=()
  local f name rc line t0 started
  mapfile -t files < <(bench_files "$@")
  (( ${#files[@]} )) || return 2
  started="${SECONDS}"
  OUT="$(mktemp "${TMPDIR:-/tmp}/lanes-bench-out.XXXXXX")"
  trap 'rm -f "${OUT}"' EXIT
  echo "lanes benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
    "$(uname -sr), $(git -C "${BENCH_DIR}" rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
  for f in "${files[@]}"; do
    name="$(basename "${f}" .sh)"
    echo
    echo "== ${name}"
    t0="${SECONDS}"
    rc=0
    bash "${f}" | tee "${OUT}" || rc=$?
    while IFS= read -r line; do
      targets+=("${line#target }")
    done < <(grep '^target ' "${OUT}" || true)
    if (( rc != 0 )); then
      failed+=("${name}")
      echo "== ${name}: could not run everything (exit ${rc})"
    fi
    echo "== ${name}: $((SECONDS - t0)) s"
  done
  echo
  echo "== summary ($((SECONDS - started)) s, load average now $(cut -d ' ' -f 1-3 /proc/loadavg))"
  local met=0 missed=0
  for line in "${targets[@]}"; do
    echo "  ${line}"
    if [[ "${line}" == *": met ("* ]]; then
      met=$((met + 1))
    else
      missed=$((missed + 1))
    fi
  done
  echo "targets: ${met} met, ${missed} not met"
  if (( ${#failed[@]} )); then
    echo "could not run: ${failed[*]}"
    return 1
  fi
}

main "$@"
