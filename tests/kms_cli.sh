#!/usr/bin/env bash
# ccc-kms as a process, on a scenario from receipt_fixture (simulated-NSM
# root, signed policy bundle, a genuine document WITHOUT a nonce):
#   - --init / --rotate / --retire on a state directory (mode 0600 files)
#   - serving frames on loopback TCP: ping -> pong, garbage -> job_error
#     "parse:parse", the nonce-less document -> job_error "policy:nonce",
#     an unserved frame type -> "usage:frame_type"
#   - every decision in the log with its reason; clean stop on SIGTERM.
# (A successful release is covered by test_kms, which makes documents with
# a nonce and an X25519 key.)
set -u
KMS=${CCC_BUILD_DIR:?}/ccc-kms
FIXTURE=${1:?usage: kms_cli.sh RECEIPT_FIXTURE}
T=$(mktemp -d); PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
"$FIXTURE" "$T" >/dev/null || { echo "FAIL fixture"; exit 1; }
. "${CCC_SOURCE_DIR:?}/tests/lib/expect.sh"
S=$T/state
# Below Linux's ephemeral range (32768+), so no outgoing connection holds it.
PORT=$((20000 + RANDOM % 12000))
SERVE="--policy $T/policy.cbor --policy-pub $T/policy-pub.pem --root $T/root.pem"

expect help 0 "attestation-gated key service" -- "$KMS" --help
expect usage 2 "missing or conflicting options" -- "$KMS" --state "$S"
expect no-state 66 "run ccc-kms --init first" -- "$KMS" --state "$S" $SERVE --listen 127.0.0.1:$PORT
expect init 0 "BEGIN PUBLIC KEY" -- "$KMS" --state "$S" --init
# --init on an existing state keeps the keys: the public key printed twice is the same.
"$KMS" --state "$S" --init > "$T/kms-pub-1.pem"; "$KMS" --state "$S" --init > "$T/kms-pub-2.pem"
expect init-again 0 "BEGIN PUBLIC KEY" -- cat "$T/kms-pub-1.pem"
expect init-same-key 0 "" -- cmp "$T/kms-pub-1.pem" "$T/kms-pub-2.pem"
expect key-mode 0 "^600$" -- stat -c %a "$S/storage.key"
expect state-mode 0 "^600$" -- stat -c %a "$S/state.cbor"
expect rotate 0 "live key ids: 2 1 (current first)" -- "$KMS" --state "$S" --rotate
expect rotate-twice 2 "retire the previous key before rotating" -- "$KMS" --state "$S" --rotate
expect retire 0 "live key ids: 2 (current first)" -- "$KMS" --state "$S" --retire
expect retire-twice 66 "no previous key" -- "$KMS" --state "$S" --retire
expect bad-root 66 "attestation root" -- "$KMS" --state "$S" --policy $T/policy.cbor \
  --policy-pub $T/policy-pub.pem --root $T/missing.pem --listen 127.0.0.1:$PORT
expect bad-policy-key 66 "policy bundle" -- "$KMS" --state "$S" --policy $T/policy.cbor \
  --policy-pub <("$KMS" --state "$S" --init) --root $T/root.pem --listen 127.0.0.1:$PORT

# Start the service; if the port is taken (ccc-kms exits), try another one.
# Readiness means our own process is alive AND answers on the port.
up=0
for _ in 1 2 3 4 5; do
  "$KMS" --state "$S" $SERVE --listen 127.0.0.1:$PORT 2>"$T/kms.log" &
  PID=$!
  for _ in $(seq 50); do
    kill -0 "$PID" 2>/dev/null || break
    if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  [ $up -eq 1 ] && break
  kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
  PORT=$((20000 + RANDOM % 12000))
done
if [ $up -ne 1 ]; then
  echo "FAIL ccc-kms did not come up:"; sed 's/^/    /' "$T/kms.log"; exit 1
fi

# ask TYPE FILE: send one frame, print "<type hex> <body>" of the answer.
ask() {
  local n hdr len
  n=$(stat -c %s "$2")
  exec 3<>/dev/tcp/127.0.0.1/$PORT
  { printf "\\x$(printf %02x "$1")\\x00\\x00\\x00"
    printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))"
    printf "\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))"
    cat "$2"; } >&3
  hdr=$(dd bs=1 count=8 <&3 2>/dev/null | od -An -tx1 | tr -d ' \n')
  len=$((16#${hdr:8:8}))
  echo "${hdr:0:2} $(dd bs=1 count="$len" <&3 2>/dev/null)"
  exec 3>&-
}
printf 'tok' >"$T/tok"; printf 'garbage' >"$T/garbage"
expect ping 0 "^02 tok$" -- ask 1 "$T/tok"
expect garbage 0 "^12 parse:parse$" -- ask 48 "$T/garbage"
expect no-nonce 0 "^12 policy:nonce$" -- ask 48 "$T/doc.cbor"
expect unserved 0 "^12 usage:frame_type$" -- ask 16 "$T/tok"
expect config 0 "config.cose" -- ls "$S"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
expect stopped 0 "^0$" -- echo "$rc"
expect log-refused 0 '"event":"key_refused".*"reason":"nonce".*"pcr_sha384"' -- cat "$T/kms.log"
expect log-parse 0 '"reason":"parse","status":"parse"' -- cat "$T/kms.log"
expect log-stop 0 '"event":"stop"' -- cat "$T/kms.log"
[ "$fails" -eq 0 ]
