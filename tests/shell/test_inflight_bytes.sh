#!/usr/bin/env bash
# test_inflight_bytes.sh: embed caps the bytes of input lines in flight
# (embed.max_inflight_bytes, issue 8) beside the records cap. With the
# output stalled (a pipe nobody reads), reading stops: how far embed read
# its input file (its offset in /proc/PID/fdinfo/0) stays near the bytes
# cap, while with only the records cap it reads far past it. Waits for the
# offset to settle; never needs a given speed to pass.
set -euo pipefail

# shellcheck source=tests/shell/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BIN="${LANES_BIN:-./bin}"
readonly MIB=1048576

# read_offset PID: the offset embed has read stdin to, once it stops
# moving (the same for 2 s), or once it passes 10 MiB; printed.
read_offset() {
  local pid="$1" pos last="" same=0 i
  for ((i = 0; i < 600; i++)); do
    pos="$(awk '/^pos:/ {print $2}' "/proc/${pid}/fdinfo/0" 2>/dev/null || echo 0)"
    if [[ "${pos}" == "${last}" ]]; then
      same=$((same + 1))
    else
      same=0
    fi
    last="${pos}"
    if ((same >= 20 || pos > 10 * MIB)); then
      break
    fi
    sleep 0.1
  done
  echo "${last}"
}

# stalled CAP: runs embed with the bytes cap CAP (set in the environment)
# on 20 MB of long records, its output into a pipe nobody reads; prints how
# far it read, or -1 when embed did not wait for its output.
stalled() {
  local cap="$1" pid pos
  rm -f "${TMP}/out.fifo"
  mkfifo "${TMP}/out.fifo"
  exec 8<>"${TMP}/out.fifo"
  LANES_LOG_TIME=0 LANES_EMBED_MAX_INFLIGHT_BYTES="${cap}" "${BIN}/embed" -m hash \
    --workers 1 --batch 4 --inflight 1000 --progress never <"${TMP}/long.ndjson" \
    >"${TMP}/out.fifo" 2>"${TMP}/err" &
  pid=$!
  PIDS+=("${pid}")
  pos="$(read_offset "${pid}")"
  # still running (waiting for the output), not ended by an error
  kill -0 "${pid}" 2>/dev/null || pos=-1
  kill -KILL "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  exec 8>&-
  echo "${pos}"
}

main() {
  TMP="$(mktemp -d)"
  trap cleanup EXIT
  python3 -c '
import sys
w = sys.stdout.write
for i in range(200):
    w("{\"id\":\"r%d\",\"text\":\"%s\"}\n" % (i, ("word%d " % i) * 14000))
' >"${TMP}/long.ndjson"
  local capped free
  capped="$(stalled "${MIB}")"
  free="$(stalled 1099511627776)"
  echo "# read with a 1 MiB cap: ${capped} bytes; with the records cap only: ${free}"
  t "with max_inflight_bytes 1 MiB, embed reads at most 4 MiB ahead of a stalled output (read ${capped})" \
    test "${capped}" -ge 0 -a "${capped}" -lt $((4 * MIB))
  t "with only the records cap it reads past 10 MiB (the test can tell; read ${free})" \
    test "${free}" -gt $((10 * MIB))
  summary
}

main "$@"
