#!/usr/bin/env bash
# Instructions per request of the hot paths, counted by callgrind: repeatable on a noisy machine,
# so every optimisation of the per-request path is compared with this before and after.
#   (a) sold-out 410, (b) refused at Redis (409 limit), (c) durable 201
# Redis and PostgreSQL come from `flashsale up` (not instrumented); a second service process,
# `flashsale serve` on the same Redis/PostgreSQL, runs under callgrind with instrumentation
# switched on only while wrk drives one path (after a warm-up). The figure is the instructions
# of the whole service process (all threads, kernel excluded) divided by wrk's request count.
# Usage: bench/callgrind_hot_path.sh [build dir, default build/release]
#   DURATION (s, default 4), CONNS (default 32), PRELOAD (e.g. a malloc to LD_PRELOAD)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$(realpath "$BUILD/src/flashsale")
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
command -v valgrind >/dev/null && command -v wrk >/dev/null || { echo "needs valgrind and wrk"; exit 1; }

source bench/lib.sh
# valgrind writes its output after the kill: give it time before the folder goes.
bench_extra_cleanup() {
  for _ in $(seq 1 50); do [ -n "${VG_PID:-}" ] && kill -0 "$VG_PID" 2>/dev/null && sleep 0.1; done
}
bench_init flashsale-callgrind

export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
UP_PORT=$(free_port)
PORT=$(free_port)
start_up "$UP_PORT" --threads 1
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$UP_PORT
mint() { "$FLASHSALE" token --sub "$1"; }
put_product cg-soldout 0 1
put_product cg-limit 1000000000 1
put_product cg-durable 1000000000 1
put_product cg-durable-warm 1000000000 1  # the warm-up must not spend the users of the run
SOLO=$(mint solo)
echo "$SOLO" > "$WORK/one-user.txt"
curl -sf -X POST "http://127.0.0.1:$UP_PORT/v1/reservations" -H "Authorization: Bearer $SOLO" \
  -d '{"product_id":"cg-limit"}' >/dev/null
mint_tokens "$WORK/many-users.txt" 100000 cg-

(cd "$WORK" && env ${PRELOAD:+LD_PRELOAD=$PRELOAD} valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$WORK/cg.out" "$FLASHSALE" serve --redis "127.0.0.1:$REDIS_PORT" \
  --pg "host=127.0.0.1 port=$PG_PORT dbname=flashsale user=flashsale password=flashsale" \
  --http-port "$PORT" --threads 2 --no-gateway > "$WORK/serve.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q "listening" "$WORK/serve.log" && break; sleep 0.2; done
grep -q "listening" "$WORK/serve.log" || { cat "$WORK/serve.log"; exit 1; }
VG_PID=$(pgrep -f "callgrind-out-file=$WORK/cg.out" | head -1)
PIDS=("$VG_PID" "${PIDS[@]}")  # valgrind itself first: the subshell above does not forward kill

DUMPS=0
measure() {  # name product tokens_file [warm-up product]
  TOKENS_FILE=$3 PRODUCT=${4:-$2} WRK_THREADS=1 wrk -t1 -c"$CONNS" -d2s -s bench/wrk_post.lua \
    "http://127.0.0.1:$PORT" >/dev/null 2>&1  # warm-up: catalog, sold-out view, connections
  callgrind_control -z "$VG_PID" >/dev/null
  callgrind_control -i on "$VG_PID" >/dev/null
  local line
  line=$(TOKENS_FILE=$3 PRODUCT=$2 WRK_THREADS=1 wrk -t1 -c"$CONNS" -d"${DURATION}s" \
    -s bench/wrk_post.lua "http://127.0.0.1:$PORT" 2>&1 | grep p50_ms)
  callgrind_control -i off "$VG_PID" >/dev/null
  DUMPS=$((DUMPS + 1))
  callgrind_control -d "$VG_PID" >/dev/null
  local file=""
  for _ in $(seq 1 300); do
    file=$(ls "$WORK"/cg.out.*"$DUMPS" 2>/dev/null | head -1)
    [ -n "$file" ] && grep -q '^totals:' "$file" && break
    sleep 0.2
  done
  local ir requests
  ir=$(grep -m1 '^totals:' "$file" | awk '{print $2}')
  requests=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
  printf '%-28s %8s requests (%s non-2xx) %14s Ir %8s Ir/request\n' "$1" "$requests" \
    "$(echo "$line" | grep -o 'non2xx3xx=[0-9]*' | cut -d= -f2)" "$ir" \
    "$(awk -v a="$ir" -v b="$requests" 'BEGIN{ if (b>0) printf "%.0f", a/b; else print "n/a"}')"
  [ -z "${KEEP:-}" ] || cp "$file" "$WORK/$1.callgrind"
}
measure "(a) sold-out 410" cg-soldout "$WORK/many-users.txt"
measure "(b) refused at Redis 409" cg-limit "$WORK/one-user.txt"
measure "(c) durable 201" cg-durable "$WORK/many-users.txt" cg-durable-warm
[ -z "${KEEP:-}" ] || echo "callgrind files kept in $WORK"
