#!/usr/bin/env bash
# Benchmarks the "Buy Now" hot path against reference systems measured in the same invocation
# on the same machine (so the figures are ratios, robust to a shared and noisy host):
#   (a) sold-out path          vs nginx answering a static 410 (same wrk script, connections and
#       token file), and the CPU each spends per request
#   (b) refused at Redis (per-user limit) vs redis-benchmark running the same check_and_decr
#       EVALSHA unpipelined
#   (c) durable reservation (201, row committed) vs pgbench running a single-row INSERT of a
#       reservation
# Each measurement runs ROUNDS times; the median is reported.
# Usage: bench/hot_path.sh [build dir, default build/release]
#   ROUNDS, DURATION (s), CONNS; ONLY=a,b,c runs a subset; EVENT_ROLES="" (default
#   "relay,notifier") runs the system without the in-process outbox relay and notifier;
#   UP_ARGS adds `flashsale up` options; PG_SET PostgreSQL settings, PG_SQL SQL run after start
#   (below); DIAG=1 logs and summarises PostgreSQL's stalls (below);
#   WRK_PER_REQUEST=1 runs the heavier client of the earlier runs (bench/wrk_post.lua);
#   DELAY_DIST=fixed paces with a fixed wait instead of an exponential one (the waves of the runs
#   before 2026-12-04 19:00 UTC, bench/wrk_post.lua);
#   PAUSE_DAMON=1 (root) switches the guest kernel's DAMON reclaim off for the run (bench/lib.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
DURATION=${DURATION:-8}
CONNS=${CONNS:-256}
ROUNDS=${ROUNDS:-3}
THREADS=2
# Paced runs (latency below saturation): offered rates for the sold-out and the durable path.
PACED_RPS=${PACED_RPS:-20000}
PACED_CONNS=${PACED_CONNS:-256}
PACED_DURABLE_RPS=${PACED_DURABLE_RPS:-2000}
PACED_DURABLE_CONNS=${PACED_DURABLE_CONNS:-64}
pace_delay() { echo $(( $1 * 1000 / $2 )); }  # connections rate -> DELAY_MS
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null || bash scripts/install-deps.sh

source bench/lib.sh
bench_init flashsale-bench
damon_pause_if_asked

export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
HTTP_PORT=$(free_port)
NGINX_PORT=$(free_port)

# --- the system under test: Redis + PostgreSQL + service, as `flashsale up` runs it -------------
# EVENT_ROLES="" runs it without the in-process outbox relay and notifier (to split their cost).
# UP_ARGS: more `flashsale up` options (e.g. UP_ARGS="--insert-lanes false" for an A/B run).
# shellcheck disable=SC2086
start_up "$HTTP_PORT" --no-gateway --threads "$THREADS" --event-roles "${EVENT_ROLES-relay,notifier}" ${UP_ARGS:-}
ADMIN=$("$FLASHSALE" token --sub admin --admin)
redis_watch_stalls
# DIAG=1: PostgreSQL logs what can stall a commit (checkpoints, autovacuum runs, lock waits over
# 5 ms, statements over 20 ms, WAL I/O timing); summarised at the end. Logging only: the
# durability settings are untouched.
PGLOG=$WORK/data/postgres.log
if [ -n "${DIAG:-}" ]; then
  for setting in "log_checkpoints = on" "log_autovacuum_min_duration = 0" "log_lock_waits = on" \
      "deadlock_timeout = '5ms'" "log_min_duration_statement = 20" "track_wal_io_timing = on"; do
    psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "ALTER SYSTEM SET $setting" >/dev/null
  done
  psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "SELECT pg_reload_conf()" >/dev/null
  DIAG_LOG_START=$(stat -c %s "$PGLOG")
fi
# PG_SET="setting = value; ...": PostgreSQL settings for an A/B run (ALTER SYSTEM + reload, so
# only those a reload applies), e.g. PG_SET="max_wal_size = '8GB'; checkpoint_timeout = '30min'".
if [ -n "${PG_SET:-}" ]; then
  IFS=';' read -r -a pg_settings <<< "$PG_SET"
  for setting in "${pg_settings[@]}"; do
    psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "ALTER SYSTEM SET $setting" >/dev/null
  done
  psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "SELECT pg_reload_conf()" >/dev/null
fi
# PG_SQL="...": SQL run once as the superuser after start (and the migrations), for an A/B run
# of a schema setting, e.g. a column's statistics target (round (12) in docs/benchmarks.md).
if [ -n "${PG_SQL:-}" ]; then
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "$PG_SQL" >/dev/null
fi
BASE=http://127.0.0.1:$HTTP_PORT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { { grep -o "$1=[0-9.]*" || true; } | cut -d= -f2; }

# bench/wrk_post.lua formats the requests once up front (a light client whose collector does not
# pause it mid-run); WRK_PER_REQUEST=1 (passed on to wrk) formats each request in Lua, as the runs
# before 2026-12-02 20:00 UTC did.
WRK_CLIENT=$([ "${WRK_PER_REQUEST:-}" = 1 ] && echo "requests formatted per request" || echo "requests prebuilt")
run_wrk() {  # url product tokens_file [connections [delay ms]] -> prints the wrk done() line
  # A paced run prebuilds twice the requests it offers per thread, not the whole token slice:
  # wrk formats the later threads' requests while the first ones already send (wrk_post.lua).
  local prebuilt=
  [ -n "${5:-}" ] && prebuilt=$(( ${4:-$CONNS} * 1000 / $5 * DURATION * 2 / THREADS + 1000 ))
  TOKENS_FILE=$3 PRODUCT=$2 WRK_THREADS=$THREADS DELAY_MS=${5:-} PREBUILT=$prebuilt \
    wrk -t"$THREADS" -c"${4:-$CONNS}" -d"${DURATION}s" --timeout 10s -s bench/wrk_post.lua "$1" 2>&1 |
    grep p50_ms
}

# --- (a) sold-out path vs nginx static 410 -------------------------------------------------------
cat > "$WORK/nginx.conf" <<NGX
worker_processes $THREADS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    keepalive_requests 1000000;
    location / { default_type application/json; return 410 '{"error":{"code":"sold_out","message":"sold out"}}'; }
  }
}
NGX
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
NGINX_MASTER=$!
PIDS+=("$NGINX_MASTER")
sleep 0.5
NGINX_WORKERS=$(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')
SERVICE_PID=${PIDS[0]}  # `flashsale up`: the service runs in this process (Redis and PostgreSQL apart)
# CPU time (user + system, clock ticks) of processes: the CPU each server spends per request is
# a second ratio, less shaken by the host than throughput (a slow moment slows both, but a
# neighbour's load changes which of two back-to-back runs gets more of the cores).
cpu_ticks() { local t=0 p f; for p in "$@"; do read -r -a f < "/proc/$p/stat"; t=$((t + f[13] + f[14])); done; echo "$t"; }
user_ticks() { local t=0 p f; for p in "$@"; do read -r -a f < "/proc/$p/stat"; t=$((t + f[13])); done; echo "$t"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# run_wrk under a CPU meter: prints the wrk line plus "cpu_us=" (CPU per request of the PIDS)
# and "user_us=" (the user-space part of it: the kernel's part, the sockets, is about the same for
# nginx and the service, so the difference between them is mostly user space).
run_wrk_cpu() {  # "pids" url product tokens_file
  local before after ubefore uafter line n
  # shellcheck disable=SC2086
  before=$(cpu_ticks $1) ubefore=$(user_ticks $1)
  line=$(run_wrk "$2" "$3" "$4")
  # shellcheck disable=SC2086
  after=$(cpu_ticks $1) uafter=$(user_ticks $1)
  n=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
  per() { awk -v t="$1" -v u="$TICK_US" -v n="${n:-0}" 'BEGIN{ if (n>0) printf "%.2f", t*u/n; else print 0}'; }
  echo "$line cpu_us=$(per $((after - before))) user_us=$(per $((uafter - ubefore)))"
}
put_product bench-soldout 0 1
mint_tokens "$WORK/one-user.txt" 1 solo-
mint_tokens "$WORK/many-users.txt" 400000 buyer-

want() { [[ ",${ONLY:-a,b,c}," == *",$1,"* ]]; }
declare -A R
for i in $(seq 1 "$ROUNDS"); do
  want a || break
  # nginx gets the very load the service gets: the same script, connections and token file
  # (nginx ignores the tokens, but wrk's work per request depends on them: walking 400,000
  # tokens costs wrk ~10 µs more per request than repeating one, and wrk shares the two cores).
  line=$(run_wrk_cpu "$NGINX_WORKERS" "http://127.0.0.1:$NGINX_PORT" bench-soldout "$WORK/many-users.txt")
  R[nginx_rps]+="$(echo "$line" | field rps) "
  R[nginx_p99]+="$(echo "$line" | field p99_ms) "
  R[nginx_cpu]+="$(echo "$line" | field cpu_us) "
  R[nginx_user]+="$(echo "$line" | field user_us) "
  line=$(run_wrk_cpu "$SERVICE_PID" "$BASE" bench-soldout "$WORK/many-users.txt")
  R[soldout_rps]+="$(echo "$line" | field rps) "
  R[soldout_p99]+="$(echo "$line" | field p99_ms) "
  R[soldout_cpu]+="$(echo "$line" | field cpu_us) "
  R[soldout_user]+="$(echo "$line" | field user_us) "
  # The reference of the runs before 2026-12-02 (figures in docs/benchmarks.md): nginx under
  # wrk repeating one token. With bench/wrk_post.lua that was a lighter load for wrk than the
  # service's, so a higher ceiling; with the prebuilt requests it costs wrk the same.
  line=$(run_wrk "http://127.0.0.1:$NGINX_PORT" bench-soldout "$WORK/one-user.txt")
  R[nginx1_rps]+="$(echo "$line" | field rps) "
  # The same two at a paced offered rate, below saturation.
  d=$(pace_delay "$PACED_CONNS" "$PACED_RPS")
  line=$(run_wrk "http://127.0.0.1:$NGINX_PORT" bench-soldout "$WORK/many-users.txt" "$PACED_CONNS" "$d")
  R[nginx_paced_rps]+="$(echo "$line" | field rps) "
  R[nginx_paced_p99]+="$(echo "$line" | field p99_ms) "
  line=$(run_wrk "$BASE" bench-soldout "$WORK/many-users.txt" "$PACED_CONNS" "$d")
  R[soldout_paced_rps]+="$(echo "$line" | field rps) "
  R[soldout_paced_p99]+="$(echo "$line" | field p99_ms) "
done

# --- (b) refused at Redis: per-user limit (one user who already holds a reservation) ------------
put_product bench-limit 1000000000 1
curl -sf -X POST "$BASE/v1/reservations" -H "Authorization: Bearer $(head -1 "$WORK/one-user.txt")" \
  -d '{"product_id":"bench-limit"}' >/dev/null
# The very script the service ships (src/inventory/stock_scripts.cpp), not a copy.
LUA=$(python3 -c 'import re,sys; s=open("src/inventory/stock_scripts.cpp").read(); i=s.index("check_and_decr_script()"); print(re.search(r"R\"LUA\((.*?)\)LUA\"", s[i:], re.S).group(1))')
SHA=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "$LUA")
redis-cli -p "$REDIS_PORT" SET bench:stock 1000000000000 >/dev/null
for i in $(seq 1 "$ROUNDS"); do
  want b || break
  line=$(run_wrk_cpu "$SERVICE_PID" "$BASE" bench-limit "$WORK/one-user.txt")
  R[limit_rps]+="$(echo "$line" | field rps) "
  R[limit_cpu]+="$(echo "$line" | field cpu_us) "
  R[limit_user]+="$(echo "$line" | field user_us) "
  R[limit_p99]+="$(echo "$line" | field p99_ms) "
  rb=$(redis-benchmark -p "$REDIS_PORT" -c "$CONNS" -n 300000 -P 1 --threads "$THREADS" -q \
        EVALSHA "$SHA" 1 bench:stock 1 2>/dev/null | grep -o '[0-9.]* requests per second' | cut -d' ' -f1)
  R[redis_rps]+="$rb "
done

# --- (c) durable reservations vs pgbench single-row INSERT ---------------------------------------
cat > "$WORK/insert.sql" <<'SQL'
INSERT INTO reservations (reservation_id, product_id, generation, user_id, quantity, status,
  amount_cents, currency, shard, expires_at, created_at)
VALUES (gen_random_uuid(), 'bench-pgbench', 1, 'pgbench-user', 1, 'PENDING', 79900, 'usd', 0,
  now() + interval '10 minutes', now());
SQL
PGPASSWORD=flashsale psql -q -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
  "INSERT INTO products (product_id, name, price_cents, currency, stock_total) VALUES ('bench-pgbench','x',1,'usd',0) ON CONFLICT DO NOTHING" >/dev/null
pgbench_paced() {  # rate -> "p50_ms=.. p99_ms=.. p999_ms=.. rps=.." of one paced pgbench run
  rm -f "$WORK"/pgb.*
  (cd "$WORK" && PGPASSWORD=flashsale pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U flashsale \
     -c "$PACED_DURABLE_CONNS" -j "$THREADS" -R "$1" -T "$DURATION" \
     -f "$WORK/insert.sql" --log --log-prefix=pgb flashsale >/dev/null 2>&1) || true
  cat "$WORK"/pgb.* 2>/dev/null | awk '{print $3 / 1000}' | sort -n | awk -v d="$DURATION" '
    {a[NR]=$1} END { if (NR) printf "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f rps=%.0f",
      a[int(NR*0.5)+1], a[int(NR*0.99)+1], a[int(NR*0.999)+1], NR/d }'
}
for i in $(seq 1 "$ROUNDS"); do
  want c || break
  put_product "bench-durable-$i" 1000000000 1
  line=$(run_wrk "$BASE" "bench-durable-$i" "$WORK/many-users.txt")
  R[durable_rps]+="$(echo "$line" | field rps) "
  R[durable_p99]+="$(echo "$line" | field p99_ms) "
  R[durable_p50]+="$(echo "$line" | field p50_ms) "
  # The latency of a 201 when the service is not saturated (16 connections).
  put_product "bench-latency-$i" 1000000000 1
  line=$(run_wrk "$BASE" "bench-latency-$i" "$WORK/many-users.txt" 16)
  R[durable16_p50]+="$(echo "$line" | field p50_ms) "
  R[durable16_p99]+="$(echo "$line" | field p99_ms) "
  R[durable16_rps]+="$(echo "$line" | field rps) "
  # A paced load below saturation: the latency of a 201 without closed-loop queueing. The outbox
  # relay first catches up with the saturated runs above (up to 60 s), so the paced run measures
  # the steady state, not the relay draining a backlog of tens of thousands of events.
  put_product "bench-paced-$i" 1000000000 1
  backlog=n/a
  for _ in $(seq 1 120); do
    [[ "${EVENT_ROLES-relay,notifier}" == *relay* ]] || break
    backlog=$(PGPASSWORD=flashsale psql -At -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale \
      -c "SELECT count(*) FROM outbox")
    [ "$backlog" -lt 1000 ] && break
    sleep 0.5
  done
  R[paced_backlog]+="$backlog "
  # ...and the notifier has caught up with the events of those runs (tens of thousands of feed
  # pushes that would otherwise share Redis and the cores with the paced run; its thread is
  # niced, its Redis calls are not).
  lag=n/a
  for _ in $(seq 1 120); do
    [[ "${EVENT_ROLES-relay,notifier}" == *notifier* ]] || break
    lag=$(notifier_lag)
    [ "$lag" -lt 1000 ] && break
    sleep 0.5
  done
  R[paced_notifier_lag]+="$lag "
  curl -s "$BASE/metrics" > "$WORK/metrics-before"
  forks_before=$(redis_forks)
  vacuums_before=$(pg_vacuums)
  read -r checkpoints_before ckbuf_before < <(pg_checkpoints)
  read -r wal_before fpi_before < <(pg_wal)
  kdamond_before=$(kdamond_ms)
  paced_from=$(date +%s)
  line=$(run_wrk "$BASE" "bench-paced-$i" "$WORK/many-users.txt" "$PACED_DURABLE_CONNS" \
    "$(pace_delay "$PACED_DURABLE_CONNS" "$PACED_DURABLE_RPS")")
  paced_to=$(date +%s)
  # When it ran (UTC, to line up with PostgreSQL's log under DIAG=1) and Redis' stalls in it.
  R[paced_window]+="$(date -u -d "@$paced_from" +%T)-$(date -u -d "@$paced_to" +%T) "
  R[paced_redis_stalls]+="round $i: $(redis_stalls "$paced_from" "$paced_to"); "
  R[paced_kdamond]+="$(( $(kdamond_ms) - kdamond_before )) "
  curl -s "$BASE/metrics" > "$WORK/metrics-after"
  # Background work that overlapped the paced run: Redis AOF rewrites (a fork, then the whole
  # dataset written to the disk PostgreSQL's WAL is on) and autovacuum/autoanalyze runs.
  R[paced_rewrites]+="$(( $(redis_forks) - forks_before )) "
  R[paced_vacuums]+="$(( $(pg_vacuums) - vacuums_before )) "
  read -r checkpoints_after ckbuf_after < <(pg_checkpoints)
  R[paced_checkpoints]+="$(( checkpoints_after - checkpoints_before )) "
  R[paced_ckbuf]+="$(( ckbuf_after - ckbuf_before )) "
  read -r wal_after fpi_after < <(pg_wal)
  R[paced_wal_mb]+="$(( (wal_after - wal_before) / 1000000 )) "
  R[paced_fpi]+="$(( fpi_after - fpi_before )) "
  R[durable_paced_p50]+="$(echo "$line" | field p50_ms) "
  R[durable_paced_p99]+="$(echo "$line" | field p99_ms) "
  R[durable_paced_p999]+="$(echo "$line" | field p999_ms) "
  R[durable_paced_rps]+="$(echo "$line" | field rps) "
  # Where the paced 201s spent their time, from the service's own histograms (bucket precision):
  # the whole request inside the service, and the INSERT batch statement (wait for the commit).
  q=$(metrics_q flashsale_http_request_duration_seconds route=/v1/reservations)
  R[svc_paced_p99]+="$(echo "$q" | field p99) "
  q=$(metrics_q flashsale_backend_call_duration_seconds op=insert_reservations)
  R[ins_paced_p50]+="$(echo "$q" | field p50) "
  R[ins_paced_p99]+="$(echo "$q" | field p99) "
  ins_n=$(echo "$q" | field n)
  # ...and the Redis `reserve` script before it (from the client's side: queueing included).
  q=$(metrics_q flashsale_backend_call_duration_seconds backend=redis op=reserve)
  R[reserve_paced_p50]+="$(echo "$q" | field p50) "
  R[reserve_paced_p99]+="$(echo "$q" | field p99) "
  # ...and a reservation's whole wait for its commit (queue, statement, hand-offs).
  q=$(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit)
  R[commit_paced_p99]+="$(echo "$q" | field p99) "
  # ...and its three parts, each per reservation: queued behind the batch in flight, its own
  # batch's statements, the hand-off back to its thread.
  for part in queued statement handoff; do
    q=$(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit_$part)
    R[commit_${part}_p99]+="$(echo "$q" | field p99) "
  done
  # ...and how late the I/O threads' 20 ms probe timers fired (busy threads, or off their core).
  q=$(metrics_q flashsale_io_loop_lag_seconds)
  R[lag_paced_p99]+="$(echo "$q" | field p99) "
  commits=$(( ${ins_n:-0} / DURATION ))
  R[paced_commits]+="$commits "
  # The reference at the same offered rate and connections: pgbench's single-row INSERT, paced
  # (-R, Poisson arrivals; the latency of each transaction counts from its scheduled start, so
  # PostgreSQL's stalls are not hidden by a closed loop), one commit (WAL flush) per row.
  pq=$(pgbench_paced "$PACED_DURABLE_RPS")
  R[pgpaced_p50]+="$(echo "$pq" | field p50_ms) "
  R[pgpaced_p99]+="$(echo "$pq" | field p99_ms) "
  R[pgpaced_p999]+="$(echo "$pq" | field p999_ms) "
  R[pgpaced_rps]+="$(echo "$pq" | field rps) "
  # A 201 costs one commit of its batch, plus the rest of the batch in flight when it arrived:
  # the same single-row INSERT paced at the service's commit rate of this round (batches/s) is
  # the latency of one commit on this disk and CPU right now.
  pq=$(pgbench_paced "$(( commits > 0 ? commits : 1 ))")
  R[pgcommit_p50]+="$(echo "$pq" | field p50_ms) "
  R[pgcommit_p99]+="$(echo "$pq" | field p99_ms) "
  created=$(PGPASSWORD=flashsale psql -At -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
    "SELECT count(*) FROM reservations WHERE product_id = 'bench-durable-$i'")
  R[durable_rows]+="$created "
  tps=$(PGPASSWORD=flashsale pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U flashsale -c 16 -j "$THREADS" \
        -T "$DURATION" -f "$WORK/insert.sql" flashsale 2>/dev/null | grep -o 'tps = [0-9.]*' | head -1 | cut -d' ' -f3)
  R[pgbench_tps]+="$tps "
done
BATCH=$(curl -s "$BASE/metrics" | awk '/^flashsale_reservation_insert_batch_size_sum/{s=$2} /^flashsale_reservation_insert_batch_size_count/{c=$2} END{if(c>0) printf "%.1f", s/c}')

m() { echo "${R[$1]:-}" | tr ' ' '\n' | grep -v '^$' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}'; }
echo
echo "flashsale hot-path benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${DURATION}s x ${ROUNDS} rounds, medians, wrk -t$THREADS -c$CONNS, $WRK_CLIENT)"
printf '%-44s %12s %10s %10s\n' "measurement" "throughput" "p99 ms" "ratio"
printf '%-44s %12s %10s %10s\n' "(a) nginx static 410" "$(m nginx_rps)/s" "$(m nginx_p99)" ""
printf '%-44s %12s %10s %10s\n' "    flashsale sold-out (410 from memory)" "$(m soldout_rps)/s" "$(m soldout_p99)" "$(ratio "$(m soldout_rps)" "$(m nginx_rps)")"
printf '%-44s %12s %10s %10s\n' "    nginx, wrk repeating one token (old ref.)" "$(m nginx1_rps)/s" "" "$(ratio "$(m soldout_rps)" "$(m nginx1_rps)")"
echo "    CPU per request (user + system, /proc): nginx workers $(m nginx_cpu) µs, flashsale $(m soldout_cpu) µs; per round nginx ${R[nginx_cpu]:-} / flashsale ${R[soldout_cpu]:-}"
echo "    of it user space: nginx workers $(m nginx_user) µs, flashsale $(m soldout_user) µs"
echo "    per round: nginx ${R[nginx_rps]:-} / flashsale ${R[soldout_rps]:-} per s"
printf '%-44s %12s %10s %10s\n' "    nginx, paced (offered ~$PACED_RPS/s)" "$(m nginx_paced_rps)/s" "$(m nginx_paced_p99)" ""
printf '%-44s %12s %10s %10s\n' "    flashsale sold-out, paced (same)" "$(m soldout_paced_rps)/s" "$(m soldout_paced_p99)" ""
printf '%-44s %12s %10s %10s\n' "(b) redis-benchmark EVALSHA check_and_decr" "$(m redis_rps)/s" "" ""
printf '%-44s %12s %10s %10s\n' "    flashsale refused at Redis (409 limit)" "$(m limit_rps)/s" "$(m limit_p99)" "$(ratio "$(m limit_rps)" "$(m redis_rps)")"
echo "    per round: redis-benchmark ${R[redis_rps]:-} / flashsale ${R[limit_rps]:-} per s; the service's CPU per 409 $(m limit_cpu) µs, of it user space $(m limit_user) µs"
printf '%-44s %12s %10s %10s\n' "(c) pgbench single-row INSERT (16 clients)" "$(m pgbench_tps)/s" "" ""
printf '%-44s %12s %10s %10s\n' "    flashsale durable 201 (row committed)" "$(m durable_rps)/s" "$(m durable_p99)" "$(ratio "$(m durable_rps)" "$(m pgbench_tps)")"
printf '%-44s %12s %10s %10s\n' "    flashsale durable 201, 16 connections" "$(m durable16_rps)/s" "$(m durable16_p99)" "$(ratio "$(m durable16_rps)" "$(m pgbench_tps)")"
printf '%-44s %12s %10s %10s\n' "    durable 201, paced (~$PACED_DURABLE_RPS/s, $PACED_DURABLE_CONNS conn)" "$(m durable_paced_rps)/s" "$(m durable_paced_p99)" ""
printf '%-44s %12s %10s %10s\n' "    pgbench INSERT, paced (same rate, conn)" "$(m pgpaced_rps)/s" "$(m pgpaced_p99)" ""
echo "durable paced p50 $(m durable_paced_p50) ms, p99.9 $(m durable_paced_p999) ms; inside the service p99 $(m svc_paced_p99) ms, INSERT batch statement p50 $(m ins_paced_p50) / p99 $(m ins_paced_p99) ms, Redis reserve p50 $(m reserve_paced_p50) / p99 $(m reserve_paced_p99) ms (histogram buckets)"
echo "pgbench paced reference p50 $(m pgpaced_p50) ms, p99.9 $(m pgpaced_p999) ms; per round p99: durable ${R[durable_paced_p99]:-} / pgbench ${R[pgpaced_p99]:-}"
echo "outbox rows and notifier lag when each paced run started: ${R[paced_backlog]:-} / ${R[paced_notifier_lag]:-}"
echo "per round p99 (ms): inside the service ${R[svc_paced_p99]:-}/ a reservation's wait for its commit ${R[commit_paced_p99]:-}(queued ${R[commit_queued_p99]:-}, its statements ${R[commit_statement_p99]:-}, hand-off ${R[commit_handoff_p99]:-})/ the INSERT statement ${R[ins_paced_p99]:-}/ Redis reserve ${R[reserve_paced_p99]:-}/ I/O thread loop lag ${R[lag_paced_p99]:-}(histogram buckets)"
echo "paced runs (UTC): ${R[paced_window]:-}; Redis main-thread stalls of 5 ms or more in them: ${R[paced_redis_stalls]:-}"
echo "PostgreSQL over the whole run: $(PGPASSWORD=flashsale psql -At -X -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c \
  "SELECT checkpoints_timed || ' timed and ' || checkpoints_req || ' requested (WAL volume) checkpoints, ' || buffers_checkpoint || ' buffers written by the checkpointer, WAL ' || (SELECT pg_size_pretty(wal_bytes) FROM pg_stat_wal) || ', max_wal_size ' || current_setting('max_wal_size') || ', checkpoint_timeout ' || current_setting('checkpoint_timeout') FROM pg_stat_bgwriter")"
echo "during each paced run: Redis AOF rewrites ${R[paced_rewrites]:-}, PostgreSQL autovacuum/analyze runs ${R[paced_vacuums]:-}, checkpoints started ${R[paced_checkpoints]:-}, buffers the checkpointer wrote ${R[paced_ckbuf]:-}; WAL written ${R[paced_wal_mb]:-}MB, of it full-page images ${R[paced_fpi]:-}; the guest kernel's kdamond (DAMON reclaim: $(damon_state)) ${R[paced_kdamond]:-}ms of CPU"
echo "one commit (pgbench paced at the service's commit rate, ${R[paced_commits]:-}/s): p50 $(m pgcommit_p50) ms, p99 $(m pgcommit_p99) ms (per round ${R[pgcommit_p99]:-})"
echo "durable p50 $(m durable_p50) ms (16 connections: $(m durable16_p50) ms); rows committed per round: ${R[durable_rows]:-}; mean group-commit batch: ${BATCH:-n/a}"
if [ -n "${DIAG:-}" ]; then
  echo
  echo "PostgreSQL during the run (DIAG=1, $PGLOG):"
  tail -c +"$((DIAG_LOG_START + 1))" "$PGLOG" > "$WORK/pg-diag.log"
  echo "  checkpoints: $(grep -c 'checkpoint complete' "$WORK/pg-diag.log") ($(grep -o 'checkpoint starting: [a-z ]*' "$WORK/pg-diag.log" | sort | uniq -c | tr -s ' ' | paste -sd,))"
  echo "  autovacuum/analyze runs: $(grep -cE 'automatic (vacuum|analyze)' "$WORK/pg-diag.log") ($(grep -oE 'automatic (vacuum|analyze) of table "[^"]*"' "$WORK/pg-diag.log" | sort | uniq -c | tr -s ' ' | paste -sd,))"
  # Their CPU by kind and table (each log entry's "system usage: CPU: user: U s, system: S s").
  echo "  autovacuum CPU (user + system): $(python3 - "$WORK/pg-diag.log" <<'PY'
import re, sys
cpu, n, key = {}, {}, None
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r'automatic (vacuum|analyze) of table "[^".]*\.[^".]*\.([^"]*)"', line)
    if m: key = m.group(1) + " " + m.group(2)
    m = re.search(r"system usage: CPU: user: ([0-9.]+) s, system: ([0-9.]+) s", line)
    if m and key:
        cpu[key] = cpu.get(key, 0) + float(m.group(1)) + float(m.group(2))
        n[key] = n.get(key, 0) + 1
        key = None
top = [(k, v) for k, v in sorted(cpu.items(), key=lambda e: -e[1]) if v >= 0.005]
print(", ".join("%s %.2f s in %d" % (k, v, n[k]) for k, v in top) or "none over 5 ms")
PY
)"
  echo "  lock waits > 5 ms: $(grep -c 'still waiting for' "$WORK/pg-diag.log") ($(grep -oE 'still waiting for [A-Za-z]+ on [a-z]+' "$WORK/pg-diag.log" | sort | uniq -c | tr -s ' ' | paste -sd,))"
  echo "  statements > 20 ms: $(grep -c 'duration:' "$WORK/pg-diag.log"); slowest:"
  grep -o 'duration: [0-9.]* ms .\{0,90\}' "$WORK/pg-diag.log" | sort -t' ' -k2 -rn | head -5 | sed 's/^/    /' || true
  psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c \
    "SELECT 'WAL: ' || wal_records || ' records, ' || wal_fpi || ' full-page images, ' || pg_size_pretty(wal_bytes) || ', ' || wal_sync || ' syncs, mean sync ' || round((wal_sync_time / greatest(wal_sync, 1))::numeric, 2) || ' ms, wal_buffers_full ' || wal_buffers_full FROM pg_stat_wal" | sed 's/^/  /' || true
fi
