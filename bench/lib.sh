# Shared by the bench scripts (sourced, not run): a scratch folder removed on exit with every
# started process killed, free loopback ports, and the local stack started by `flashsale up`.
# Expects $FLASHSALE (the binary); a script may define bench_extra_cleanup for its own waits.

# bench_init PREFIX: WORK=/tmp/PREFIX-XXXXXX (readable by the postgres user), PIDS=(), EXIT trap.
bench_init() {
  WORK=$(mktemp -d "/tmp/$1-XXXXXX")
  chmod 755 "$WORK"
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  damon_resume
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}

# The guest kernel's DAMON reclaim: on cloud VMs a kdamond kernel thread pages out file pages
# (page cache) unused for a minute, in runs of 2-9 ms on one of the vCPUs; after a saturated
# burst (hundreds of MB of WAL, AOF and table pages go cold) it doubled the paced 201's p99 on the
# bench machine (docs/benchmarks.md, "Round of 2026-12-03 (3)"). The scripts print its CPU time
# per run; PAUSE_DAMON=1 (root) switches it off for the run and back on at exit, to measure the
# system without it. damon_state: on, off or absent; kdamond_ms: CPU time of kdamond threads.
DAMON_STATE_FILES=(/sys/kernel/mm/damon/admin/kdamonds/*/state)
DAMON_PAUSED=()
damon_state() {
  local f
  for f in "${DAMON_STATE_FILES[@]}"; do
    [ -r "$f" ] && [ "$(cat "$f")" = on ] && { echo on; return; }
  done
  [ -r "${DAMON_STATE_FILES[0]}" ] && echo off || echo absent
}
damon_pause_if_asked() {
  [ "${PAUSE_DAMON:-}" = 1 ] || return 0
  local f
  for f in "${DAMON_STATE_FILES[@]}"; do
    [ -w "$f" ] && [ "$(cat "$f")" = on ] && echo off > "$f" && DAMON_PAUSED+=("$f")
  done
  echo "PAUSE_DAMON=1: DAMON reclaim off for this run (${#DAMON_PAUSED[@]} kdamond), back on at exit"
}
damon_resume() {
  local f
  for f in "${DAMON_PAUSED[@]}"; do echo on > "$f" || true; done
  DAMON_PAUSED=()
}
kdamond_ms() {
  local t=0 p f
  for p in $(pgrep '^kdamond' || true); do
    read -r -a f < "/proc/$p/stat" 2>/dev/null || continue
    t=$((t + f[13] + f[14]))
  done
  echo $((t * 1000 / $(getconf CLK_TCK)))
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_up HTTP_PORT [flashsale up options...]: Redis + PostgreSQL + the service under $WORK/data,
# waits until it is up, then sets REDIS_PORT, PG_PORT and PG (a libpq conninfo).
start_up() {
  local port=$1
  shift
  "$FLASHSALE" up --data-dir "$WORK/data" --http-port "$port" --no-demo "$@" > "$WORK/up.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do grep -q "flashsale is up" "$WORK/up.log" && break; sleep 0.2; done
  grep -q "flashsale is up" "$WORK/up.log" || { cat "$WORK/up.log"; exit 1; }
  REDIS_PORT=$(grep -o 'redis-server on 127.0.0.1:[0-9]*' "$WORK/up.log" | grep -o '[0-9]*$')
  PG_PORT=$(grep -o 'postgres on 127.0.0.1:[0-9]*' "$WORK/up.log" | grep -o '[0-9]*$')
  PG="host=127.0.0.1 port=$PG_PORT user=flashsale password=flashsale dbname=flashsale"
}

# Background work of the stack started by start_up, for reading a latency run:
# redis_forks: Redis' fork count (each AOF rewrite is one); pg_vacuums: autovacuum + autoanalyze
# runs so far; pg_checkpoints (below); notifier_lag: entries of the reservations topic the notifier group has not had yet.
redis_forks() { redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: '$1 == "total_forks" {print $2}'; }
pg_vacuums() {
  PGPASSWORD=flashsale psql -At -X -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
    "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
}
# metrics_q METRIC [label=value ...]: quantiles of a histogram between the $WORK/metrics-before
# and $WORK/metrics-after snapshots of /metrics (bench/hist_quantiles.py).
metrics_q() { python3 bench/hist_quantiles.py "$WORK/metrics-before" "$WORK/metrics-after" "$@"; }
# redis_stalls FROM TO (epoch seconds): the times Redis' latency monitor saw its main thread
# stalled for 5 ms or more (redis_watch_stalls switches it on) between FROM and TO, as "N, max M
# ms (event@HH:MM:SS ...)": a command, an AOF write, an expire cycle that took that long, often
# because the thread was off its core.
redis_watch_stalls() { redis-cli -p "$REDIS_PORT" config set latency-monitor-threshold 5 >/dev/null; }
redis_stalls() {
  python3 - "$1" "$2" "$REDIS_PORT" <<'PY'
import subprocess, sys, time
lo, hi, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def cli(*a):
    return subprocess.run(["redis-cli", "-p", port, *a], capture_output=True, text=True).stdout.split()
names = cli("latency", "latest")[::4]
seen = []
for name in names:
    h = cli("latency", "history", name)
    seen += [(int(h[i]), int(h[i + 1]), name) for i in range(0, len(h) - 1, 2) if lo <= int(h[i]) <= hi]
seen.sort()
top = sorted(seen, key=lambda e: -e[1])[:3]
print("%d, max %d ms (%s)" % (len(seen), max([e[1] for e in seen] or [0]),
      " ".join("%s %d ms@%s" % (n, ms, time.strftime("%H:%M:%S", time.gmtime(t))) for t, ms, n in top) or "-"))
PY
}
# pg_checkpoints: "checkpoints buffers" so far: checkpoints started (timed + requested: by WAL
# volume, max_wal_size) and the buffers the checkpointer has written (a checkpoint spreads its
# writes over checkpoint_completion_target of the interval, so they go on after it starts).
pg_checkpoints() {
  PGPASSWORD=flashsale psql -At -X -F' ' -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
    "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
}
# pg_wal: "bytes full_page_images" of WAL written so far (pg_stat_wal).
pg_wal() {
  PGPASSWORD=flashsale psql -At -X -F' ' -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
    "SELECT wal_bytes, wal_fpi FROM pg_stat_wal"
}
notifier_lag() {
  local total=0 p n
  for p in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'events:reservations:*' | grep -E ':[0-9]+$'); do
    n=$(redis-cli -p "$REDIS_PORT" xinfo groups "$p" | awk '/^name$/{getline; g=$0} /^lag$/{getline; if (g == "notifier") print $0}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

# put_product ID STOCK PER_USER_LIMIT: creates (or replaces) a sale of 10 shards on the service at
# $BASE, as the admin whose token is $ADMIN.
put_product() {
  curl -sf -X PUT "$BASE/v1/admin/products/$1" -H "Authorization: Bearer $ADMIN" \
    -d "{\"name\":\"Bench\",\"price_cents\":79900,\"currency\":\"usd\",\"stock\":$2,\"per_user_limit\":$3,\"shards\":10}" >/dev/null
}

# mint_tokens FILE COUNT PREFIX [EXTRA]: COUNT user tokens (sub PREFIX0, PREFIX1, ...; valid for an
# hour), one per line, signed HS256 with $FLASHSALE_JWT_SECRET; EXTRA adds claims, as JSON object
# members (e.g. '"acct_created": 1600000000').
mint_tokens() {
  python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import base64, hashlib, hmac, json, os, sys, time
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
extra = json.loads("{" + sys.argv[4] + "}")
secret = os.environ["FLASHSALE_JWT_SECRET"].encode()
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
exp = int(time.time()) + 3600
with open(path, "w") as f:
    for i in range(n):
        claims = b64(json.dumps({"sub": f"{prefix}{i}", "exp": exp, **extra}, separators=(",", ":")).encode())
        sig = b64(hmac.new(secret, f"{head}.{claims}".encode(), hashlib.sha256).digest())
        f.write(f"{head}.{claims}.{sig}\n")
PY
}
