#!/usr/bin/env bash
# ccc-enclave as a process (docs/protocol.md §10), with the real binaries:
#   - `ccc nsm init`, a policy from `ccc policy init/sign` whose measurement
#     set is the PCR0/1/2 a measured launch of this ccc-enclave reports
#     (PCR0 = PCR2 = SHA-384 of the file, PCR1 = SHA-384 of the simulator's
#     constant, src/nsm/sim.c), ccc-kms, and
#     `ccc nsm launch -- ccc-enclave --listen unix:...`;
#   - a test-only relay (enclave_host_peer) plays the host: key_request
#     relayed to ccc-kms, attest_response, ping, attest_request; the
#     document verifies with `ccc attest verify` against the local root and
#     the policy; a second connection gets attest_response with no new key
#     request; SIGTERM ends the sandboxed enclave with status 0;
#   - wrong PCRs: a ccc-kms whose policy does not list the enclave refuses
#     (key_refused reason pcrs), the enclave retries with FRESH documents
#     and never sends attest_response (bounded wait);
#   - option errors: --help, --version, missing options, no NSM channel,
#     a TCP listen address.
set -u
PEER=${1:?usage: enclave_cli.sh ENCLAVE_HOST_PEER}
B=${CCC_BUILD_DIR:?}
CCC=$B/ccc KMS=$B/ccc-kms ENC=$B/ccc-enclave
MODELS=${CCC_SOURCE_DIR:?}/data/models
T=$(mktemp -d /tmp/ccc-enclave-cli-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
. "$CCC_SOURCE_DIR/tests/lib/expect.sh"

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_for() {
  for _ in $(seq $(($3 * 10))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL timed out waiting for '$2' in $1:"; sed 's/^/    /' "$1"; return 1
}

expect help 0 "trusted worker inside the TEE" -- "$ENC" --help
expect version 0 "^ccc-enclave " -- "$ENC" --version
expect usage 2 "needs --listen, --policy and --policy-pub" -- "$ENC" --listen unix:$T/x.sock
expect bad-nsm-option 2 "must be sim or real" -- "$ENC" --nsm other
expect no-nsm-channel 74 "no NSM channel on descriptor 3" -- \
  "$ENC" --listen unix:$T/x.sock --policy "$T/p" --policy-pub "$T/q"

# The trust anchors and a policy for exactly this ccc-enclave and model.
"$CCC" nsm init --dir "$T/nsm" >/dev/null || { echo "FAIL nsm init"; exit 1; }
"$CCC" policy init --key "$T/policy-key.pem" --pub "$T/policy-pub.pem" --out /dev/null 2>/dev/null ||
  { echo "FAIL policy init"; exit 1; }
PCR0=$(sha384sum "$ENC" | cut -c1-96)
PCR1=$(printf '%s' 'ccc-sim:pcr1:kernel+bootstrap not measured' | sha384sum | cut -c1-96)
MANIFEST=$(sha256sum "$MODELS/centernet.manifest" | cut -c1-64)
policy_json() { # PCR0 PCR1 PCR2
  printf '{"version": 1, "measurements": [{"0": "%s", "1": "%s", "2": "%s"}], "egress": {"max_answer_bytes": 512, "max_boxes": 64}, "tou": {"max_body_bytes": 1048576, "rate_per_minute": 60}, "model_manifests": ["%s"]}' \
    "$1" "$2" "$3" "$MANIFEST"
}
policy_json "$PCR0" "$PCR1" "$PCR0" >"$T/policy.json"
# Another build's PCR0/PCR2 (the measurement set does not list this one).
OTHER=$(printf 'another ccc-enclave' | sha384sum | cut -c1-96)
policy_json "$OTHER" "$PCR1" "$OTHER" >"$T/wrong.json"
for p in policy wrong; do
  "$CCC" policy sign --key "$T/policy-key.pem" --in "$T/$p.json" --out "$T/$p.cbor" >/dev/null 2>&1 ||
    { echo "FAIL policy sign $p"; exit 1; }
done
"$KMS" --state "$T/kms" --init >/dev/null || { echo "FAIL kms init"; exit 1; }

# start_kms POLICY NAME: ccc-kms on unix:$T/NAME.sock, log in $T/NAME.log.
start_kms() {
  "$KMS" --state "$T/kms" --policy "$T/$1.cbor" --policy-pub "$T/policy-pub.pem" \
    --root "$T/nsm/root.pem" --listen "unix:$T/$2.sock" 2>"$T/$2.log" &
  PIDS+=($!)
  wait_for "$T/$2.log" '"event":"start"' 30
}
# launch NAME [extra ccc-enclave args]: the measured launch; its log in
# $T/NAME.log, the `ccc nsm launch` pid in LAUNCH, the enclave's in EPID.
launch() {
  local name=$1; shift
  "$CCC" nsm launch --dir "$T/nsm" --manifest-hash "$MANIFEST" --policy "$T/policy.cbor" \
    --policy-pub "$T/policy-pub.pem" -- "$ENC" --listen "unix:$T/$name.sock" \
    --policy "$T/policy.cbor" --policy-pub "$T/policy-pub.pem" --model-dir "$MODELS" \
    --threads 2 "$@" 2>"$T/$name.log" &
  LAUNCH=$!
  PIDS+=($LAUNCH)
  wait_for "$T/$name.log" "ccc-enclave: listening on unix:$T/$name.sock" 60 || return 1
  EPID=$(sed -n 's/^nsm: launched pid \([0-9]*\),.*/\1/p' "$T/$name.log")
}

# A TCP address is refused at start-up (no network in the enclave).
"$CCC" nsm launch --dir "$T/nsm" -- "$ENC" --listen 127.0.0.1:9 --policy "$T/policy.cbor" \
  --policy-pub "$T/policy-pub.pem" --model-dir "$MODELS" >"$T/tcp.log" 2>&1
rc=$?
expect tcp-refused 0 "unix:PATH or vsock:PORT" -- cat "$T/tcp.log"
expect tcp-exit 0 "^2$" -- echo "$rc"

# --- The good case -----------------------------------------------------------
start_kms policy kms || exit 1
launch enc || exit 1
"$PEER" --enclave "$T/enc.sock" --kms "$T/kms.sock" --attest-out "$T/doc.cbor" --wait-s 30 \
  >"$T/peer.out" 2>&1
rc=$?
expect peer-exit 0 "^0$" -- echo "$rc"
expect relayed 0 "key_request 1: key_response" -- cat "$T/peer.out"
expect ready-after-one 0 "attest_response (.*) after 1 key requests" -- cat "$T/peer.out"
expect pong 0 "^pong$" -- cat "$T/peer.out"
expect attest-request 0 "attest_request: same document" -- cat "$T/peer.out"
expect kms-released 0 '"event":"key_released"' -- cat "$T/kms.log"
expect enclave-released 0 '"event":"key_released".*"attempt":1' -- cat "$T/enc.log"
# The seccomp sandbox is on, except in ASan/UBSan builds (enclave.h caveat 4).
if grep -q '^CCC_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  expect sandbox-skipped 0 '"reason":"sandbox_skipped_sanitizer"' -- cat "$T/enc.log"
else
  expect sandboxed 0 '"reason":"sandboxed"' -- cat "$T/enc.log"
fi
# The receipt-key document: local root, this policy's PCRs, an Ed25519 key.
expect doc-verifies 0 "" -- "$CCC" attest verify "$T/doc.cbor" --root "$T/nsm/root.pem" \
  --policy "$T/policy.cbor" --policy-pub "$T/policy-pub.pem"
expect doc-wrong-policy 77 "" -- "$CCC" attest verify "$T/doc.cbor" --root "$T/nsm/root.pem" \
  --policy "$T/wrong.cbor" --policy-pub "$T/policy-pub.pem"
# Reconnect: keys kept, attest_response at once, no new key request.
expect reconnect 0 "after 0 key requests" -- "$PEER" --enclave "$T/enc.sock" --kms "$T/kms.sock" \
  --wait-s 30
expect one-release 0 "^1$" -- grep -c '"event":"key_released"' "$T/kms.log"
# SIGTERM: a clean stop under the sandbox (no SIGSYS), status 0.
kill -TERM "$EPID"
wait "$LAUNCH"; rc=$?
expect sigterm-exit 0 "^0$" -- echo "$rc"
expect stop-logged 0 '"reason":"stop_requested"' -- cat "$T/enc.log"
# No secret or document bytes in the log: only JSON lines and the two notices.
expect log-clean 0 "^0$" -- sh -c "grep -v '^{\"ts\"' '$T/enc.log' | grep -cv '^nsm: launched pid\|^ccc-enclave: listening on'; exit 0"

# --- Wrong PCRs: refused, retried with fresh documents, never ready ---------
start_kms wrong kms-wrong || exit 1
launch enc2 || exit 1
# Three refusals relayed (backoff 1 s, 2 s), then the enclave asks a fourth
# time (after 4 s) instead of announcing itself; 60 s is only a failure bound.
"$PEER" --enclave "$T/enc2.sock" --kms "$T/kms-wrong.sock" --refusals 3 --wait-s 60 \
  >"$T/peer2.out" 2>&1
rc=$?
expect never-ready 0 "^3$" -- echo "$rc"
expect still-asking 0 "still asking after 3 refusals (4 key requests)" -- cat "$T/peer2.out"
expect relayed-refusals 0 "^3$" -- grep -c "refused policy:pcrs" "$T/peer2.out"
expect refused-pcrs 0 '"event":"key_refused".*"reason":"pcrs"' -- cat "$T/kms-wrong.log"
expect refusal-logged 0 '"event":"key_refused","reason":"policy:pcrs"' -- cat "$T/enc2.log"
# Each refused request carried a new document (new nonce and key).
docs=$(grep '"key_refused"' "$T/kms-wrong.log" | sed -n 's/.*"doc_sha256":"\([0-9a-f]*\)".*/\1/p')
expect retried 0 "^3$" -- sh -c "echo '$docs' | grep -c ."
expect fresh-docs 0 "^0$" -- sh -c "echo '$docs' | sort | uniq -d | grep -c .; exit 0"
expect not-ready 1 "" -- grep -q '"reason":"ready"' "$T/enc2.log"
kill -TERM "$EPID"
wait "$LAUNCH"; rc=$?
expect sigterm-unsandboxed 0 "^0$" -- echo "$rc"
[ "$fails" -eq 0 ]
