#!/usr/bin/env bash
# What the whole system costs while no one buys: the CPU of the service (with the outbox relay
# and the notifier), PostgreSQL (all its processes) and Redis over IDLE seconds without a single
# request, and PostgreSQL's transactions in that time (the relay's polls, readiness probes).
# Usage: bench/idle_cpu.sh [build dir, default build/release]; IDLE (s, default 20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
IDLE=${IDLE:-20}
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }

source bench/lib.sh
bench_init flashsale-idle
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
PORT=$(free_port)
start_up "$PORT" --no-gateway --threads 2 --event-roles "${EVENT_ROLES-relay,notifier}"
SERVICE=${PIDS[0]}
sleep 5  # start-up work (migrations, first rounds) is not idling
TICK_MS=$((1000 / $(getconf CLK_TCK)))
cpu_ms() {  # pids -> their CPU (user + system) in ms
  local t=0 p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo $((t * TICK_MS))
}
xacts() {
  psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale \
    -c "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"
}
read -r -a PG <<< "$(pgrep -u postgres postgres | tr '\n' ' ')"
REDIS=$(pgrep -f "redis-server 127.0.0.1:$REDIS_PORT" | head -1)
s0=$(cpu_ms "$SERVICE"); p0=$(cpu_ms "${PG[@]}"); r0=$(cpu_ms "$REDIS"); x0=$(xacts)
sleep "$IDLE"
s1=$(cpu_ms "$SERVICE"); p1=$(cpu_ms "${PG[@]}"); r1=$(cpu_ms "$REDIS"); x1=$(xacts)
echo "idle ${IDLE}s: CPU service $((s1 - s0)) ms, PostgreSQL $((p1 - p0)) ms, Redis $((r1 - r0)) ms;" \
  "PostgreSQL transactions $((x1 - x0)) (the two psql calls of this script included)"
