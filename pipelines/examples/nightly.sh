#!/usr/bin/env bash
# nightly.sh: the nightly lanes job, as cron runs it (see the crontab beside
# it and lanes(7)). It fetches the documents that are new since the last
# run, moves what arrived into the document tree $LANES_HOME/docs, ingests
# the new documents (segment, then mine, embed and classify whatever the
# store has pending, new or left over from a failed night), and keeps a
# dated snapshot of the store. Document ids are paths relative to the
# document tree, so a document that arrives again (edited) replaces its
# earlier version, in the tree and in the store; a fetched document is kept
# under its URL's host and path, so two with one file name both stay.
# Quiet when all is well: everything goes to a dated log under
# $LANES_HOME/log; when a step fails, the end of that log goes to stderr,
# which cron mails. One run at a time: a run that finds the previous one
# still going says so in the log and exits 0.
#
# Settings (environment, e.g. in the crontab):
#   LANES_HOME       the job's directory: store, inbox, docs, snapshots, log
#                    (default /var/lib/lanes)
#   LANES_DB         the store (default $LANES_HOME/lanes.db)
#   LANES_FETCH_URL  a list of document URLs, one per line, to download into
#                    the inbox; "{since}" in it is replaced by the UTC time of
#                    the last successful fetch (empty the first time);
#                    unset: documents are dropped into the inbox by others
#                    (subdirectories are kept)
#   LANES_TAXONOMY   the taxonomy to classify onto (default: classify.taxonomy
#                    of the tunables)
#   LANES_KEEP_DAYS  days that snapshots and logs are kept (default 14)
#   LANES_OFFLINE    1: offline mode (ingest.sh --offline: hash vectors, no
#                    mining); auto: only when the LLM server cannot be used;
#                    unset: a night without a usable server fails (and mails)
#   LANES_TUNABLES, LANES_BIN, OLLAMA_HOST, ...: as for every lanes tool
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly PROG="nightly"
# ingest.sh and lib.sh: pipelines/ in a checkout, share/lanes/ installed
readonly PIPELINES="${SCRIPT_DIR}/.."
readonly HOME_DIR="${LANES_HOME:-/var/lib/lanes}"
readonly DB="${LANES_DB:-${HOME_DIR}/lanes.db}"
readonly INBOX="${HOME_DIR}/inbox"
readonly DOCS="${HOME_DIR}/docs"
readonly FETCH_URL="${LANES_FETCH_URL:-}"
readonly TAXONOMY="${LANES_TAXONOMY:-}"
readonly KEEP_DAYS="${LANES_KEEP_DAYS:-14}"
readonly OFFLINE="${LANES_OFFLINE:-}"
# lines of the log mailed when the run fails (the health report fits)
readonly MAIL_LINES=40
# shellcheck source=pipelines/lib.sh
source "${PIPELINES}/lib.sh"

STAMP=""
LOG=""
declare -a NEW_DOCS=()

# The steps below run in "|| rc=1" lists, where set -e does not apply: each
# checks its commands itself.

# The path under the inbox of a fetched URL: its host and path, so that two
# documents with one file name from two places both stay, and a document
# fetched again replaces its earlier version. A query is kept in the name
# (before the extension); characters other than A-Z a-z 0-9 . _ - become
# _, and no part is empty, ".", ".." or hidden.
url_path() {
  local rest="${1#*://}" query=""
  rest="${rest%%#*}"
  if [[ "${rest}" == *\?* ]]; then
    query="${rest#*\?}"
    rest="${rest%%\?*}"
  fi
  local -a parts=() out=()
  IFS=/ read -r -a parts <<<"${rest}"
  local part
  for part in "${parts[@]}"; do
    part="${part//[^A-Za-z0-9._-]/_}"
    [[ -n "${part}" && "${part}" != . && "${part}" != .. ]] || continue
    if [[ "${part}" == .* ]]; then
      part="_${part#.}"
    fi
    out+=("${part}")
  done
  if ((${#out[@]} == 0)) || [[ "${rest}" == */ ]]; then
    out+=(index)
  fi
  if [[ -n "${query}" ]]; then
    local last="${out[-1]}" q="${query//[^A-Za-z0-9._-]/_}"
    if [[ "${last}" == ?*.* ]]; then
      out[-1]="${last%.*}@${q}.${last##*.}"
    else
      out[-1]="${last}@${q}"
    fi
  fi
  local IFS=/
  printf '%s\n' "${out[*]}"
}

# Downloads the documents listed at FETCH_URL into the inbox. The time of
# the fetch is kept only when every download worked, so a failed fetch is
# asked again, whole, the next night.
fetch_new() {
  if [[ -z "${FETCH_URL}" ]]; then
    return 0
  fi
  local state="${HOME_DIR}/last-fetch" since="" now
  if [[ -s "${state}" ]]; then
    since="$(<"${state}")"
  fi
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local list="${HOME_DIR}/fetch.list"
  if ! curl -fsS --retry 3 --max-time 300 -o "${list}" "${FETCH_URL//\{since\}/${since}}"; then
    err "fetch: cannot get the list of new documents from ${FETCH_URL}"
    return 1
  fi
  local url rel dir part n=0
  while IFS= read -r url; do
    [[ -n "${url}" ]] || continue
    rel="$(url_path "${url}")"
    dir="${INBOX}/$(dirname -- "${rel}")"
    # a hidden name while it downloads: take_inbox leaves it alone
    part="${dir}/.$(basename -- "${rel}").part"
    if ! mkdir -p "${dir}"; then
      err "fetch: cannot create ${dir}"
      return 1
    fi
    if ! curl -fsS --retry 3 --max-time 300 -o "${part}" "${url}"; then
      err "fetch: cannot download ${url}"
      return 1
    fi
    if ! mv -f "${part}" "${INBOX}/${rel}"; then
      err "fetch: cannot move ${rel} into ${INBOX}"
      return 1
    fi
    n=$((n + 1))
  done <"${list}"
  if ! printf '%s\n' "${now}" >"${state}"; then
    err "fetch: cannot write ${state}"
    return 1
  fi
  log "fetch: ${n} new documents since ${since:-the beginning}"
}

# Moves what the inbox holds into the document tree, each file to the same
# path under it (replacing its earlier version), so documents that arrive
# during the run wait for the next one; sets NEW_DOCS to their paths in the
# tree.
take_inbox() {
  local -a files=()
  mapfile -d '' -t files < <(cd "${INBOX}" && find . -mindepth 1 -name '.*' -prune -o -type f -print0 | LC_ALL=C sort -z)
  if ((${#files[@]} == 0)); then
    log "inbox: nothing new"
    return 0
  fi
  local f rel
  for f in "${files[@]}"; do
    rel="${f#./}"
    if ! mkdir -p "$(dirname -- "${DOCS}/${rel}")" || ! mv -f -- "${INBOX}/${rel}" "${DOCS}/${rel}"; then
      err "inbox: cannot move ${rel} into ${DOCS}"
      return 1
    fi
    NEW_DOCS+=("${DOCS}/${rel}")
  done
  log "inbox: ${#files[@]} documents into ${DOCS}"
}

# ingest.sh over the new documents (ids relative to the document tree),
# and over the pending records.
run_ingest() {
  local -a flags=(--db "${DB}" --backup --root "${DOCS}")
  if [[ -n "${TAXONOMY}" ]]; then
    flags+=(--taxonomy "${TAXONOMY}")
  fi
  case "${OFFLINE}" in
    "" | 0 | never) ;;
    1 | always) flags+=(--offline) ;;
    auto) flags+=(--offline=auto) ;;
    *)
      err "LANES_OFFLINE=${OFFLINE}: expected 1, auto or nothing"
      return 1
      ;;
  esac
  "${PIPELINES}/ingest.sh" "${flags[@]}" -- "${NEW_DOCS[@]}"
}

# A dated copy of the store, then the old copies and logs go.
snapshot() {
  if [[ ! -e "${DB}" ]]; then
    return 0
  fi
  local dest="${HOME_DIR}/snapshots/lanes-${STAMP}.db"
  if ! store --db "${DB}" backup "${dest}"; then
    err "snapshot: the backup of ${DB} to ${dest} failed"
    return 1
  fi
  log "snapshot: ${dest}"
  if ! find "${HOME_DIR}/snapshots" -name 'lanes-*.db' -mtime "+${KEEP_DAYS}" -delete ||
    ! find "${HOME_DIR}/log" -name 'nightly-*.log' -mtime "+${KEEP_DAYS}" -delete; then
    err "cannot remove the snapshots and logs older than ${KEEP_DAYS} days"
    return 1
  fi
}

main() {
  mkdir -p "${INBOX}" "${DOCS}" "${HOME_DIR}/snapshots" "${HOME_DIR}/log"
  STAMP="$(date -u +%Y-%m-%dT%H%M%SZ)"
  LOG="${HOME_DIR}/log/nightly-${STAMP%%T*}.log"
  # cron's stderr stays on fd 3, for the mail on failure
  exec 3>&2 2>>"${LOG}"
  local lock_fd
  exec {lock_fd}>>"${HOME_DIR}/nightly.lock"
  if ! flock -n "${lock_fd}"; then
    log "the previous nightly run still holds ${HOME_DIR}/nightly.lock; skipping this run"
    return 0
  fi
  log "start: home ${HOME_DIR}, db ${DB}"
  local rc=0
  find_tools store || rc=1
  if ((rc == 0)); then
    fetch_new || rc=1
    # a failed fetch still ingests what did arrive and what is pending
    take_inbox || rc=1
    run_ingest || rc=1
    snapshot || rc=1
  fi
  if ((rc != 0)); then
    log "FAILED (exit 1); log: ${LOG}"
    {
      printf '%s: the nightly lanes run failed; the end of %s:\n\n' "${PROG}" "${LOG}"
      tail -n "${MAIL_LINES}" "${LOG}"
    } >&3
    return 1
  fi
  log "done"
}

main "$@"
