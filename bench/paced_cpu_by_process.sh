#!/usr/bin/env bash
# The CPU a paced durable 201 costs in each process and thread: every PostgreSQL process (named by
# its backend type or the statement it last ran) and every thread of the service, in µs per 201
# (user + system, and each), from /proc over one paced run; plus PostgreSQL's WAL flushes per 201.
# Complements bench/paced_201.sh (which sums per process family) when a change moves CPU from one
# backend or thread to another.
# Usage: bench/paced_cpu_by_process.sh [build dir, default build/release]
#   RATE (default 2000), CONNS (64), DURATION (s, 10), EVENT_ROLES (default relay,notifier);
#   PGSQL runs one SQL statement as the superuser before the run (an experiment, e.g. dropping an
#   index); PGSET one `ALTER SYSTEM SET` (followed by a reload).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
RATE=${RATE:-2000}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10}
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }
command -v wrk >/dev/null || bash scripts/install-deps.sh

source bench/lib.sh
bench_init flashsale-cpu-by-process
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
PORT=$(free_port)
start_up "$PORT" --no-gateway --threads 2 --event-roles "${EVENT_ROLES-relay,notifier}"
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$PORT
SERVICE=${PIDS[0]}
super() { psql -q -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale "$@"; }
[ -z "${PGSQL:-}" ] || super -c "$PGSQL" >/dev/null
if [ -n "${PGSET:-}" ]; then super -c "ALTER SYSTEM SET $PGSET" -c "SELECT pg_reload_conf()" >/dev/null; sleep 1; fi
mint_tokens "$WORK/users.txt" $((RATE * DURATION * 2)) cpu-
mint_tokens "$WORK/warm.txt" $((RATE * 4)) warm-
put_product cpu-p 1000000000 1
paced() {  # tokens seconds
  TOKENS_FILE=$1 PRODUCT=cpu-p WRK_THREADS=2 DELAY_MS=$((CONNS * 1000 / RATE)) \
    wrk -t2 -c"$CONNS" -d"$2s" --timeout 10s -s bench/wrk_post.lua "$BASE" 2>&1 | grep p50_ms || true
}
paced "$WORK/warm.txt" 3 >/dev/null  # connections, prepared statements, the relay's first rounds
sleep 2
# "pid utime stime" (clock ticks) of every PostgreSQL process and every service thread.
snapshot() {
  local p
  for p in $(pgrep -u postgres postgres || true); do
    [ -r "/proc/$p/stat" ] && awk -v p="$p" '{print p, $14, $15}' "/proc/$p/stat"
  done
  for p in $(ls "/proc/$SERVICE/task"); do
    awk -v p="$p" '{print p, $14, $15}' "/proc/$SERVICE/task/$p/stat"
  done
}
wal_syncs() { super -c "SELECT wal_sync FROM pg_stat_wal"; }
snapshot | sort > "$WORK/before"
wal0=$(wal_syncs)
line=$(paced "$WORK/users.txt" "$DURATION")
snapshot | sort > "$WORK/after"
wal1=$(wal_syncs)
super -F'|' -c "SELECT pid, CASE WHEN backend_type = 'client backend'
  THEN 'backend: ' || left(regexp_replace(query, '\s+', ' ', 'g'), 60) ELSE backend_type END
  FROM pg_stat_activity" > "$WORK/activity"
N=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
echo "paced durable 201s: offered $RATE/s over $CONNS connections for ${DURATION}s: $line"
echo "WAL flushes: $((wal1 - wal0)), $(awk -v a=$((wal1 - wal0)) -v n="$N" 'BEGIN{printf "%.2f", a / n}') per 201"
echo "CPU per 201 (µs, user + system), by process or thread:"
TICK_US=$((1000000 / $(getconf CLK_TCK)))
join "$WORK/before" "$WORK/after" |
  awk -v n="$N" -v t="$TICK_US" '{u = $4 - $2; s = $5 - $3; if (u + s > 0)
    printf "%s %.1f %.1f %.1f\n", $1, (u + s) * t / n, u * t / n, s * t / n}' |
  sort -k2 -rn | while read -r pid all user sys; do
    what=$(grep "^$pid|" "$WORK/activity" | cut -d'|' -f2 || true)
    if [ -z "$what" ]; then
      if [ -e "/proc/$SERVICE/task/$pid" ]; then what="service thread $(cat "/proc/$SERVICE/task/$pid/comm" 2>/dev/null || echo "$pid")"
      else what="postgres $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-50)"; fi
    fi
    printf '%8s  (user %6s, system %6s)  %s\n' "$all" "$user" "$sys" "$what"
  done
