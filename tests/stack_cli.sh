#!/usr/bin/env bash
# ccc up / ccc down as a user runs them:
#   - --help; a second `ccc up` on the same data directory is refused
#   - `ccc down` stops it and everything it started; a second down is harmless
#   - a foreground `ccc up` stops cleanly on Ctrl-C (SIGINT)
#   - a rebuilt enclave (other PCR0) gets a new policy version, and the
#     client accepts it (anti-rollback moves forward)
source "$(dirname "$0")/lib/stack.sh"

expect "ccc up --help" 0 "usage: ccc up" -- "$CCC" up --help
expect "ccc down with nothing running" 0 "no local stack running" -- "$CCC" down --data "$WORK/none"

stack_up
CROP=$WORK/crop.png
"$CCC" image crop "$SAMPLES/chelsea.png" 0 0 300 300 "$CROP"
expect "a second ccc up on the same directory is refused" 75 "already running" -- \
  "$CCC" up --detach --data "$STACK_DIR" --port 1
expect "the first stack still answers" 0 "1 cat .*receipt: ok" -- \
  "$CCC" count --server "$URL" --trust "$STACK_DIR/trust" "$CROP"
expect "ccc down stops it" 0 "local stack stopped" -- "$CCC" down --data "$STACK_DIR"
# Our programs only (argv[0] is a ccc program), not this shell or pgrep.
ours() { { pgrep -f "^[^ ]*/ccc(-[a-z]+)? .*$STACK_DIR/" || true; } | wc -l; }
left=$(ours)
expect "  and every process it started" 0 "^0$" -- echo "$left"
expect "a second ccc down is harmless" 0 "no local stack running" -- "$CCC" down --data "$STACK_DIR"

# Foreground, then Ctrl-C.
port=$((20000 + RANDOM % 10000))
"$CCC" up --data "$STACK_DIR" --port "$port" >"$WORK/fg.out" 2>&1 &
up=$!
wait_for 120 grep -q "local stack up" "$WORK/fg.out"
kill -INT "$up"
wait "$up"; rc=$?
expect "a foreground ccc up exits 0 on Ctrl-C" 0 "^0$" -- echo "$rc"
sleep 0.5
expect "  leaving no process behind" 0 "^0$" -- ours

# The supervisor killed outright: what it started goes with it.
"$CCC" up --detach --data "$STACK_DIR" --port "$port" >/dev/null 2>&1
sup=$(cat "$STACK_DIR/run/up.pid")
kill -9 "$sup"
wait_for 15 bash -c "[ \$( { pgrep -f '^[^ ]*/ccc(-[a-z]+)? .*$STACK_DIR/' || true; } | wc -l) -eq 0 ]"
expect "kill -9 of ccc up takes its processes with it" 0 "^0$" -- ours
"$CCC" down --data "$STACK_DIR" >/dev/null 2>&1

# A "rebuilt" enclave: the same program with one more byte (another PCR0).
BIN=$WORK/bin
mkdir -p "$BIN"
for p in ccc ccc-host ccc-kms; do ln -s "$CCC_BUILD_DIR/$p" "$BIN/$p"; done
cp "$CCC_BUILD_DIR/ccc-enclave" "$BIN/ccc-enclave"
printf 'x' >>"$BIN/ccc-enclave"
out=$("$CCC" up --detach --data "$STACK_DIR" --port "$port" --bin-dir "$BIN" 2>&1)
expect "the rebuilt enclave gets policy version 2" 0 "signed policy version 2" -- echo "$out"
URL=http://127.0.0.1:$port
expect "the client accepts the newer policy" 0 "1 cat .*receipt: ok" -- \
  "$CCC" count --server "$URL" --trust "$STACK_DIR/trust" "$CROP"
"$CCC" down --data "$STACK_DIR" >/dev/null

[ "$fails" -eq 0 ]
