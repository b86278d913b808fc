#!/usr/bin/env bash
# PostgreSQL's WAL per committed 201 under a saturated durable load, each run starting right after
# a CHECKPOINT (so the full-page images that the first change of each page after it costs are
# counted): pg_stat_wal's bytes, records and full-page images per reservation row, and the sizes
# of the reservations table and its indexes at the end.
# Usage: bench/wal_per_row.sh [build dir, default build/release]; RUNS (3), DURATION (s, 6).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
RUNS=${RUNS:-3}
DURATION=${DURATION:-6}
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }
command -v wrk >/dev/null || bash scripts/install-deps.sh
source bench/lib.sh
bench_init flashsale-wal
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
PORT=$(free_port)
start_up "$PORT" --no-gateway --threads 2 --event-roles "relay,notifier"
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$PORT
mint_tokens "$WORK/users.txt" 400000 buyer-
q() { psql -At -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "$1"; }
for i in $(seq 1 "$RUNS"); do
  put_product "wal-$i" 1000000000 1
  q "CHECKPOINT" >/dev/null
  q "SELECT pg_stat_reset_shared('wal')" >/dev/null
  rows0=$(q "SELECT count(*) FROM reservations")
  rps=$(TOKENS_FILE=$WORK/users.txt PRODUCT=wal-$i WRK_THREADS=2 \
    wrk -t2 -c256 -d"${DURATION}s" --timeout 10s -s bench/wrk_post.lua "$BASE" 2>&1 | grep -o "rps=[0-9]*")
  rows=$(( $(q "SELECT count(*) FROM reservations") - rows0 ))
  echo "run $i: $rps rows=$rows $(q "SELECT 'wal_bytes/row=' || round(wal_bytes / $rows) || ' fpi/row=' || round(wal_fpi::numeric / $rows, 3) || ' records/row=' || round(wal_records::numeric / $rows, 2) FROM pg_stat_wal")"
done
echo "sizes: $(q "SELECT string_agg(relname || ' ' || pg_size_pretty(pg_relation_size(oid)), ', ' ORDER BY relname) FROM pg_class WHERE relname LIKE 'reservations%'")"
