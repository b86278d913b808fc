#!/usr/bin/env bash
# Two builds of the service side by side, for a before/after on this noisy machine: one
# `flashsale up` (of build B) provides Redis and PostgreSQL; build A's and build B's binaries
# run as two `flashsale serve --threads 2 --no-gateway` processes on them, and `wrk -t2 -c256`
# drives A and B alternately, ROUNDS times, so that both see the same neighbours. Prints per
# run the throughput, the serving process's CPU per request (user and system, from /proc) and
# Redis' CPU per request. Instruction counts per request are bench/callgrind_hot_path.sh's job;
# this is for what instructions do not show (memory, syscalls).
# Usage: bench/ab_builds.sh BUILD_A BUILD_B   (build dirs, e.g. ../base/build/release build/release)
#   CASE=b (a user who holds a reservation clicks again: 409 at Redis, default)
#       | a (sold out: 410 from memory, 200,000 distinct users)
#       | c (durable 201: a fresh sale per run, so that every user reserves; also PostgreSQL's CPU)
#   ROUNDS (default 4), DURATION (s per run, default 5), CONNS (default 256),
#   SYSCALLS=1 also counts recvfrom/sendmsg/epoll_wait per request (perf stat, 3 s of each run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -eq 2 ] || { echo "usage: $0 BUILD_A BUILD_B"; exit 2; }
declare -A BIN=([A]=$(realpath "$1/src/flashsale") [B]=$(realpath "$2/src/flashsale"))
FLASHSALE=${BIN[B]}
command -v wrk >/dev/null || { echo "needs wrk"; exit 1; }

source bench/lib.sh
bench_init flashsale-ab
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
UP_PORT=$(free_port)
start_up "$UP_PORT" --no-gateway --threads 1 --event-roles ""
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$UP_PORT
put_product ab-limit 1000000000 1
put_product ab-soldout 0 1
"$FLASHSALE" token --sub solo > "$WORK/one-user.txt"
curl -sf -X POST "$BASE/v1/reservations" -H "Authorization: Bearer $(cat "$WORK/one-user.txt")" \
  -d '{"product_id":"ab-limit"}' >/dev/null
mint_tokens "$WORK/many-users.txt" 200000 ab-
case ${CASE:-b} in
  b) TOKENS=$WORK/one-user.txt PRODUCT=ab-limit ;;
  a) TOKENS=$WORK/many-users.txt PRODUCT=ab-soldout ;;
  c) TOKENS=$WORK/many-users.txt PRODUCT=ab-durable-warm; put_product "$PRODUCT" 1000000000 1 ;;
  *) echo "CASE is a, b or c"; exit 2 ;;
esac

declare -A PORT PID
for v in A B; do
  PORT[$v]=$(free_port)
  "${BIN[$v]}" serve --redis "127.0.0.1:$REDIS_PORT" \
    --pg "host=127.0.0.1 port=$PG_PORT dbname=flashsale user=flashsale password=flashsale" \
    --http-port "${PORT[$v]}" --threads 2 --no-gateway > "$WORK/serve-$v.log" 2>&1 &
  PID[$v]=$!
  PIDS+=($!)
done
for v in A B; do
  for _ in $(seq 1 150); do grep -q listening "$WORK/serve-$v.log" && break; sleep 0.2; done
  grep -q listening "$WORK/serve-$v.log" || { cat "$WORK/serve-$v.log"; exit 1; }
done
REDIS_PID=$(pgrep -f "redis-server 127.0.0.1:$REDIS_PORT" | head -1)
ticks() { # pid... -> "user system" clock ticks of all their threads
  local u=0 s=0 p t f
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      [ -r "$t/stat" ] || continue  # a thread or backend that has just exited
      read -r -a f < "$t/stat"; u=$((u + f[13])); s=$((s + f[14]))
    done
  done
  echo "$u $s"
}
pg_pids() { pgrep -u postgres postgres | tr '\n' ' '; }
drive() { # version seconds
  TOKENS_FILE=$TOKENS PRODUCT=$PRODUCT WRK_THREADS=2 wrk -t2 -c"${CONNS:-256}" -d"$2s" \
    -s bench/wrk_post.lua "http://127.0.0.1:${PORT[$1]}" 2>&1 | grep p50_ms || true
}
for v in A B; do drive "$v" 2 >/dev/null; done  # warm-up: catalog, sold-out view, connections
TICK_US=$((1000000 / $(getconf CLK_TCK)))
echo "A = $1 ($(git -C "$(dirname "$1")" rev-parse --short HEAD 2>/dev/null || echo ?)), B = $2, case ${CASE:-b}, ${CONNS:-256} connections"
for r in $(seq 1 "${ROUNDS:-4}"); do
  for v in A B; do
    read -r su0 ss0 < <(ticks "${PID[$v]}")
    read -r ru0 rs0 < <(ticks "$REDIS_PID")
    if [ "${CASE:-b}" = c ]; then
      PRODUCT=ab-durable-$v-$r
      put_product "$PRODUCT" 1000000000 1
      PG_PIDS=$(pg_pids)
      # shellcheck disable=SC2086
      read -r pu0 ps0 < <(ticks $PG_PIDS)
    fi
    if [ -n "${SYSCALLS:-}" ]; then
      (sleep 1; perf stat -x, -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait \
        -p "${PID[$v]}" -- sleep 3 2> "$WORK/perf-$v.txt") &
      PERF_PID=$!
    fi
    line=$(drive "$v" "${DURATION:-5}")
    read -r su1 ss1 < <(ticks "${PID[$v]}")
    read -r ru1 rs1 < <(ticks "$REDIS_PID")
    PG_US=""
    if [ "${CASE:-b}" = c ]; then
      # shellcheck disable=SC2086
      read -r pu1 ps1 < <(ticks $PG_PIDS)
      PG_US=$((pu1 + ps1 - pu0 - ps0))
    fi
    n=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
    rps=$(echo "$line" | grep -o 'rps=[0-9]*' | cut -d= -f2)
    awk -v v="$v" -v r="$r" -v n="${n:-0}" -v rps="${rps:-0}" -v us="$TICK_US" \
      -v su=$((su1 - su0)) -v ss=$((ss1 - ss0)) -v ru=$((ru1 - ru0)) -v rs=$((rs1 - rs0)) -v pg="$PG_US" \
      'BEGIN{ if (n == 0) { printf "round %d %s: no requests\n", r, v; exit }
              f = us / n; printf "round %d %s %7d/s  service µs/request user %5.2f system %5.2f total %5.2f  redis %5.2f", r, v, rps, su*f, ss*f, (su+ss)*f, (ru+rs)*f
              if (pg != "") printf "  postgres %5.2f", pg*f
              printf "\n" }'
    if [ -n "${SYSCALLS:-}" ]; then
      wait "$PERF_PID" || true
      awk -F, -v r="${rps:-1}" '$1 ~ /^[0-9]+$/ {printf "          %.3f %s per request (over 3 s at the run'"'"'s mean rate)\n", $1 / (3 * r), $3}' "$WORK/perf-$v.txt"
    fi
  done
done
