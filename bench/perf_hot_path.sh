#!/usr/bin/env bash
# Where the service's CPU goes on one hot path, sampled by `perf record` while wrk drives it at
# saturation: the complement of bench/callgrind_hot_path.sh, which counts instructions but not
# what costs time without instructions (cache lines two threads fight over, lock waits, syscalls).
# Only the software cpu-clock event is used (no hardware counters needed). It also prints, for
# the same load: the service's syscalls per request (perf stat on the syscall tracepoints) and,
# for b and c, Redis' commands per request from INFO commandstats (calls, and the microseconds
# Redis spent in each), with the CPU that Redis and the service spent per request.
# Usage: bench/perf_hot_path.sh [build dir, default build/release]
#   CASE=a (sold-out 410, default) | b (refused at Redis, 409) | c (durable 201)
#   DURATION (s, default 6), CONNS (default 256), TOP (symbols listed, default 40),
#   KEEP=1 keeps $WORK with perf.data for `perf report -i`; RATE=N paces the measured run at ~N
#   requests/s over CONNS connections (below saturation: what each request costs when little is
#   batched, e.g. CASE=c RATE=2000 CONNS=64 as hot_path.sh's paced 201).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$(realpath "$BUILD/src/flashsale")
DURATION=${DURATION:-6}
CONNS=${CONNS:-256}
CASE=${CASE:-a}
TOP=${TOP:-40}
command -v perf >/dev/null && command -v wrk >/dev/null || { echo "needs perf and wrk"; exit 1; }

source bench/lib.sh
bench_init flashsale-perf
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
PORT=$(free_port)
start_up "$PORT" --no-gateway --threads 2 --event-roles "${EVENT_ROLES-relay,notifier}"
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$PORT
mint_tokens "$WORK/many-users.txt" 200000 perf-
case $CASE in
  a) PRODUCT=perf-soldout; put_product "$PRODUCT" 0 1; TOKENS=$WORK/many-users.txt ;;
  b) PRODUCT=perf-limit; put_product "$PRODUCT" 1000000000 1
     "$FLASHSALE" token --sub solo > "$WORK/one-user.txt"
     curl -sf -X POST "$BASE/v1/reservations" -H "Authorization: Bearer $(cat "$WORK/one-user.txt")" \
       -d "{\"product_id\":\"$PRODUCT\"}" >/dev/null
     TOKENS=$WORK/one-user.txt ;;
  c) PRODUCT=perf-durable; put_product "$PRODUCT" 1000000000 1; TOKENS=$WORK/many-users.txt
     # The warm-up must not spend the users of the run (one reservation each).
     WARM_PRODUCT=perf-durable-warm; put_product "$WARM_PRODUCT" 1000000000 1 ;;
  *) echo "CASE is a, b or c"; exit 1 ;;
esac
SERVICE_PID=${PIDS[0]}
REDIS_PID=$(pgrep -f "redis-server 127.0.0.1:$REDIS_PORT" | head -1)
cpu_ticks() { local t=0 p f; for p in "$@"; do read -r -a f < "/proc/$p/stat"; t=$((t + f[13] + f[14])); done; echo "$t"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
wrk_run() {  # seconds [product [delay ms]]
  TOKENS_FILE=$TOKENS PRODUCT=${2:-$PRODUCT} WRK_THREADS=2 DELAY_MS=${3:-} \
    wrk -t2 -c"$CONNS" -d"$1s" --timeout 10s -s bench/wrk_post.lua "$BASE" 2>&1 | grep p50_ms || true
}
wrk_run 2 "${WARM_PRODUCT:-$PRODUCT}" >/dev/null  # warm-up: connections, catalog, sold-out view
[ "$CASE" != c ] || sleep 5  # the relay and notifier finish the warm-up's events first
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
CPU_BEFORE_SERVICE=$(cpu_ticks "$SERVICE_PID")
CPU_BEFORE_REDIS=$(cpu_ticks "$REDIS_PID")
wrk_run "$DURATION" "$PRODUCT" "${RATE:+$((CONNS * 1000 / RATE))}" > "$WORK/wrk.txt" &
WRK=$!
sleep 1
perf record -q -e cpu-clock -F 4999 -g -p "$SERVICE_PID" -o "$WORK/perf.data" -- sleep $(((DURATION - 2) / 2)) 2>/dev/null
perf stat -e 'syscalls:sys_enter_*' -p "$SERVICE_PID" -o "$WORK/syscalls.txt" -- sleep $(((DURATION - 2) / 2)) 2>/dev/null
wait "$WRK"
CPU_SERVICE=$(($(cpu_ticks "$SERVICE_PID") - CPU_BEFORE_SERVICE))
CPU_REDIS=$(($(cpu_ticks "$REDIS_PID") - CPU_BEFORE_REDIS))
echo "case $CASE: $(cat "$WORK/wrk.txt")"
REQUESTS=$(grep -o 'requests=[0-9]*' "$WORK/wrk.txt" | cut -d= -f2)
RPS=$(grep -o 'rps=[0-9]*' "$WORK/wrk.txt" | cut -d= -f2)
echo "CPU per request (µs, whole run incl. the wrk tail): service $(awk -v t="$CPU_SERVICE" -v u="$TICK_US" -v n="$REQUESTS" 'BEGIN{printf "%.1f", t*u/n}'), redis $(awk -v t="$CPU_REDIS" -v u="$TICK_US" -v n="$REQUESTS" 'BEGIN{printf "%.1f", t*u/n}')"
echo "--- service syscalls per request (perf stat, $(((DURATION - 2) / 2)) s at ~$RPS/s) ---"
awk -v rps="$RPS" -v secs=$(((DURATION - 2) / 2)) '$1 ~ /^[0-9,]+$/ {gsub(",", "", $1); if ($1 > 0) printf "%8.3f  %s\n", $1 / (rps * secs), $2}' "$WORK/syscalls.txt" | sort -rn | sed -n "1,8p"
if [ "$CASE" != a ]; then
  echo "--- Redis commands per request (INFO commandstats; usec: time inside Redis) ---"
  redis-cli -p "$REDIS_PORT" info commandstats | grep '^cmdstat' | tr ':,=' '    ' |
    awk -v n="$REQUESTS" '$1 != "cmdstat_config|resetstat" {printf "%-26s calls %6.2f  usec/call %6.2f  usec/request %7.2f\n", substr($1, 9), $3/n, $7, $5/n}' |
    sort -k7 -rn | sed -n "1,12p"
fi
echo "--- self (no children), top $TOP ---"
perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | sed "s/ *-  *-  *$//" | cut -c1-150 |
  grep -v '^#' | grep -v '^$' | sed -n "1,${TOP}p"  # sed, not head: head would end the pipe early and pipefail the script
echo "--- by DSO ---"
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | sed "s/ *-  *-  *$//" | cut -c1-150 |
  grep -v '^#' | grep -v '^$' | sed -n "1,12p"
[ -z "${KEEP:-}" ] || echo "perf data kept in $WORK/perf.data"
