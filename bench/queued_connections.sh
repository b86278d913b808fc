#!/usr/bin/env bash
# Memory per queued request with TOTAL real connections parked in admission queues (default
# 100,000). The container caps open files at 20,000 per process (hard limit, not raisable here:
# prlimit fails with EPERM although fs.nr_open is 1,048,576), so the load is spread over
# SERVERS `flashsale serve` processes (default 6, each its own port, all on one Redis and
# PostgreSQL) and as many client processes, each bound to its own source address 127.0.0.x so
# that ephemeral ports never run short. Each client opens its share of connections, sends one
# reservation on each (a typical ~1 KB request: JWT, JSON body, browser headers), and keeps them
# open; the queues drain at 0.001/s, so every request stays parked.
# Reported: every server's RSS before (after a warm-up of 200 queued) and with all parked, the
# sum and the bytes per queued request; the kernel's TCP memory from /proc/net/sockstat (pages,
# both ends of each loopback connection) apart, since it is not in any process' RSS. Then the
# clients close and the queues must empty.
# Usage: bench/queued_connections.sh [build dir, default build/release]
#   TOTAL=2000 SERVERS=1 HEAPTRACK=/tmp/q bench/queued_connections.sh  # who holds the memory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
TOTAL=${TOTAL:-100000}
SERVERS=${SERVERS:-6}
THREADS=${THREADS:-2}
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }
PER=$(( (TOTAL + SERVERS - 1) / SERVERS ))
[ "$PER" -le 19000 ] || { echo "$PER connections per process is over the open-file limit; raise SERVERS"; exit 1; }

source bench/lib.sh
bench_init flashsale-queued

export FLASHSALE_JWT_SECRET=queued-secret-$RANDOM
UP_PORT=$(free_port)
start_up "$UP_PORT" --no-gateway --threads 1
ADMIN=$("$FLASHSALE" token --sub admin --admin)
curl -sf -X PUT "http://127.0.0.1:$UP_PORT/v1/admin/products/queued" \
  -H "Authorization: Bearer $ADMIN" \
  -d '{"name":"Queued","price_cents":100,"currency":"usd","stock":0,"per_user_limit":1,"shards":10}' >/dev/null
TOKEN=$("$FLASHSALE" token --sub queued-user)
[ -z "${KEEP:-}" ] || echo "$TOKEN" > /tmp/qtoken

SPORTS=() SPIDS=()
for k in $(seq 1 "$SERVERS"); do
  port=$(free_port)
  "$FLASHSALE" serve --http-port "$port" --threads "$THREADS" --redis "127.0.0.1:$REDIS_PORT" \
    --pg "$PG" --trusted-proxy 127.0.0.0/8 --queue-drain-rate 0.001 --queue-max-length 1000000 \
    --queue-max-wait-ms 3600000 --ip-rate 0 --user-rate 0 --no-bot-detection \
    > "$WORK/serve$k.log" 2>&1 &
  PIDS+=($!)
  SPIDS+=($!)
  SPORTS+=("$port")
done
for port in "${SPORTS[@]}"; do
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$WORK"/serve*.log; exit 1; }
done
if [ -n "${HEAPTRACK:-}" ]; then  # attached once ready (start-up under heaptrack is too slow)
  heaptrack -o "$HEAPTRACK" -p "${SPIDS[0]}" > "$WORK/heaptrack.log" 2>&1 &
  for _ in $(seq 1 600); do ls "$HEAPTRACK"* >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 5
fi

python3 - "$WORK" "$TOKEN" "$PER" "$TOTAL" "${SPORTS[*]}" "${SPIDS[*]}" <<'PY'
import os, re, socket, subprocess, sys, time, urllib.request
work, token, per, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ports = [int(p) for p in sys.argv[5].split()]
pids = [int(p) for p in sys.argv[6].split()]

def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
def queue_len(port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    return float(re.search(r"^flashsale_admission_queue_length (\S+)", body, re.M).group(1))
def sockstat():
    text = open("/proc/net/sockstat").read()
    m = re.search(r"TCP: inuse (\d+) orphan \d+ tw \d+ alloc (\d+) mem (\d+)", text)
    slab = int(re.search(r"^Slab:\s+(\d+)", open("/proc/meminfo").read(), re.M).group(1))
    return int(m.group(1)), int(m.group(3)), slab

# One client process per server: a small script that opens `n` connections from its own
# source address, sends the request on each, says "ready" and holds them until stdin closes.
client = r'''
import socket, sys
port, n, src, warm = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = '{"product_id":"queued","quantity":1}'
req = ("POST /v1/reservations HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + sys.argv[5] +
       "\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
       "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
       "Content-Length: " + str(len(body)) + "\r\n\r\n" + body).encode()
socks = []
def open_some(k):
    for _ in range(k):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
open_some(warm)
print("warm", flush=True)
sys.stdin.readline()
open_some(n)
print("ready", flush=True)
sys.stdin.readline()
'''
WARM = 200
procs = []
for i, port in enumerate(ports):
    procs.append(subprocess.Popen([sys.executable, "-c", client, str(port), str(per),
                                   f"127.0.0.{10 + i}", str(WARM), token],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
for p in procs: assert p.stdout.readline().strip() == "warm"
time.sleep(2)
before_len = [queue_len(p) for p in ports]
before_rss = [rss_kib(p) for p in pids]
before_sock = sockstat()
if os.environ.get("PEAK_HOOK"):
    subprocess.run(os.environ["PEAK_HOOK"] + " " + " ".join(map(str, pids)), shell=True)
t0 = time.time()
for p in procs: p.stdin.write("go\n"); p.stdin.flush()
for p in procs:
    line = p.stdout.readline().strip()
    assert line == "ready", line
opened = time.time() - t0
target = [b + per for b in before_len]
for _ in range(600):
    if all(queue_len(p) >= t * 0.999 for p, t in zip(ports, target)): break
    time.sleep(0.5)
time.sleep(2)
after_len = [queue_len(p) for p in ports]
after_rss = [rss_kib(p) for p in pids]
after_sock = sockstat()
if os.environ.get("PEAK_HOOK"):  # e.g. dump allocator statistics while everything is parked
    subprocess.run(os.environ["PEAK_HOOK"] + " " + " ".join(map(str, pids)), shell=True)
queued = sum(a - b for a, b in zip(after_len, before_len))
delta = sum(a - b for a, b in zip(after_rss, before_rss))
print(f"{len(ports)} servers x {per} connections from {len(ports)} client processes, opened in {opened:.1f} s")
for k, (p, bl, al, br, ar) in enumerate(zip(ports, before_len, after_len, before_rss, after_rss)):
    print(f"  server {k + 1}: queue {int(bl)} -> {int(al)}, RSS {br} KiB -> {ar} KiB "
          f"({(ar - br) * 1024 / max(al - bl, 1):.0f} bytes per queued request)")
print(f"queued {int(queued)} requests in all (queues hold {int(sum(after_len))}); "
      f"server RSS {sum(before_rss)} KiB -> {sum(after_rss)} KiB: "
      f"{delta * 1024 / max(queued, 1):.0f} bytes per queued request (user space)")
page = os.sysconf("SC_PAGE_SIZE")
print(f"kernel TCP memory (/proc/net/sockstat, both ends of every loopback connection, not in RSS): "
      f"{before_sock[1]} -> {after_sock[1]} pages = "
      f"{(after_sock[1] - before_sock[1]) * page / max(queued, 1):.0f} bytes per queued connection; "
      f"TCP sockets in use {before_sock[0]} -> {after_sock[0]}")
print(f"kernel slab (/proc/meminfo Slab, whole machine, includes the socket structures of both "
      f"ends): {before_sock[2]} -> {after_sock[2]} KiB = "
      f"{(after_sock[2] - before_sock[2]) * 1024 / max(queued, 1):.0f} bytes per queued connection")
t0 = time.time()
for p in procs: p.stdin.close()
for p in procs: p.wait()
while any(queue_len(p) > 0 for p in ports) and time.time() - t0 < 120: time.sleep(0.2)
print(f"clients closed: the queues emptied in {time.time() - t0:.1f} s "
      f"(left: {int(sum(queue_len(p) for p in ports))})")
PY
