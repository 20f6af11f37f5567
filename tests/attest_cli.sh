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
fails=0
expect() { # expect NAME WANT_RC PATTERN -- command...
  local name=$1 want=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
    echo "FAIL $name: rc=$rc (want $want), pattern '$pat'"; echo "$out" | sed 's/^/    /'
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
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
[ "$fails" -eq 0 ]
