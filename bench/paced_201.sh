#!/usr/bin/env bash
# The durable 201 at a paced rate, alone: what bench/hot_path.sh's paced (c) line measures, without
# the other measurements around it, and with what each part of the system spent on it. Per run:
# - wrk's latency of the paced 201s (offered RATE/s over CONNS connections, wrk_post.lua's pacing);
# - where they spent their time, from the service's histograms (bucket precision): the whole
#   request, the INSERT batch statement, a reservation's commit wait and its three parts (queued
#   behind the batch in flight, its own batch's statements, the hand-off back), the Redis
#   `reserve` script;
# - the CPU per 201 of the service, Redis and PostgreSQL (all its processes), from /proc, how
#   busy the whole machine was, and PostgreSQL's WAL flushes (pg_stat_wal.wal_sync) per 201;
# - Redis AOF rewrites (forks) and PostgreSQL autovacuum/analyze runs during the run.
# SAT=SECONDS runs a saturated burst (256 connections, distinct users) before each paced run and
# then waits for the outbox relay and the notifier to catch up, as hot_path.sh does; without it
# every paced run starts on a quiet system.
# Usage: bench/paced_201.sh [build dir, default build/release]
#   RATE (default 2000), CONNS (64), DURATION (s, 8), RUNS (3), SAT, THREADS (2),
#   EVENT_ROLES (default relay,notifier), UP_ARGS (more `flashsale up` options), REDIS_SET (Redis
#   settings, "name value ...", applied with CONFIG SET after start), TRACE_SYNC=1 (root: every
#   fsync/fdatasync on the machine during each paced run, with `perf trace`, by process), PAUSE_DAMON=1
#   (root: the guest kernel's DAMON reclaim off during the run, see bench/lib.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build/release}
FLASHSALE=$BUILD/src/flashsale
RATE=${RATE:-2000}
CONNS=${CONNS:-64}
DURATION=${DURATION:-8}
RUNS=${RUNS:-3}
[ -x "$FLASHSALE" ] || { echo "build first: cmake --preset release && cmake --build --preset release"; exit 1; }
command -v wrk >/dev/null || bash scripts/install-deps.sh

source bench/lib.sh
bench_init flashsale-paced
damon_pause_if_asked
export FLASHSALE_JWT_SECRET=bench-secret-$RANDOM
PORT=$(free_port)
# shellcheck disable=SC2086
start_up "$PORT" --no-gateway --threads "${THREADS:-2}" --event-roles "${EVENT_ROLES-relay,notifier}" ${UP_ARGS:-}
ADMIN=$("$FLASHSALE" token --sub admin --admin)
BASE=http://127.0.0.1:$PORT
mint_tokens "$WORK/users.txt" 200000 buyer-

# Redis commands that took over 1 ms of Redis' own time are listed after each run (SLOWLOG).
redis-cli -p "$REDIS_PORT" config set slowlog-log-slower-than 1000 >/dev/null
redis-cli -p "$REDIS_PORT" config set slowlog-max-len 1024 >/dev/null
# REDIS_SET="name value ...": more Redis settings for the run (an experiment's knob).
# shellcheck disable=SC2086
[ -z "${REDIS_SET:-}" ] || redis-cli -p "$REDIS_PORT" config set ${REDIS_SET} >/dev/null
SERVICE_PID=${PIDS[0]}
REDIS_PID=$(pgrep -f "redis-server 127.0.0.1:$REDIS_PORT" | head -1)
PG_MASTER=$(pgrep -u postgres -f "postgres -D $WORK" | head -1)
sql() { PGPASSWORD=flashsale psql -At -X -h 127.0.0.1 -p "$PG_PORT" -U flashsale -d flashsale -c "$1"; }
ticks() {  # CPU clock ticks (user + system) of processes
  local t=0 p f
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    read -r -a f < "/proc/$p/stat" || continue
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
pg_pids() { echo "$PG_MASTER" $(pgrep -P "$PG_MASTER"); }
waits() {  # run-queue wait (µs) and time slices of all threads of processes, from schedstat
  local w=0 n=0 p t b c
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do
      read -r _ b c < "$t" 2>/dev/null || continue
      w=$((w + b / 1000)) n=$((n + c))
    done
  done
  echo "$w $n"
}
machine() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat; }  # total idle+iowait
bgwriter() {  # checkpoints, buffers written by checkpoints, by the bgwriter, by backends
  psql -At -X -F' ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c \
    "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, buffers_clean, buffers_backend FROM pg_stat_bgwriter"
}
wal_syncs() { psql -At -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d flashsale -c "SELECT wal_sync FROM pg_stat_wal"; }
wrk_paced() {  # product -> the wrk done() line
  TOKENS_FILE=$WORK/users.txt PRODUCT=$1 WRK_THREADS=2 DELAY_MS=$((CONNS * 1000 / RATE)) \
    PREBUILT=$((RATE * DURATION + 1000)) \
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s bench/wrk_post.lua "$BASE" 2>&1 | grep p50_ms
}
per() { awk -v t="$1" -v n="$2" -v u=$((1000000 / $(getconf CLK_TCK))) 'BEGIN { printf "%.0f", n ? t * u / n : 0 }'; }

echo "paced durable 201s: offered ${RATE}/s over $CONNS connections, ${DURATION}s x $RUNS runs$([ -n "${SAT:-}" ] && echo ", each after a ${SAT}s saturated burst"); guest kernel DAMON reclaim: $(damon_state)"
for i in $(seq 1 "$RUNS"); do
  if [ -n "${SAT:-}" ]; then
    put_product "burst-$i" 1000000000 1
    burst=$(TOKENS_FILE=$WORK/users.txt PRODUCT=burst-$i WRK_THREADS=2 \
      wrk -t2 -c256 -d"${SAT}s" --timeout 10s -s bench/wrk_post.lua "$BASE" 2>&1 | grep -o "rps=[0-9]*")
    backlog=0 lag=0
    for _ in $(seq 1 120); do backlog=$(sql "SELECT count(*) FROM outbox"); [ "$backlog" -lt 1000 ] && break; sleep 0.5; done
    for _ in $(seq 1 120); do lag=$(notifier_lag); [ "$lag" -lt 1000 ] && break; sleep 0.5; done
    echo "burst $i: $burst; then outbox rows $backlog, notifier lag $lag"
  fi
  put_product "paced-$i" 1000000000 1
  curl -s "$BASE/metrics" > "$WORK/metrics-before"
  forks=$(redis_forks) vacuums=$(pg_vacuums) syncs=$(wal_syncs)
  read -r ck bc bw bb < <(bgwriter)
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' > "$WORK/cmd-before"
  redis-cli -p "$REDIS_PORT" slowlog reset >/dev/null
  # shellcheck disable=SC2046  # pg_pids is a list of PIDs, split on purpose
  cs=$(ticks "$SERVICE_PID") cr=$(ticks "$REDIS_PID") cp=$(ticks $(pg_pids))
  read -ra pg_now <<< "$(pg_pids)"
  read -r ws wsn < <(waits "$SERVICE_PID")
  read -r wr wrn < <(waits "$REDIS_PID")
  read -r wp wpn < <(waits "${pg_now[@]}")
  read -r m_total m_idle < <(machine)
  kd=$(kdamond_ms)
  if [ -n "${TRACE_SYNC:-}" ]; then
    perf trace -a -e fdatasync,fsync -o "$WORK/sync-$i.txt" 2>/dev/null &
    TRACER=$!
    sleep 0.5
  fi
  line=$(wrk_paced "paced-$i")
  if [ -n "${TRACE_SYNC:-}" ]; then kill -INT "$TRACER"; wait "$TRACER" || true; fi
  kd=$(($(kdamond_ms) - kd))
  read -r m_total2 m_idle2 < <(machine)
  # shellcheck disable=SC2046
  read -r ws2 wsn2 < <(waits "$SERVICE_PID")
  read -r wr2 wrn2 < <(waits "$REDIS_PID")
  read -r wp2 wpn2 < <(waits "${pg_now[@]}")
  # shellcheck disable=SC2046
  cs=$(($(ticks "$SERVICE_PID") - cs)) cr=$(($(ticks "$REDIS_PID") - cr)) cp=$(($(ticks $(pg_pids)) - cp))
  curl -s "$BASE/metrics" > "$WORK/metrics-after"
  n=$(echo "$line" | grep -o 'requests=[0-9]*' | cut -d= -f2)
  echo "run $i: $line"
  echo "  inside the service: $(metrics_q flashsale_http_request_duration_seconds route=/v1/reservations); INSERT statement: $(metrics_q flashsale_backend_call_duration_seconds op=insert_reservations); a reservation's wait for its commit: $(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit), of which queued $(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit_queued), its batch's statements $(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit_statement), hand-off back $(metrics_q flashsale_backend_call_duration_seconds op=reservation_commit_handoff); Redis reserve: $(metrics_q flashsale_backend_call_duration_seconds op=reserve); I/O thread loop lag: $(metrics_q flashsale_io_loop_lag_seconds) (ms)"
  echo "  CPU per 201 (µs): service $(per "$cs" "$n"), Redis $(per "$cr" "$n"), PostgreSQL $(per "$cp" "$n"); machine busy $((100 - (m_idle2 - m_idle) * 100 / (m_total2 - m_total)))%; WAL flushes per 201 $(awk -v s=$(($(wal_syncs) - syncs)) -v n="$n" 'BEGIN { printf "%.2f", s / n }'); during the run: AOF rewrites $(($(redis_forks) - forks)), autovacuum/analyze runs $(($(pg_vacuums) - vacuums)), the kernel's kdamond ${kd} ms of CPU"
  read -r ck2 bc2 bw2 bb2 < <(bgwriter)
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' > "$WORK/cmd-after"
  # Redis' own time per 201 by command (commandstats usec; a script's calls count under both)
  top=$(python3 - "$WORK/cmd-before" "$WORK/cmd-after" "$n" <<'PY'
import re, sys
def load(f):
    out = {}
    for line in open(f):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m: out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out
a, b, n = load(sys.argv[1]), load(sys.argv[2]), max(int(sys.argv[3]), 1)
d = {k: (v[0] - a.get(k, (0, 0))[0], v[1] - a.get(k, (0, 0))[1]) for k, v in b.items()}
d = {k: v for k, v in d.items() if v[0] > 0 and k not in ("info", "xinfo|groups")}
print(", ".join("%s %.1f µs (%.2f calls)" % (k, us / n, c / n) for k, (c, us) in sorted(d.items(), key=lambda x: -x[1][1])[:7]))
PY
)
  echo "  Redis time per 201 by command: $top"
  # Redis' slowlog: commands that took Redis over 1 ms (a command preempted mid-way counts too).
  slow=$(redis-cli -p "$REDIS_PORT" --json slowlog get 1024 | python3 -c '
import json, sys
entries = sorted(json.load(sys.stdin), key=lambda e: -e[2])
total = sum(e[2] for e in entries) / 1000
top = "; ".join("%.1f ms %s" % (e[2] / 1000, " ".join(e[3][:3])) for e in entries[:4])
print("%d commands over 1 ms, %.1f ms in all; longest: %s" % (len(entries), total, top or "-"))')
  echo "  Redis slowlog: $slow"
  echo "  PostgreSQL during the run: checkpoints $((ck2 - ck)); buffers written by the checkpointer $((bc2 - bc)), the bgwriter $((bw2 - bw)), backends $((bb2 - bb)); Redis memory $(redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_human" {print $2}'), keys $(redis-cli -p "$REDIS_PORT" dbsize)"
  if [ -n "${TRACE_SYNC:-}" ]; then
    # perf trace lines: "  12.345 ( 1.234 ms): postgres/4321 fdatasync(fd: 5) = 0"
    echo "  disk flushes during the run (perf trace, ms): $(python3 - "$WORK/sync-$i.txt" "$DURATION" <<'PY'
import re, sys
by = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"\(\s*([0-9.]+) ms\): ([^/ ]+)/\d+ (fdatasync|fsync)\(", line)
    # a call that began before the trace started shows a wrapped, huge duration: left out
    if m and float(m.group(1)) < 1e6: by.setdefault((m.group(2), m.group(3)), []).append(float(m.group(1)))
def q(a, p): return a[min(len(a) - 1, int(len(a) * p))]
out = []
for (comm, call), a in sorted(by.items(), key=lambda e: -len(e[1])):
    a.sort()
    out.append("%s %s %.1f/s p50 %.2f p90 %.2f p99 %.2f max %.1f, over 5 ms %d" % (
        comm, call, len(a) / float(sys.argv[2]), q(a, .5), q(a, .9), q(a, .99), a[-1],
        sum(1 for x in a if x > 5)))
print("; ".join(out) or "none seen")
PY
)"
  fi
  # The ledger's shard rows take an UPDATE per batch: their dead versions and pages, and the
  # reservations table's size, after each run (does a later run pay for the earlier ones?).
  echo "  PostgreSQL tables after the run: $(sql "SELECT string_agg(format('%s %s pages, %s live / %s dead rows, %s HOT updates', relname, pg_relation_size(relid) / 8192, n_live_tup, n_dead_tup, n_tup_hot_upd), '; ' ORDER BY relname) FROM pg_stat_user_tables WHERE relname IN ('stock_shards', 'reservations', 'outbox')"); indexes of reservations $(sql "SELECT pg_size_pretty(pg_indexes_size('reservations'))")"
  slice() { awk -v w="$1" -v s="$2" -v n="$n" 'BEGIN { printf "%.0f µs per 201 (%.1f µs per wake-up, %.1f wake-ups per 201)", n ? w / n : 0, s ? w / s : 0, n ? s / n : 0 }'; }
  echo "  waiting for a core (run queue, schedstat): service $(slice $((ws2 - ws)) $((wsn2 - wsn))), Redis $(slice $((wr2 - wr)) $((wrn2 - wrn))), PostgreSQL $(slice $((wp2 - wp)) $((wpn2 - wpn)))"
done
