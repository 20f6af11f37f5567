#!/usr/bin/env bash
# End to end through the real processes (ccc up: ccc-kms, the measured-launch
# ccc-enclave, ccc-host with the SQLite queue) on loopback:
#   1. ccc count equals ccc detect on the sample photos; every receipt verifies
#   2. a saved receipt verifies offline; any changed byte, another enclave's
#      document or another policy fails it
#   3. a replayed request ciphertext is refused; job-id deduplication
#   4. bad input gets a clear error (HTTP status and class), and a job
#      accepted before it still completes
#   5. canaries in photos appear nowhere the operator can look
source "$(dirname "$0")/lib/stack.sh"

stack_up
TRUST=$STACK_DIR/trust
POLICY=$STACK_DIR/policy/policy.cbor
CROP=$WORK/chelsea-crop.png
"$CCC" image crop "$SAMPLES/chelsea.png" 0 0 300 300 "$CROP" || exit 1

# --- 1. counts equal ccc detect's; receipts verify --------------------------
count_of() { sed -n "s/^$(basename "$2"): \([0-9][0-9]*\) cats\{0,1\}.*/\1/p" <<<"$1"; }
photos=("$SAMPLES"/*.png "$SAMPLES"/*.jpg "$CROP")
detected=$("$CCC" detect "${photos[@]}" 2>&1)
counted=$("$CCC" count --server "$URL" --trust "$TRUST" --save "$WORK/saved" "${photos[@]}" 2>&1)
rc=$?
echo "$counted"
[ $rc -eq 0 ] && echo "ok   ccc count exit 0" || { echo "FAIL ccc count rc=$rc"; fails=$((fails + 1)); }
for p in "${photos[@]}"; do
  want=$(count_of "$detected" "$p"); got=$(count_of "$counted" "$p")
  if [ -n "$want" ] && [ "$want" = "$got" ] && grep -q "^$(basename "$p"):.*receipt: ok" <<<"$counted"; then
    echo "ok   $(basename "$p"): $got cat(s) as ccc detect, receipt ok"
  else
    echo "FAIL $(basename "$p"): ccc detect '$want', ccc count '$got'"; fails=$((fails + 1))
  fi
done
expect "the chelsea crop counts 1 cat" 0 "chelsea-crop.png: 1 cat " -- echo "$counted"

# --- 2. offline receipt verification --------------------------------------
R=$WORK/saved/chelsea-crop.png.receipt.cose
DOC=$WORK/saved/chelsea-crop.png.attestation.cbor
ANSWER=$WORK/saved/chelsea-crop.png.answer.json
SALT=$WORK/saved/chelsea-crop.png.answer-salt
verify() { # verify RECEIPT DOC [POLICY] [SAVED-PREFIX]: answer and salt saved with it
  local saved=${4:-$WORK/saved/chelsea-crop.png}
  "$CCC" receipt verify "$1" --attestation "$2" --root "$TRUST/root.pem" \
    --policy "${3:-$POLICY}" --policy-pub "$TRUST/policy-pub.pem" \
    --answer "$saved.answer.json" --answer-salt "$saved.answer-salt"
}
expect "saved receipt verifies offline" 0 "" -- verify "$R" "$DOC"
# The receipt the host carried commits to the answer with a salt only the
# client holds: the plain SHA-256 of the answer is nowhere in it.
plain=$(sha256sum "$ANSWER" | cut -c1-64)
expect "the receipt does not carry the answer's plain hash" 1 "" -- \
  grep -qi "$plain" <(od -An -tx1 -v "$R" | tr -d ' \n')
size=$(stat -c %s "$R")
bad=0
for ((i = 0; i < size; i++)); do
  cp "$R" "$WORK/t.cose"
  b=$(od -An -tu1 -j "$i" -N1 "$R" | tr -d ' ')
  printf "$(printf '\\%03o' $(((b ^ 1) & 255)))" | dd of="$WORK/t.cose" bs=1 seek="$i" conv=notrunc status=none
  if verify "$WORK/t.cose" "$DOC" >/dev/null 2>&1; then bad=$((bad + 1)); echo "    byte $i flipped still verifies"; fi
done
[ $bad -eq 0 ] && echo "ok   each of the $size receipt bytes flipped fails" \
  || { echo "FAIL $bad flipped receipts verified"; fails=$((fails + 1)); }

# Another enclave boot: a new receipt key and document.
old=$(enclave_pid)
kill -9 "$old"
wait_for 60 bash -c "p=\$(pgrep -f 'ccc-enclave --listen unix:$STACK_DIR/'); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
wait_for 60 curl -sf --noproxy '*' "$URL/healthz"
"$CCC" count --server "$URL" --trust "$TRUST" --save "$WORK/saved2" "$CROP" >/dev/null 2>&1
DOC2=$WORK/saved2/chelsea-crop.png.attestation.cbor
if cmp -s "$DOC" "$DOC2"; then echo "FAIL the restarted enclave kept its document"; fails=$((fails + 1)); fi
expect "the new enclave's receipt verifies with its document" 0 "" -- \
  verify "$WORK/saved2/chelsea-crop.png.receipt.cose" "$DOC2" "$POLICY" "$WORK/saved2/chelsea-crop.png"
expect "a receipt against another enclave's document fails" 66 "crypto" -- verify "$R" "$DOC2"
# Another policy: same key, a different limit.
"$CCC" policy show "$POLICY" >"$WORK/p.json" 2>/dev/null
sed 's/"max_answer_bytes": 512/"max_answer_bytes": 500/' "$WORK/p.json" >"$WORK/p2.json"
"$CCC" policy sign --key "$STACK_DIR/policy/policy-key.pem" --in "$WORK/p2.json" --out "$WORK/p2.cbor" >/dev/null
expect "a receipt against another policy fails" 77 "policy" -- verify "$R" "$DOC" "$WORK/p2.cbor"

# --- 3. replay and deduplication -------------------------------------------
api GET /v1/config >"$WORK/config.json"
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$CROP" "$WORK/req.bin" || exit 1
post() { # post ID FILE [content-type]
  api POST /v1/jobs -H "Content-Type: ${3:-message/ohttp-req}" ${1:+-H "CCC-Job-Id: $1"} \
    --data-binary "@$2"
}
done_or_failed() { s=$(job_status "$1"); [ "$s" = done ] || [ "$s" = failed ]; }
post keep-1 "$WORK/req.bin" >/dev/null
expect "job accepted: 202" 0 "^202$" -- last_code
post keep-1 "$WORK/req.bin" >/dev/null
expect "same id, same body: 200" 0 "^200$" -- last_code
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$CROP" "$WORK/req-other.bin"
post keep-1 "$WORK/req-other.bin" >/dev/null
expect "same id, another body: 409" 0 "^409$" -- last_code
wait_for 60 done_or_failed keep-1
expect "the first job is done" 0 '"status":"done"' -- api GET /v1/jobs/keep-1
post replay-1 "$WORK/req.bin" >/dev/null
wait_for 60 done_or_failed replay-1
expect "a replayed ciphertext under a new job id is refused" 0 '"error":"replay"' -- \
  api GET /v1/jobs/replay-1
expect "with HTTP 409" 0 "^409$" -- last_code

# --- 4. bad input ----------------------------------------------------------
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$CROP" "$WORK/req-keep2.bin"
post keep-2 "$WORK/req-keep2.bin" >/dev/null
head -c $((17 * 1024 * 1024)) /dev/zero >"$WORK/huge.bin"
expect "oversized body: 413 limit" 0 '"error":"limit"' -- post "" "$WORK/huge.bin"
expect "  status 413" 0 "^413$" -- last_code
printf 'garbage!!' >"$WORK/garbage.bin"
expect "garbage body: 400 parse" 0 '"error":"parse"' -- post "" "$WORK/garbage.bin"
expect "wrong content type: 415" 0 '"error":"unsupported"' -- post "" "$WORK/req.bin" text/plain
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$CROP" "$WORK/wrong-key.bin" 77
expect "wrong key id: 404 not_found" 0 '"error":"not_found"' -- post "" "$WORK/wrong-key.bin"
head -c 2000 "$WORK/req-other.bin" >"$WORK/truncated.bin"
post truncated-1 "$WORK/truncated.bin" >/dev/null
printf 'this is not an image, just text' >"$WORK/text.txt"
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$WORK/text.txt" "$WORK/nonimage.bin"
post nonimage-1 "$WORK/nonimage.bin" >/dev/null
"$TOOL" bigpng 10000 10000 "$WORK/100mp.png"
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$WORK/100mp.png" "$WORK/100mp.bin"
post bigimage-1 "$WORK/100mp.bin" >/dev/null
for j in truncated-1 nonimage-1 bigimage-1 keep-2; do wait_for 60 done_or_failed $j; done
expect "truncated ciphertext: failed, crypto" 0 '"error":"crypto"' -- api GET /v1/jobs/truncated-1
expect "a non-image inside a valid ciphertext: failed, unsupported" 0 '"error":"unsupported"' -- \
  api GET /v1/jobs/nonimage-1
expect "  status 415" 0 "^415$" -- last_code
expect "a 100-megapixel image: failed, limit" 0 '"error":"limit"' -- api GET /v1/jobs/bigimage-1
expect "  status 413" 0 "^413$" -- last_code
expect "the job accepted before the bad input completed" 0 '"status":"done"' -- \
  api GET /v1/jobs/keep-2

# --- 5. canaries -----------------------------------------------------------
canary=CANARY$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
canary64=$(printf '%s' "$canary" | base64 -w0)
"$TOOL" canary "$SAMPLES/coffee.png" "$canary" "$WORK/canary.png"
expect "the canary photo carries the canary (the search can find it)" 0 "" -- \
  grep -q "$canary" "$WORK/canary.png"
printf '%s %s' "$canary" "$canary64" >"$WORK/canary.txt"
out=$("$CCC" count --server "$URL" --trust "$TRUST" "$WORK/canary.png" "$WORK/canary.txt" 2>&1)
"$TOOL" seal "$WORK/config.json" "$TRUST/kms-pub.pem" "$WORK/canary.txt" "$WORK/canary-req.bin"
errbody=$(post canary-nonimage "$WORK/canary-req.bin"; wait_for 60 done_or_failed canary-nonimage; api GET /v1/jobs/canary-nonimage)
sqlite3 "$STACK_DIR/queue.db" 'PRAGMA wal_checkpoint(FULL);' >/dev/null 2>&1
leaks=0
for needle in "$canary" "$canary64"; do
  for f in "$STACK_DIR"/logs/* "$STACK_DIR"/queue.db*; do
    if grep -qaF -- "$needle" "$f"; then echo "    found in $f"; leaks=$((leaks + 1)); fi
  done
  if grep -qF -- "$needle" <<<"$out$errbody"; then echo "    found in an error message"; leaks=$((leaks + 1)); fi
done
[ $leaks -eq 0 ] && echo "ok   canaries in no log, queue file or error message" \
  || { echo "FAIL canary found $leaks times"; fails=$((fails + 1)); }

[ "$fails" -eq 0 ]
