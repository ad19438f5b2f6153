#!/usr/bin/env bash
# probe.sh: measures your LLM server the way lanes will load it. Sample
# records go through the lanes client itself (mine, or embed) with a fixed
# number of requests in flight, 1, 2, 4, 8, ...; each level gets a row of
# rate, spread, p50/p95 latency, refusals, invalid answers and retries,
# then the plateau (the fewest requests in flight that reach 90% of the
# best rate of the levels the server did not refuse), how sure it is, and
# the settings to put in tunables.yaml. With gnuplot, also a PNG plot.
# See lanes(7).
#
# A level lasts --seconds, in PARTS runs of whole rounds sized from the
# rate seen so far (a slow server gets as much time as a fast one, not a
# fixed handful of records); the range of the parts' rates over the
# level's is its spread, and the spreads of the levels that decide the
# plateau make the verdict: "confidence: sure: ..." or "confidence:
# unsure: ..." with a longer --seconds to rerun with.
#
# A failed record is the server's doing (refused: 429, 5xx, a timeout, a
# dropped connection: a load the server does not take) or the model's (its
# answers failed the schema: invalid_answer, bad_answer, truncated_answer,
# whatever the load). Only refusals stop the climb; invalid answers are
# counted apart, and served (answered) records make the rate.
#
# Latency is read from the outside: the tool writes each record as soon as
# it is done (--unordered), and with N requests in flight, each sent as the
# one before it in its worker ends, the answer k started when answer k-N
# came back. That is exact for a server that serves in arrival order
# (Ollama, llama.cpp, the test double) and close for the others.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly PROG="probe"
# a level is on the plateau when its rate reaches this share of the best
readonly PLATEAU_SHARE=0.9
# levels above the best that may fail to improve it before probing stops
readonly PATIENCE=2
# each level is measured in this many parts (separate runs), whose rates
# say how stable the level's rate is; a level whose parts took less than
# two thirds of --seconds gets more, up to MAX_PARTS
readonly PARTS=3
readonly MAX_PARTS=6
# the most requests one part sends (a fast server reaches --seconds first)
readonly MAX_PART_REQUESTS=2000
# sure: the deciding levels' parts agree within this share of their rate
readonly SURE_SPREAD=0.20
# shellcheck source=pipelines/lib.sh
source "${SCRIPT_DIR}/lib.sh"

TOOL="mine"
INPUT=""
URL=""
MODEL=""
BATCH=""
MAX_LEVEL=64
ROUNDS=2
LEVEL_SECONDS=20
PLOT=""
NO_PLOT=0
WORK=""
PLATEAU=0
# records/s of the warm-up request: the first guess at a part's size
WARM_RATE=0
SERVER=""
MODEL_SHOWN=""
declare -a SAMPLE=()
# results by level: rate (served records/s), spread (max - min of its parts'
# rates over its rate; -1 with one part), p50, p95, refused, invalid,
# retries, records; the codes of the failures; the parts' rates as shown
# ("2.1, 1.9, 2.0")
declare -A RATE=() SPREAD=() P50=() P95=() REFUSED=() INVALID=() RETRIES=() COUNT=() CODES=()
declare -A PART_RATES=()
# error codes of answers that failed the schema (the model's, not the load's)
# the start of a record's "text" string member, as an ERE
readonly TEXT_MEMBER='"text"[[:space:]]*:[[:space:]]*"'
readonly ANSWER_CODES="invalid_answer bad_answer truncated_answer"

usage() {
  cat <<USAGE
Usage: probe.sh [options]
Sends sample records through the lanes client (mine or embed) with 1, 2,
4, 8, ... requests in flight, and prints for each level the rate, the
spread of its parts' rates, the p50/p95 latency, the records the server
refused (429, 5xx, timeouts, drops: the climb stops there), the answers
that failed the schema (the model's doing, not the load's) and the
retries; then the plateau, how sure it is, and the settings to put in
tunables.yaml. Uses the server and model of the tunables unless told
otherwise.

Each level is measured in ${PARTS} parts (up to ${MAX_PARTS} when they took less than
two thirds of --seconds), each of whole rounds (a round: as many requests as are in
flight), sized from the rate seen so far so that together they last
--seconds; a part has at least --rounds rounds and at most ${MAX_PART_REQUESTS} requests.

Options:
  --tool mine|embed  the client to measure (default: mine)
  --input FILE       NDJSON records with a "text" string, e.g. {"id": "a", "text": "..."}
                     or store dump's (default: a built-in sample); earlier
                     results in them are redone
  --url URL          the server (default: llm.base_url, OLLAMA_HOST, OPENAI_BASE_URL)
  --model NAME       the model (default: the tool's)
  --batch N          embed: texts per request (default: embed.batch)
  --tunables FILE    settings (default: \$LANES_TUNABLES, else the tools' default
                     file; see tunables(5))
  --max N            the highest number of requests in flight (default: ${MAX_LEVEL})
  --seconds N        the time each level is measured for, at least (default: ${LEVEL_SECONDS})
  --rounds N         whole rounds in each part of a level, at least (default: ${ROUNDS})
  --plot FILE        the PNG plot (default: probe-TOOL.png; needs gnuplot)
  --no-plot          no plot
  -h, --help         this help
The line after the plateau starts "confidence: sure: " when the parts of
the levels that decide it agree within $(awk -v s="${SURE_SPREAD}" 'BEGIN { print s * 100 }')% and its rates are clear of
the 90% mark by more than that, else "confidence: unsure: " with the
reason and a longer --seconds to rerun with.
Exit status: 0 measured (sure or not); 2 usage error; 3 the server or
model is unusable.
USAGE
}

parse_args() {
  while (($#)); do
    case "$1" in
      --tool) TOOL="${2:?--tool needs mine or embed}"; shift 2 ;;
      --input) INPUT="${2:?--input needs a file}"; shift 2 ;;
      --url) URL="${2:?--url needs a URL}"; shift 2 ;;
      --model) MODEL="${2:?--model needs a name}"; shift 2 ;;
      --batch) BATCH="${2:?--batch needs a number}"; shift 2 ;;
      --tunables) export LANES_TUNABLES="${2:?--tunables needs a file}"; shift 2 ;;
      --max) MAX_LEVEL="${2:?--max needs a number}"; shift 2 ;;
      --seconds) LEVEL_SECONDS="${2:?--seconds needs a number}"; shift 2 ;;
      --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
      --per-level) err "--per-level is gone: each level lasts --seconds, in parts of at least --rounds rounds"; exit 2 ;;
      --plot) PLOT="${2:?--plot needs a file}"; shift 2 ;;
      --no-plot) NO_PLOT=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) err "unknown argument '$1' (try --help)"; exit 2 ;;
    esac
  done
  case "${TOOL}" in
    mine | embed) ;;
    *) err "--tool: '${TOOL}' is neither mine nor embed"; exit 2 ;;
  esac
  local n
  for n in "${MAX_LEVEL}" "${LEVEL_SECONDS}" "${ROUNDS}" "${BATCH:-1}"; do
    if [[ ! "${n}" =~ ^[1-9][0-9]*$ ]]; then
      err "'${n}' is not a positive whole number"
      exit 2
    fi
  done
  if [[ -n "${INPUT}" && ! -r "${INPUT}" ]]; then
    err "cannot read ${INPUT}"
    exit 2
  fi
  PLOT="${PLOT:-probe-${TOOL}.png}"
}

# The measured tool with ARGS, called by its name (tests/lint-pipelines
# checks that it exists).
run_tool() {
  case "${TOOL}" in
    mine) mine "$@" ;;
    embed) embed "$@" ;;
  esac
}

# The built-in sample: short passages like those segment makes.
builtin_sample() {
  cat <<'SAMPLE'
The night shift reported that the conveyor on line 3 stopped twice after midnight; maintenance replaced a worn belt and the line ran normally from 4 a.m.
Ben said the vectors of the batch run did not match the serial run last month, because the server returned the batch in another order.
Our supplier in Lyon confirmed the delivery of 40 pallets for Friday, but asked for the purchase order number before loading the truck.
The survey covered 1,200 households in three districts; two thirds of them said they would pay more for a reliable water supply.
A registered nurse with ICU experience is needed for night shifts from March; the post includes a relocation allowance.
The committee recommends that the city repair the bridge before the winter instead of waiting for the new budget, as the cracks are widening.
Interest rates will probably stay where they are until the autumn, the economist said, unless inflation rises again in the summer.
The data team moved the nightly job to 02:17 so that it no longer overlaps with the backups, which had slowed both down.
In the interview she explained that the first prototype was built from spare parts in a garage, and that the second one took two years.
The report defines churn as the share of customers who cancel within a month, and notes that it doubled after the price change.
Maria leads the warehouse team and Kofi handles the contracts with the carriers; both report to the operations director.
The model treats every request as independent, so the client has to resend the context each time; long prompts therefore cost more.
SAMPLE
}

# Fills SAMPLE with one NDJSON record per line, from --input or built in.
# Each must have a "text" string member (with or without blanks around its
# colon, as jq and Python write it), which make_records marks.
load_sample() {
  if [[ -n "${INPUT}" ]]; then
    local bad
    bad="$(awk -v re="${TEXT_MEMBER}" 'NF && $0 !~ re { print NR ": " substr($0, 1, 60); exit }' "${INPUT}")"
    if [[ -n "${bad}" ]]; then
      err "${INPUT}:${bad}: no \"text\" string member (probe.sh sends the records' text)"
      exit 2
    fi
    mapfile -t SAMPLE < <(grep -v '^[[:space:]]*$' "${INPUT}")
  else
    local line
    while IFS= read -r line; do
      SAMPLE+=("{\"text\":\"${line}\"}")
    done < <(builtin_sample)
  fi
  if ((${#SAMPLE[@]} == 0)); then
    err "no records in ${INPUT}"
    exit 2
  fi
}

# Writes COUNT records for level LEVEL, tagged TAG (the part): the sample
# round and round, each text made its own (so that no answer can come from
# a cache).
make_records() {
  local level="$1" count="$2" tag="$3"
  printf '%s\n' "${SAMPLE[@]}" | awk -v level="${level}" -v count="${count}" -v tag="${tag}" \
    -v re="${TEXT_MEMBER}" '
    { rec[n++] = $0 }
    END {
      for (k = 0; k < count; k++) {
        r = rec[k % n]
        match(r, re)
        e = RSTART + RLENGTH
        print substr(r, 1, e - 1) "[probe " level "." tag "." k "] " substr(r, e)
      }
    }'
}

# Prints "rate served" for one part from the completion times of its
# records ("TIME CODE" lines, CODE "." for a record done, else its error
# code) and appends the latency of each answer (ms) to LATS: UNITS
# records make one request, LEVEL in flight, the part started at START.
# The rate counts the records the server served (done, or answered
# against the schema). The latency of answer k is the time since answer
# k-LEVEL, when its request was sent. With 2 rounds or more and nothing
# refused, the rate is LEVEL over the mean latency of the answers after
# the first round (Little's law: every one of them was sent with LEVEL in
# flight, as in a long run; the first round was sent at once, into an
# empty server); the last round's drain does not bias it, as it would the
# records over the time. Else the served records over the part's time,
# and the first round's latencies are the times since the start.
part_figures() {
  local times="$1" start="$2" level="$3" units="$4" lats="$5"
  awk -v start="${start}" -v n_in="${level}" -v b="${units}" -v answer="${ANSWER_CODES}" \
    -v lats="${lats}" '
    BEGIN { split(answer, a, " "); for (i in a) model[a[i]] = 1 }
    { if (++all % b == 0) t[++n] = $1 }
    $2 == "." || ($2 in model) { served++ }
    END {
      if (n == 0) { print "0 0"; exit }
      for (k = n_in + 1; k <= n; k++) {
        sum += t[k] - t[k - n_in]
        printf "%.0f\n", (t[k] - t[k - n_in]) * 1000 >> lats
      }
      if (served == all && n >= 2 * n_in && sum > 0)
        rate = n_in * (n - n_in) * b / sum
      else if (t[n] > start)
        rate = served / (t[n] - start)
      if (n <= n_in) for (k = 1; k <= n; k++) printf "%.0f\n", (t[k] - start) * 1000 >> lats
      printf "%.6g %d\n", rate + 0, served
    }' "${times}"
}

# Prints "rate spread" of a level from its parts ("RATE SERVED" lines):
# the served records over the time they would take at their parts' rates,
# and (max - min) of the parts' rates over it (-1 with one part).
level_rate() {
  awk '
    { n++; if ($1 > 0) { s += $2; w += $2 / $1 }
      if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
    END {
      rate = w > 0 ? s / w : 0
      spread = (n > 1 && rate > 0) ? (hi - lo) / rate : -1
      printf "%.6g %.6g\n", rate, spread
    }' "$1"
}

# Prints "p50 p95" of the latencies (ms, one a line) in FILE.
percentiles() {
  sort -n "$1" | awk '
    { v[++c] = $1 }
    END {
      if (c == 0) { print "0 0"; exit }
      printf "%.0f %.0f\n", v[int(c * 0.50 + 0.999999)], v[int(c * 0.95 + 0.999999)]
    }'
}

# Prints "REFUSED INVALID CODES" for the "TIME CODE" lines of a level: the
# records the server refused or failed, those whose answers failed the
# schema, and the codes of both with their counts ("http_503 x3, ...";
# "-" for none).
failures() {
  awk -v answer="${ANSWER_CODES}" '
    BEGIN { split(answer, a, " "); for (i in a) model[a[i]] = 1 }
    $2 == "." { next }
    { if ($2 in model) inv++; else ref++; if (!($2 in n)) order[++k] = $2; n[$2]++ }
    END {
      codes = ""
      for (i = 1; i <= k; i++) codes = codes (i > 1 ? ", " : "") order[i] " x" n[order[i]]
      printf "%d %d %s\n", ref, inv, (k ? codes : "-")
    }' "$1"
}

# A rate for people: one decimal, or two significant digits below 1/s
# (0.34/s, 0.034/s; not 0.3/s, 0.0/s).
rate_shown() {
  awk -v r="$1" 'BEGIN {
    d = 1
    if (r > 0 && r < 1) {
      x = log(r) / log(10)
      f = int(x)
      if (f > x) f--
      d = 1 - f
    }
    printf("%." d "f\n", r)
  }'
}

# The records one request carries: embed's batch, mine's one.
units() {
  if [[ "${TOOL}" == embed ]]; then
    printf '%s\n' "${BATCH}"
  else
    printf '1\n'
  fi
}

# Runs the tool once with LEVEL requests in flight and REQS requests in
# DIR (in.ndjson, times, log); exits as the tool does when it cannot run.
# Prints the seconds it took.
run_part() {
  local level="$1" reqs="$2" dir="$3" units
  units="$(units)"
  mkdir -p "${dir}"
  make_records "${level}" "$((reqs * units))" "${dir##*/}" >"${dir}/in.ndjson"
  # --force: results the input records carry are redone
  local -a flags=(--workers "${level}" --unordered --progress never --force
    --summary-json "${dir}/summary.json")
  if [[ -n "${URL}" ]]; then
    flags+=(--url "${URL}")
  fi
  if [[ -n "${MODEL}" ]]; then
    flags+=(--model "${MODEL}")
  fi
  if [[ "${TOOL}" == embed ]]; then
    flags+=(--batch "${BATCH}")
  fi
  local start
  start="${EPOCHREALTIME}"
  printf '%s\n' "${start}" >"${dir}/start"
  local -a rc
  set +e
  # each record as it comes out: its time, and "." or the code of its
  # failure (errors.TOOL.code)
  LANES_LLM_CONCURRENCY="${level}" LANES_LOG_TIME=0 \
    run_tool "${flags[@]}" <"${dir}/in.ndjson" 2>"${dir}/log" |
    sed -u -E "s/.*\"${TOOL}\":\\{\"code\":\"([A-Za-z0-9_]+)\".*/\\1/; t; s/.*/./" |
    while IFS= read -r code; do printf '%s %s\n' "${EPOCHREALTIME}" "${code}"; done >"${dir}/times"
  rc=("${PIPESTATUS[@]}")
  set -e
  if [[ "${rc[0]}" == 3 || "${rc[0]}" == 2 ]]; then
    sed "s/^/${PROG}: /" "${dir}/log" >&2
    err "${TOOL} cannot run (exit ${rc[0]}); nothing measured"
    exit "${rc[0]}"
  fi
  if [[ "${rc[1]}" != 0 || "${rc[2]}" != 0 ]]; then
    err "reading the output of ${TOOL} failed"
    exit 1
  fi
  awk -v a="${start}" -v b="${EPOCHREALTIME}" 'BEGIN { printf "%.3f\n", b - a }'
}

# One request, not measured: a server that loads its model on the first
# request (Ollama) does it here; its time gives the first part's size.
warm_up() {
  local dir="${WORK}/warm-up" secs units
  units="$(units)"
  secs="$(run_part 1 1 "${dir}")"
  WARM_RATE="$(awk -v u="${units}" -v s="${secs}" 'BEGIN { print (s > 0 ? u / s : 1) }')"
  log "warm-up: 1 request in ${secs} s (not counted)"
}

# Prints a guess at the rate of LEVEL (records/s) before any of its parts:
# that of the highest level below it the server did not refuse, else the
# warm-up's.
rate_guess() {
  local level="$1" l guess="${WARM_RATE}"
  for l in $(levels); do
    ((l < level)) || break
    if ((REFUSED[${l}] == 0)); then
      guess="${RATE[${l}]}"
    fi
  done
  printf '%s\n' "${guess}"
}

# Prints the requests of the next part of LEVEL: whole rounds, enough at
# RATE (records/s) to last an equal share of the LEFT seconds among the
# PARTS_LEFT parts, at least ROUNDS rounds, at most MAX_PART_REQUESTS (in
# rounds, unless ROUNDS rounds are more).
part_requests() {
  local level="$1" rate="$2" left="$3" parts_left="$4" units="$5"
  awk -v l="${level}" -v r="${rate}" -v left="${left}" -v p="${parts_left}" -v u="${units}" \
    -v min="${ROUNDS}" -v cap="${MAX_PART_REQUESTS}" 'BEGIN {
      want = left > 0 ? left / p : 0
      rounds = r / u * want / l
      rounds = rounds == int(rounds) ? rounds : int(rounds) + 1
      most = int(cap / l)
      if (rounds > most) rounds = most
      if (rounds < min) rounds = min
      print rounds * l
    }'
}

# Measures LEVEL requests in flight in parts (see usage); fills the result
# arrays. A part with refused records ends the level: the climb stops there.
measure() {
  local level="$1"
  if [[ -n "${RATE[${level}]:-}" ]]; then
    return 0
  fi
  local units
  units="$(units)"
  local dir="${WORK}/level-${level}"
  mkdir -p "${dir}"
  : >"${dir}/times"
  : >"${dir}/lats"
  : >"${dir}/parts"
  local part=0 elapsed=0 guess reqs secs count=0 retries=0 r
  guess="$(rate_guess "${level}")"
  # more parts only when the guess was far off: one a little short of the
  # time would be a part of a round or two, noisier than the others
  while ((part < PARTS)) || { ((part < MAX_PARTS)) &&
    ! ge "${elapsed}" "$(awk -v t="${LEVEL_SECONDS}" 'BEGIN { print t * 2 / 3 }')"; }; do
    part=$((part + 1))
    reqs="$(part_requests "${level}" "${guess}" \
      "$(awk -v t="${LEVEL_SECONDS}" -v e="${elapsed}" 'BEGIN { print t - e }')" \
      "$((part > PARTS ? 1 : PARTS - part + 1))" "${units}")"
    secs="$(run_part "${level}" "${reqs}" "${dir}/part-${part}")"
    count=$((count + reqs * units))
    elapsed="$(awk -v a="${elapsed}" -v b="${secs}" 'BEGIN { print a + b }')"
    part_figures "${dir}/part-${part}/times" "$(cat "${dir}/part-${part}/start")" "${level}" \
      "${units}" "${dir}/lats" >>"${dir}/parts"
    cat "${dir}/part-${part}/times" >>"${dir}/times"
    r="$(sed -n 's/.* llm: [0-9]* requests, \([0-9]*\) retries.*/\1/p' "${dir}/part-${part}/log" |
      head -n 1)"
    retries=$((retries + ${r:-0}))
    read -r guess _ <<<"$(level_rate "${dir}/parts")"
    if [[ "$(failures "${dir}/part-${part}/times")" != "0 "* ]]; then
      break
    fi
  done
  read -r RATE["${level}"] SPREAD["${level}"] <<<"$(level_rate "${dir}/parts")"
  read -r P50["${level}"] P95["${level}"] <<<"$(percentiles "${dir}/lats")"
  read -r REFUSED["${level}"] INVALID["${level}"] CODES["${level}"] <<<"$(failures "${dir}/times")"
  COUNT["${level}"]="${count}"
  RETRIES["${level}"]="${retries}"
  local shown=""
  while read -r r _; do
    shown+="${shown:+, }$(rate_shown "${r}")"
  done <"${dir}/parts"
  PART_RATES["${level}"]="${shown}"
  log "${level} in flight: ${count} records in ${part} parts, $(printf '%.1f' "${elapsed}") s:" \
    "$(rate_shown "${RATE[${level}]}")/s (parts ${PART_RATES[${level}]}: spread $(spread_shown "${SPREAD[${level}]}"))," \
    "p50 ${P50[${level}]} ms, p95 ${P95[${level}]} ms, ${REFUSED[${level}]} refused," \
    "${INVALID[${level}]} invalid (answers against the schema), ${RETRIES[${level}]} retries"
}

# A spread for people: a whole percentage, "-" for none (one part).
spread_shown() {
  awk -v s="$1" 'BEGIN { if (s < 0) print "-"; else printf "%.0f%%\n", s * 100 }'
}

# a >= b for decimal numbers
ge() {
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# The best rate of the levels the server did not refuse.
best_rate() {
  local l best=0
  for l in "${!RATE[@]}"; do
    ((REFUSED[${l}] == 0)) || continue
    if ge "${RATE[${l}]}" "${best}"; then
      best="${RATE[${l}]}"
    fi
  done
  printf '%s\n' "${best}"
}

# The levels measured, in order.
levels() {
  printf '%s\n' "${!RATE[@]}" | sort -n
}

# Doubles the requests in flight until the rate stops growing (PATIENCE
# levels without a better rate), the server refuses records, or MAX_LEVEL.
# Answers that fail the schema do not stop it: the model gives them at any
# load.
climb() {
  local level=1 best=0 since=0
  while ((level <= MAX_LEVEL)); do
    measure "${level}"
    if ! ge "${best}" "$(awk -v r="${RATE[${level}]}" 'BEGIN { print r / 1.1 }')"; then
      best="${RATE[${level}]}"
      since=0
    else
      since=$((since + 1))
    fi
    if ((REFUSED[${level}] > 0)); then
      log "the server refused or failed ${REFUSED[${level}]} records at ${level} in flight" \
        "(${CODES[${level}]}): not going higher"
      break
    fi
    if ((since >= PATIENCE)); then
      break
    fi
    level=$((level * 2))
  done
}

# Sets PLATEAU: the fewest requests in flight whose rate reaches
# PLATEAU_SHARE of the best; between two measured levels, found by bisection.
find_plateau() {
  local best target l lo=0 hi=0
  best="$(best_rate)"
  target="$(awk -v b="${best}" -v s="${PLATEAU_SHARE}" 'BEGIN { print b * s }')"
  for l in $(levels); do
    if ((REFUSED[${l}] == 0)) && ge "${RATE[${l}]}" "${target}"; then
      hi="${l}"
      break
    fi
    lo="${l}"
  done
  if ((hi == 0)); then
    # refused from 1 in flight on: nothing better to say
    PLATEAU=1
    return 0
  fi
  while ((hi - lo > 1)); do
    local mid=$(((lo + hi) / 2))
    measure "${mid}"
    if ((REFUSED[${mid}] == 0)) && ge "${RATE[${mid}]}" "${target}"; then
      hi="${mid}"
    else
      lo="${mid}"
    fi
  done
  PLATEAU="${hi}"
}

# Prints the confidence line of plateau P (see usage). The levels that
# decide it: P, the highest one measured below it (it missed the mark) and
# the best one (it sets the mark). Sure when their parts agree within
# SURE_SPREAD of their rates, and P's rate is above the mark, the one
# below under it, each by more than the noise: half the level's spread
# and half the best's. Else unsure, with the reason and a --seconds to
# rerun with (a spread shrinks as the square root of the time).
print_confidence() {
  local p="$1" best at="" below="" l
  best="$(best_rate)"
  for l in $(levels); do
    if ((REFUSED[${l}] == 0)) && [[ "${RATE[${l}]}" == "${best}" ]]; then
      at="${l}"
    fi
    if ((l < p)) && ((REFUSED[${l}] == 0)); then
      below="${l}"
    fi
  done
  if [[ -z "${at}" ]]; then
    printf 'confidence: unsure: the server refused or failed records from 1 request in flight on\n'
    return 0
  fi
  # "LEVEL RATE SPREAD" of the deciding levels, the best first
  {
    printf '%s %s %s\n' "${at}" "${RATE[${at}]}" "${SPREAD[${at}]}"
    printf '%s %s %s\n' "${p}" "${RATE[${p}]}" "${SPREAD[${p}]}"
    if [[ -n "${below}" ]]; then
      printf '%s %s %s\n' "${below}" "${RATE[${below}]}" "${SPREAD[${below}]}"
    fi
  } | awk -v mark="${PLATEAU_SHARE}" -v sure="${SURE_SPREAD}" -v secs="${LEVEL_SECONDS}" '
    function pct(x) { return sprintf("%.0f%%", x * 100) }
    NR == 1 { best = $2 }
    {
      lv[NR] = $1; share[NR] = $2 / best; sp[NR] = ($3 < 0 ? 0 : $3)
      if (worst == "" || sp[NR] > sp[worst]) worst = NR
      if ($3 < 0) single = single (single ? ", " : "") $1
    }
    END {
      n = NR
      if (single != "") {
        printf "confidence: unsure: %s in flight measured in one part only (refusals ended it); rerun with --seconds %d\n", single, secs * 2
        exit
      }
      if (sp[worst] > sure) {
        f = (sp[worst] / (0.8 * sure)) ^ 2
        if (f < 2) f = 2
        t = int(secs * f / 10 + 0.999) * 10
        printf "confidence: unsure: spread %s at %d in flight (sure needs at most %s); rerun with --seconds %d\n", \
          pct(sp[worst]), lv[worst], pct(sure), t
        exit
      }
      # the plateau above the mark, the level below it under the mark
      for (i = 2; i <= n; i++) {
        # the best level is above the mark by definition
        if (lv[i] == lv[1]) continue
        noise = (sp[i] + sp[1]) / 2
        margin = (i == 2 ? share[i] - mark : mark - share[i])
        if (margin <= noise) {
          printf "confidence: unsure: %d in flight reaches %s of the best rate, within the spread (%s) of the %s mark; rerun with --seconds %d\n", \
            lv[i], pct(share[i]), pct(noise), pct(mark), secs * 4
          exit
        }
      }
      printf "confidence: sure: spread within levels at most %s (sure at most %s); %d in flight reaches %s of the best rate (%d in flight)", \
        pct(sp[worst]), pct(sure), lv[2], pct(share[2]), lv[1]
      if (n == 3) printf ", %d in flight %s (the mark: %s)", lv[3], pct(share[3]), pct(mark)
      printf "\n"
    }'
}

print_table() {
  printf '%9s %8s %8s %8s %8s %8s %8s %8s %8s\n' in_flight records rate/s spread p50_ms p95_ms \
    refused invalid retries
  local l
  for l in $(levels); do
    printf '%9d %8d %8s %8s %8.0f %8.0f %8d %8d %8d\n' "${l}" "${COUNT[${l}]}" \
      "$(rate_shown "${RATE[${l}]}")" "$(spread_shown "${SPREAD[${l}]}")" "${P50[${l}]}" \
      "${P95[${l}]}" "${REFUSED[${l}]}" "${INVALID[${l}]}" "${RETRIES[${l}]}"
  done
}

# The plateau and the settings for it; what the server refused and the
# answers that failed the schema, each for what it is.
print_advice() {
  local p="$1" best
  best="$(best_rate)"
  local l at="" refused_at="" retried_at="" invalid=0 records=0 codes
  for l in $(levels); do
    if ((RETRIES[${l}] > 0)) && [[ -z "${retried_at}" ]]; then
      retried_at="${l}"
    fi
    if ((REFUSED[${l}] == 0)) && [[ "${RATE[${l}]}" == "${best}" ]]; then
      at="${l}"
    fi
    if ((REFUSED[${l}] > 0)) && [[ -z "${refused_at}" ]]; then
      refused_at="${l}"
    fi
    invalid=$((invalid + INVALID[${l}]))
    records=$((records + COUNT[${l}]))
  done
  if [[ -z "${at}" ]]; then
    printf '\nno plateau: the server refused or failed records from 1 request in flight on (%s)\n' \
      "${CODES[${refused_at}]}"
  else
    printf '\nplateau: %s requests in flight: %s records/s, at least %s%% of the best rate (%s/s at %s)\n' \
      "${p}" "$(rate_shown "${RATE[${p}]}")" "$(awk -v s="${PLATEAU_SHARE}" 'BEGIN { print s * 100 }')" \
      "$(rate_shown "${best}")" "${at}"
  fi
  print_confidence "${p}"
  if [[ -n "${refused_at}" ]]; then
    printf '# the server refused or failed records at %s in flight (%s):\n' \
      "${refused_at}" "${CODES[${refused_at}]}"
    printf '# a load it does not take; the plateau is below it\n'
  fi
  if [[ -n "${retried_at}" ]]; then
    printf '# the server turned requests away from %s in flight on (%s retries there)\n' \
      "${retried_at}" "${RETRIES[${retried_at}]}"
  fi
  if ((invalid > 0)); then
    codes="$(for l in $(levels); do printf '%s\n' "${CODES[${l}]}"; done | tr ',' '\n' |
      grep -oE 'invalid_answer|bad_answer|truncated_answer' | sort -u | paste -sd, - | sed 's/,/, /g')"
    printf '# %s of %s records failed with answers against the schema (%s):\n# the model or the prompt,' \
      "${invalid}" "${records}" "${codes}"
    printf ' not the server or the load (they come at every level; see %s(1));\n' "${TOOL}"
    printf '# the rates count them as served\n'
  fi
  printf '# for tunables.yaml: more in flight only adds latency; several tools\n'
  printf '# on one server share it (split the workers among them)\n'
  printf 'llm:\n  max_concurrency: %s\n%s:\n  workers: %s\n' "${p}" "${TOOL}" "${p}"
}

plot() {
  if ((NO_PLOT)); then
    return 0
  fi
  if ! command -v gnuplot >/dev/null 2>&1; then
    log "no gnuplot: no plot (Debian: apt-get install gnuplot-nox)"
    return 0
  fi
  local data="${WORK}/plot.dat" l
  for l in $(levels); do
    printf '%s %s %s %s\n' "${l}" "${RATE[${l}]}" "${P50[${l}]}" "${P95[${l}]}"
  done >"${data}"
  if gnuplot <<GNUPLOT 2>"${WORK}/gnuplot.err"; then
set terminal png size 800,500
set output "${PLOT}"
set title "${TOOL}, ${MODEL_SHOWN} on ${SERVER}"
set logscale x 2
set xlabel "requests in flight"
set ylabel "records/s"
set y2label "latency (ms)"
set ytics nomirror
set y2tics
set key left top
plot "${data}" using 1:2 with linespoints title "rate", \
     "${data}" using 1:3 axes x1y2 with linespoints title "p50", \
     "${data}" using 1:4 axes x1y2 with linespoints title "p95"
GNUPLOT
    log "plot: ${PLOT}"
  else
    err "gnuplot failed: $(head -n 3 "${WORK}/gnuplot.err")"
  fi
}

main() {
  # times and rates with a decimal point whatever the locale
  export LC_ALL=C
  parse_args "$@"
  find_tools "${TOOL}" || exit 2
  if [[ "${TOOL}" == embed && -z "${BATCH}" ]]; then
    BATCH="$(embed --print-config | config_value embed batch)"
  fi
  load_sample
  local conf
  conf="$(run_tool --print-config)"
  SERVER="${URL:-$(config_value llm base_url <<<"${conf}")}"
  MODEL_SHOWN="${MODEL:-$(config_value "${TOOL}" model <<<"${conf}")}"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/lanes-probe.XXXXXX")"
  trap 'rm -rf "${WORK}"' EXIT
  log "probing ${TOOL} with ${MODEL_SHOWN} on ${SERVER} at 1, 2, 4, ... requests in flight" \
    "(at most ${MAX_LEVEL})"
  warm_up
  climb
  find_plateau
  print_table
  print_advice "${PLATEAU}"
  plot
}

main "$@"
