#!/usr/bin/env bash
# Benchmark (issue 13): three `ingest.sh --worker --steps mine` runs, as on
# three machines, drain one backlog kept in a PostgreSQL store (a real
# server started here by tests/shell/pg_lib.sh), each against its own LLM
# test double (tests/llmd) with its own lanes and latency (2, 4 and 8
# lanes; 40, 50 and 60 ms, +-5 ms of jitter). Default tunables otherwise
# (llm.concurrency auto, --claim 50), but for llm.log errors: one short
# line per request, with the record's id, moved into the store.
#
# Run 1 (throughput): records mined per second against the sum of the
# three doubles' limits (lanes / mean service time), from the first result
# stored to the last (stage_data.updated) and over the whole run (from the
# workers' start to the last one's exit: ingest.sh's start-up and the last
# worker's tail included); target >= 0.9. Duplicates: every record
# answered once (the request log in the store: requests per record id; the
# doubles' own count of model requests against the records).
# Run 2 (a worker killed): the same on a fresh backlog with a 5 s lease;
# once a third of it is mined and the 8-lane worker holds claimed records
# it is SIGKILLed (its whole process group, as a machine that dies): its
# leases run out, the two others take its records; nothing stranded (every
# record mined, none pending, no claim left); the records requested twice
# are only some of those the dead worker held (answers lost with it).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"
# shellcheck source=tests/shell/pg_lib.sh
source "${REPO_DIR}/tests/shell/pg_lib.sh"

readonly BENCH_NAME="bench_workers_pg"
readonly SHARE_TARGET=0.9
readonly RECORDS="${LANES_BENCH_WORKER_RECORDS:-12000}"
readonly KILL_RECORDS="${LANES_BENCH_KILL_RECORDS:-1200}"
# records a worker holds at once (ingest.sh --claim; its default is 50)
readonly CLAIM="${LANES_BENCH_CLAIM:-50}"
readonly LEASE="${LANES_BENCH_LEASE:-60s}"
readonly KILL_LEASE="${LANES_BENCH_KILL_LEASE:-5s}"
readonly JITTER_MS=10
readonly -a LANES=(2 4 8)
readonly -a LATENCY_MS=(40 50 60)
readonly INGEST="${REPO_DIR}/pipelines/ingest.sh"
declare -a DOUBLE_PIDS=() DOUBLE_URLS=() WORKER_PIDS=()
# Set by run_workers: wall seconds of the run, statuses of the workers.
RUN_SECS=""
declare -a WORKER_RCS=()
# Set by kill_when_claimed: records mined when the worker was killed, its pid.
KILLED_AT_DONE=""
KILLED_PID=""

cleanup() {
  local p
  for p in "${WORKER_PIDS[@]}"; do
    kill -KILL -- "-${p}" 2>/dev/null || true
  done
  for p in "${DOUBLE_PIDS[@]}"; do
    kill -TERM "${p}" 2>/dev/null || true
    wait "${p}" 2>/dev/null || true
  done
  cleanup_pg
  bench_tmp_cleanup
}

# Starts the three doubles (lib_llmd.sh's llmd_start, one after the other).
start_doubles() {
  local i
  for i in "${!LANES[@]}"; do
    llmd_start --lanes "${LANES[i]}" --latency-ms "${LATENCY_MS[i]}" --jitter-ms "${JITTER_MS}" \
      --seed "$((i + 1))"
    DOUBLE_PIDS+=("${LLMD_PID}")
    DOUBLE_URLS+=("${LLMD_URL}")
    # the next llmd_start must not stop this one
    LLMD_PID=""
  done
}

# limit I: double I's requests per second at full lanes.
limit() {
  calc "${LANES[$1]} * 1000 / (${LATENCY_MS[$1]} + ${JITTER_MS} / 2)"
}

# double_stat I FILTER: jq FILTER of double I's /_double/stats.
double_stat() {
  curl -fsS "${DOUBLE_URLS[$1]}/_double/stats" | jq -r "$2"
}

# backlog DB N: N records (id bN, a text naming it) put into DB: N mine
# records pending.
backlog() {
  awk -v n="$2" 'BEGIN {
    for (i = 0; i < n; i++)
      printf "{\"id\":\"b%d\",\"doc\":\"d%d\",\"seq\":%d,\"text\":\"Record b%d: the pump at station %d was serviced on day %d and its pressure held.\"}\n", i, int(i / 20), i % 20, i, i % 97, i % 365
  }' | "${LANES_BIN}/store" --db "$1" put 2>/dev/null
}

# run_workers DB LEASE KILL: three workers on DB, worker i against double
# i; with KILL=1 the 8-lane one is SIGKILLed (its process group) once it
# holds claims. Sets RUN_SECS and WORKER_RCS.
run_workers() {
  local db="$1" lease="$2" kill_one="$3" i t0 t1
  local -a pids=()
  WORKER_RCS=()
  for i in "${!LANES[@]}"; do
    curl -fsS -X POST "${DOUBLE_URLS[i]}/_double/reset" >/dev/null
  done
  t0="${EPOCHREALTIME}"
  for i in "${!LANES[@]}"; do
    LANES_LLM_BASE_URL="${DOUBLE_URLS[i]}" LANES_LLM_LOG=errors LANES_BIN="${LANES_BIN}" \
      setsid "${INGEST}" --db "${db}" --worker --steps mine --claim "${CLAIM}" \
      --lease "${lease}" >"${BENCH_TMP}/worker.${i}.log" 2>&1 &
    pids+=("$!")
  done
  WORKER_PIDS=("${pids[@]}")
  if ((kill_one)); then
    kill_when_claimed "${db}" "${pids[2]}"
  fi
  for i in "${!pids[@]}"; do
    local rc=0
    wait "${pids[i]}" || rc=$?
    WORKER_RCS+=("${rc}")
  done
  t1="${EPOCHREALTIME}"
  WORKER_PIDS=()
  RUN_SECS="$(calc "${t1} - ${t0}")"
}

# kill_when_claimed DB PID: waits until the worker PID has mined for a
# while (a third of the backlog is done) and holds claims, then kills its
# process group: ingest.sh, mine, store put, all at once. The records it
# held (its claims left behind) go to killed.held.
kill_when_claimed() {
  local db="$1" pid="$2" i held=0 done_n=0
  : >"${BENCH_TMP}/killed.held"
  for ((i = 0; i < 2400; i++)); do
    held="$(pg_db_sql "${db}" "SELECT count(*) FROM claims WHERE worker LIKE '%:${pid}'")"
    if ((held > 0)); then
      done_n="$(pg_db_sql "${db}" "SELECT count(*) FROM stage_data WHERE stage = 'mine' AND status = 'ok'")"
      if ((done_n * 3 >= KILL_RECORDS)); then
        kill -KILL -- "-${pid}" 2>/dev/null || true
        pg_db_sql "${db}" "SELECT r.id FROM claims c JOIN records r USING (rid) WHERE c.worker LIKE '%:${pid}'" \
          >"${BENCH_TMP}/killed.held"
        break
      fi
    fi
    sleep 0.05
  done
  KILLED_AT_DONE="${done_n}"
  KILLED_PID="${pid}"
}

# pg_db_sql URL SQL: psql's unaligned answer to SQL on the store at URL.
pg_db_sql() {
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# requests_per_id DB: "requests ids once twice more" from the store's
# request log (mine requests per record id).
requests_per_id() {
  "${LANES_BIN}/store" --db "$1" log --stage mine 2>/dev/null |
    jq -r 'select(.kind == "request") | .id' | sort | uniq -c |
    awk '{ r += $1; n++; if ($1 == 1) one++; else if ($1 == 2) two++; else more++ }
      END { printf "%d %d %d %d %d\n", r, n, one, two, more }'
}

# drain_secs DB: seconds from the first mine result stored to the last.
drain_secs() {
  pg_db_sql "$1" "SELECT max(updated) - min(updated) FROM stage_data WHERE stage = 'mine'"
}

# mined_ok DB: records whose mine stage is ok.
mined_ok() {
  "${LANES_BIN}/store" --db "$1" stats --json | jq -r '.stages.mine.ok // 0'
}

throughput_run() {
  local db i sum=0 lim served share total_req
  db="$(pg_new_db workers)"
  backlog "${db}" "${RECORDS}"
  run_workers "${db}" "${LEASE}" 0
  local ok rate drain drain_rate
  ok="$(mined_ok "${db}")"
  rate="$(calc "${ok} / ${RUN_SECS}")"
  drain="$(drain_secs "${db}")"
  drain_rate="$(calc "(${ok} - 1) / ${drain}")"
  echo "run 1: ${RECORDS} records, --claim ${CLAIM}, lease ${LEASE}: $(fmt 2 "${RUN_SECS}") s," \
    "workers exit ${WORKER_RCS[*]}"
  printf '  %-8s %6s %8s %10s %10s %8s %s\n' double lanes "latency" "limit/s" "served/s" share "peak lanes busy, peak queue"
  total_req=0
  for i in "${!LANES[@]}"; do
    lim="$(limit "${i}")"
    sum="$(calc "${sum} + ${lim}")"
    served="$(double_stat "${i}" .requests)"
    total_req=$((total_req + served))
    share="$(calc "${served} / ${RUN_SECS} / ${lim}")"
    printf '  %-8s %6s %8s %10s %10s %8s %s\n' "$((i + 1))" "${LANES[i]}" \
      "${LATENCY_MS[i]}+-$((JITTER_MS / 2)) ms" "$(fmt 1 "${lim}")" \
      "$(fmt 1 "$(calc "${served} / ${RUN_SECS}")")" "$(fmt 3 "${share}")" \
      "$(double_stat "${i}" '"\(.peak_concurrency), \(.peak_queue)"')"
    grep -h 'records claimed\|mine: .*llm: [0-9]* requests' "${BENCH_TMP}/worker.${i}.log" |
      sed 's/^/           /' || true
  done
  share="$(fmt 3 "$(calc "${rate} / ${sum}")")"
  local drain_share
  drain_share="$(fmt 3 "$(calc "${drain_rate} / ${sum}")")"
  local req ids one two more
  read -r req ids one two more < <(requests_per_id "${db}")
  echo "  all: ${ok} records mined; whole run (three ingest.sh from start to exit):" \
    "$(fmt 1 "${rate}") records/s of $(fmt 1 "${sum}") (the sum of the limits): ${share};" \
    "from the first result stored to the last ($(fmt 2 "${drain}") s): $(fmt 1 "${drain_rate}")" \
    "records/s: ${drain_share}"
  echo "  doubles: ${total_req} model requests for ${RECORDS} records; request log: ${req} requests" \
    "for ${ids} ids (${one} once, ${two} twice, ${more} more)"
  local dups=$(( (total_req - RECORDS) > 0 ? total_req - RECORDS : 0 ))
  dups=$((dups > two + more ? dups : two + more))
  target "three workers' throughput vs the sum of lane limits, first to last result" \
    "${drain_share}" ">=" "${SHARE_TARGET}" ""
  target "three workers' throughput vs the sum of lane limits, whole run" "${share}" ">=" \
    "${SHARE_TARGET}" ""
  target "three workers: records answered more than once" "${dups}" "<=" 0 ""
  target "three workers: records not mined" "$((RECORDS - ok))" "<=" 0 ""
}

kill_run() {
  local db ok pending claims_left
  db="$(pg_new_db killed)"
  backlog "${db}" "${KILL_RECORDS}"
  KILLED_AT_DONE=""
  run_workers "${db}" "${KILL_LEASE}" 1
  # the dead worker's request log stayed in $TMPDIR (ingest.sh moves it
  # into the store at the end of the step): moved in by hand
  local dead_log
  dead_log="${TMPDIR:-/tmp}/lanes-$(printf '%s' "${db}" | cksum | cut -d ' ' -f 1)-${KILLED_PID}.requests.ndjson"
  if [[ -s "${dead_log}" ]]; then
    "${LANES_BIN}/store" --db "${db}" log --add "${dead_log}" 2>/dev/null && rm -f "${dead_log}"
  fi
  local total_req=0 i
  for i in "${!LANES[@]}"; do
    total_req=$((total_req + $(double_stat "${i}" .requests)))
  done
  ok="$(mined_ok "${db}")"
  pending="$("${LANES_BIN}/store" --db "${db}" pending --stage mine | wc -l)"
  claims_left="$(pg_db_sql "${db}" "SELECT count(*) FROM claims")"
  local held req ids one two more twice_not_held
  held="$(wc -l <"${BENCH_TMP}/killed.held")"
  read -r req ids one two more < <(requests_per_id "${db}")
  # records asked twice that the dead worker did not hold: true duplicates
  twice_not_held="$("${LANES_BIN}/store" --db "${db}" log --stage mine 2>/dev/null |
    jq -r 'select(.kind == "request") | .id' | sort | uniq -d |
    grep -cvxFf "${BENCH_TMP}/killed.held" || true)"
  echo "run 2: ${KILL_RECORDS} records, --claim ${CLAIM}, lease ${KILL_LEASE}; the 8-lane worker" \
    "killed (SIGKILL to its process group) at ${KILLED_AT_DONE} records mined, holding ${held}:" \
    "$(fmt 2 "${RUN_SECS}") s, workers exit ${WORKER_RCS[*]}"
  echo "  ${ok} of ${KILL_RECORDS} records mined, ${pending} pending, ${claims_left} claims left;" \
    "doubles: ${total_req} model requests; request log (the dead worker's moved in after): ${req} requests for ${ids} ids (${one} once, ${two} twice, ${more} more;" \
    "asked twice and not held by the dead worker: ${twice_not_held})"
  echo "  (the records asked twice are those the dead worker had sent before it died:" \
    "their answers were lost with it)"
  target "killed worker: records stranded (not mined)" "$((KILL_RECORDS - ok + pending))" "<=" 0 ""
  target "killed worker: records asked twice not held by the dead worker" "${twice_not_held}" "<=" 0 ""
}

main() {
  need_debs time python3 jq curl postgresql postgresql-client
  need_llmd
  need_lanes mine store
  llmd_tmp_init
  trap cleanup EXIT
  default_tunables_env
  if ! start_pg; then
    err "cannot start a PostgreSQL server (Debian packages postgresql, postgresql-client)"
    return 1
  fi
  start_doubles
  echo "three ingest.sh --worker --steps mine on one PostgreSQL store" \
    "($("${PG_BIN}/postgres" --version | awk '{ print $3 }')), each against its own llmd;" \
    "default tunables, llm.log errors"
  throughput_run
  echo
  kill_run
}

main "$@"
