#!/usr/bin/env bash
# `ccc detect`, `ccc image ppm`, `ccc model sign|verify` end to end: help,
# usage errors and their exit codes, JSON output, and the trust rules of the
# signed model manifest (a model signed by another key is refused unless that
# key is named; a modified weight file is refused). Keys are generated here;
# nothing secret is committed. Fails (never skips) without the model or the
# samples: run scripts/setup.
set -euo pipefail
ROOT=${CCC_SOURCE_DIR:?}
CCC="${CCC_BUILD_DIR:?}/ccc"
MODELS="$ROOT/data/models"
CHELSEA="$ROOT/data/samples/chelsea.png"
fail() { echo "detect_cli: FAIL: $*" >&2; exit 1; }
[ -f "$MODELS/centernet.bin" ] || fail "missing data/models (scripts/setup)"
[ -f "$CHELSEA" ] || fail "missing data/samples (scripts/setup)"

# expect CODE CMD...: run, compare the exit code, keep stdout+stderr in $out.
expect() {
  local want=$1; shift
  local rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want: $out"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect 0 "$CCC" detect --help
grep -q "usage: ccc detect" <<<"$out" || fail "detect --help prints no usage"
expect 0 "$CCC" bench detect --help
expect 0 "$CCC" model sign --help
expect 2 "$CCC" detect
expect 2 "$CCC" detect --threshold 1.5 "$CHELSEA"
expect 2 "$CCC" detect --no-such-option "$CHELSEA"
expect 2 "$CCC" model sign
expect 2 "$CCC" image ppm "$CHELSEA"
printf 'GIF89a not an image' > "$tmp/x.gif"
expect 65 "$CCC" detect "$tmp/x.gif"
grep -q "unsupported" <<<"$out" || fail "GIF not reported as unsupported: $out"
head -c 100 "$CHELSEA" > "$tmp/cut.png"
expect 65 "$CCC" detect "$tmp/cut.png"
grep -q "parse" <<<"$out" || fail "truncated PNG not reported as parse error: $out"
expect 66 "$CCC" detect "$tmp/missing.png"

# Text and JSON output (counts come from the model: see docs/detector.md).
expect 0 "$CCC" detect --all "$CHELSEA"
grep -q "^chelsea.png: [0-9]* cat" <<<"$out" || fail "no count line: $out"
expect 0 "$CCC" detect --json "$CHELSEA" "$ROOT/data/samples/rocket.jpg"
node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));
  if (j.images.length!==2 || typeof j.images[0].cats!=="number") process.exit(1);' <<<"$out" ||
  fail "--json output is not the expected JSON"

# The PPM is exactly width*height*3 bytes after its header.
expect 0 "$CCC" image ppm "$CHELSEA" "$tmp/c.ppm"
[ "$(stat -c %s "$tmp/c.ppm")" -eq $((15 + 451 * 300 * 3)) ] || fail "PPM size"

# The committed manifest verifies with the compiled-in release key.
expect 0 "$CCC" model verify --model-dir "$MODELS"

# A model directory signed by a key of our own.
openssl genpkey -algorithm ed25519 -out "$tmp/my.pem" 2>/dev/null
openssl pkey -in "$tmp/my.pem" -pubout -out "$tmp/my.pub.pem"
openssl genpkey -algorithm ed25519 -out "$tmp/other.pem" 2>/dev/null
openssl pkey -in "$tmp/other.pem" -pubout -out "$tmp/other.pub.pem"
mkdir "$tmp/models"
cp "$MODELS/centernet.json" "$MODELS/centernet.bin" "$tmp/models/"
expect 0 "$CCC" model sign --key "$tmp/my.pem" --model-dir "$tmp/models"
[ -f "$tmp/models/centernet.manifest" ] || fail "no manifest written"
expect 66 "$CCC" model verify --model-dir "$tmp/models"            # release key: no
grep -q "crypto" <<<"$out" || fail "foreign signature not a crypto error: $out"
expect 66 "$CCC" detect --model-dir "$tmp/models" "$CHELSEA"
expect 66 "$CCC" detect --model-dir "$tmp/models" --trusted-key "$tmp/other.pub.pem" "$CHELSEA"
expect 0 "$CCC" model verify --model-dir "$tmp/models" --trusted-key "$tmp/my.pub.pem"
expect 0 "$CCC" detect --model-dir "$tmp/models" --trusted-key "$tmp/my.pub.pem" "$CHELSEA"
expect 0 env CCC_MODEL_TRUSTED_KEY="$tmp/my.pub.pem" "$CCC" detect --model-dir "$tmp/models" "$CHELSEA"
# CCC_DATA_DIR/models is the default model directory.
expect 0 env CCC_DATA_DIR="$tmp" CCC_MODEL_TRUSTED_KEY="$tmp/my.pub.pem" "$CCC" detect "$CHELSEA"
expect 66 env CCC_DATA_DIR="$tmp" "$CCC" detect "$CHELSEA"
# A private key is not a trusted public key; an RSA key is not Ed25519.
expect 65 "$CCC" detect --model-dir "$tmp/models" --trusted-key "$tmp/my.pem" "$CHELSEA"
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out "$tmp/rsa.pem" 2>/dev/null
expect 65 "$CCC" model sign --key "$tmp/rsa.pem" --model-dir "$tmp/models"

# One changed weight byte: refused even with the right key.
printf '\x01' | dd of="$tmp/models/centernet.bin" bs=1 seek=1000000 conv=notrunc 2>/dev/null
expect 66 "$CCC" detect --model-dir "$tmp/models" --trusted-key "$tmp/my.pub.pem" "$CHELSEA"
grep -q "SHA-256" <<<"$out" || fail "changed weights not reported as a hash mismatch: $out"
echo "detect_cli: ok"
