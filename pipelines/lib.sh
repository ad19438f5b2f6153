#!/usr/bin/env bash
# lib.sh: helpers shared by the lanes pipelines (sourced, not run): one log
# format for every line (UTC time, step, counts), errors to stderr, finding
# the lanes tools, and reading effective settings from a tool's
# --print-config.

LANES_PIPELINES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly LANES_PIPELINES_DIR

# Prints "<prog>: <UTC time> <message>" on stderr, like the tools' events
# (and, like them, without the time when LANES_LOG_TIME is 0).
log() {
  if [[ "${LANES_LOG_TIME:-1}" == 0 ]]; then
    printf '%s: %s\n' "${PROG:-lanes}" "$*" >&2
    return 0
  fi
  local now
  # the shell's own clock: no date(1) per line
  TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf '%s: %s %s\n' "${PROG:-lanes}" "${now}" "$*" >&2
}

# Prints "<prog>: <message>" on stderr.
err() {
  printf '%s: %s\n' "${PROG:-lanes}" "$*" >&2
}

# find_tools TOOL...: puts the lanes tools on PATH: $LANES_BIN, else the
# bin/ of the checkout these pipelines are in, else $PATH as it is (an
# installed prefix). Returns 1, naming the first TOOL it cannot find.
find_tools() {
  local dir="${LANES_BIN:-}"
  if [[ -z "${dir}" && -x "${LANES_PIPELINES_DIR}/../bin/$1" ]]; then
    dir="$(cd "${LANES_PIPELINES_DIR}/../bin" && pwd)"
  fi
  if [[ -n "${dir}" ]]; then
    PATH="${dir}:${PATH}"
  fi
  local t
  for t in "$@"; do
    if ! command -v "${t}" >/dev/null 2>&1; then
      err "cannot find the lanes tool '${t}' (build with make, or set LANES_BIN)"
      return 1
    fi
  done
}

# Prints the effective value of SECTION.KEY as tool TOOL sees it, given the
# tool's --print-config output on stdin ("section:" then "  key: value  # src").
# Reads its input to the end: a reader that left early would kill a tool
# still writing (SIGPIPE; an output over 4 KiB, with pipefail, ends the run).
config_value() {
  local section="$1" key="$2"
  awk -v s="${section}:" -v k="${key}:" '
    /^[^ #]/ { in_s = ($1 == s) }
    in_s && $1 == k && !found {
      v = $0
      sub(/^ *[^:]*: */, "", v)
      sub(/  # .*$/, "", v)
      if (v ~ /^".*"$/) { v = substr(v, 2, length(v) - 2) }
      print v
      found = 1
    }'
}

# Prints the source comment of SECTION.KEY (default, file ..., env ...,
# flag ...). Reads its input to the end, as config_value does.
config_source() {
  local section="$1" key="$2"
  awk -v s="${section}:" -v k="${key}:" '
    /^[^ #]/ { in_s = ($1 == s) }
    in_s && $1 == k && !found { sub(/^.*  # /, ""); print; found = 1 }'
}

# Prints field NAME (a number) of a one-line JSON summary file, 0 if absent.
summary_field() {
  local file="$1" name="$2" text=""
  # read by the shell itself: a step's end reads six of them
  if [[ -r "${file}" ]]; then
    IFS= read -r -d '' text <"${file}" || true
  fi
  if [[ "${text}" =~ \"${name}\":([0-9.]+) ]]; then
    printf '%s\n' "${BASH_REMATCH[1]}"
  else
    printf '0\n'
  fi
}
