#!/usr/bin/env bash
# Benchmark: embedding batching. The server (the LLM test double, llmd) has
# one lane and costs 20 ms per request plus 1 ms per input, like an Ollama
# embedding model: at batch B it can do B / (20 + B x 1) ms records/s. `embed`
# runs with its default tunables (default batch, adaptive concurrency) and
# then with --batch 1 (one record per request, everything else the same)
# over records from gen_records.py. Figures: records/s over the whole
# process, as a share of the server's limit at the batch used, the speed-up
# of batching, the inputs per request and peak queue the server saw.
# Target: default embed within 10% of the batched limit (>= 0.90).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib_llmd.sh
source "${BENCH_DIR}/lib_llmd.sh"

readonly BENCH_NAME="bench_batch"
readonly LANES=1
readonly LATENCY_MS=20
readonly PER_ITEM_MS=1
readonly MODEL="nomic-embed-text"
# Records per run: enough for about 4 s at the batched limit and 8 s one by one.
readonly RECORDS_BATCHED=2400
readonly RECORDS_SINGLE=400
readonly SHARE_TARGET=0.90
# Set by embed_run.
RUN_RATE=""
RUN_LIMIT=""
RUN_SHARE=""

# embed_run LABEL BATCH RECORDS [FLAGS...]: embeds RECORDS records with
# FLAGS, prints a table row (BATCH is the batch those flags give, for the
# server's limit); sets RUN_RATE, RUN_LIMIT and RUN_SHARE.
embed_run() {
  local label="$1" batch="$2" n="$3"
  shift 3
  local in="${BENCH_TMP}/in-${n}.ndjson" out="${BENCH_TMP}/out.ndjson"
  head -n "${n}" "${BENCH_TMP}/records.ndjson" >"${in}"
  llmd_reset
  run_timed "${in}" "${out}" env LANES_LLM_BASE_URL="${LLMD_URL}" "${LANES_BIN}/embed" \
    --model "${MODEL}" "$@" || return 1
  local embedded
  embedded="$(jq -c 'select(.embedding | length > 0)' "${out}" | wc -l)"
  if (( embedded != n )); then
    err "${label}: ${embedded} of ${n} records embedded"
    return 1
  fi
  local stats requests inputs peak_queue limit
  stats="$(llmd_stat '"\(.embed_requests) \(.embed_inputs) \(.peak_queue)"')"
  read -r requests inputs peak_queue <<<"${stats}"
  limit="$(grep -o 'final limit [0-9]*' "${BENCH_TMP}/stderr" | awk '{ print $NF }' || true)"
  RUN_RATE="$(calc "${n} / ${RUN_WALL}")"
  RUN_LIMIT="$(calc "${LANES} * ${batch} * 1000 / (${LATENCY_MS} + ${batch} * ${PER_ITEM_MS})")"
  RUN_SHARE="$(fmt 3 "$(calc "${RUN_RATE} / ${RUN_LIMIT}")")"
  printf '  %-16s %7s %8s %9s %6s %9s %10s %11s\n' "${label}" "${n}" "$(fmt 1 "${RUN_RATE}")" \
    "$(fmt 1 "${RUN_LIMIT}")" "${RUN_SHARE}" "$(fmt 1 "$(calc "${inputs} / ${requests}")")" \
    "${peak_queue}" "${limit:-?}"
}

main() {
  need_llmd
  need_lanes embed
  default_tunables_env
  llmd_tmp_init
  local batch
  batch="$(LANES_LLM_BASE_URL=http://127.0.0.1:1 "${LANES_BIN}/embed" --model "${MODEL}" \
    --print-config | awk '$1 == "batch:" { print $2; exit }')"
  if [[ ! "${batch}" =~ ^[0-9]+$ ]]; then
    err "cannot read embed's default batch from embed --print-config"
    return 1
  fi
  "${BENCH_DIR}/gen_records.py" records "${RECORDS_BATCHED}" >"${BENCH_TMP}/records.ndjson"
  llmd_start --lanes "${LANES}" --latency-ms "${LATENCY_MS}" --per-item-ms "${PER_ITEM_MS}" || return 1
  echo "server: llmd, ${LANES} lane, ${LATENCY_MS} ms per request + ${PER_ITEM_MS} ms per input;" \
    "limit at batch B = B / (${LATENCY_MS} + B x ${PER_ITEM_MS}) ms"
  echo "client: ${LANES_BIN}/embed, default tunables (batch ${batch}, adaptive concurrency)," \
    "then --batch 1; one run each; rate = records / whole-process wall time"
  echo
  printf '  %-16s %7s %8s %9s %6s %9s %10s %11s\n' run records "rec/s" "max rec/s" share \
    "inputs/req" "peak queue" "conc. limit"
  embed_run "default (${batch})" "${batch}" "${RECORDS_BATCHED}" || return 1
  local rate="${RUN_RATE}" share="${RUN_SHARE}"
  embed_run "--batch 1" 1 "${RECORDS_SINGLE}" --batch 1 || return 1
  local speedup
  speedup="$(fmt 1 "$(calc "${rate} / ${RUN_RATE}")")"
  echo
  echo "bench batch: default batch ${batch} $(fmt 1 "${rate}") records/s = ${share} of the batched limit;" \
    "${speedup}x the one-record-per-request rate ($(fmt 1 "${RUN_RATE}") records/s, ${RUN_SHARE} of its limit)"
  target "embed default batch, share of the batched limit" "${share}" ">=" "${SHARE_TARGET}" ""
}

main "$@"
