#!/usr/bin/env bash
# The page's policy/document/receipt checks against C-made fixtures.
#   tests/web_signed.sh <path to receipt_fixture>
set -euo pipefail
ROOT=${CCC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FIX=${1:?usage: web_signed.sh <receipt_fixture>}
DIR=$(mktemp -d /tmp/ccc-web-signed.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
"$FIX" "$DIR"
"$ROOT/tests/web_node.sh" web_signed.mjs "$DIR"
