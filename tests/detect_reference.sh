#!/usr/bin/env bash
# Compare `ccc detect --json` with the TF.js wasm reference
# (tools/tfjs-reference) on every sample photo: identical cat counts and
# kept boxes, raw detections / keypoints / wh within tolerance (see
# tools/tfjs-reference/compare.mjs). Both sides get the same pixels: the C
# decoder's output, handed to the reference as a PPM (`ccc image ppm`).
# This test FAILS (never skips) when node, the reference's node_modules,
# the model or the samples are missing: run scripts/setup.
set -euo pipefail
ROOT=${CCC_SOURCE_DIR:?}
BUILD=${CCC_BUILD_DIR:?}
CCC="$BUILD/ccc"
REF="$ROOT/tools/tfjs-reference"
die() { echo "detect_reference: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed (scripts/setup)"
[ -d "$REF/node_modules/@tensorflow/tfjs-backend-wasm" ] || die "missing $REF/node_modules (scripts/setup)"
[ -f "$ROOT/data/models/centernet.json" ] && [ -f "$ROOT/data/models/centernet.bin" ] ||
  die "missing data/models/centernet.{json,bin} (scripts/setup)"
[ -x "$CCC" ] || die "missing $CCC"
samples=("$ROOT"/data/samples/*.png "$ROOT"/data/samples/*.jpg)
[ -f "$ROOT/data/samples/chelsea.png" ] && [ ${#samples[@]} -ge 7 ] ||
  die "missing data/samples (scripts/setup)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for img in "${samples[@]}"; do
  [ -f "$img" ] || die "no sample $img"
  name=$(basename "$img")
  "$CCC" image ppm "$img" "$tmp/$name.ppm"
  "$CCC" detect --json --raw-out "$tmp/c.$name" "$img" > "$tmp/c.$name.json"
  node "$REF/reference.mjs" --raw-out "$tmp/r.$name" "$tmp/$name.ppm" > "$tmp/r.$name.json"
  node "$REF/compare.mjs" "$tmp/c.$name.json" "$tmp/r.$name.json" "$tmp/c.$name" "$tmp/r.$name" ||
    failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || die "$failed image(s) differ from the reference"
echo "detect_reference: all ${#samples[@]} samples match the TF.js reference"
