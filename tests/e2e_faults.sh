#!/usr/bin/env bash
# Faults through the real processes (ccc up, SQLite queue), each bounded:
#   1. kill -9 of the enclave in the middle of a job: the job completes after
#      the restart, once
#   2. host killed with jobs queued: nothing lost
#   3. key service down: jobs wait, and complete when it returns
#   4. a policy that does not list the enclave's PCRs: no key is released
source "$(dirname "$0")/lib/stack.sh"

# Short lease and backoff so a lost attempt is retried within seconds.
stack_up -- --visibility-timeout-ms 4000 --backoff-unit-ms 250
TRUST=$STACK_DIR/trust
CROP=$WORK/crop.png
"$CCC" image crop "$SAMPLES/chelsea.png" 0 0 300 300 "$CROP" || exit 1
count() { "$CCC" count --server "$URL" --trust "$TRUST" --timeout 120 "$@"; }
gauge() { # gauge STATE: the queue gauge from /metrics
  api GET /metrics | sed -n "s/^ccc_queue_jobs{state=\"$1\"} \([0-9]*\).*/\1/p"
}
at_least() { [ "$(gauge "$1")" -ge "$2" ] 2>/dev/null; }
healthy() { curl -sf --noproxy '*' -m 2 "$URL/healthz"; }
new_enclave() { p=$(enclave_pid); [ -n "$p" ] && [ "$p" != "$1" ]; }

# --- 1. kill -9 of the enclave mid-job -------------------------------------
e=$(enclave_pid)
kill -STOP "$e"                       # the job will be in the enclave's hands
count --json "$CROP" >"$WORK/1.out" 2>"$WORK/1.err" &
cpid=$!
wait_for 30 at_least processing 1 || { echo "FAIL no job reached processing"; fails=$((fails + 1)); }
kill -9 "$e"
wait "$cpid"; rc=$?
expect "job interrupted by kill -9 completes after the restart" 0 '"count":1' -- \
  bash -c "cat '$WORK/1.out'; exit $rc"
job=$(sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p' "$WORK/1.out")
expect "  receipt verified" 0 '"receipt":"ok"\|"receipt_ok":true\|"receipt": *"ok"' -- cat "$WORK/1.out"
expect "  exactly one result, on the second attempt" 0 '"attempt":2' -- api GET "/v1/jobs/$job"
done_lines=$(grep '"event":"job_done"' "$STACK_DIR/logs/enclave.log" | grep -c "\"job\":\"$job\"")
expect "  the enclaves signed one receipt for it" 0 "^1$" -- echo "$done_lines"

# --- 2. host killed with jobs queued ----------------------------------------
wait_for 60 healthy
e=$(enclave_pid)
kill -STOP "$e"
pids=()
for p in "$CROP" "$SAMPLES/coffee.png" "$SAMPLES/rocket.jpg"; do
  count "$p" >"$WORK/2.$(basename "$p").out" 2>&1 &
  pids+=($!)
done
wait_for 30 at_least queued 2
wait_for 30 at_least processing 1    # one job is in the (stopped) enclave's hands
kill -9 "$(host_pid)"
kill -CONT "$e"
ok=0
for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
expect "host killed with 3 jobs in flight: all 3 complete" 0 "^3$" -- echo "$ok"
# If the whole job reached the stopped enclave before its host died, the
# enclave finished it and the new host's redelivery got that answer again
# (job_resent); if only part of the frame had (a large photo fills the
# socket buffer), the redelivery ran it afresh. Either way: never refused
# as a replay. (test_enclave's frames_served pins the resend itself.)
expect "  no redelivered job was refused as a replay" 1 "" -- \
  grep -q '"status":"replay"' "$STACK_DIR/logs/host.log"
grep -q '"event":"job_resent"' "$STACK_DIR/logs/enclave.log" &&
  echo "     (this run: the redelivery was answered from the enclave's kept answer)"
cat "$WORK"/2.*.out | sed 's/^/    /'

# --- 3. key service down ----------------------------------------------------
wait_for 60 healthy
k=$(kms_pid); e=$(enclave_pid)
kill -STOP "$k"
kill -9 "$e"
count "$CROP" >"$WORK/3.out" 2>&1 &
cpid=$!
wait_for 30 new_enclave "$e"
sleep 3 # the new enclave asks for its key meanwhile (and gets no answer)
expect "without the key service no enclave is ready" 0 "503" -- \
  curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$URL/healthz"
expect "  and the job waits in the queue" 0 "^1$" -- gauge queued
kill -CONT "$k"
wait "$cpid"; rc=$?
expect "the job completes when the key service is back" 0 "1 cat .*receipt: ok" -- \
  bash -c "cat '$WORK/3.out'; exit $rc"

# --- 4. a policy without the enclave's PCRs -----------------------------------
wait_for 60 healthy
POLICY=$STACK_DIR/policy/policy.cbor
cp "$POLICY" "$WORK/good-policy.cbor"
"$CCC" policy show "$POLICY" >"$WORK/p.json" 2>/dev/null
# Another PCR0 (a different enclave image); a higher version.
sed -e 's/"0": "[0-9a-f]*"/"0": "'"$(printf '%096d' 0 | tr 0 a)"'"/' \
    -e 's/"version": \([0-9]*\)/"version": 99/' "$WORK/p.json" >"$WORK/bad.json"
"$CCC" policy sign --key "$STACK_DIR/policy/policy-key.pem" --in "$WORK/bad.json" --out "$POLICY" >/dev/null
kill -9 "$(kms_pid)"                 # restarted with the new policy
e=$(enclave_pid); kill -9 "$e"       # a new enclave asks for its key
wait_for 60 grep -q '"reason":"pcrs"' "$STACK_DIR/logs/kms.log"
expect "the key service refuses the enclave: reason pcrs" 0 'key_refused' -- \
  grep '"reason":"pcrs"' "$STACK_DIR/logs/kms.log"
expect "  and no enclave becomes ready" 0 "503" -- \
  curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$URL/healthz"
cp "$WORK/good-policy.cbor" "$POLICY"

# Stopped and continued (section 2), the enclave must not trip its own
# seccomp filter (SIGSYS: exit status 128 + 31).
expect "no enclave was killed by its sandbox" 1 "" -- \
  grep -E 'status 159|signal 31' "$STACK_DIR/logs/up.log"

[ "$fails" -eq 0 ]
