#!/usr/bin/env bash
# Runs one Node test of the browser client (tests/web_*.mjs) against a fresh
# bundle of web/src (tools/web/build.mjs into a temporary directory, so a
# running stack's build/web is never touched).
#   tests/web_node.sh web_verify.mjs|web_ohttp.mjs|web_signed.mjs [args...]
# Node and tools/web/node_modules come from scripts/setup; if either is
# missing this test FAILS (it never skips silently).
set -euo pipefail
ROOT=${CCC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TEST=${1:?usage: web_node.sh TEST.mjs [args...]}; shift
if ! command -v node >/dev/null; then
  echo "FAIL: node is not installed; run scripts/setup" >&2; exit 1
fi
if [ ! -f "$ROOT/tools/web/node_modules/esbuild/package.json" ]; then
  echo "FAIL: tools/web/node_modules is missing; run scripts/setup (npm ci)" >&2; exit 1
fi
TMP=$(mktemp -d /tmp/ccc-web-node.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
node "$ROOT/tools/web/build.mjs" --out "$TMP/web" --lib-out "$TMP/lib" >/dev/null
CCC_SOURCE_DIR=$ROOT CCC_WEB_LIB=$TMP/lib/ccc-web.mjs node "$ROOT/tests/$TEST" "$@"
