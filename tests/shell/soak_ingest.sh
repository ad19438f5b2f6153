#!/usr/bin/env bash
# soak_ingest.sh: the long proof of issue 8 behind `make soak` (not part of
# make check). Rounds of pipelines/ingest.sh runs (segment, mine, embed,
# classify in verify mode) over a fresh store against the LLM test double
# with 20-50% mixed faults (429, 500, 503, drop, truncate, badjson, slow),
# each run stopped at a random point by one of: SIGKILL of the whole run
# (its session: a crash), SIGKILL of ingest.sh alone, SIGTERM to ingest.sh
# alone (timeout(1), cron), SIGINT to its process group (Ctrl-C); until a
# run ends by itself with exit 0. After every stop the store passes
# `PRAGMA integrity_check`; after a graceful stop every chat answer the
# double sent whole (its /_double/stats "answered") is stored; after a
# SIGKILL the answers lost in flight are counted. Each round ends with a
# rerun against a healthy double: every record exactly once, every stage
# ok, and not one request (answered work is never redone).
#
# Settings (environment): SOAK_KILLS (stop points, default 200), SOAK_SEED
# (default: the time), SOAK_DOCS (documents per round, default 12).
# Prints a line per stop, the totals, and "N passed, M failed" (the checks);
# exits 1 when a check failed.
# jq programs below use $ inside single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
BIN="$(cd "${LANES_BIN:-./bin}" && pwd)"
readonly BIN
BUILD="$(cd "${LANES_BUILD:-./build}" && pwd)"
readonly BUILD
readonly LLMD="${BUILD}/tests/llmd"
readonly INGEST="${ROOT}/pipelines/ingest.sh"
readonly TAXONOMY="${ROOT}/pipelines/examples/taxonomy.yaml"
readonly KILLS="${SOAK_KILLS:-200}"
readonly NDOCS="${SOAK_DOCS:-12}"
# the settings of every run: quick retries (server waits capped too), never
# give a record up, classify verifies every record (one chat request each),
# embed one text per request (so requests count records)
readonly -a RUN_ENV=(LANES_LLM_BACKOFF_MS=20 LANES_LLM_BACKOFF_MAX_MS=200
  LANES_STORE_MAX_ATTEMPTS=1000 LANES_CLASSIFY_MODE=verify LANES_CLASSIFY_THRESHOLD=-1
  LANES_CLASSIFY_BATCH=1 LANES_EMBED_BATCH=1 LANES_SEGMENT_TARGET=300 LANES_SEGMENT_MAX=400)

DOCDIR=""
EXPECTED=0
RUN=""        # the session (= pid) of the run going on
MAX_MS=3000   # longest run seen, the range of the random stop point
STOPS=0
declare -A BY_KIND=()
LOST=0        # chat answers lost to SIGKILLs
GRACEFUL_ANSWERS=0
GRACEFUL_STORED=0
CHAT_TOTAL=0

cleanup() {
  if [[ -n "${RUN}" ]]; then
    pkill -KILL -s "${RUN}" 2>/dev/null || true
  fi
  local p
  for p in "${PIDS[@]}"; do
    kill "${p}" 2>/dev/null || true
    wait "${p}" 2>/dev/null || true
  done
  if [[ -n "${TMP}" ]]; then
    rm -rf "${TMP}"
  fi
}

# Live processes of session SID (not zombies).
session_alive() {
  ps -eo sid=,stat= | awk -v s="$1" '$1 == s && $2 !~ /^Z/' | wc -l
}

# Waits until no process of session SID is left (up to 60 s).
session_gone() {
  local i
  for ((i = 0; i < 1200; i++)); do
    (($(session_alive "$1") == 0)) && return 0
    sleep 0.05
  done
  ps -eo pid,pgid,sid,stat,args | awk -v s="$1" '$3 == s'
  return 1
}

kill_session() {
  local i
  for ((i = 0; i < 100; i++)); do
    pkill -KILL -s "$1" 2>/dev/null || true
    (($(session_alive "$1") == 0)) && return 0
    sleep 0.02
  done
}

# Waits until the double holds no request, so that its counters, reset
# next, count one run only.
double_idle() {
  local i s
  for ((i = 0; i < 1200; i++)); do
    s="$(stats | jq '.in_flight + .queued')"
    [[ "${s}" == 0 ]] && return 0
    sleep 0.05
  done
  err "the double stayed busy"
  return 1
}

# "mine classify embed" ok counts of the store (zeros before it exists).
stage_counts() {
  if [[ ! -e "$1" ]]; then
    echo "0 0 0"
    return 0
  fi
  "${BIN}/store" --db "$1" stats --json | jq -r '[.stages.mine.ok, .stages.classify.ok, .stages.embed.ok] | @tsv' | tr '\t' ' '
}

make_docs() {
  DOCDIR="${TMP}/docs"
  mkdir -p "${DOCDIR}"
  local i
  for ((i = 1; i <= NDOCS; i++)); do
    awk -v d="${i}" -v seed="${RANDOM}" 'BEGIN {
      srand(seed)
      for (p = 0; p < 8; p++) {
        s = ""
        for (w = 0; w < 40; w++) s = s sprintf("w%d_%d_%d ", d, p, int(rand() * 1000))
        print s "ends the sentence. Another one follows here.\n"
      }
    }' >"${DOCDIR}/doc${i}.txt"
  done
  EXPECTED="$(LANES_SEGMENT_TARGET=300 LANES_SEGMENT_MAX=400 "${BIN}/segment" --root "${DOCDIR}" \
    "${DOCDIR}"/*.txt 2>/dev/null | wc -l)"
}

# Random integer in [0, N).
rnd() {
  echo $(((RANDOM * 32768 + RANDOM) % $1))
}

# One run over DB stopped at a random point (unless it ends first). Prints
# nothing; sets RUN_RC and RUN_STOP (the kind of stop, "" when none).
RUN_RC=0
RUN_STOP=""
stopped_run() {
  local db="$1" n="$2"
  double_idle
  reset_stats
  local before
  before="$(stage_counts "${db}")"
  local t0 t1 delay
  t0="$(date +%s%N)"
  env --default-signal=INT "${RUN_ENV[@]}" setsid "${INGEST}" --db "${db}" \
    --taxonomy "${TAXONOMY}" "${DOCDIR}" >>"${TMP}/runs.out" 2>"${TMP}/run.err" &
  RUN=$!
  delay="$(rnd "${MAX_MS}")"
  local i
  for ((i = 0; i < delay / 20; i++)); do
    kill -0 "${RUN}" 2>/dev/null || break
    sleep 0.02
  done
  RUN_STOP=""
  if kill -0 "${RUN}" 2>/dev/null; then
    local r
    r="$(rnd 10)"
    if ((r < 4)); then
      RUN_STOP=kill-session
      kill_session "${RUN}"
    elif ((r < 5)); then
      RUN_STOP=kill-ingest
      kill -KILL "${RUN}" 2>/dev/null || true
    elif ((r < 8)); then
      RUN_STOP=term
      kill -TERM "${RUN}" 2>/dev/null || true
    else
      RUN_STOP=int-group
      kill -INT -- "-${RUN}" 2>/dev/null || true
    fi
  fi
  RUN_RC=0
  # (bash's "Killed" notice of a SIGKILLed job goes with wait's stderr)
  wait "${RUN}" 2>/dev/null || RUN_RC=$?
  t "stop ${n}: nothing of the run is left (${RUN_STOP:-none})" session_gone "${RUN}"
  RUN=""
  t1="$(date +%s%N)"
  if [[ -z "${RUN_STOP}" ]]; then
    local ms=$(((t1 - t0) / 1000000))
    ((ms > MAX_MS)) && MAX_MS="${ms}"
    return 0
  fi
  double_idle
  local after answered m0 c0 m1 c1 stored
  after="$(stage_counts "${db}")"
  answered="$(stats | jq '.answered["/api/chat"] // 0')"
  read -r m0 c0 _ <<<"${before}"
  read -r m1 c1 _ <<<"${after}"
  stored=$(((m1 - m0) + (c1 - c0)))
  CHAT_TOTAL=$((CHAT_TOTAL + answered))
  BY_KIND["${RUN_STOP}"]=$((${BY_KIND["${RUN_STOP}"]:-0} + 1))
  if [[ -e "${db}" ]]; then
    t "stop ${n} (${RUN_STOP}): integrity_check ok" \
      eq "$(sqlite3 "${db}" 'PRAGMA integrity_check' 2>&1)" ok
  fi
  case "${RUN_STOP}" in
    kill-session)
      LOST=$((LOST + answered - stored))
      t "stop ${n} (${RUN_STOP}): no more stored than answered" test "${stored}" -le "${answered}"
      ;;
    *)
      GRACEFUL_ANSWERS=$((GRACEFUL_ANSWERS + answered))
      GRACEFUL_STORED=$((GRACEFUL_STORED + stored))
      t "stop ${n} (${RUN_STOP}, exit ${RUN_RC}): every chat answer sent is stored (${stored} of ${answered})" \
        eq "${stored}" "${answered}"
      ;;
  esac
  echo "# stop ${n}: ${RUN_STOP} after ${delay} ms: exit ${RUN_RC}, chat answered ${answered}, stored ${stored}; ok now: mine/classify/embed ${after}"
}

# A round: a fresh store, stopped runs until one ends by itself with exit 0
# (or STOP_AT stops were made), then the healthy rerun.
round() {
  local r="$1" db="${TMP}/round$1.db"
  local rate
  rate="0.$((20 + $(rnd 31)))"
  config "{\"lanes\": 8, \"latency_ms\": 20, \"jitter_ms\": 40, \"slow_ms\": 300, \"retry_after\": 1, \"fault_rate\": ${rate}, \"faults\": \"all\"}"
  echo "# round ${r}: fault rate ${rate}, ${EXPECTED} records"
  local runs=0
  while ((STOPS < KILLS)); do
    stopped_run "${db}" "$((STOPS + 1))"
    runs=$((runs + 1))
    if [[ -n "${RUN_STOP}" ]]; then
      STOPS=$((STOPS + 1))
    elif ((RUN_RC == 0)); then
      break
    fi
  done
  # the healthy rerun(s): records that failed at the last fault stay
  # pending; one run with no faults finishes them, the next asks nothing
  config '{"fault_rate": 0, "jitter_ms": 0}'
  double_idle
  RUN_RC=0
  env "${RUN_ENV[@]}" "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCDIR}" \
    >/dev/null 2>"${TMP}/final.err" || RUN_RC=$?
  t "round ${r}: the healthy rerun exits 0" eq "${RUN_RC}" 0
  double_idle
  reset_stats
  RUN_RC=0
  env "${RUN_ENV[@]}" "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCDIR}" \
    >/dev/null 2>"${TMP}/final2.err" || RUN_RC=$?
  t "round ${r}: a second rerun exits 0 and sends no model request (nothing redone)" \
    eq "${RUN_RC} $(stats | jq .requests)" "0 0"
  t "round ${r}: ${EXPECTED} records, each id once" \
    eq "$("${BIN}/store" --db "${db}" dump | jq -r .id | sort | uniq -c | awk '$1 != 1' | wc -l) $("${BIN}/store" --db "${db}" dump | wc -l)" \
    "0 ${EXPECTED}"
  t "round ${r}: every stage ok on every record" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '[.stages[] | .ok] | unique')" "[${EXPECTED}]"
  t "round ${r}: integrity_check ok" eq "$(sqlite3 "${db}" 'PRAGMA integrity_check')" ok
  echo "# round ${r}: ${runs} runs"
  rm -f "${db}" "${db}-wal" "${db}-shm" "${db}.lock"
}

main() {
  need_tools jq sqlite3 curl setsid pkill
  RANDOM="${SOAK_SEED:-$(date +%s)}"
  echo "# soak: ${KILLS} stop points, seed ${SOAK_SEED:-(time)}"
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  mkdir -p "${TMP}/tmp" "${TMP}/cache"
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_TUNABLES LANES_STORE_DB
  export TMPDIR="${TMP}/tmp" XDG_CACHE_HOME="${TMP}/cache" LANES_BIN="${BIN}"
  start_llmd --quiet
  export LANES_LLM_BASE_URL="${URL}"
  make_docs
  local started="${SECONDS}" r=0
  while ((STOPS < KILLS)); do
    r=$((r + 1))
    round "${r}"
  done
  local kinds="" k
  for k in "${!BY_KIND[@]}"; do
    kinds+=" ${k} ${BY_KIND[${k}]}"
  done
  echo "# soak done: ${STOPS} stops in ${r} rounds (${kinds# }) in $((SECONDS - started)) s;" \
    "chat answers in stopped runs ${CHAT_TOTAL}: ${GRACEFUL_ANSWERS} in graceful stops, of which" \
    "${GRACEFUL_STORED} stored; ${LOST} lost to SIGKILLs of the whole run"
  summary
}

main "$@"
