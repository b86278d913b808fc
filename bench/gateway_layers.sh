#!/usr/bin/env bash
# Cost of the gateway layers on the sold-out path (410 from memory), all configurations served
# at the same time over the same Redis/PostgreSQL and measured in interleaved rounds (A B C D,
# A B C D, ...) so the host's noise hits them alike:
#   none        --no-gateway
#   edge        IP + user token buckets (and the ban check)
#   edge+bot    + bot scoring (X-Client-Signals, User-Agent, per-IP/user rates)
#   all         + admission queue (drain rate set above the offered load) + concurrency limit
# Every request is a distinct client IP and user with browser signals, so no layer refuses:
# the figure is the pass-through cost. Then the memory per queued request: QUEUED connections
# (default 9000; the container's open-file limit is 20000 for both ends) parked in the queue,
# server RSS before and after; bench/queued_connections.sh does 100,000 over several processes.
# Usage: bench/gateway_layers.sh [build dir, default build/release]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
DURATION=${DURATION:-6}
CONNS=${CONNS:-128}
ROUNDS=${ROUNDS:-3}
QUEUED=${QUEUED:-9000}
THREADS=2
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }

source bench/lib.sh
bench_init flashsale-gwbench

export FLASHSALE_JWT_SECRET=gwbench-secret-$RANDOM
UP_PORT=$(free_port)
start_up "$UP_PORT" --no-gateway --threads "$THREADS"

serve() {  # name flags...
  local name=$1; shift
  local port; port=$(free_port)
  "$FLASHSALE" serve --http-port "$port" --threads "$THREADS" --redis "127.0.0.1:$REDIS_PORT" \
    --pg "$PG" --trusted-proxy 127.0.0.0/8 "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  PORT[$name]=$port
  SPID[$name]=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  cat "$WORK/$name.log"; exit 1
}
declare -A PORT SPID R
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$UP_PORT
put_product gw-soldout 0 1
mint_tokens "$WORK/tokens.txt" 200000 gw- '"acct_created": 1600000000'

if [ -z "${ONLY_MEMORY:-}" ]; then
serve none --no-gateway
serve edge --queue-drain-rate 0 --max-in-flight 0 --no-bot-detection
serve edgebot --queue-drain-rate 0 --max-in-flight 0
serve all --queue-drain-rate 1000000

SIGNALS=$(printf '%s' '{"webgl":true,"canvas":true,"pointer_events":31,"ms_since_load":5400}' | base64 -w0)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
CONFIGS=(none edge edgebot all)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$ROUNDS"); do
  for c in "${CONFIGS[@]}"; do
    line=$(TOKENS_FILE=$WORK/tokens.txt PRODUCT=gw-soldout SIGNALS=$SIGNALS \
      wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s bench/wrk_gateway.lua \
      "http://127.0.0.1:${PORT[$c]}" 2>&1 | grep p50_ms)
    R[${c}_rps]+="$(echo "$line" | field rps) "
    R[${c}_p99]+="$(echo "$line" | field p99_ms) "
    R[${c}_err]+="$(echo "$line" | field errors) "
  done
done
m() { echo "${R[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
# Non-410 answers would mean a layer refused: show the servers' own rejection counters.
for c in "${CONFIGS[@]}"; do
  curl -s "http://127.0.0.1:${PORT[$c]}/metrics" | grep -E '^flashsale_gateway_rejected_total' |
    awk -v c="$c" '$2 > 0 {print "  note: " c " refused: " $0}'
done

echo
echo "gateway layers on the sold-out path ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${DURATION}s x ${ROUNDS} rounds, medians, wrk -t$THREADS -c$CONNS; load average at start $LOAD_START, now $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-12s %12s %10s %16s %8s\n' "layers" "throughput" "p99 ms" "us/request" "errors"
base=$(m none_rps)
for c in "${CONFIGS[@]}"; do
  rps=$(m ${c}_rps)
  printf '%-12s %10s/s %10s %16s %8s\n' "$c" "$rps" "$(m ${c}_p99)" \
    "$(awk -v r="$rps" -v b="$base" 'BEGIN{ printf "%.1f (+%.1f)", 1e6/r*2, 1e6/r*2 - 1e6/b*2 }')" "$(m ${c}_err)"
done
echo "(us/request = 2 cores x 1 s / throughput: CPU time per request on this 2-core host; +: over none)"
fi

# --- memory per queued request ------------------------------------------------------------------
QPORT=$(free_port)
"$FLASHSALE" serve --http-port "$QPORT" --threads "$THREADS" --redis "127.0.0.1:$REDIS_PORT" \
  --pg "$PG" --trusted-proxy 127.0.0.0/8 --queue-drain-rate 0.001 --queue-max-length 1000000 \
  --queue-max-wait-ms 600000 --ip-rate 0 --user-rate 0 --no-bot-detection > "$WORK/queue.log" 2>&1 &
QPID=$!
PIDS+=($QPID)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$QPORT/readyz" >/dev/null && break; sleep 0.1; done
python3 - "$QPORT" "$QPID" "$QUEUED" "$(head -1 "$WORK/tokens.txt")" <<'PY'
import socket, sys, time, re, urllib.request
port, pid, n, token = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def rss_kib():
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
def queue_len():
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return float(re.search(r"^flashsale_admission_queue_length (\S+)", body, re.M).group(1))
body = '{"product_id":"gw-soldout","quantity":1}'
req = (f"POST /v1/reservations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
       f"Content-Type: application/json\r\nUser-Agent: Mozilla/5.0 Chrome/120.0\r\n"
       f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
# Warm up: a few queued requests, so allocator arenas and the first pages exist already.
warm = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); warm.append(s)
time.sleep(1)
before_len, before = queue_len(), rss_kib()
socks = []
for i in range(n):
    s = socket.socket(); s.connect(("127.0.0.1", port)); s.sendall(req); socks.append(s)
for _ in range(100):
    if queue_len() >= before_len + n * 0.99: break
    time.sleep(0.1)
time.sleep(1)
after_len, after = queue_len(), rss_kib()
queued = after_len - before_len
print(f"queued {int(queued)} more requests (queue {int(before_len)} -> {int(after_len)}): "
      f"server RSS {before} KiB -> {after} KiB = {(after - before) * 1024 / max(queued, 1):.0f} bytes "
      f"per queued request (connection, HTTP session, parked request record and queue slot)")
for s in socks + warm: s.close()
t0 = time.time()
while queue_len() > 0 and time.time() - t0 < 30: time.sleep(0.05)
print(f"all {int(after_len)} clients closed: the queue emptied in {time.time() - t0:.2f} s")
PY
