#!/usr/bin/env bash
# ccc receipt verify from the command line, on a scenario written by
# receipt_fixture (simulated NSM document + policy bundle + one receipt):
#   - valid with the policy, answer, request and job id: exit 0
#   - any changed byte, another document, another policy, another answer,
#     request or job id: refused with the right class and message
#   - the default (AWS) root refuses a simulated document
set -u
CCC=${CCC_BUILD_DIR:?}/ccc
FIXTURE=${1:?usage: receipt_cli.sh RECEIPT_FIXTURE}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$FIXTURE" "$T" || { echo "FAIL fixture"; exit 1; }
. "${CCC_SOURCE_DIR:?}/tests/lib/expect.sh"
R="$CCC receipt verify $T/receipt.cbor --root $T/root.pem"
POL="--policy $T/policy.cbor --policy-pub $T/policy-pub.pem"
expect valid 0 "VALID: the receipt binds" -- $R --attestation $T/doc.cbor $POL \
  --answer $T/answer.json --answer-salt $T/answer-salt --request $T/request.bin --job-id job-7f3a
expect valid-pcr 0 "measurements: equal to --pcr" -- $R --attestation $T/doc.cbor \
  --pcr 0="$(cat $T/pcr0.hex)"
expect unchecked 0 "NOT CHECKED" -- $R --attestation $T/doc.cbor
expect json 0 '"valid":true' -- $R --attestation $T/doc.cbor $POL --json
expect json-job 0 '"job_id":"job-7f3a"' -- $R --attestation $T/doc.cbor $POL --json
expect other-doc 77 "bound to another attestation document" -- $R --attestation $T/other-doc.cbor $POL
expect other-policy 77 "policy hash differs" -- $R --attestation $T/doc.cbor \
  --policy $T/other-policy.cbor --policy-pub $T/policy-pub.pem
expect answer 77 "answer hash differs" -- $R --attestation $T/doc.cbor --answer $T/request.bin --answer-salt $T/answer-salt
# The answer commitment is salted: the right answer with another salt fails,
# and an answer without its salt is a usage error, not a silent pass.
head -c 64 /dev/zero | tr '\0' 'a' >$T/other-salt
expect answer-other-salt 77 "answer hash differs" -- $R --attestation $T/doc.cbor --answer $T/answer.json --answer-salt $T/other-salt
expect answer-no-salt 2 "answer-salt" -- $R --attestation $T/doc.cbor --answer $T/answer.json
expect request 77 "request hash differs" -- $R --attestation $T/doc.cbor --request $T/answer.json
expect job-id 77 "another job id" -- $R --attestation $T/doc.cbor --job-id job-0000
expect wrong-pcr 77 "CCC_ATTEST_E_PCR_MISMATCH" -- $R --attestation $T/doc.cbor --pcr 0="$(printf '00%.0s' $(seq 48))"
expect aws-root 66 "CCC_ATTEST_E_UNTRUSTED_ROOT" -- "$CCC" receipt verify $T/receipt.cbor --attestation $T/doc.cbor
expect usage 2 "usage: ccc receipt verify" -- "$CCC" receipt verify $T/receipt.cbor
expect help 0 "usage: ccc receipt verify" -- "$CCC" receipt verify --help
# every 7th byte of the receipt changed (+1 mod 256): never valid
size=$(stat -c %s $T/receipt.cbor)
bad=0
for ((i = 0; i < size; i += 7)); do
  cp $T/receipt.cbor $T/tampered.cbor
  printf "$(printf '\\x%02x' $(( ($(od -An -tu1 -j$i -N1 $T/receipt.cbor) + 1) % 256 )))" |
    dd of=$T/tampered.cbor bs=1 seek=$i conv=notrunc status=none
  cmp -s $T/receipt.cbor $T/tampered.cbor && { echo "FAIL tamper did not change byte $i"; exit 1; }
  if "$CCC" receipt verify $T/tampered.cbor --root $T/root.pem --attestation $T/doc.cbor \
    >/dev/null 2>&1; then bad=$((bad + 1)); echo "accepted a change at byte $i"; fi
done
if [ $bad -eq 0 ]; then echo "ok   tampered ($(( (size + 6) / 7 )) positions)"; else fails=$((fails + 1)); fi
[ $fails -eq 0 ]
