#!/usr/bin/env bash
# run-fuzzer.sh TARGET WORKDIR SEED_CORPUS SECONDS
# A short, bounded libFuzzer run: new inputs go to WORKDIR (in the build tree),
# the seed corpus in the repository is only read. A crash leaves its input in
# WORKDIR/crash-* and fails the test; copy it into the seed corpus once fixed.
set -euo pipefail
target=$1 work=$2 seeds=$3 seconds=$4
mkdir -p "$work"
cd "$work"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work" "$seeds"
