#!/usr/bin/env bash
# HPKE interop test: @hpke/core (Node) <-> src/hpke (C), both directions, for
# X25519/HKDF-SHA256 with AES-256-GCM, ChaCha20-Poly1305 and AES-128-GCM.
# Node and tools/hpke-interop/node_modules come from scripts/setup; if either
# is missing this test FAILS (it never skips silently).
#   tests/hpke_interop.sh <path to hpke_interop_peer>
set -euo pipefail
ROOT=${CCC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TOOL=$ROOT/tools/hpke-interop
PEER=${1:?usage: hpke_interop.sh <hpke_interop_peer>}
if ! command -v node >/dev/null; then
  echo "FAIL: node is not installed; run scripts/setup" >&2
  exit 1
fi
if [ ! -f "$TOOL/node_modules/@hpke/core/package.json" ] ||
   [ ! -f "$TOOL/node_modules/@hpke/chacha20poly1305/package.json" ]; then
  echo "FAIL: $TOOL/node_modules is missing @hpke packages; run scripts/setup (npm ci)" >&2
  exit 1
fi
exec node "$TOOL/interop.mjs" "$PEER"
