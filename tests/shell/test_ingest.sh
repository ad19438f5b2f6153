#!/usr/bin/env bash
# test_ingest.sh: pipelines/ingest.sh end to end against llmd, the LLM test
# double: a full run (segment, mine, embed, classify onto the example
# taxonomy); a rerun that sends no model request and changes nothing; a
# SIGKILL of the whole run in the middle of each step, then a rerun that
# leaves every record once and does only the remaining work; SIGTERM,
# SIGINT, a second signal and SIGKILL of ingest.sh alone (nothing left
# running, a true health report); two overlapping runs; a step that fails every record; --dry-run, --backup,
# --print-config; the log format. Also tests/lint-pipelines and
# pipelines/examples/nightly.sh (probe.sh: test_probe.sh).
# Pass/fail never depends on timing: a kill that lands after its step
# proves the same invariants, and the overlapping run is held by a stub.
# Prints "ok N - ..." lines and "N passed, M failed".
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
readonly NIGHTLY="${ROOT}/pipelines/examples/nightly.sh"
readonly LINT="${ROOT}/tests/lint-pipelines"
readonly DOCS="${ROOT}/pipelines/examples/docs"
readonly TAXONOMY="${ROOT}/pipelines/examples/taxonomy.yaml"
# service time of the slow double while a step is killed
readonly SLOW_MS=200

EXPECTED=0
BIG_EXPECTED=0
RC=0
RUN_PID=""
declare -a GROUPS_STARTED=()

# lib.sh's cleanup, and the process groups of the runs killed on purpose.
cleanup() {
  local p
  for p in "${GROUPS_STARTED[@]}"; do
    pkill -KILL -s "${p}" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    kill "${p}" 2>/dev/null || true
    wait "${p}" 2>/dev/null || true
  done
  if [[ -n "${TMP}" ]]; then
    rm -rf "${TMP}"
  fi
}

# Starts one more llmd with the given flags (lib.sh's start_llmd keeps one
# at a time); it writes its port to PORT_FILE.
start_llmd_on() {
  local pf="$1"
  shift
  rm -f "${pf}"
  "${LLMD}" --port 0 --port-file "${pf}" --quiet "$@" &
  PIDS+=("$!")
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s "${pf}" ]] && return 0
    sleep 0.05
  done
  err "llmd did not write ${pf}"
  exit 1
}

# Sets the double's runtime config (a JSON object).
double_config() {
  "${CURL[@]}" -X POST -d "$1" "${URL}/_double/config" >/dev/null
}

double_reset() {
  "${CURL[@]}" -X POST "${URL}/_double/reset" >/dev/null
}

# Waits until the double holds no request (those of a killed run included),
# so that counters reset afterwards count only the next run.
double_idle() {
  local i s
  for ((i = 0; i < 300; i++)); do
    s="$(stats | jq '.in_flight + .queued')"
    [[ "${s}" == 0 ]] && return 0
    sleep 0.05
  done
  err "the double stayed busy"
  return 1
}

chat_requests() {
  stats | jq '.by_path["/api/chat"] // 0'
}

# Runs ingest.sh with NAME for its output files; sets RC.
run_ingest() {
  local name="$1"
  shift
  RC=0
  "${INGEST}" "$@" >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" || RC=$?
}

store_dump() {
  "${BIN}/store" --db "$1" dump
}

# Every row of every table, updated times included.
sql_dump() {
  sqlite3 "$1" .dump
}

# Records of stage STAGE that are ok in DB (0 without a DB).
stage_ok() {
  local db="$1" stage="$2"
  if [[ ! -e "${db}" ]]; then
    echo 0
    return 0
  fi
  "${BIN}/store" --db "${db}" stats --json | jq --arg s "${stage}" '.stages[$s].ok'
}

# Every id once, EXPECTED records, every stage ok.
check_complete() {
  local db="$1" what="$2"
  t "${what}: ${EXPECTED} records, each id once" \
    eq "$(store_dump "${db}" | jq -r .id | sort | uniq -c | awk '$1 != 1' | wc -l) $(store_dump "${db}" | wc -l)" \
    "0 ${EXPECTED}"
  t "${what}: every stage ok on every record" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '[.stages[] | .ok] | unique')" "[${EXPECTED}]"
}

full_run() {
  local db="${TMP}/full.db"
  double_reset
  RC=0
  env -u LANES_LOG_TIME "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}" \
    >"${TMP}/full.out" 2>"${TMP}/full.err" || RC=$?
  t "full run exits 0" eq "${RC}" 0
  t "full run: nothing on stdout" test ! -s "${TMP}/full.out"
  t "full run: all steps ok" grep -q '^ingest: all steps ok' "${TMP}/full.err"
  check_complete "${db}" "full run"
  t "full run: one chat request per record (mine)" eq "$(chat_requests)" "${EXPECTED}"
  t "full run: every record embedded by the double" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '.models | keys')" '["nomic-embed-text"]'
  t "full run: every record classified, in embed mode, against one taxonomy" \
    eq "$(store_dump "${db}" | jq -r '[.class.mode, (.class.taxonomy | length)] | @tsv' | sort -u)" \
    "$(printf 'embed\t16')"
  # the log: one line per event, "<tool>: <UTC time> ..." for events
  t "log: every line is '<tool>: ...', a report line, or blank" \
    bash -c "! grep -vE '^((ingest|segment|mine|embed|classify|store): |  |\$)' '${TMP}/full.err'"
  local step
  for step in segment mine embed classify; do
    t "log: step ${step} has one end line with UTC time and counts" \
      eq "$(grep -cE "^ingest: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z step ${step}: ok: read [0-9]+, ok [0-9]+, skipped [0-9]+, failed 0, rejected 0 in [0-9.]+s\$" "${TMP}/full.err")" 1
  done
  t "log: no progress display when stderr is not a terminal" \
    bash -c "! grep -q \$'[\\r\\033]' '${TMP}/full.err'"
  t "health report: at most 30 lines (one screen)" \
    test "$(sed -n '/health report for/,$p' "${TMP}/full.err" | wc -l)" -le 30
  t "health report: store stats of the db" \
    grep -qE '^  classify +13 +0 +0 +0$' "${TMP}/full.err"
  RC=0
  LANES_LOG_TIME=0 "${INGEST}" --db "${db}" --steps mine "${DOCS}" 2>"${TMP}/notime.err" || RC=$?
  t "LANES_LOG_TIME=0: ingest's lines drop the time like the tools'" \
    grep -qx 'ingest: step mine: ok: nothing pending in [0-9.]*s' "${TMP}/notime.err"
}

rerun() {
  local db="${TMP}/full.db"
  store_dump "${db}" >"${TMP}/rerun.before"
  sql_dump "${db}" >"${TMP}/rerun.sql.before"
  double_reset
  run_ingest rerun --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "rerun exits 0" eq "${RC}" 0
  t "rerun sends no model request" eq "$(stats | jq .requests)" 0
  t "rerun: the records are unchanged (store dump)" \
    cmp "${TMP}/rerun.before" <(store_dump "${db}")
  t "rerun: every LLM step has nothing pending" \
    eq "$(grep -c 'step [a-z]*: ok: nothing pending' "${TMP}/rerun.err")" 3
  t "rerun: no row rewritten (sqlite3 .dump, updated times included)" \
    cmp "${TMP}/rerun.sql.before" <(sql_dump "${db}")
}

# llm.log: each LLM step's request log goes into the store, through a file
# beside it that is gone after the step.
request_log() {
  local db="${TMP}/reqlog.db"
  double_reset
  LANES_LLM_LOG=errors run_ingest reqlog --db "${db}" --steps segment,mine,embed "${DOCS}"
  t "llm.log errors: the run exits 0" eq "${RC}" 0
  t "llm.log errors: one entry per mine request in the store (store log --stage mine)" \
    eq "$("${BIN}/store" --db "${db}" log --stage mine | jq -r .id | sort -u | wc -l)" \
    "${EXPECTED}"
  t "llm.log errors: store stats counts the requests and the tokens per stage" \
    eq "$("${BIN}/store" --db "${db}" stats --json |
      jq -c '[.requests.mine.requests, .requests.mine.prompt_tokens > 0, .requests.embed.requests > 0]')" \
    "[${EXPECTED},true,true]"
  t "llm.log errors: the log file beside the store is gone once moved in" \
    test ! -e "${db}.requests.ndjson"
}

print_config() {
  run_ingest config --db "${TMP}/cfg.db" --print-config
  t "--print-config exits 0" eq "${RC}" 0
  local s
  for s in segment mine embed classify store llm; do
    t "--print-config shows the ${s} section" grep -q "^${s}:" "${TMP}/config.out"
  done
  t "--print-config shows the shared llm section once" \
    eq "$(grep -c '^llm:' "${TMP}/config.out")" 1
  t "--print-config shows the db given with --db" \
    grep -qE "^  db: \"?${TMP}/cfg.db\"?  # env LANES_STORE_DB" "${TMP}/config.out"
  sed 's/^  model: "llama3.2:3b"/  model: "gpt-4o-mini"/' "${ROOT}/pipelines/tunables.yaml" >"${TMP}/my.yaml"
  run_ingest config2 --tunables "${TMP}/my.yaml" --print-config
  t "--tunables FILE: its values and their source are shown" \
    grep -qE "^  model: \"?gpt-4o-mini\"?  # file ${TMP}/my.yaml:[0-9]+" "${TMP}/config2.out"
  t "--print-config creates no db" test ! -e "${TMP}/cfg.db"
  # a tool's --print-config over 4 KiB (long tunables paths, endpoint
  # lists) went by SIGPIPE when config_value left after the key it wanted,
  # ending ingest.sh at random (lanes(7) examples in make check)
  t "config_value reads a long --print-config to its end (no SIGPIPE for the tool)" \
    eq "$(long_config config_value)" "http://x rc 0"
  t "config_source reads a long --print-config to its end" \
    eq "$(long_config config_source)" "default rc 0"
}

# FUNC (pipelines/lib.sh's config_value or config_source) over an llm
# section and 200 KB more, with pipefail: prints its answer and the status.
long_config() {
  # shellcheck disable=SC2016
  bash -o pipefail -c 'source "$1"
    { printf "llm:\n  base_url: http://x  # default\n"; head -c 200000 /dev/zero | tr "\0" "#"; echo; } |
      "$2" llm base_url | tr "\n" " "
    echo "rc $?"' _ "${ROOT}/pipelines/lib.sh" "$1"
}

# lib.sh's find_tools, used by ingest.sh, probe.sh and nightly.sh: without
# LANES_BIN the tools are those of the checkout (bin/ beside pipelines/),
# and a missing one is named.
tool_finder() {
  local co="${TMP}/checkout"
  mkdir -p "${co}/bin"
  cp -r "${ROOT}/pipelines" "${co}/"
  local tool
  for tool in segment mine embed store; do
    ln -s "${BIN}/${tool}" "${co}/bin/${tool}"
  done
  RC=0
  env -u LANES_BIN PATH=/usr/bin:/bin "${co}/pipelines/ingest.sh" --print-config \
    >"${TMP}/finder.out" 2>"${TMP}/finder.err" || RC=$?
  t "without LANES_BIN, a missing tool of the checkout is named (exit 2)" \
    eq "${RC} $(grep -c "cannot find the lanes tool 'classify'" "${TMP}/finder.err")" "2 1"
  ln -s "${BIN}/classify" "${co}/bin/classify"
  RC=0
  env -u LANES_BIN PATH=/usr/bin:/bin "${co}/pipelines/ingest.sh" --print-config \
    >"${TMP}/finder.out" 2>"${TMP}/finder.err" || RC=$?
  t "without LANES_BIN, ingest.sh finds the tools in the checkout's bin/" \
    eq "${RC} $(grep -c '^store:' "${TMP}/finder.out")" "0 1"
}

# A full disk under the store (a small tmpfs, in a mount namespace of its
# own): the step that cannot commit fails loudly, the store stays whole,
# and once there is room the rerun completes, each record once.
full_disk() {
  local mnt="${TMP}/small" res="${TMP}/fulldisk"
  mkdir -p "${mnt}" "${res}"
  local -a ns=(unshare -m)
  if ((EUID != 0)); then
    ns=(unshare -rm)
  fi
  # In a chroot (a fresh Debian built with debootstrap) the root is no mount
  # point, so unshare cannot make it private (EINVAL) and a user namespace
  # is refused: keep the propagation; the script unmounts what it mounted.
  if ! "${ns[@]}" true 2>/dev/null; then
    ns=(unshare -m --propagation unchanged)
  fi
  cat >"${TMP}/fulldisk.sh" <<'SCRIPT'
set -u
mnt="$1" res="$2" ingest="$3" docs="$4"
mount -t tmpfs -o size=256k tmpfs "${mnt}" || exit 99
"${ingest}" --offline --db "${mnt}/x.db" --steps segment,embed "${docs}" >/dev/null 2>"${res}/1.err"
echo "$?" >"${res}/1.rc"
sqlite3 "${mnt}/x.db" 'PRAGMA integrity_check' >"${res}/integrity" 2>&1
mount -o remount,size=64m "${mnt}" || exit 98
"${ingest}" --offline --db "${mnt}/x.db" --steps segment,embed "${docs}" >/dev/null 2>"${res}/2.err"
echo "$?" >"${res}/2.rc"
store --db "${mnt}/x.db" dump | jq -r .id | sort | uniq -c | awk '$1 != 1' | wc -l >"${res}/dups"
store --db "${mnt}/x.db" stats --json >"${res}/stats"
umount "${mnt}"
SCRIPT
  RC=0
  "${ns[@]}" bash "${TMP}/fulldisk.sh" "${mnt}" "${res}" "${INGEST}" "${TMP}/big" \
    >"${TMP}/fulldisk.out" 2>&1 || RC=$?
  t "full disk: the test gets a small file system (unshare -m, or -rm without root)" eq "${RC}" 0
  ((RC == 0)) || sed 's/^/    fulldisk: /' "${TMP}/fulldisk.out" >&2
  t "full disk: the run fails (exit 1)" eq "$(cat "${res}/1.rc" 2>&1)" 1
  t "full disk: store says the disk is full" grep -qE '^store: cannot .*: database or disk is full' "${res}/1.err"
  t "full disk: the health report names store put's failure" \
    grep -qE '^  segment +FAILED +store put failed \(exit [0-9]+: see its message above\)' "${res}/1.err"
  t "full disk: the store passes integrity_check" eq "$(cat "${res}/integrity" 2>&1)" ok
  t "full disk, room again: the rerun exits 0" eq "$(cat "${res}/2.rc" 2>&1)" 0
  t "full disk, room again: every record once, embedded" \
    eq "$(cat "${res}/dups" 2>&1) $(jq -c '[.records, .stages.embed.ok]' "${res}/stats" 2>&1)" \
    "0 [${BIG_EXPECTED},${BIG_EXPECTED}]"
}

# Document ids are paths relative to the directory named (or --root, or
# segment.root), whatever the spelling of the path or the working directory.
identity() {
  local db="${TMP}/ident.db"
  run_ingest ident1 --db "${db}" --steps segment "${DOCS}"
  (cd "${ROOT}" && "${INGEST}" --db "${db}" --steps segment pipelines/examples/docs) 2>"${TMP}/ident2.err"
  (cd "${ROOT}/pipelines" && "${INGEST}" --db "${db}" --steps segment ./examples//docs/) 2>"${TMP}/ident3.err"
  run_ingest ident4 --db "${db}" --steps segment "${ROOT}/pipelines/../pipelines/examples/docs"
  t "docs, ./docs/, \$PWD/docs and a/../docs give the same ids: ${EXPECTED} records" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq .records)" "${EXPECTED}"
  t "ids are relative to the directory named" \
    eq "$("${BIN}/store" --db "${db}" get standup.srt:1 | jq -r .doc)" standup.srt
  t "the start line names the directory ids are relative to" \
    grep -q "start: 4 documents under ${DOCS}, db" "${TMP}/ident1.err"
  run_ingest ident5 --db "${db}" --steps segment "${DOCS}/standup.srt" "${DOCS}/interview.vtt"
  t "files named: ids relative to the deepest directory holding them (no new record)" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq .records)" "${EXPECTED}"
  run_ingest ident6 --db "${db}" --steps segment "${DOCS}" "${DOCS}/standup.srt" "./${DOCS#"${PWD}"/}"
  t "a document named twice is segmented once (exit 0, no failure)" \
    eq "${RC} $(grep -c 'step segment: ok: read 4, ok 4' "${TMP}/ident6.err")" "0 1"
  local db2="${TMP}/ident-root.db"
  run_ingest ident7 --db "${db2}" --steps segment --root "${ROOT}/pipelines" "${DOCS}"
  t "--root DIR: ids relative to DIR" \
    eq "$("${BIN}/store" --db "${db2}" get examples/docs/standup.srt:1 | jq -r .doc)" examples/docs/standup.srt
  rm -f "${db2}"
  RC=0
  LANES_SEGMENT_ROOT="${ROOT}" "${INGEST}" --db "${db2}" --steps segment "${DOCS}" 2>"${TMP}/ident8.err" || RC=$?
  t "segment.root (here LANES_SEGMENT_ROOT): ids relative to it" \
    eq "$("${BIN}/store" --db "${db2}" get pipelines/examples/docs/standup.srt:1 | jq -r .doc)" pipelines/examples/docs/standup.srt
}

# A URL where no server answers: a port the double had, closed again.
dead_url() {
  local pf="${TMP}/dead.port"
  start_llmd_on "${pf}"
  local pid="${PIDS[-1]}"
  kill "${pid}"
  wait "${pid}" 2>/dev/null || true
  echo "http://127.0.0.1:$(<"${pf}")"
}

# No LLM server: the run fails loudly unless offline mode was asked for
# (--offline, --offline=auto); --print-config shows what will run.
offline() {
  local dead db="${TMP}/offline.db"
  dead="$(dead_url)"
  RC=0
  LANES_LLM_BASE_URL="${dead}" "${INGEST}" --db "${db}" "${DOCS}" >/dev/null 2>"${TMP}/off1.err" || RC=$?
  t "no LLM server, no offline mode asked: exit 1" eq "${RC}" 1
  t "no LLM server: mine and embed FAILED in the report, saying what to do" \
    eq "$(grep -cE '^  (mine|embed) +FAILED +LLM server or model unusable \(see the message above; --offline runs without one\)' "${TMP}/off1.err")" 2
  t "no LLM server: the tool's message names the server" \
    grep -q "^mine: cannot reach the LLM server at ${dead}" "${TMP}/off1.err"
  t "no LLM server: no hash vectors were made behind the user's back" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq .vectors)" 0
  rm -f "${db}"
  RC=0
  LANES_LLM_BASE_URL="${dead}" "${INGEST}" --offline=auto --db "${db}" "${DOCS}" >/dev/null 2>"${TMP}/off2.err" || RC=$?
  t "--offline=auto without a server: exit 0" eq "${RC}" 0
  t "--offline=auto without a server: a notice says why" \
    grep -q "notice: no usable LLM server at ${dead} (cannot reach" "${TMP}/off2.err"
  t "--offline=auto without a server: mine skipped, hash vectors" \
    eq "$(grep -cE '^  mine +skipped +no LLM server' "${TMP}/off2.err") $("${BIN}/store" --db "${db}" stats --json | jq -c '.models | keys')" \
    '1 ["hash-384"]'
  rm -f "${db}"
  double_reset
  run_ingest off3 --offline=auto --db "${db}" "${DOCS}"
  t "--offline=auto with a server: the server is used (mine ok)" \
    eq "${RC} $(grep -cE '^  mine +ok ' "${TMP}/off3.err")" "0 1"
  rm -f "${db}"
  double_reset
  run_ingest off4 --offline --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "--offline: exit 0 and no request to the server" eq "${RC} $(stats | jq .requests)" "0 0"
  t "--offline: the report says mine was skipped for offline mode" \
    grep -qE '^  mine +skipped +offline mode \(--offline\)' "${TMP}/off4.err"
  t "--offline: hash vectors, classified in embed mode" \
    eq "$("${BIN}/store" --db "${db}" stats --json | jq -c '[(.models | keys), .stages.classify.ok]')" \
    "[[\"hash-384\"],${EXPECTED}]"
  run_ingest off5 --offline --print-config
  t "--offline --print-config: embed shows the hash embedder" \
    grep -qx '  model: hash  # flag --model' "${TMP}/off5.out"
  t "--offline --print-config: classify shows the hash embedder in embed mode" \
    eq "$(grep -cE '^  (embed_model: hash  # flag --embed-model|mode: embed  # flag --mode)$' "${TMP}/off5.out")" 2
  t "--offline --print-config: mine is marked skipped" \
    grep -q '^# ---- mine (skipped: offline mode (--offline)) ----$' "${TMP}/off5.out"
  RC=0
  LANES_LLM_BASE_URL="${dead}" "${INGEST}" --offline=auto --print-config >"${TMP}/off6.out" 2>/dev/null || RC=$?
  t "--offline=auto --print-config without a server: the hash embedder" \
    grep -qx '  model: hash  # flag --model' "${TMP}/off6.out"
  run_ingest off7 --print-config
  t "--print-config, server configured: the configured embedding model" \
    grep -qE '^  model: "?nomic-embed-text"?  # ' "${TMP}/off7.out"
  run_ingest off8 --offline=sometimes --print-config
  t "--offline=WHAT: usage error" eq "${RC}" 2
}

# Files segment does not read are listed and counted, never skipped in
# silence; a file it cannot read is stored with its error.
unsupported() {
  local dir="${TMP}/mixed" db="${TMP}/mixed.db"
  mkdir -p "${dir}/sub"
  cp "${DOCS}/field-report.txt" "${DOCS}/standup.srt" "${dir}/"
  printf '<html><head><title>A page</title></head><body><p>A web page. It has text.</p></body></html>\n' \
    >"${dir}/sub/page.html"
  printf 'data' >"${dir}/scan.xyz"
  printf 'data' >"${dir}/sub/sheet.XLSB"
  printf 'data' >"${dir}/Makefile"
  printf 'hidden' >"${dir}/.swp.xyz"
  run_ingest mixed --offline --db "${db}" "${dir}"
  t "unsupported files: the run goes on (exit 0)" eq "${RC}" 0
  t "a directory's HTML is read (segment reads it)" \
    eq "$("${BIN}/store" --db "${db}" get sub/page.html:0 | jq -r .text)" "A web page. It has text."
  t "unsupported files: counted in the start line" \
    grep -q 'start: 3 documents under .* (skipped 3 files: unsupported type (no extension), .xlsb, .xyz; see lanes(7)), db' "${TMP}/mixed.err"
  t "unsupported files: each listed in the log (hidden ones left out)" \
    eq "$(grep -c 'skipped (unsupported type .*): .*/mixed/' "${TMP}/mixed.err") $(grep -c 'swp' "${TMP}/mixed.err")" "3 0"
  t "unsupported files: counted in the health report" \
    grep -qx '  files     skipped  3 files: unsupported type (no extension), .xlsb, .xyz; see lanes(7)' "${TMP}/mixed.err"
  local only="${TMP}/only" db2="${TMP}/only.db"
  mkdir -p "${only}"
  printf 'data' >"${only}/report.xyz"
  run_ingest only --offline --db "${db2}" "${only}"
  t "a folder with no file of a supported type: segment FAILED, exit 1" \
    eq "${RC} $(grep -cE '^  segment +FAILED +no document of a supported type: skipped 1 file: unsupported type .xyz' "${TMP}/only.err")" "1 1"
  # a named file segment cannot read (a program, by its content): stored
  # with its error, and the step fails (max_failure_ratio 0)
  printf '\x7fELF\x02\x01\x01\x00' >"${dir}/disguised.txt"
  run_ingest disguised --offline --db "${db}" "${dir}"
  t "a file segment cannot read: the segment step fails, loudly" \
    eq "${RC} $(grep -cE '^  segment +FAILED ' "${TMP}/disguised.err")" "1 1"
  t "a file segment cannot read: store dump --stage segment --status error finds it" \
    eq "$("${BIN}/store" --db "${db}" dump --stage segment --status error | jq -r '[.id, .errors.segment.code] | @tsv')" \
    "$(printf 'disguised.txt\tunsupported_type')"
}

dry_run() {
  local db="${TMP}/dry.db"
  run_ingest dry-seg --db "${db}" --steps segment "${DOCS}"
  t "segment-only run exits 0" eq "${RC}" 0
  sql_dump "${db}" >"${TMP}/dry.sql.before"
  store_dump "${db}" >"${TMP}/dry.before"
  double_reset
  run_ingest dry --db "${db}" --taxonomy "${TAXONOMY}" --dry-run "${DOCS}"
  t "--dry-run exits 0" eq "${RC}" 0
  t "--dry-run changes nothing (sqlite3 .dump)" cmp "${TMP}/dry.sql.before" <(sql_dump "${db}")
  t "--dry-run sends no model request" eq "$(stats | jq .requests)" 0
  local stage
  for stage in mine embed classify; do
    t "--dry-run reports ${EXPECTED} records pending for ${stage}" \
      grep -q "would run ${stage} over ${EXPECTED} pending records" "${TMP}/dry.err"
  done
  t "--dry-run names the documents it would segment" \
    grep -q "would segment 4 documents" "${TMP}/dry.err"
  run_ingest dry-notax --db "${db}" --dry-run "${DOCS}"
  t "--dry-run without a taxonomy says classify would be skipped" \
    grep -q "would skip classify: no taxonomy" "${TMP}/dry-notax.err"
  run_ingest dry-steps --db "${db}" --steps embed --dry-run "${DOCS}"
  t "--dry-run --steps embed reports embed only" \
    eq "$(grep -c 'would' "${TMP}/dry-steps.err")" 1
  run_ingest dry-new --db "${TMP}/none.db" --dry-run "${DOCS}"
  t "--dry-run on a new db exits 0 and does not create it" \
    eq "${RC} $([[ -e "${TMP}/none.db" ]] && echo created)" "0 "
}

backup() {
  local db="${TMP}/dry.db"
  run_ingest backup --db "${db}" --taxonomy "${TAXONOMY}" --backup "${DOCS}"
  t "--backup run exits 0" eq "${RC}" 0
  t "--backup: ${db}.backup passes integrity_check" \
    eq "$(sqlite3 "${db}.backup" 'PRAGMA integrity_check')" ok
  t "--backup: the backup holds the db as it was before the run" \
    cmp "${TMP}/dry.before" <(store_dump "${db}.backup")
  t "--backup: the backup is one self-contained file" test ! -e "${db}.backup-wal"
  run_ingest backup2 --db "${db}.backup" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "--backup: the backup is usable as a store (a run over it completes it)" eq "${RC}" 0
  check_complete "${db}.backup" "run over the backup"
  run_ingest backup3 --db "${db}" --backup-to "${TMP}/snap.db" --steps segment "${DOCS}"
  t "--backup-to FILE: the copy equals the db" \
    cmp <(store_dump "${db}") <(store_dump "${TMP}/snap.db")
}

# A document edited after it was ingested: its changed segments must be
# mined, embedded and classified again.
edited_document() {
  local db="${TMP}/edit.db" dir="${TMP}/edit"
  mkdir -p "${dir}"
  printf 'The first report is short. It has two sentences.\n' >"${dir}/a.txt"
  run_ingest edit1 --db "${db}" --taxonomy "${TAXONOMY}" "${dir}"
  t "edited document: first run exits 0" eq "${RC}" 0
  printf 'The report was rewritten from scratch. Nothing is the same.\n' >"${dir}/a.txt"
  double_reset
  run_ingest edit2 --db "${db}" --taxonomy "${TAXONOMY}" "${dir}"
  t "edited document: second run exits 0" eq "${RC}" 0
  t "edited document: its changed segment is mined again" \
    eq "$(chat_requests)" 1
  t "edited document: and embedded again" eq "$(stats | jq .embed_inputs)" 1

  # a document that gets shorter: its old trailing segments go
  local -a long=()
  local i
  for ((i = 1; i <= 40; i++)); do
    long+=("Sentence number ${i} of the long version is here.")
  done
  printf '%s\n\n' "${long[@]}" >"${dir}/a.txt"
  run_ingest edit3 --db "${db}" --taxonomy "${TAXONOMY}" "${dir}"
  local n_long
  n_long="$(sqlite3 "${db}" "SELECT count(*) FROM records WHERE doc LIKE '%a.txt'")"
  t "shortened document: the long version has several segments (${n_long})" test "${n_long}" -gt 1
  printf 'Only one short sentence is left.\n' >"${dir}/a.txt"
  run_ingest edit4 --db "${db}" --taxonomy "${TAXONOMY}" "${dir}"
  t "shortened document: run exits 0" eq "${RC}" 0
  t "shortened document: only its new segment is stored" \
    eq "$(sqlite3 "${db}" "SELECT count(*) FROM records WHERE doc LIKE '%a.txt'")" 1
  t "shortened document: no vector or stage is left of the old segments" \
    eq "$(sqlite3 "${db}" "SELECT (SELECT count(*) FROM vector_data) || '/' || (SELECT count(DISTINCT rid) FROM stage_data)")" "1/1"
  t "shortened document: the store says how many went" grep -q "pruned: $((n_long - 1)) stored segments" "${TMP}/edit4.err"
}

# A LANES_BIN of wrappers around the real tools. Its segment obeys, at run
# time, STUB_WAIT=FILE (in the segment step: create FILE.entered, wait for
# FILE) and
# STUB_THROTTLE=1 (pass its output on a few lines at a time).
make_stub_bin() {
  local dir="${TMP}/stubbin" tool
  mkdir -p "${dir}"
  for tool in mine embed classify store; do
    printf '#!/usr/bin/env bash\nexec %q "$@"\n' "${BIN}/${tool}" >"${dir}/${tool}"
  done
  cat >"${dir}/segment" <<STUB
#!/usr/bin/env bash
set -euo pipefail
if [[ -n "\${STUB_WAIT:-}" && " \$* " == *" --summary-json "* ]]; then
  touch "\${STUB_WAIT}.entered"
  while [[ ! -e "\${STUB_WAIT}" ]]; do sleep 0.05; done
fi
if [[ -n "\${STUB_THROTTLE:-}" ]]; then
  $(printf '%q' "${BIN}/segment") "\$@" | { n=0; while IFS= read -r l; do printf '%s\n' "\${l}"; n=\$((n + 1)); if ((n % 10 == 0)); then sleep 0.02; fi; done; }
else
  exec $(printf '%q' "${BIN}/segment") "\$@"
fi
STUB
  chmod +x "${dir}"/*
}

overlap() {
  local db="${TMP}/lock.db" gate="${TMP}/gate"
  LANES_BIN="${TMP}/stubbin" STUB_WAIT="${gate}" \
    "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}" \
    >"${TMP}/lock1.out" 2>"${TMP}/lock1.err" &
  local first=$!
  local i
  for ((i = 0; i < 400; i++)); do
    [[ -e "${gate}.entered" ]] && break
    sleep 0.05
  done
  t "first run is inside its segment step (holds the lock)" test -e "${gate}.entered"
  double_reset
  run_ingest lock2 --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "second run while the first holds the lock exits 0" eq "${RC}" 0
  t "second run says it skips" grep -q "another ingest run holds ${db}.lock; skipping this run" "${TMP}/lock2.err"
  t "second run runs no step" bash -c "! grep -q 'step ' '${TMP}/lock2.err'"
  touch "${gate}"
  local rc1=0
  wait "${first}" || rc1=$?
  t "first run, released, completes with exit 0" eq "${rc1}" 0
  check_complete "${db}" "overlapping runs"
}

# A step that fails every record: non-zero exit, the failure in the health
# report; the next run, with the server healthy, retries and completes.
failing_step() {
  local db="${TMP}/fail.db"
  double_config '{"fail_all": 500}'
  RC=0
  LANES_LLM_MAX_ATTEMPTS=2 LANES_LLM_BACKOFF_MS=1 LANES_LLM_BACKOFF_MAX_MS=5 \
    "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}" \
    >"${TMP}/fail.out" 2>"${TMP}/fail.err" || RC=$?
  double_config '{"fail_all": null}'
  t "a run whose steps fail every record exits 1" eq "${RC}" 1
  t "health report: mine FAILED with its counts" \
    grep -qE "^  mine +FAILED +too many records failed; read ${EXPECTED}, ok 0, skipped 0, failed ${EXPECTED}" "${TMP}/fail.err"
  t "health report: the store's error count of mine" \
    grep -qE "^  mine +0 +${EXPECTED} +0 +0$" "${TMP}/fail.err"
  t "health report: last line names the failed steps" \
    eq "$(tail -n 1 "${TMP}/fail.err" | sed 's/ (run took.*//')" "ingest: FAILED steps: mine embed classify"
  t "segment still ran and is ok in the report" grep -qE '^  segment +ok ' "${TMP}/fail.err"
  run_ingest fail2 --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "the next run, server healthy, retries the failed records and exits 0" eq "${RC}" 0
  check_complete "${db}" "run after failures"
}

# SIGKILL of the whole run (its session) while STEP runs, then a rerun
# at full speed: every record once, and only the remaining work is done.
kill_during() {
  local step="$1"
  local db="${TMP}/kill-${step}.db"
  local -a files=("${DOCS}")
  local -a env=(LANES_EMBED_BATCH=1 LANES_CLASSIFY_BATCH=1 LANES_CLASSIFY_MODE=verify
    LANES_CLASSIFY_THRESHOLD=-1)
  local total="${EXPECTED}"
  local -a before=()
  case "${step}" in
    segment)
      files=("${TMP}/big")
      total="${BIG_EXPECTED}"
      env+=(STUB_THROTTLE=1 "LANES_BIN=${TMP}/stubbin")
      ;;
    mine) ;;
    embed) before=(--steps "segment,mine") ;;
    classify) before=(--steps "segment,mine,embed") ;;
  esac
  double_config '{"latency_ms": 0, "lanes": 4}'
  if ((${#before[@]})); then
    env "${env[@]}" "${INGEST}" --db "${db}" "${before[@]}" "${files[@]}" 2>"${TMP}/kill.pre.err"
  fi
  if [[ "${step}" != segment ]]; then
    double_config "{\"latency_ms\": ${SLOW_MS}, \"lanes\": 1}"
  fi
  setsid env "${env[@]}" "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${files[@]}" \
    >"${TMP}/kill.out" 2>"${TMP}/kill.err" &
  local pid=$!
  GROUPS_STARTED+=("${pid}")
  # kill once a few results of the step are committed (or the run ended)
  local i n=0 want=2
  [[ "${step}" == segment ]] && want=50
  for ((i = 0; i < 600; i++)); do
    kill -0 "${pid}" 2>/dev/null || break
    if [[ -e "${db}" ]]; then
      if [[ "${step}" == segment ]]; then
        n="$(sqlite3 "${db}" 'SELECT count(*) FROM records' 2>/dev/null || echo 0)"
      else
        n="$(sqlite3 "${db}" "SELECT count(*) FROM stages WHERE stage = '${step}' AND status = 'ok'" 2>/dev/null || echo 0)"
      fi
      ((n >= want)) && break
    fi
    sleep 0.02
  done
  # the session exists once setsid has run; it has, since the run got this
  # far; it holds ingest.sh's process group and the step's
  kill_session "${pid}"
  wait "${pid}" 2>/dev/null || true
  double_idle
  double_config '{"latency_ms": 0, "lanes": 4}'
  local ok_mine ok_embed ok_classify
  ok_mine="$(stage_ok "${db}" mine)"
  ok_embed="$(stage_ok "${db}" embed)"
  ok_classify="$(stage_ok "${db}" classify)"
  echo "# killed during ${step}: ${n} results of it committed; ok before the rerun: mine ${ok_mine}, embed ${ok_embed}, classify ${ok_classify} of ${total}"
  if [[ -e "${db}" ]]; then
    t "killed during ${step}: the db passes integrity_check" \
      eq "$(sqlite3 "${db}" 'PRAGMA integrity_check')" ok
  fi
  double_reset
  RC=0
  env "${env[@]}" "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${files[@]}" \
    >"${TMP}/kill.rerun.out" 2>"${TMP}/kill.rerun.err" || RC=$?
  t "killed during ${step}: the rerun exits 0" eq "${RC}" 0
  local saved="${EXPECTED}"
  EXPECTED="${total}"
  check_complete "${db}" "killed during ${step}, rerun"
  EXPECTED="${saved}"
  # mine and classify (verify) send one chat request per record, embed one
  # input per record: the rerun sends exactly what was not done
  t "killed during ${step}: the rerun asks only for the records not yet mined or classified" \
    eq "$(chat_requests)" "$(((total - ok_mine) + (total - ok_classify)))"
  t "killed during ${step}: the rerun embeds only the records not yet embedded" \
    eq "$(stats | jq .embed_inputs)" "$((total - ok_embed))"
  case "${step}" in
    embed | classify)
      t "killed during ${step}: the steps before it had nothing left to do" \
        eq "$(grep -c 'step mine: ok: nothing pending' "${TMP}/kill.rerun.err")" 1
      ;;
  esac
}

make_big_docs() {
  local dir="${TMP}/big" i
  mkdir -p "${dir}"
  for ((i = 1; i <= 20; i++)); do
    awk -v d="${i}" 'BEGIN {
      for (p = 0; p < 30; p++) {
        s = ""
        for (w = 0; w < 30; w++) s = s sprintf("word%d_%d_%d ", d, p, w)
        print s "ends here. Another sentence follows.\n"
      }
    }' >"${dir}/doc${i}.txt"
  done
  BIG_EXPECTED="$("${BIN}/segment" "${dir}"/*.txt 2>/dev/null | wc -l)"
}

lint() {
  RC=0
  "${LINT}" >"${TMP}/lint.out" 2>&1 || RC=$?
  t "tests/lint-pipelines passes on the pipelines" eq "${RC}" 0
  local dir="${TMP}/lintcase"
  mkdir -p "${dir}"
  cp "${ROOT}/pipelines/lib.sh" "${dir}/lib.sh"
  sed 's/^\( *\)record_step classify skipped/\1record_stp classify skipped/' \
    "${INGEST}" >"${dir}/ingest.sh"
  RC=0
  "${LINT}" "${dir}/ingest.sh" >"${TMP}/lint1.out" 2>&1 || RC=$?
  t "lint-pipelines fails on a call of an undefined function, naming it" \
    eq "${RC} $(grep -c "record_stp" "${TMP}/lint1.out")" "1 1"
  sed 's/^\( *\)classify) exec classify "\$@" ;;/\1classify) exec clasify "$@" ;;/' "${INGEST}" >"${dir}/ingest.sh"
  RC=0
  "${LINT}" "${dir}/ingest.sh" >"${TMP}/lint2.out" 2>&1 || RC=$?
  t "lint-pipelines fails on a call of a lanes tool that is not in cmd/" \
    eq "${RC} $(grep -c "'clasify' is not" "${TMP}/lint2.out")" "1 1"
  sed 's/^\( *\)mine) exec mine "\$@" ;;/\1mine) exec "${stage}" "$@" ;;/' "${INGEST}" >"${dir}/ingest.sh"
  RC=0
  "${LINT}" "${dir}/ingest.sh" >"${TMP}/lint4.out" 2>&1 || RC=$?
  t "lint-pipelines fails on a command named by a variable" \
    eq "${RC} $(grep -c 'a command named by a variable' "${TMP}/lint4.out")" "1 1"
  printf '#!/usr/bin/env bash\nmain() {\n  exec {fd}>&-\n  no_such_command\n}\nmain "$@"\n' >"${dir}/close.sh"
  RC=0
  "${LINT}" "${dir}/close.sh" >"${TMP}/lint5.out" 2>&1 || RC=$?
  t "lint-pipelines reads the command after a closed descriptor ({fd}>&-)" \
    eq "${RC} $(grep -c "'no_such_command' is not" "${TMP}/lint5.out")" "1 1"
  printf '#!/usr/bin/env bash\nmain() {\n  if true; then\n}\nmain "$@"\n' >"${dir}/bad.sh"
  RC=0
  "${LINT}" "${dir}/bad.sh" >"${TMP}/lint3.out" 2>&1 || RC=$?
  t "lint-pipelines fails on a syntax error (bash -n)" eq "${RC}" 1
}

# The nightly example: two documents dropped into the inbox, two fetched
# from a list of URLs (file:// here); then a night with nothing new.
nightly() {
  local home="${TMP}/nightly" feed="${TMP}/feed"
  mkdir -p "${home}/inbox" "${feed}"
  cp "${DOCS}/field-report.txt" "${DOCS}/lanes-notes.md" "${home}/inbox/"
  cp "${DOCS}/standup.srt" "${DOCS}/interview.vtt" "${feed}/"
  printf 'file://%s\n' "${feed}/standup.srt" "${feed}/interview.vtt" >"${feed}/list"
  local -a env=("LANES_HOME=${home}" "LANES_TAXONOMY=${TAXONOMY}"
    "LANES_FETCH_URL=file://${feed}/list")
  double_reset
  RC=0
  env "${env[@]}" "${NIGHTLY}" >"${TMP}/nightly.out" 2>"${TMP}/nightly.err" || RC=$?
  t "nightly.sh exits 0 and prints nothing (cron mails nothing)" \
    eq "${RC} $(cat "${TMP}/nightly.out" "${TMP}/nightly.err")" "0 "
  t "nightly.sh: the inbox and the fetched documents go into the document tree" \
    eq "$(find "${home}/inbox" -type f | wc -l) $(find "${home}/docs" -type f | wc -l)" "0 4"
  t "nightly.sh: ids are paths in the document tree (a fetched one: its URL's host and path)" \
    eq "$(sqlite3 "${home}/lanes.db" 'SELECT DISTINCT doc FROM records ORDER BY doc' | tr '\n' ' ')" \
    "field-report.txt lanes-notes.md ${feed#/}/interview.vtt ${feed#/}/standup.srt "
  check_complete "${home}/lanes.db" "nightly.sh"
  local snap
  snap="$(find "${home}/snapshots" -name 'lanes-*.db' | head -n 1)"
  t "nightly.sh: a dated snapshot of the store" \
    eq "$(sqlite3 "${snap:-/nonexistent}" 'SELECT count(*) FROM records' 2>&1)" "${EXPECTED}"
  t "nightly.sh: its log has the health report" \
    grep -q '^ingest: all steps ok' "${home}"/log/nightly-*.log
  t "nightly.sh: the time of the fetch is kept for the next one" test -s "${home}/last-fetch"
  : >"${feed}/list"
  double_reset
  RC=0
  env "${env[@]}" "${NIGHTLY}" >"${TMP}/nightly2.out" 2>"${TMP}/nightly2.err" || RC=$?
  t "nightly.sh, a night with nothing new: exit 0, no model request" \
    eq "${RC} $(stats | jq .requests)" "0 0"
  t "nightly.sh, a night with nothing new: says so in its log" \
    grep -q 'inbox: nothing new' "${home}"/log/nightly-*.log
  # the next night: an edited version of a document, and two fetched
  # documents with one file name
  printf 'The field report was rewritten. It is short now.\n' >"${home}/inbox/field-report.txt"
  mkdir -p "${feed}/a" "${feed}/b"
  printf 'The first minutes. They come from place a.\n' >"${feed}/a/minutes.txt"
  printf 'The second minutes. They come from place b.\n' >"${feed}/b/minutes.txt"
  printf 'file://%s\n' "${feed}/a/minutes.txt" "${feed}/b/minutes.txt" >"${feed}/list"
  RC=0
  env "${env[@]}" "${NIGHTLY}" >"${TMP}/nightly4.out" 2>"${TMP}/nightly4.err" || RC=$?
  t "nightly.sh, an edited document and two fetched ones with one name: exit 0" eq "${RC}" 0
  t "nightly.sh: the edited document replaces its earlier version (no second copy)" \
    eq "$(sqlite3 "${home}/lanes.db" "SELECT doc || ' ' || json_extract(body, '\$.text') FROM records WHERE doc LIKE '%field-report.txt'")" \
    "field-report.txt The field report was rewritten. It is short now."
  t "nightly.sh: two fetched documents with one file name are both kept" \
    eq "$(sqlite3 "${home}/lanes.db" "SELECT count(*) FROM records WHERE doc LIKE '%/minutes.txt'")" 2
  t "nightly.sh: the store holds the documents once each" \
    eq "$(sqlite3 "${home}/lanes.db" 'SELECT count(DISTINCT doc) FROM records')" 6
  : >"${feed}/list"
  cp "${DOCS}/lanes-notes.md" "${home}/inbox/more-notes.md"
  double_config '{"fail_all": 500}'
  RC=0
  env "${env[@]}" LANES_LLM_MAX_ATTEMPTS=1 "${NIGHTLY}" \
    >"${TMP}/nightly3.out" 2>"${TMP}/nightly3.err" || RC=$?
  double_config '{"fail_all": null}'
  t "nightly.sh, a failing night: exit 1 and the end of the log on stderr (for cron's mail)" \
    eq "${RC} $(grep -c 'the nightly lanes run failed' "${TMP}/nightly3.err")" "1 1"
  # a night with no LLM server: not a success, and the mail has the report
  cp "${DOCS}/lanes-notes.md" "${home}/inbox/even-more-notes.md"
  local dead
  dead="$(dead_url)"
  RC=0
  env "${env[@]}" LANES_LLM_BASE_URL="${dead}" "${NIGHTLY}" \
    >"${TMP}/nightly5.out" 2>"${TMP}/nightly5.err" || RC=$?
  t "nightly.sh, no LLM server: exit 1, the mail has the health report" \
    eq "${RC} $(grep -cE '^  mine +FAILED +LLM server or model unusable' "${TMP}/nightly5.err")" "1 1"
  RC=0
  env "${env[@]}" LANES_LLM_BASE_URL="${dead}" LANES_OFFLINE=1 "${NIGHTLY}" \
    >"${TMP}/nightly6.out" 2>"${TMP}/nightly6.err" || RC=$?
  t "nightly.sh, LANES_OFFLINE=1: offline mode asked for, exit 0, nothing mailed" \
    eq "${RC} $(cat "${TMP}/nightly6.out" "${TMP}/nightly6.err")" "0 "
}

# Processes of session SID that are alive (zombies waiting for init to
# reap them are not).
session_alive() {
  ps -eo sid=,stat= | awk -v s="$1" '$1 == s && $2 !~ /^Z/' | wc -l
}

# Holds when no process of session SID is left, waiting up to 30 s for the
# last ones to end; lists them otherwise.
session_gone() {
  local i
  for ((i = 0; i < 600; i++)); do
    (($(session_alive "$1") == 0)) && return 0
    sleep 0.05
  done
  ps -eo pid,pgid,sid,stat,args | awk -v s="$1" '$3 == s'
  return 1
}

# SIGKILL to every process of session SID (ingest.sh, its guard, the
# step's process group), as a crash of the machine would end them.
kill_session() {
  local i
  for ((i = 0; i < 100; i++)); do
    pkill -KILL -s "$1" 2>/dev/null || true
    (($(session_alive "$1") == 0)) && return 0
    sleep 0.02
  done
}

# Chat answers the double has sent whole since its last reset.
chat_answers() {
  stats | jq '.answered["/api/chat"] // 0'
}

# Waits until the run PID is inside mine with N chat answers sent (or has
# ended).
wait_chats() {
  local pid="$1" n="$2" i
  for ((i = 0; i < 1500; i++)); do
    kill -0 "${pid}" 2>/dev/null || return 0
    (($(chat_requests) >= n)) && return 0
    sleep 0.02
  done
}

# Waits until FILE has a line matching the regex RE (up to 30 s).
wait_line() {
  local file="$1" re="$2" i
  for ((i = 0; i < 1500; i++)); do
    grep -qE "${re}" "${file}" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}

# Starts ingest.sh over the docs into DB, in a session of its own (so its
# processes can be listed), against the slow double; sets RUN_PID.
start_run() {
  local db="$1" name="$2"
  rm -f "${db}" "${db}-wal" "${db}-shm"
  double_config "{\"latency_ms\": ${SLOW_MS}, \"lanes\": 1}"
  double_reset
  # a background job of a script starts with SIGINT ignored (bash), which a
  # shell cannot undo: the run gets the default disposition, as on a terminal
  env --default-signal=INT setsid "${INGEST}" --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}" \
    >"${TMP}/${name}.out" 2>"${TMP}/${name}.err" &
  RUN_PID=$!
  GROUPS_STARTED+=("${RUN_PID}")
}

# The run RUN_PID has ended (after a signal to it); sets RC.
end_run() {
  RC=0
  wait "${RUN_PID}" || RC=$?
}

# After a stopped run: the db is whole, and a rerun at full speed completes
# it with each id once.
rerun_completes() {
  local db="$1" what="$2"
  double_idle
  double_config '{"latency_ms": 0, "lanes": 4}'
  t "${what}: the db passes integrity_check" eq "$(sqlite3 "${db}" 'PRAGMA integrity_check')" ok
  run_ingest rerun --db "${db}" --taxonomy "${TAXONOMY}" "${DOCS}"
  t "${what}: the rerun exits 0" eq "${RC}" 0
  check_complete "${db}" "${what}, rerun"
}

# SIGTERM to ingest.sh alone (as timeout(1) and cron's killers send it),
# during mine: the step's tools stop, the later steps do not start, the
# health report is printed, the exit status is 143, nothing of the run is
# left running, and a rerun completes.
term_ingest_only() {
  local db="${TMP}/term.db" sid
  start_run "${db}" term
  sid="${RUN_PID}"
  wait_chats "${RUN_PID}" 2
  kill -TERM "${RUN_PID}"
  end_run
  t "SIGTERM to ingest.sh alone: exit 143" eq "${RC}" 143
  t "SIGTERM to ingest.sh alone: no process of the run is left" \
    eq "$(session_alive "${sid}")" 0
  t "SIGTERM to ingest.sh alone: the health report is printed" \
    grep -q "health report for" "${TMP}/term.err"
  t "SIGTERM to ingest.sh alone: mine is reported stopped, with what it stored" \
    grep -qE "^  mine +stopped +interrupted by SIGTERM; read [0-9]+, ok [0-9]+, .*; stored [0-9]+ " "${TMP}/term.err"
  t "SIGTERM to ingest.sh alone: the later steps do not start" \
    grep -qE "^  embed +skipped +not started: TERM received" "${TMP}/term.err"
  t "SIGTERM to ingest.sh alone: the last line says so" \
    grep -qE "^ingest: interrupted by SIGTERM; the next run resumes" "${TMP}/term.err"
  rerun_completes "${db}" "after SIGTERM"
}

# SIGINT to ingest.sh's whole process group, as Ctrl-C on a terminal sends
# it: the step's tools (in a group of their own) get it once, from
# ingest.sh; exit 130.
int_group() {
  local db="${TMP}/int.db"
  start_run "${db}" int
  wait_chats "${RUN_PID}" 2
  kill -INT -- "-${RUN_PID}"
  end_run
  t "SIGINT to the process group (Ctrl-C): exit 130" eq "${RC}" 130
  t "SIGINT to the process group: no process of the run is left" \
    eq "$(session_alive "${RUN_PID}")" 0
  t "SIGINT to the process group: the tools got one signal (no 'second signal')" \
    bash -c "! grep -qE 'second signal(:| \\()' '${TMP}/int.err'"
  t "SIGINT to the process group: mine is reported stopped" \
    grep -qE "^  mine +stopped +interrupted by SIGINT" "${TMP}/int.err"
  rerun_completes "${db}" "after SIGINT"
}

# A second signal: ingest.sh passes it on and exits as soon as the step's
# tools are gone, without waiting for the answers in flight (the double
# holds them for a minute) and without the health report.
second_signal() {
  local db="${TMP}/second.db" pf="${TMP}/second.port" i
  start_llmd_on "${pf}" --lanes 4 --latency-ms 60000
  local stuck="${PIDS[-1]}"
  local url
  url="http://127.0.0.1:$(<"${pf}")"
  rm -f "${db}"
  LANES_LLM_BASE_URL="${url}" setsid "${INGEST}" --db "${db}" "${DOCS}" \
    >"${TMP}/second.out" 2>"${TMP}/second.err" &
  RUN_PID=$!
  GROUPS_STARTED+=("${RUN_PID}")
  for ((i = 0; i < 1500; i++)); do
    kill -0 "${RUN_PID}" 2>/dev/null || break
    (($("${CURL[@]}" "${url}/_double/stats" | jq .in_flight) >= 1)) && break
    sleep 0.02
  done
  kill -TERM "${RUN_PID}"
  wait_line "${TMP}/second.err" 'TERM received' || true
  sleep 0.3 # past the 0.25 s in which the same signal is the same request
  kill -TERM "${RUN_PID}"
  end_run
  local answered
  answered="$("${CURL[@]}" "${url}/_double/stats" | jq '.by_path["/api/chat"] // 0')"
  kill "${stuck}" 2>/dev/null || true
  t "a second signal: exit 143" eq "${RC}" 143
  t "a second signal: the run ends without waiting for the answers in flight" eq "${answered}" 0
  t "a second signal: it says so" grep -q 'second signal (TERM): stopping at once' "${TMP}/second.err"
  t "a second signal: no health report" bash -c "! grep -q 'health report' '${TMP}/second.err'"
  t "a second signal: no process of the run is left" eq "$(session_alive "${RUN_PID}")" 0
  rerun_completes "${db}" "after a second signal"
}

# SIGKILL to ingest.sh alone: its guard stops the step (SIGTERM), whose
# tools store what is in flight and end: nothing is left running.
kill_ingest_only() {
  local db="${TMP}/kill9.db"
  start_run "${db}" kill9
  wait_chats "${RUN_PID}" 2
  kill -KILL "${RUN_PID}"
  end_run
  t "SIGKILL to ingest.sh alone: the step's tools end too (no orphans)" \
    session_gone "${RUN_PID}"
  rerun_completes "${db}" "after SIGKILL of ingest.sh"
}

signals() {
  term_ingest_only
  int_group
  second_signal
  kill_ingest_only
}

main() {
  need_tools jq sqlite3 curl flock setsid
  if [[ ! -x "${LLMD}" ]]; then
    err "no ${LLMD}: run make ${LLMD#"${ROOT}"/}"
    echo "0 passed, 1 failed"
    return 1
  fi
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  mkdir -p "${TMP}/tmp" "${TMP}/cache"
  unset OLLAMA_HOST OPENAI_BASE_URL OPENAI_API_KEY LANES_TUNABLES LANES_STORE_DB
  export TMPDIR="${TMP}/tmp" XDG_CACHE_HOME="${TMP}/cache" LANES_BIN="${BIN}"
  export PATH="${BIN}:${PATH}"
  start_llmd_on "${TMP}/llmd.port"
  URL="http://127.0.0.1:$(<"${TMP}/llmd.port")"
  export LANES_LLM_BASE_URL="${URL}"
  EXPECTED="$("${BIN}/segment" "${DOCS}"/* 2>/dev/null | wc -l)"
  make_stub_bin
  make_big_docs

  full_run
  rerun
  request_log
  print_config
  tool_finder
  identity
  full_disk
  offline
  unsupported
  dry_run
  backup
  overlap
  failing_step
  edited_document
  signals
  local step
  for step in segment mine embed classify; do
    kill_during "${step}"
  done
  lint
  nightly
  summary
}

main "$@"
