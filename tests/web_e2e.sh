#!/usr/bin/env bash
# The page in Chromium against the local stack (tests/web_e2e.mjs), then its
# job flow under Node with injected faults (tests/web_client.mjs): starts
# `ccc up` on a loopback port with a temporary data directory, serving a
# freshly built page without anchors (the test pins them in the page), and
# a second build with the stack's anchors baked in for the test's tampering
# proxy. Skips (77) when this build has no `ccc up`; fails when Chromium,
# Node or tools/web/node_modules is missing.
set -uo pipefail
ROOT=${CCC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${CCC_BUILD_DIR:?run through ctest (CCC_BUILD_DIR)}
CCC=$BUILD/ccc
if ! "$CCC" up --help >/dev/null 2>&1; then
  echo "SKIP: '$CCC up --help' fails: this build has no local stack (ccc up)"; exit 77
fi
for need in /usr/bin/chromium "$ROOT/tools/web/node_modules/playwright-core/package.json" "$ROOT/data/samples/chelsea.png"; do
  [ -e "$need" ] || { echo "FAIL: $need is missing; run scripts/setup"; exit 1; }
done
command -v node >/dev/null || { echo "FAIL: node is missing; run scripts/setup"; exit 1; }
WORK=$(mktemp -d /tmp/ccc-web-e2e.XXXXXX)
DATA=$WORK/stack
cleanup() {
  "$CCC" down --data "$DATA" >/dev/null 2>&1
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
node "$ROOT/tools/web/build.mjs" --out "$WORK/web" --lib-out "$WORK/lib" >/dev/null || { echo "FAIL: page build"; exit 1; }
# `ccc up` in the foreground of a background job (its readiness is /healthz
# answering 200), stopped by `ccc down` on exit.
port=
for try in 1 2 3 4 5; do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 10000))
  "$CCC" up --data "$DATA" --port "$p" --static "$WORK/web" >"$WORK/up.out" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$up_pid" 2>/dev/null || break
    code=$(curl -s --noproxy '*' -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/healthz" || true)
    [ "$code" = 200 ] && { port=$p; break; }
    sleep 0.5
  done
  [ -n "$port" ] && break
  if ! kill -0 "$up_pid" 2>/dev/null && grep -q 'bind\|in use' "$DATA"/logs/host.log "$WORK/up.out" 2>/dev/null; then
    : >"$DATA/logs/host.log"; continue
  fi
  echo "FAIL: ccc up did not become ready"; cat "$WORK/up.out"; tail -n 30 "$DATA"/logs/*.log 2>/dev/null; exit 1
done
[ -n "$port" ] || { echo "FAIL: no free port after 5 tries"; exit 1; }
node "$ROOT/tools/web/build.mjs" --out "$WORK/web-baked" --lib-out "$WORK/lib" --trust "$DATA/trust" --label "test stack" >/dev/null ||
  { echo "FAIL: baked page build"; exit 1; }
CCC_SOURCE_DIR=$ROOT CCC_URL=http://127.0.0.1:$port CCC_TRUST=$DATA/trust CCC_BAKED_WEB=$WORK/web-baked \
  CCC_HOST_LOG=$DATA/logs/host.log CCC_WORK=$WORK CCC_SHOTS=$ROOT/build/web-screenshots CCC_BIN=$CCC \
  node "$ROOT/tests/web_e2e.mjs"
rc=$?
# The same flow under Node with faults injected between page and host.
CCC_URL=http://127.0.0.1:$port CCC_TRUST=$DATA/trust CCC_WEB_LIB=$WORK/lib/ccc-web.mjs CCC_WORK=$WORK \
  node "$ROOT/tests/web_client.mjs" || rc=1
[ $rc -eq 0 ] || { echo "--- host log (tail)"; tail -n 20 "$DATA/logs/host.log" 2>/dev/null; }
exit $rc
