#!/usr/bin/env bash
# The Redis Streams queue end to end (ccc up --queue redis://...), against a
# real redis-server this test starts on loopback with AOF on:
#   1. photos go through; canaries appear nowhere in Redis (AOF or keys)
#   2. Redis killed and restarted with jobs queued: nothing lost
source "$(dirname "$0")/lib/stack.sh"
command -v redis-server >/dev/null || { echo "redis-server missing (scripts/setup installs it)"; exit 1; }

RDIR=$WORK/redis
mkdir -p "$RDIR"
start_redis() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$RDIR" --appendonly yes \
    --appendfsync always --save '' --daemonize no >>"$RDIR/redis.log" 2>&1 &
  RPID=$!
  wait_for 20 redis-cli -p "$RPORT" ping
}
for try in 1 2 3 4 5; do
  RPORT=$((30000 + (RANDOM % 2000)))
  start_redis && break
  kill "$RPID" 2>/dev/null
done
trap 'kill -9 $RPID 2>/dev/null; stack_cleanup' EXIT

STACK_QUEUE=redis://127.0.0.1:$RPORT/0
stack_up -- --visibility-timeout-ms 4000 --backoff-unit-ms 250
TRUST=$STACK_DIR/trust
CROP=$WORK/crop.png
"$CCC" image crop "$SAMPLES/chelsea.png" 0 0 300 300 "$CROP" || exit 1
count() { "$CCC" count --server "$URL" --trust "$TRUST" --timeout 120 "$@"; }
gauge() { api GET /metrics | sed -n "s/^ccc_queue_jobs{state=\"$1\"} \([0-9]*\).*/\1/p"; }
at_least() { [ "$(gauge "$1")" -ge "$2" ] 2>/dev/null; }

# --- 1. through Redis; canaries ---------------------------------------------
canary=CANARY$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
canary64=$(printf '%s' "$canary" | base64 -w0)
"$TOOL" canary "$SAMPLES/coffee.png" "$canary" "$WORK/canary.png"
expect "photos through the Redis queue" 0 "crop.png: 1 cat .*receipt: ok" -- count "$CROP" "$WORK/canary.png"
expect "the queue is Redis" 0 '"queue":"redis"' -- api GET /healthz
leaks=0
redis-cli -p "$RPORT" --scan >"$WORK/keys.txt"
while read -r key; do
  redis-cli -p "$RPORT" --raw DUMP "$key" >>"$WORK/redis-dump.bin" 2>/dev/null
done <"$WORK/keys.txt"
for needle in "$canary" "$canary64"; do
  if grep -rqaF -- "$needle" "$RDIR" "$WORK/redis-dump.bin" "$STACK_DIR/logs"; then
    echo "    found $needle"; leaks=$((leaks + 1))
  fi
done
expect "Redis holds data (the search has something to search)" 0 "" -- test -s "$WORK/redis-dump.bin"
[ $leaks -eq 0 ] && echo "ok   canaries in neither Redis's AOF, its keys nor the logs" \
  || { echo "FAIL canary found"; fails=$((fails + 1)); }

# --- 2. Redis restart with jobs queued ----------------------------------------
e=$(enclave_pid)
kill -STOP "$e"
pids=()
for p in "$CROP" "$SAMPLES/rocket.jpg"; do
  count "$p" >"$WORK/r.$(basename "$p").out" 2>&1 &
  pids+=($!)
done
wait_for 30 at_least queued 1
sleep 1
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
start_redis || { echo "FAIL redis did not restart"; exit 1; }
kill -CONT "$e"
ok=0
for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
cat "$WORK"/r.*.out | sed 's/^/    /'
expect "Redis killed and restarted (AOF): both jobs complete" 0 "^2$" -- echo "$ok"

[ "$fails" -eq 0 ]
