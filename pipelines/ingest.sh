#!/usr/bin/env bash
# ingest.sh: takes documents to a populated store. Steps: segment (files into
# segments), mine (facts, with an LLM), embed (vectors), classify (onto a
# taxonomy), each read from the store's pending records and written back
# with `store put`, so a rerun sends nothing that is already done and a run
# that died at a step resumes at that step. Cron-grade: one run at a time
# (flock), a health report at the end, non-zero exit if a step failed.
# See lanes(7).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly PROG="ingest"
readonly ALL_STEPS="segment,mine,embed,classify"
# the file types segment reads (segment(1) FORMATS)
readonly DOC_EXTENSIONS="txt text md markdown mdown mkd mkdn srt vtt html htm xhtml pdf docx odt"
# skipped files listed one by one in the log, at most
readonly LIST_MAX=20
# shellcheck source=pipelines/lib.sh
source "${SCRIPT_DIR}/lib.sh"

TUNABLES=""
DB=""
TAXONOMY=""
ROOT=""
STEPS="${ALL_STEPS}"
DRY_RUN=0
CLEANUP=0
PRINT_CONFIG=0
BACKUP=0
BACKUP_FILE=""
LOCK=""
DB_SHOWN=""
WORKER=0
WORKER_NAME=""
CLAIM_LIMIT=50
LEASE=10m
OFFLINE_MODE="never"
OFFLINE=0
OFFLINE_WHY=""
RUN_DIR=""
REQUEST_LOG=""  # the request log file moved into the store after each step
MINE_CONF=""    # mine --print-config, read once
STEP_PID=""
STOP_SIGNAL=""
SIGNALS=0
FIRST_SIGNAL_US=0 # when the first signal came, in microseconds
GUARD_FD=""
GUARD_PID=""
declare -a FILES=()
declare -a CLEANUP_DIRS=() # --cleanup: the directories named, whose gone documents go
declare -a UNSUPPORTED=()
SKIPPED_NOTE=""
EXT=""
declare -a STEP_LINES=()
declare -a FAILED_STEPS=()

usage() {
  cat <<USAGE
Usage: ingest.sh [options] FILE|DIR...
Segments documents (text, Markdown, SRT, WebVTT, HTML, PDF, DOCX, ODT; DIRs
are searched for *.txt *.md *.srt *.vtt *.html *.pdf *.docx *.odt ...; other
files there are listed and counted, not read), mines, embeds and classifies
the segments, and keeps everything in the store. Each step works on what the store says is
pending, so reruns redo nothing and an interrupted run resumes.

Options:
  --tunables FILE   settings (default: \$LANES_TUNABLES or ${SCRIPT_DIR}/tunables.yaml)
  --db FILE|URL     the store: a SQLite file or a postgresql:// URL (default:
                    store.db of the tunables)
  --taxonomy FILE   classify onto this taxonomy (default: classify.taxonomy)
  --root DIR        document ids are file paths relative to DIR (default:
                    segment.root, else the DIR named, else the deepest
                    directory holding all FILEs and DIRs named)
  --steps LIST      steps to run, from ${ALL_STEPS} (default: all)
  --backup          online backup of the store before the run (to DB.backup)
  --backup-to FILE  the same, to FILE
  --lock FILE       lock file (default: DB.lock, for a URL one in \$TMPDIR); a
                    run finding it taken exits 0
  --worker          drain the backlog of the store with other workers: each
                    LLM step claims records (store claim --follow), runs its
                    tool on them and puts them, until none is pending; no
                    segment step, no lock (see lanes(7), Scale-out)
  --claim N         worker: records held at once, claimed and not yet put
                    (default ${CLAIM_LIMIT})
  --lease DURATION  worker: how long a claim holds without a put (default
                    ${LEASE}); a worker that dies leaves its records to the others
  --offline         offline mode: no LLM server; embed and classify use the
                    hash embedder, mine and LLM verification are skipped
  --offline=auto    offline mode only when the LLM server does not answer
                    (without either, a run with no server fails, loudly)
  --cleanup         after segmenting, delete from the store the documents
                    under the DIRs named that are gone from them (removed,
                    renamed, moved out): only ids under those DIRs, only
                    when the file is not there, never when listing failed
                    or a DIR that has stored documents now lists none;
                    counted in the health report (see lanes(7), Cleanup)
  --dry-run         show what would run and how much is pending (with
                    --cleanup: list the documents it would delete); change nothing
  --print-config    show the effective settings of every step and exit
  -h, --help        this help
Exit status: 0 all steps ok; 1 a step failed (see the health report);
2 usage error; 130/143 interrupted.
USAGE
}

parse_args() {
  while (($#)); do
    case "$1" in
      --tunables) TUNABLES="${2:?--tunables needs a file}"; shift 2 ;;
      --db) DB="${2:?--db needs a file}"; shift 2 ;;
      --taxonomy) TAXONOMY="${2:?--taxonomy needs a file}"; shift 2 ;;
      --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
      --steps) STEPS="${2:?--steps needs a list}"; shift 2 ;;
      --backup) BACKUP=1; shift ;;
      --backup-to) BACKUP=1; BACKUP_FILE="${2:?--backup-to needs a file}"; shift 2 ;;
      --lock) LOCK="${2:?--lock needs a file}"; shift 2 ;;
      --worker) WORKER=1; shift ;;
      --claim) CLAIM_LIMIT="${2:?--claim needs a number}"; shift 2 ;;
      --lease) LEASE="${2:?--lease needs a duration}"; shift 2 ;;
      --offline) OFFLINE_MODE=always; shift ;;
      --offline=*)
        OFFLINE_MODE="${1#--offline=}"
        case "${OFFLINE_MODE}" in
          auto | always | never) ;;
          *) err "--offline=${OFFLINE_MODE}: expected auto, always or never"; exit 2 ;;
        esac
        shift
        ;;
      --dry-run) DRY_RUN=1; shift ;;
      --cleanup) CLEANUP=1; shift ;;
      --print-config) PRINT_CONFIG=1; shift ;;
      -h | --help) usage; exit 0 ;;
      --) shift; FILES+=("$@"); break ;;
      -*) err "unknown option '$1' (try --help)"; exit 2 ;;
      *) FILES+=("$1"); shift ;;
    esac
  done
  if ((CLEANUP && WORKER)); then
    err "--cleanup runs with the documents (ingest.sh --cleanup DIR), not with --worker"
    exit 2
  fi
  local s
  for s in ${STEPS//,/ }; do
    case ",${ALL_STEPS}," in
      *",${s},"*) ;;
      *) err "unknown step '${s}' in --steps (steps: ${ALL_STEPS})"; exit 2 ;;
    esac
  done
}

step_wanted() {
  [[ ",${STEPS}," == *",$1,"* ]]
}

# Effective settings: the tunables file for every tool, the store.
load_settings() {
  if [[ -z "${TUNABLES}" ]]; then
    TUNABLES="${LANES_TUNABLES:-${SCRIPT_DIR}/tunables.yaml}"
  fi
  if [[ ! -r "${TUNABLES}" ]]; then
    err "cannot read tunables file '${TUNABLES}'"
    exit 2
  fi
  export LANES_TUNABLES="${TUNABLES}"
  local conf
  if ! conf="$(store --print-config 2>&1)"; then
    err "${conf}"
    exit 2
  fi
  if [[ -z "${DB}" ]]; then
    DB="$(config_value store db <<<"${conf}")"
  fi
  export LANES_STORE_DB="${DB}"
  # shown without a password a URL may hold
  DB_SHOWN="$(printf '%s' "${DB}" | sed -E 's#(://[^/?@]*:)[^@/]*@#\1<redacted>@#; s#([?&]password=)[^&]*#\1<redacted>#g')"
  # the taxonomy matters to the classify step and to --print-config
  if [[ -z "${TAXONOMY}" ]] && { step_wanted classify || ((PRINT_CONFIG)); }; then
    TAXONOMY="$(classify --print-config | config_value classify taxonomy)"
  fi
  local local_name="${DB}"
  if db_is_url; then
    # a database server's store: the files of this box go to $TMPDIR, the
    # request log one per run (workers on one box run side by side)
    local_name="${TMPDIR:-/tmp}/lanes-$(printf '%s' "${DB}" | cksum | cut -d ' ' -f 1)"
  fi
  LOCK="${LOCK:-${local_name}.lock}"
  # the request log (llm.log) goes into the store after each step, through
  # a file beside it, unless the tunables name a file of their own
  MINE_CONF="$(mine --print-config)"
  if [[ "$(config_value llm log <<<"${MINE_CONF}")" != off &&
    -z "$(config_value llm log_file <<<"${MINE_CONF}")" ]]; then
    REQUEST_LOG="${local_name}.requests.ndjson"
    if db_is_url; then
      REQUEST_LOG="${local_name}-$$.requests.ndjson"
    fi
    export LANES_LLM_LOG_FILE="${REQUEST_LOG}"
  fi
}

# Moves the request log file of the steps into the store (store log
# --add); kept when the store cannot take it, so the next run does.
store_request_log() {
  [[ -n "${REQUEST_LOG}" && -s "${REQUEST_LOG}" ]] || return 0
  local rc=0
  store log --add "${REQUEST_LOG}" || rc=$?
  if ((rc == 0 || rc == 1)); then
    rm -f "${REQUEST_LOG}"
  else
    log "the request log stays in ${REQUEST_LOG} (store log --add failed: exit ${rc})"
  fi
}

# The store is a database server's (a URL), not a file.
db_is_url() {
  [[ "${DB}" == postgres://* || "${DB}" == postgresql://* ]]
}

# The store exists: a file there, or a server's database (store says so).
db_exists() {
  if db_is_url; then
    return 0
  fi
  [[ -e "${DB}" ]]
}

# Copies a --print-config listing without SECTION (and its keys).
without_section() {
  awk -v s="$1:" '/^[^ #]/ { skip = ($1 == s) } !skip'
}

print_config() {
  if step_wanted mine || step_wanted embed || step_wanted classify; then
    decide_offline
  fi
  printf '# ingest.sh: tunables %s, db %s, taxonomy %s, steps %s%s\n' \
    "${TUNABLES}" "${DB_SHOWN}" "${TAXONOMY:-(none)}" "${STEPS}" "${ROOT:+, root ${ROOT}}"
  printf '\n# ---- %s ----\n' segment
  segment --print-config
  if ((OFFLINE)); then
    # what runs: the hash embedder, no mining, no LLM verification
    printf '\n# ---- %s (skipped: %s) ----\n' mine "${OFFLINE_WHY}"
    mine --print-config
    printf '\n# ---- %s (offline: the hash embedder) ----\n' embed
    embed --print-config --model hash | without_section llm
    printf '\n# ---- %s (offline: the hash embedder, embed mode) ----\n' classify
    classify --print-config --embed-model hash --mode embed | without_section llm
  else
    printf '\n# ---- %s ----\n' mine
    mine --print-config
    # the shared llm section once, with mine's
    printf '\n# ---- %s ----\n' embed
    embed --print-config | without_section llm
    printf '\n# ---- %s ----\n' classify
    classify --print-config | without_section llm
  fi
  printf '\n# ---- %s ----\n' store
  store --print-config
}

# Files named on the command line, and the documents found in directories
# (names starting with a dot are left out, as ls(1) does). A file of a type
# segment does not read, found in a directory, is not passed on: it goes to
# UNSUPPORTED, listed in the log and counted in the start line and the
# health report. A file found twice (named and found, or under two
# spellings) goes to segment once.
collect_files() {
  local arg
  local -a named=()
  for arg in "${ARGS[@]}"; do
    if [[ -d "${arg}" ]]; then
      CLEANUP_DIRS+=("${arg}")
      local -a found=()
      mapfile -d '' -t found < <(find "${arg}" -mindepth 1 -name '.*' -prune -o -type f -print0)
      if ! wait "$!"; then
        err "cannot search ${arg} for documents (see the message above)"
        exit 2
      fi
      local f
      for f in "${found[@]}"; do
        if supported "${f}"; then
          named+=("${f}")
        else
          UNSUPPORTED+=("${f}")
        fi
      done
    elif [[ -f "${arg}" ]]; then
      named+=("${arg}")
    else
      err "no such file or directory: ${arg}"
      exit 2
    fi
  done
  note_unsupported
  if ((${#named[@]} == 0)); then
    return 0
  fi
  local -a norm=()
  mapfile -d '' -t norm < <(realpath -z -s -m -- "${named[@]}")
  local -A seen=()
  local i key
  for i in "${!named[@]}"; do
    key="${norm[i]}"
    [[ -z "${seen[${key}]:-}" ]] || continue
    seen["${key}"]=1
    if [[ ! -r "${named[i]}" ]]; then
      err "cannot read ${named[i]}"
      exit 2
    fi
    FILES+=("${named[i]}")
  done
  local -a sorted=()
  mapfile -d '' -t sorted < <(printf '%s\0' "${FILES[@]}" | LC_ALL=C sort -z)
  FILES=("${sorted[@]}")
}

# Sets EXT to FILE's extension, lower case, with its dot ("" without one);
# no subshell, as it runs once per file found.
extension_of() {
  local base="${1##*/}"
  EXT=""
  if [[ "${base}" == ?*.* ]]; then
    base="${base##*.}"
    EXT=".${base,,}"
  fi
}

# Whether segment reads files of FILE's type (by its name, as a directory
# search must decide without reading every file).
supported() {
  extension_of "$1"
  [[ -n "${EXT}" && " ${DOC_EXTENSIONS} " == *" ${EXT#.} "* ]]
}

# Lists the files of UNSUPPORTED in the log (the first LIST_MAX) and sets
# SKIPPED_NOTE: "skipped 5 files: unsupported type .docx, .pdf; see lanes(7)".
note_unsupported() {
  local n="${#UNSUPPORTED[@]}"
  if ((n == 0)); then
    return 0
  fi
  local f i=0
  local -A exts=()
  for f in "${UNSUPPORTED[@]}"; do
    extension_of "${f}"
    exts["${EXT:-(no extension)}"]=1
    if ((i < LIST_MAX)); then
      log "skipped (unsupported type ${EXT:-(no extension)}): ${f}"
    fi
    i=$((i + 1))
  done
  if ((n > LIST_MAX)); then
    log "skipped $((n - LIST_MAX)) more files of unsupported types"
  fi
  local types
  types="$(printf '%s\n' "${!exts[@]}" | LC_ALL=C sort | paste -sd, - | sed 's/,/, /g')"
  SKIPPED_NOTE="skipped ${n} file$( ((n == 1)) || echo s): unsupported type ${types}; see lanes(7)"
}

# The deepest directory holding every PATH (a directory, or a file's
# directory), absolute and spelled without ., .. or //.
common_dir() {
  local -a dirs=()
  local p
  for p in "$@"; do
    if [[ -d "${p}" ]]; then
      dirs+=("${p}")
    else
      dirs+=("$(dirname -- "${p}")")
    fi
  done
  local -a abs=()
  mapfile -d '' -t abs < <(realpath -z -s -m -- "${dirs[@]}")
  local common="${abs[0]}" d
  for d in "${abs[@]:1}"; do
    while [[ "${d}/" != "${common%/}/"* ]]; do
      common="$(dirname -- "${common}")"
    done
  done
  printf '%s\n' "${common}"
}

# The directory that document ids are relative to (segment --root): --root,
# else segment.root of the tunables, else the one directory named, else the
# deepest directory holding all that was named. So docs, ./docs and
# $PWD/docs give the same ids, whatever the working directory.
choose_root() {
  if [[ -n "${ROOT}" ]]; then
    return 0
  fi
  ROOT="$(segment --print-config | config_value segment root)"
  if [[ -n "${ROOT}" ]] || ((${#ARGS[@]} == 0)); then
    return 0
  fi
  if ((${#ARGS[@]} == 1)) && [[ -d "${ARGS[0]}" ]]; then
    ROOT="${ARGS[0]}"
  else
    ROOT="$(common_dir "${ARGS[@]}")"
  fi
}

# Offline mode (OFFLINE=1): embed and classify use the offline hash
# embedder, mine and LLM verification are skipped. Only when asked:
# --offline always, --offline=auto when the LLM server cannot be used (the
# tool that would need it first says why, before reading any input).
# Otherwise a run without a server fails in its LLM steps, loudly.
decide_offline() {
  case "${OFFLINE_MODE}" in
    always)
      OFFLINE=1
      OFFLINE_WHY="offline mode (--offline)"
      return 0
      ;;
    never) return 0 ;;
  esac
  local url probe rc=0
  url="$(embed --print-config | config_value llm base_url)"
  probe="$(probe_llm 2>&1 >/dev/null)" || rc=$?
  if ((rc == 0)); then
    return 0
  fi
  OFFLINE=1
  OFFLINE_WHY="no LLM server (see the notice above)"
  log "notice: no usable LLM server at ${url} ($(head -n 1 <<<"${probe}" | sed 's/^[a-z]*: //'))." \
    "Offline mode (--offline=auto): embed and classify use the offline hash embedder;" \
    "mine and LLM verification are skipped"
}

# Starts the first LLM tool of the run on no input: it checks the server
# and the model before reading, as every LLM tool does.
probe_llm() {
  local -a quick=(LANES_LLM_MAX_ATTEMPTS=1 LANES_LLM_CONNECT_TIMEOUT_MS=2000
    LANES_MINE_STATS_INTERVAL=0 LANES_EMBED_STATS_INTERVAL=0)
  # each tool may have its own servers (mine.endpoints, embed.endpoints)
  if step_wanted mine; then
    env "${quick[@]}" mine </dev/null
  fi
  if step_wanted embed || ! step_wanted mine; then
    env "${quick[@]}" embed </dev/null
  fi
}

# Model name a stage's output is recorded under, for store pending --model.
stage_model() {
  case "$1" in
    mine) config_value mine model <<<"${MINE_CONF}" ;;
    embed)
      local conf model
      conf="$(embed --print-config)"
      model="$(config_value embed model <<<"${conf}")"
      if ((OFFLINE)) || [[ "${model}" == hash ]]; then
        printf 'hash-%s\n' "$(config_value embed dim <<<"${conf}")"
      else
        printf '%s\n' "${model}"
      fi
      ;;
  esac
}

# Adds a line to the health report and remembers failures.
record_step() {
  local step="$1" status="$2" detail="$3" secs="$4"
  STEP_LINES+=("$(printf '  %-9s %-8s %s (%ss)' "${step}" "${status}" "${detail}" "${secs}")")
  if [[ "${status}" == FAILED ]]; then
    FAILED_STEPS+=("${step}")
  fi
  log "step ${step}: ${status}: ${detail} in ${secs}s"
}

# "read N, ok N, skipped N, failed N" of a tool's --summary-json file.
counts_of() {
  local f="$1"
  printf 'read %s, ok %s, skipped %s, failed %s, rejected %s' \
    "$(summary_field "${f}" read)" "$(summary_field "${f}" ok)" \
    "$(summary_field "${f}" skipped)" "$(summary_field "${f}" failed)" \
    "$(summary_field "${f}" rejected)"
}

# Seconds since START (an EPOCHREALTIME), to a tenth, from the shell's
# own clock (no process: a step's end and the report need several).
elapsed_since() {
  local s="${1//[!0-9]/}" e="${EPOCHREALTIME//[!0-9]/}"
  local tenths=$(((10#${e} - 10#${s} + 50000) / 100000))
  printf '%d.%d' "$((tenths / 10))" "$((tenths % 10))"
}

step_segment() {
  local start
  start="${EPOCHREALTIME}"
  if ((${#FILES[@]} == 0 && ${#UNSUPPORTED[@]} > 0)); then
    # documents were given, and none can be read: not a quiet success
    record_step segment FAILED "no document of a supported type: ${SKIPPED_NOTE}" \
      "$(elapsed_since "${start}")"
    return 0
  fi
  if ((${#FILES[@]} == 0)); then
    record_step segment skipped "no documents given" "$(elapsed_since "${start}")"
    return 0
  fi
  if [[ -n "${SKIPPED_NOTE}" ]]; then
    STEP_LINES+=("$(printf '  %-9s %-8s %s' files skipped "${SKIPPED_NOTE#skipped }")")
  fi
  log "step segment: ${#FILES[@]} documents"
  local -a rc
  run_step_pipeline segment
  read -r -a rc <"${RUN_DIR}/rc"
  finish_step segment "${start}" "${RUN_DIR}/segment.json" "${rc[@]}"
}

# The segment step's pipeline; its exit statuses go to RUN_DIR/rc.
pipe_segment() {
  segment --summary-json "${RUN_DIR}/segment.json" --root "${ROOT}" -- "${FILES[@]}" |
    store put --prune-docs --summary-json "${RUN_DIR}/segment.store.json"
  echo "${PIPESTATUS[*]}" >"${RUN_DIR}/rc"
}

# A worker's step: store claim --follow with CLAIM_ARGS, then --, then the
# tool of STAGE with ARGS, then store put; statuses to RUN_DIR/rc.
pipe_claimed() {
  local stage="$1"
  shift
  local -a claim_args=()
  while [[ "$1" != -- ]]; do
    claim_args+=("$1")
    shift
  done
  shift
  store "${claim_args[@]}" |
    exec_stage_tool "${stage}" --summary-json "${RUN_DIR}/${stage}.json" "$@" |
    store put --summary-json "${RUN_DIR}/${stage}.store.json"
  echo "${PIPESTATUS[*]}" >"${RUN_DIR}/rc"
}

# An LLM step's pipeline over the pending file of TOTAL records (the
# progress lines' N/TOTAL and ETA); statuses to RUN_DIR/rc.
pipe_stage() {
  local stage="$1" pending="$2" total="$3"
  shift 3
  exec_stage_tool "${stage}" --summary-json "${RUN_DIR}/${stage}.json" --total "${total}" \
    "$@" <"${pending}" |
    store put --summary-json "${RUN_DIR}/${stage}.store.json" --total "${total}"
  echo "${PIPESTATUS[*]}" >"${RUN_DIR}/rc"
}

# The body of a step's process group: the pipeline WHICH (segment or stage,
# with ARGS). The shell of the group only waits for the pipeline and writes
# its statuses: a signal to the group is the tools' to act on (the trap
# below keeps this shell waiting, and is reset in the tools it runs).
step_group() {
  local which="$1"
  shift
  exec {GUARD_FD}>&-
  trap ':' INT TERM
  set +e
  case "${which}" in
    segment) pipe_segment ;;
    stage) pipe_stage "$@" ;;
    claimed) pipe_claimed "$@" ;;
  esac
}

# Runs a step's pipeline in a process group of its own and waits for it.
# A SIGINT or SIGTERM for the run (to ingest.sh alone, as timeout(1) and
# cron's killers send it, or to its whole process group, as a terminal's
# Ctrl-C does) is passed by on_signal to every process of the step exactly
# once: the first tool stops reading, every tool finishes or abandons what
# is in flight within its stop_grace_ms, and store put commits everything
# that reaches it. The group's id goes to the guard, which stops the step
# when ingest.sh itself is killed (SIGKILL) so that no tool is left behind.
run_step_pipeline() {
  local which="$1"
  shift
  echo "143 143" >"${RUN_DIR}/rc"
  if [[ -n "${STOP_SIGNAL}" ]]; then
    return 0
  fi
  # job control gives the background job its own process group
  set -m
  step_group "${which}" "$@" </dev/null &
  STEP_PID=$!
  set +m
  printf '%s\n' "${STEP_PID}" >&"${GUARD_FD}"
  if [[ -n "${STOP_SIGNAL}" ]]; then
    # the signal came before the step's group was known
    kill "-${STOP_SIGNAL}" -- "-${STEP_PID}" 2>/dev/null || true
  fi
  while kill -0 "${STEP_PID}" 2>/dev/null; do
    wait "${STEP_PID}" || true
  done
  STEP_PID=""
  printf '\n' >&"${GUARD_FD}"
  if ((SIGNALS >= 2)); then
    exit_interrupted
  fi
}

# The guard: reads the process group of the running step ("" between
# steps) from ingest.sh; when ingest.sh is gone (end of its input) while a
# step runs, sends that step SIGTERM, so it stores what is in flight and
# ends. Signals are ingest.sh's to act on, not the guard's.
guard_steps() {
  trap '' INT TERM
  local line group=""
  while IFS= read -r line; do
    group="${line}"
  done
  if [[ -n "${group}" ]]; then
    kill -TERM -- "-${group}" 2>/dev/null || true
  fi
}

start_guard() {
  exec {GUARD_FD}> >(guard_steps)
  GUARD_PID=$!
}

# Ends the guard (between steps it just exits) and waits for it, so that
# nothing of the run outlives ingest.sh.
stop_guard() {
  if [[ -n "${GUARD_PID}" ]]; then
    exec {GUARD_FD}>&-
    wait "${GUARD_PID}" 2>/dev/null || true
    GUARD_PID=""
  fi
}

on_exit() {
  stop_guard
  rm -rf "${RUN_DIR}"
}

exit_interrupted() {
  case "${STOP_SIGNAL}" in
    INT) exit 130 ;;
    *) exit 143 ;;
  esac
}

# Trap of SIGINT/SIGTERM. The first: remember it, pass it on to the running
# step (whose tools finish what is in flight), start no further step, and
# end with the health report. The second: pass it on too (the tools stop
# at once, whole lines still whole; what was in flight stays pending) and
# exit as soon as the step is gone, without the report.
on_signal() {
  local sig="$1" now
  # the same signal again within 0.25 s is the same request (timeout(1)
  # signals ingest.sh and its process group: one stop, delivered twice)
  now="${EPOCHREALTIME/[.,]/}"
  if ((SIGNALS >= 1)) && [[ "${sig}" == "${STOP_SIGNAL}" ]] &&
    ((now - FIRST_SIGNAL_US < 250000)); then
    return 0
  fi
  SIGNALS=$((SIGNALS + 1))
  if ((SIGNALS == 1)); then
    STOP_SIGNAL="${sig}"
    FIRST_SIGNAL_US="${now}"
    log "${sig} received: the current step finishes what is in flight" \
      "(a second signal stops at once)"
  else
    log "second signal (${sig}): stopping at once; records in flight stay pending"
  fi
  if [[ -n "${STEP_PID}" ]]; then
    kill "-${sig}" -- "-${STEP_PID}" 2>/dev/null || true
  elif ((SIGNALS >= 2)); then
    exit_interrupted
  fi
}

# Replaces the (sub)shell by the tool of STAGE with ARGS, each called by
# its name (so that tests/lint-pipelines can check that it exists); exec,
# so that the tool and not a shell gets the step's signals and its exit
# status is the step's.
exec_stage_tool() {
  local stage="$1"
  shift
  case "${stage}" in
    mine) exec mine "$@" ;;
    embed) exec embed "$@" ;;
    classify) exec classify "$@" ;;
    *) err "no tool for the step '${stage}'"; return 2 ;;
  esac
}

# Worker mode: one pipeline for the step, store claim --follow | the tool
# of STAGE with ARGS | store put: claim holds up to --claim N records
# leased (claimed and not put yet) and claims again as the puts release
# them, so the tool's requests never wait for a round to end; it ends when
# no record is pending (records leased to other workers are waited for:
# put by them, or taken over when the lease of one that died runs out).
step_llm_worker() {
  local stage="$1"
  shift
  local start model n
  local -a rc=(0 0 0)
  start="${EPOCHREALTIME}"
  model="$(stage_model "${stage}")"
  local -a claim_args=(claim --follow --stage "${stage}" --limit "${CLAIM_LIMIT}"
    --lease "${LEASE}" --worker "${WORKER_NAME}")
  if [[ -n "${model}" ]]; then
    claim_args+=(--model "${model}")
  fi
  if [[ -n "${STOP_SIGNAL}" ]]; then
    record_step "${stage}" skipped "not started: ${STOP_SIGNAL} received" "$(elapsed_since "${start}")"
    return 0
  fi
  log "step ${stage}: claiming ${CLAIM_LIMIT} records at a time"
  run_step_pipeline claimed "${stage}" "${claim_args[@]}" -- "$@"
  read -r -a rc <"${RUN_DIR}/rc"
  # a stop before the pipeline started leaves two statuses
  rc[2]="${rc[2]:-143}"
  store_request_log
  n="$(summary_field "${RUN_DIR}/${stage}.json" read)"
  if [[ "${rc[0]}" != 0 && "${rc[0]}" != 130 && "${rc[0]}" != 143 ]]; then
    record_step "${stage}" FAILED "store claim failed (exit ${rc[0]}: see its message above);" \
      "$(counts_of "${RUN_DIR}/${stage}.json")" "$(elapsed_since "${start}")"
    return 0
  fi
  if ((n == 0)) && [[ -z "${STOP_SIGNAL}" && "${rc[1]}" == 0 && "${rc[2]}" == 0 ]]; then
    record_step "${stage}" ok "nothing pending" "$(elapsed_since "${start}")"
    return 0
  fi
  log "step ${stage}: ${n} records claimed"
  finish_step "${stage}" "${start}" "${RUN_DIR}/${stage}.json" "${rc[1]}" "${rc[2]}"
}

# Runs the tool of STAGE, with ARGS, over the store's pending records of
# STAGE and puts the results.
step_llm() {
  local stage="$1"
  shift
  if ((WORKER)); then
    step_llm_worker "${stage}" "$@"
    return 0
  fi
  local start model pending
  start="${EPOCHREALTIME}"
  model="$(stage_model "${stage}")"
  pending="${RUN_DIR}/${stage}.pending"
  local -a pend_args=(pending --stage "${stage}")
  if [[ -n "${model}" ]]; then
    pend_args+=(--model "${model}")
  fi
  if ! store "${pend_args[@]}" >"${pending}"; then
    if [[ -n "${STOP_SIGNAL}" ]]; then
      record_step "${stage}" skipped "not started: ${STOP_SIGNAL} received" "$(elapsed_since "${start}")"
    else
      record_step "${stage}" FAILED "store pending failed" "$(elapsed_since "${start}")"
    fi
    return 0
  fi
  local n
  n="$(wc -l <"${pending}" | tr -d ' ')"
  if ((n == 0)); then
    record_step "${stage}" ok "nothing pending" "$(elapsed_since "${start}")"
    return 0
  fi
  if [[ -n "${STOP_SIGNAL}" ]]; then
    record_step "${stage}" skipped "not started: ${STOP_SIGNAL} received" "$(elapsed_since "${start}")"
    return 0
  fi
  log "step ${stage}: ${n} records pending"
  local -a rc
  run_step_pipeline stage "${stage}" "${pending}" "${n}" "$@"
  read -r -a rc <"${RUN_DIR}/rc"
  rm -f "${pending}"
  store_request_log
  finish_step "${stage}" "${start}" "${RUN_DIR}/${stage}.json" "${rc[@]}"
}

# Judges a step from the exit statuses of its tool and of store put.
finish_step() {
  local step="$1" start="$2" summary="$3" tool_rc="$4" store_rc="$5"
  local detail secs
  secs="$(elapsed_since "${start}")"
  detail="$(counts_of "${summary}")"
  if [[ "${tool_rc}" == 0 && "${store_rc}" == 0 ]]; then
    record_step "${step}" ok "${detail}" "${secs}"
    return 0
  fi
  if [[ "${tool_rc}" == 130 || "${tool_rc}" == 143 ]]; then
    detail+="; stored $(summary_field "${summary%.json}.store.json" ok)"
    record_step "${step}" stopped "interrupted by SIG${STOP_SIGNAL:-TERM}; ${detail}" "${secs}"
    return 0
  fi
  local why="exit ${tool_rc}"
  case "${tool_rc}" in
    0) why="" ;;
    1) why="too many records failed" ;;
    2) why="usage or settings error" ;;
    3) why="LLM server or model unusable (see the message above; --offline runs without one)" ;;
  esac
  if [[ "${store_rc}" != 0 ]]; then
    why="${why:+${why}; }store put failed (exit ${store_rc}: see its message above)"
  fi
  record_step "${step}" FAILED "${why}; ${detail}" "${secs}"
}

# A wanted step that may still start: not after a signal.
should_run() {
  step_wanted "$1" || return 1
  if [[ -n "${STOP_SIGNAL}" ]]; then
    record_step "$1" skipped "not started: ${STOP_SIGNAL} received" 0.0
    return 1
  fi
}

# Cleanup (--cleanup): the plan. Into directory WORK: the stored
# documents under the CLEANUP_DIRS that this run did not find there and
# whose file is not there either, one "RECORDS<tab>ID" line each in
# WORK/gone; sets GONE_DOCS, GONE_RECORDS. Ids are compared as segment
# --names and store docs both write them (the same JSON encoder), so an id
# is never guessed from a path spelled in the shell. Returns 1, with the
# reason in CLEANUP_WHY, when it must not delete anything: the names or
# the stored documents cannot be read, or a DIR under which the store
# holds documents lists none now (an unmounted or emptied source).
cleanup_plan() {
  local work="$1"
  GONE_DOCS=0
  GONE_RECORDS=0
  CLEANUP_WHY=""
  : >"${work}/gone"
  if ! segment --names --root "${ROOT}" -- "${CLEANUP_DIRS[@]}" "${FILES[@]}" \
    >"${work}/names" 2>"${work}/names.err"; then
    CLEANUP_WHY="cannot name the documents under --root ${ROOT}: $(head -n 1 "${work}/names.err")"
    return 1
  fi
  if ! db_exists; then
    return 0
  fi
  if ! store docs >"${work}/docs"; then
    CLEANUP_WHY="store docs failed (see its message above)"
    return 1
  fi
  local out
  out="$(awk -v gone="${work}/gone" -v odd="${work}/odd" '
    # the JSON string of a line starting {"dir":" or {"doc":", still encoded
    FNR == NR {
      v = substr($0, 9, length($0) - 10)
      if (substr($0, 1, 8) == "{\"dir\":\"") { dirs[++nd] = v }
      else { listed[v] = 1; for (i = 1; i <= nd; i++) if (under(v, dirs[i])) found[i]++ }
      next
    }
    {
      e = index($0, "\",\"records\":")
      id = substr($0, 9, e - 9)
      n = substr($0, e + 12) + 0
      inside = 0
      for (i = 1; i <= nd; i++) if (under(id, dirs[i])) { inside = 1; stored[i]++ }
      if (inside && !(id in listed)) {
        name = decoded(id)
        if (name == "") print id > odd
        else print n "\t" name > gone
      }
    }
    END { for (i = 1; i <= nd; i++) if (stored[i] && !found[i]) print i "\t" stored[i] }
    function under(id, dir) { return dir == "" || substr(id, 1, length(dir) + 1) == dir "/" }
    # the name an encoded id stands for: only \" \\ \/ are undone; "" for
    # any other escape (control bytes: a name no stdin list can carry)
    function decoded(s,   r, i, c) {
      r = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\") {
          c = substr(s, ++i, 1)
          if (c != "\"" && c != "\\" && c != "/") return ""
        }
        r = r c
      }
      return r
    }' "${work}/names" "${work}/docs")" || {
    CLEANUP_WHY="cannot compare the documents (awk failed)"
    return 1
  }
  if [[ -n "${out}" ]]; then
    local i n
    IFS=$'\t' read -r i n <<<"${out}"
    CLEANUP_WHY="${CLEANUP_DIRS[i - 1]} lists no documents now, and the store holds ${n} under it:"
    CLEANUP_WHY+=" not deleting them all (an unmounted or emptied source? store delete --doc deletes them)"
    return 1
  fi
  if [[ -s "${work}/odd" ]]; then
    log "cleanup: $(wc -l <"${work}/odd" | tr -d ' ') documents under the DIRs are kept: their ids" \
      "hold control characters (delete them with store delete --doc)"
  fi
  local name kept=0
  : >"${work}/gone.checked"
  while IFS=$'\t' read -r n name; do
    if [[ -e "${ROOT}/${name}" ]]; then
      # not found by this run's search (a hidden or linked file), but there
      kept=$((kept + 1))
      continue
    fi
    printf '%s\t%s\n' "${n}" "${name}" >>"${work}/gone.checked"
    GONE_DOCS=$((GONE_DOCS + 1))
    GONE_RECORDS=$((GONE_RECORDS + n))
  done <"${work}/gone"
  mv "${work}/gone.checked" "${work}/gone"
  if ((kept > 0)); then
    log "cleanup: ${kept} documents not found by the search are kept: their files are there"
  fi
}

# Lists the documents of WORK/gone in the log, with VERB ("deleting",
# "would delete"): every one, or the first LIST_MAX (ALL=0).
list_gone() {
  local work="$1" verb="$2" all="$3" i=0 n name
  while IFS=$'\t' read -r n name; do
    if ((all || i < LIST_MAX)); then
      log "cleanup: ${verb} ${name} (${n} records): gone from the source"
    fi
    i=$((i + 1))
  done <"${work}/gone"
  if ((!all && i > LIST_MAX)); then
    log "cleanup: ${verb} $((i - LIST_MAX)) more documents gone from the source"
  fi
}

# "under DIR" or "under DIR1, DIR2" for the log and the report.
cleanup_scope() {
  local IFS=,
  printf 'under %s' "${CLEANUP_DIRS[*]}" | sed 's/,/, /g'
}

# The cleanup step: deletes the documents of cleanup_plan from the store
# (store delete --doc -). Not after a failed segment step, not without a
# plan, never a partial plan.
step_cleanup() {
  local start
  start="${EPOCHREALTIME}"
  if [[ " ${FAILED_STEPS[*]} " == *" segment "* ]]; then
    record_step cleanup skipped "not run: the segment step failed" "$(elapsed_since "${start}")"
    return 0
  fi
  local work="${RUN_DIR}/cleanup"
  mkdir -p "${work}"
  if ! cleanup_plan "${work}"; then
    record_step cleanup FAILED "nothing deleted: ${CLEANUP_WHY}" "$(elapsed_since "${start}")"
    return 0
  fi
  if ((GONE_DOCS == 0)); then
    record_step cleanup ok "no document gone from the source ($(cleanup_scope))" \
      "$(elapsed_since "${start}")"
    return 0
  fi
  list_gone "${work}" deleting 0
  if ! cut -f 2- "${work}/gone" | store delete --doc -; then
    record_step cleanup FAILED "store delete failed (see its message above)" \
      "$(elapsed_since "${start}")"
    return 0
  fi
  record_step cleanup ok "deleted ${GONE_DOCS} documents (${GONE_RECORDS} records) gone from the source ($(cleanup_scope))" \
    "$(elapsed_since "${start}")"
}

run_steps() {
  # a worker drains what is stored; documents come in through a run
  # without --worker
  if ((WORKER)); then
    if step_wanted segment && ((${#FILES[@]} > 0)); then
      record_step segment skipped "a worker segments nothing (run ingest.sh without --worker)" 0.0
    fi
  elif should_run segment; then
    step_segment
  fi
  if ((CLEANUP)) && [[ -z "${STOP_SIGNAL}" ]]; then
    step_cleanup
  elif ((CLEANUP)); then
    record_step cleanup skipped "not started: ${STOP_SIGNAL} received" 0.0
  fi
  if should_run mine; then
    if ((OFFLINE)); then
      record_step mine skipped "${OFFLINE_WHY}" 0.0
    else
      step_llm mine
    fi
  fi
  if should_run embed; then
    if ((OFFLINE)); then
      step_llm embed --model hash
    else
      step_llm embed
    fi
  fi
  if should_run classify; then
    if [[ -z "${TAXONOMY}" ]]; then
      record_step classify skipped "no taxonomy (set classify.taxonomy or --taxonomy)" 0.0
    elif ((OFFLINE)); then
      step_llm classify --taxonomy "${TAXONOMY}" --embed-model hash --mode embed
    else
      step_llm classify --taxonomy "${TAXONOMY}"
    fi
  fi
}

# --dry-run --cleanup: every document the cleanup would delete.
dry_run_cleanup() {
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/lanes-ingest.XXXXXX")"
  if ! cleanup_plan "${work}"; then
    log "cleanup would delete nothing: ${CLEANUP_WHY}"
  elif ((GONE_DOCS == 0)); then
    log "cleanup would delete nothing: no document gone from the source ($(cleanup_scope))"
  else
    list_gone "${work}" "would delete" 1
    log "cleanup would delete ${GONE_DOCS} documents (${GONE_RECORDS} records) gone from the source ($(cleanup_scope))"
  fi
  rm -rf "${work}"
}

dry_run() {
  log "dry run: nothing is changed"
  if step_wanted mine || step_wanted embed || step_wanted classify; then
    decide_offline
  fi
  if step_wanted segment; then
    log "would segment ${#FILES[@]} documents into ${DB_SHOWN}${ROOT:+ (ids relative to ${ROOT})}"
    if [[ -n "${SKIPPED_NOTE}" ]]; then
      log "would leave out files: ${SKIPPED_NOTE}"
    fi
  fi
  if ((CLEANUP)); then
    dry_run_cleanup
  fi
  if ! db_exists; then
    log "the store ${DB_SHOWN} does not exist yet: every step has all its work pending"
    return 0
  fi
  local stage model n
  for stage in mine embed classify; do
    step_wanted "${stage}" || continue
    if [[ "${stage}" == mine ]] && ((OFFLINE)); then
      log "would skip mine: ${OFFLINE_WHY}"
      continue
    fi
    if [[ "${stage}" == classify && -z "${TAXONOMY}" ]]; then
      log "would skip classify: no taxonomy (set classify.taxonomy or --taxonomy)"
      continue
    fi
    model="$(stage_model "${stage}")"
    local -a pend_args=(pending --stage "${stage}")
    if [[ -n "${model}" ]]; then
      pend_args+=(--model "${model}")
    fi
    n="$(store "${pend_args[@]}" | wc -l | tr -d ' ')"
    log "would run ${stage} over ${n} pending records${model:+ (model ${model})}"
  done
}

health_report() {
  local started="$1"
  {
    TZ=UTC0 printf '\n%s: health report for %s (%(%Y-%m-%dT%H:%M:%SZ)T)\n' "${PROG}" "${DB_SHOWN}" -1
    printf '%s\n' "${STEP_LINES[@]}"
    printf '\n'
    if db_exists; then
      store stats 2>/dev/null | sed 's/^/  /' || printf '  (store stats failed)\n'
    fi
    if [[ -n "${STOP_SIGNAL}" ]]; then
      printf '\n%s: interrupted by SIG%s%s; the next run resumes (run took %ss)\n' "${PROG}" \
        "${STOP_SIGNAL}" "${FAILED_STEPS[*]:+ (FAILED steps: ${FAILED_STEPS[*]})}" "$(elapsed_since "${started}")"
    elif ((${#FAILED_STEPS[@]})); then
      printf '\n%s: FAILED steps: %s (run took %ss)\n' "${PROG}" "${FAILED_STEPS[*]}" "$(elapsed_since "${started}")"
    else
      printf '\n%s: all steps ok (run took %ss)\n' "${PROG}" "$(elapsed_since "${started}")"
    fi
  } >&2
}

main() {
  local -a ARGS=()
  parse_args "$@"
  ARGS=("${FILES[@]}")
  FILES=()
  find_tools segment mine embed classify store || exit 2
  load_settings
  if ((PRINT_CONFIG)); then
    print_config
    return 0
  fi
  WORKER_NAME="${HOSTNAME:-host}:$$"
  if ((WORKER)) && ((${#ARGS[@]} == 0)); then
    :
  else
    collect_files
    choose_root
  fi
  if ((CLEANUP)) && ((${#CLEANUP_DIRS[@]} == 0)); then
    err "--cleanup needs a DIR: it deletes the stored documents gone from the DIRs named"
    exit 2
  fi
  if ((DRY_RUN)); then
    dry_run
    return 0
  fi

  local lock_fd
  # workers share the store by its claims, not by a lock
  if ((!WORKER)) && ! { exec {lock_fd}>>"${LOCK}"; } 2>/dev/null; then
    err "cannot open the lock file ${LOCK} (is its directory there and writable?)"
    return 2
  fi
  if ((!WORKER)) && ! flock -n "${lock_fd}"; then
    log "another ingest run holds ${LOCK}; skipping this run"
    return 0
  fi
  RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lanes-ingest.XXXXXX")"
  trap on_exit EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  start_guard

  local started worker_note=""
  started="${EPOCHREALTIME}"
  if ((WORKER)); then
    worker_note=", worker ${WORKER_NAME} (holding ${CLAIM_LIMIT} records at most, lease ${LEASE})"
  fi
  log "start: ${#FILES[@]} documents${ROOT:+ under ${ROOT}}${SKIPPED_NOTE:+ (${SKIPPED_NOTE})}," \
    "db ${DB_SHOWN}, steps ${STEPS}$( ((CLEANUP)) && echo ' + cleanup'), tunables ${TUNABLES}${worker_note}"
  if ((BACKUP)); then
    local dest="${BACKUP_FILE:-${DB}.backup}"
    if db_is_url && [[ -z "${BACKUP_FILE}" ]]; then
      err "--backup of a database server's store needs --backup-to FILE"
      return 2
    fi
    if ! db_exists; then
      log "backup: no ${DB_SHOWN} yet, nothing to back up"
    elif store backup "${dest}"; then
      log "backup: ${DB_SHOWN} -> ${dest}"
    else
      err "backup of ${DB_SHOWN} to ${dest} failed; not running the steps"
      return 1
    fi
  fi
  if step_wanted mine || step_wanted embed || step_wanted classify; then
    decide_offline
  fi
  run_steps
  health_report "${started}"
  case "${STOP_SIGNAL}" in
    INT) return 130 ;;
    TERM) return 143 ;;
  esac
  ((${#FAILED_STEPS[@]} == 0))
}

main "$@"
