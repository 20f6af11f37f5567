#!/usr/bin/env bash
# scripts/setup.d/30-web.sh — the browser client: Debian's Chromium (for the
# page's browser tests, driven by playwright-core from tools/web) and the
# page bundle build/web/ (tools/web/build.mjs, esbuild; npm packages come
# from tools/web/package-lock.json, installed by scripts/setup).
#
# Idempotent: installs Chromium only when missing; rebuilding the bundle
# downloads nothing (about a second). When the local stack's trust
# directory exists (${CCC_STACK_DIR:-~/.local/share/ccc/stack}/trust; `ccc up` also bakes them
# into the copy it serves), its
# anchors are baked into the bundle; otherwise the user pins them in the page.
set -euo pipefail
ROOT=${CCC_ROOT:?run from scripts/setup}
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(dpkg-query -W -f='${db:Status-Status}' chromium 2>/dev/null)" != installed ]; then
  say "installing Debian package: chromium (browser tests of the page)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
else
  say "chromium: present ($(dpkg-query -W -f='${Version}' chromium))"
fi

if [ ! -f "$ROOT/tools/web/node_modules/esbuild/package.json" ]; then
  echo "30-web.sh: tools/web/node_modules is missing (scripts/setup runs npm ci first)" >&2
  exit 1
fi
DATA=${CCC_STACK_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/ccc/stack}
if [ -f "$DATA/trust/root.pem" ] && [ -f "$DATA/trust/policy-pub.pem" ] && [ -f "$DATA/trust/kms-pub.pem" ]; then
  node "$ROOT/tools/web/build.mjs" --out "$ROOT/build/web" --trust "$DATA/trust" --label "local stack"
else
  node "$ROOT/tools/web/build.mjs" --out "$ROOT/build/web"
fi
