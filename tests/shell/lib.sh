# shellcheck shell=bash
# lib.sh: what the shell tests share, sourced by them (tests/run.sh runs
# test_*.sh only): the checks and their count (t, summary), the scratch
# directory and the processes removed and stopped on exit (cleanup), and
# the LLM test double (tests/llmd) on a free port (start_llmd, stop_llmd)
# with its /_double endpoints, and several doubles side by side, by name
# (start_llmd_as, kill_llmd_as, stats_of). A test sets TMP (mktemp -d) and `trap
# cleanup EXIT` before its first check, and LLMD (the double's binary)
# before start_llmd.

readonly CURL=(curl -sS --noproxy '*' --max-time 10)

TMP=""       # the scratch directory, removed on exit
URL=""       # the llmd started last: http://127.0.0.1:PORT
LLMD_PID=""  # its process
PIDS=()      # processes stopped on exit
declare -A LLMD_URLS=()   # start_llmd_as NAME: its URL
declare -A LLMD_PIDS=()   # ... its process
PASSED=0
FAILED=0

# err MESSAGE...: to stderr, after the test's name.
err() {
  local name="${0##*/}"
  echo "${name%.sh}: $*" >&2
}

# eq GOT WANT: a check's command: GOT is WANT, else says both.
eq() {
  if [[ "$1" != "$2" ]]; then
    echo "expected '$2', got '$1'"
    return 1
  fi
}

# need_tools TOOL...: each TOOL on PATH, else the run counts as one failed
# check ("needs TOOL") and the test exits 1.
need_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "${tool}" >/dev/null; then
      err "needs ${tool}"
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
}

# need_llmd: the test double (LLMD) is built, else as need_tools.
need_llmd() {
  if [[ ! -x "${LLMD}" ]]; then
    err "${LLMD} not built: run make ${LLMD}"
    echo "0 passed, 1 failed"
    exit 1
  fi
}

cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "${p}" 2>/dev/null || true
    wait "${p}" 2>/dev/null || true
  done
  if [[ -n "${TMP}" ]]; then
    rm -rf "${TMP}"
  fi
}

# t DESCRIPTION COMMAND...: one check, which holds when COMMAND succeeds.
# Prints "ok N - DESCRIPTION", or "not ok N - ..." and the start of what
# COMMAND printed.
t() {
  local desc="$1"
  shift
  if "$@" >"${TMP}/check.out" 2>&1; then
    PASSED=$((PASSED + 1))
    echo "ok $((PASSED + FAILED)) - ${desc}"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $((PASSED + FAILED)) - ${desc}"
    sed 's/^/    # /' "${TMP}/check.out" | head -n 15
  fi
}

# lines_are FILE JQ EXPECTED: jq -c JQ over FILE prints exactly EXPECTED
# (both shown when not).
lines_are() {
  local got
  got="$(jq -c "$2" "$1")"
  if [[ "${got}" != "$3" ]]; then
    printf 'expected:\n%s\ngot:\n%s\n' "$3" "${got}"
    return 1
  fi
}

# has FILE TEXT: FILE holds TEXT (a fixed string); shows FILE when not.
has() {
  grep -qF -- "$2" "$1" || {
    echo "no '$2' in:"
    cat "$1"
    return 1
  }
}

# summary: the line tests/run.sh adds up, "N passed, M failed"; fails when
# a check failed.
summary() {
  echo "${PASSED} passed, ${FAILED} failed"
  ((FAILED == 0))
}

# wait_port FILE: prints the port a server wrote to FILE, waiting up to
# 10 s for it; exits the test when none comes.
wait_port() {
  local pf="$1" i
  for ((i = 0; i < 200; i++)); do
    [[ -s "${pf}" ]] && break
    sleep 0.05
  done
  if [[ ! -s "${pf}" ]]; then
    err "no port in ${pf}"
    exit 1
  fi
  cat "${pf}"
}

# wait_state PID COMMAND...: waits until COMMAND succeeds (polled every
# 0.05 s, for 30 s at most) or process PID has ended, so that a test acts
# on a state it can name, never after a guessed time. Returns 0 when the
# state came while PID ran, else 1: what the caller checks must hold
# either way (a process that ends first proves the same invariants).
wait_state() {
  local pid="$1" i
  shift
  for ((i = 0; i < 600; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "${pid}" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# start_llmd [FLAGS...]: stops the llmd started before, starts one with
# FLAGS on a free port; sets URL and LLMD_PID.
start_llmd() {
  stop_llmd || true
  local pf="${TMP}/llmd.port"
  rm -f "${pf}"
  "${LLMD:?}" --port 0 --port-file "${pf}" --quiet "$@" &
  LLMD_PID=$!
  PIDS+=("${LLMD_PID}")
  URL="http://127.0.0.1:$(wait_port "${pf}")"
}

# stop_llmd: stops that llmd (SIGTERM); returns its exit status (0 when
# none runs).
stop_llmd() {
  [[ -n "${LLMD_PID}" ]] || return 0
  local p rc=0
  local -a rest=()
  kill "${LLMD_PID}" 2>/dev/null || true
  wait "${LLMD_PID}" 2>/dev/null || rc=$?
  for p in "${PIDS[@]}"; do
    [[ "${p}" == "${LLMD_PID}" ]] || rest+=("${p}")
  done
  PIDS=("${rest[@]}")
  LLMD_PID=""
  return "${rc}"
}

# config JSON: changes the double's behaviour (faults, answers, ...).
config() {
  "${CURL[@]}" -H 'Content-Type: application/json' -d "$1" "${URL}/_double/config" >/dev/null
}

reset_stats() {
  "${CURL[@]}" -X POST "${URL}/_double/reset" >/dev/null
}

stats() {
  "${CURL[@]}" "${URL}/_double/stats"
}

# stat_is EXPR: the double's counters satisfy the jq expression (printed,
# for a failed check).
stat_is() {
  local s
  s="$(stats)"
  echo "stats: ${s}"
  jq -e "$1" <<<"${s}"
}

# start_llmd_as NAME [FLAGS...]: starts one more llmd named NAME with FLAGS
# (the others keep running) on a free port, or on the port NAME had
# before when it is started again; sets LLMD_URLS[NAME], LLMD_PIDS[NAME].
start_llmd_as() {
  local name="$1"
  shift
  local pf="${TMP}/llmd.${name}.port" port=0
  if [[ -n "${LLMD_URLS[${name}]:-}" ]]; then
    port="${LLMD_URLS[${name}]##*:}"
  fi
  rm -f "${pf}"
  "${LLMD:?}" --port "${port}" --port-file "${pf}" --quiet "$@" &
  LLMD_PIDS[${name}]=$!
  PIDS+=("$!")
  LLMD_URLS[${name}]="http://127.0.0.1:$(wait_port "${pf}")"
}

# kill_llmd_as NAME [SIGNAL]: stops the llmd named NAME (SIGKILL by
# default: it dies with its requests in flight) and waits for it.
kill_llmd_as() {
  local pid="${LLMD_PIDS[$1]:-}"
  [[ -n "${pid}" ]] || return 0
  kill "-${2:-KILL}" "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  LLMD_PIDS[$1]=""
}

# stats_of NAME: the /_double/stats of the llmd named NAME.
stats_of() {
  "${CURL[@]}" "${LLMD_URLS[$1]:?}/_double/stats"
}
