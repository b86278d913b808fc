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
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
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
