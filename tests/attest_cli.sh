#!/usr/bin/env bash
# ccc attest verify/show from the command line: exit codes and the report.
#   - the real document at its own time: every check passes, exit 0
#   - at today's date: fails on certificate validity (exit 66, crypto)
#   - with a wrong PCR: names the PCR and its index (exit 77, policy)
#   - a simulated document against the AWS root: untrusted root
set -u
CCC=${CCC_BUILD_DIR:?}/ccc
V=${CCC_SOURCE_DIR:?}/tests/vectors/nitro
DOC=$V/attestation-blocky-2024-09-07.cbor
P0=e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a
BAD0=e82a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a
. "${CCC_SOURCE_DIR:?}/tests/lib/expect.sh"
expect valid 0 "VALID: authentic" -- "$CCC" attest verify "$DOC" --pcr 0=$P0 \
  --nonce "$(printf '01%.0s' $(seq 1024))"
expect now 66 "CCC_ATTEST_E_CERT_EXPIRED" -- "$CCC" attest verify "$DOC" --pcr 0=$P0 --at now
expect pcr 77 "PCR mismatch: no accepted set matches, PCR 0" -- "$CCC" attest verify "$DOC" --pcr 0=$BAD0
expect no-allowlist 2 "CCC_ATTEST_E_POLICY_EMPTY" -- "$CCC" attest verify "$DOC"
expect json 77 '"result":"CCC_ATTEST_E_PCR_MISMATCH"' -- "$CCC" attest verify "$DOC" --pcr 0=$BAD0 --json
expect sim-aws 66 "CCC_ATTEST_E_UNTRUSTED_ROOT" -- "$CCC" attest verify "$V/sim/good.cbor" --any-measurement-INSECURE
expect sim-local 0 "VALID" -- "$CCC" attest verify "$V/sim/good.cbor" --root "$V/sim/root.pem" --any-measurement-INSECURE
expect at-time 0 "given with --at" -- "$CCC" attest verify "$DOC" --pcr 0=$P0 --at 2024-09-07T14:40:00Z --max-age 600
expect show 0 "PCR0   $P0" -- "$CCC" attest show "$DOC"
expect show-bad 65 "CCC_ATTEST_E_MISSING_FIELD" -- "$CCC" attest show "$V/tampered/real-missing-pcrs.cbor"
expect usage 2 "usage: ccc attest verify" -- "$CCC" attest verify
expect help 0 "usage: ccc attest verify" -- "$CCC" attest verify --help
# Signed policy bundle: init, sign, verify with anti-rollback, KMS block, and
# `attest verify --policy` using its measurement sets (blue/green).
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
E0=d265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af
expect policy-init 0 "policy key written" -- "$CCC" policy init --key "$T/k.pem" --pub "$T/pub.pem" --out "$T/template.json"
policy_json() { # version pcr0-of-set-1
  printf '{"version": %s, "measurements": [{"0": "%s"}, {"0": "%s"}], "egress": {"max_answer_bytes": 512, "max_boxes": 64}, "tou": {"max_body_bytes": 1048576, "rate_per_minute": 60}, "model_manifests": ["%s"]}' \
    "$1" "$2" "$E0" "$(printf 'ab%.0s' $(seq 32))"
}
policy_json 2 "$P0" > "$T/p2.json"; policy_json 1 "$P0" > "$T/p1.json"
expect policy-template-refused 65 "hex" -- "$CCC" policy sign --key "$T/k.pem" --in "$T/template.json" --out "$T/x.cose"
expect policy-sign 0 "signed policy version 2" -- "$CCC" policy sign --key "$T/k.pem" --in "$T/p2.json" --out "$T/p2.cose"
expect policy-sign-old 0 "signed policy version 1" -- "$CCC" policy sign --key "$T/k.pem" --in "$T/p1.json" --out "$T/p1.cose"
expect policy-verify 0 "policy bundle VALID: version 2" -- "$CCC" policy verify "$T/p2.cose" --pub "$T/pub.pem" --state "$T/state"
expect policy-rollback 77 "older than one already accepted" -- "$CCC" policy verify "$T/p1.cose" --pub "$T/pub.pem" --state "$T/state"
expect policy-kms 0 "\"kms:RecipientAttestation:PCR0\": \"$P0\"" -- "$CCC" policy kms-conditions "$T/p2.cose" --pub "$T/pub.pem"
expect policy-show 0 '"version": 2' -- "$CCC" policy show "$T/p2.cose"
expect attest-policy-blocky 0 "matches accepted measurement set 0" -- "$CCC" attest verify "$DOC" --policy "$T/p2.cose" --policy-pub "$T/pub.pem"
expect attest-policy-evervault 0 "matches accepted measurement set 1" -- "$CCC" attest verify "$V/attestation-evervault-2023-01-18.cbor" --policy "$T/p2.cose" --policy-pub "$T/pub.pem"
expect attest-policy-nopub 2 "policy-pub" -- "$CCC" attest verify "$DOC" --policy "$T/p2.cose"
"$CCC" policy init --key "$T/k2.pem" --pub "$T/pub2.pem" --out "$T/t2.json" 2>/dev/null
expect attest-policy-wrong-key 66 "crypto" -- "$CCC" attest verify "$DOC" --policy "$T/p2.cose" --policy-pub "$T/pub2.pem"
# Simulated NSM end to end: measured launch of ccc itself, which asks for a
# document on fd 3; PCR0 must be the SHA-384 of the exact binary that ran.
P0S=$(sha384sum "$CCC" | cut -d' ' -f1)
expect nsm-init 0 "simulated NSM CA written" -- "$CCC" nsm init --dir "$T/ca"
expect nsm-launch 0 "launched pid" -- "$CCC" nsm launch --dir "$T/ca" --manifest-hash "$(printf 'cd%.0s' $(seq 32))" \
  --policy "$T/p2.cose" --policy-pub "$T/pub.pem" -- "$CCC" nsm request --nonce 0a0b --user-data 75 --out "$T/sim.cbor"
expect nsm-verify 0 "VALID" -- "$CCC" attest verify "$T/sim.cbor" --root "$T/ca/root.pem" \
  --pcr 0=$P0S --pcr 2=$P0S --nonce 0a0b --user-data 75 --at now --max-age 300
expect nsm-aws-root 66 "CCC_ATTEST_E_UNTRUSTED_ROOT" -- "$CCC" attest verify "$T/sim.cbor" --pcr 0=$P0S
expect nsm-wrong-nonce 77 "CCC_ATTEST_E_NONCE_MISMATCH" -- "$CCC" attest verify "$T/sim.cbor" --root "$T/ca/root.pem" --pcr 0=$P0S --nonce 0a0c
expect nsm-show 0 "PCR17" -- "$CCC" attest show "$T/sim.cbor"
expect nsm-no-ca 66 "not_found" -- "$CCC" nsm launch --dir "$T/nothing" -- /bin/true
expect nsm-request-no-channel 74 "no NSM channel" -- "$CCC" nsm request --out "$T/x.cbor"
[ "$fails" -eq 0 ]
