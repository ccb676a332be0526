#!/usr/bin/env bash
# Runs the feature-cache fuzz target for a bounded time on a fresh seed
# corpus. Usage: run_feature_cache_fuzz.sh BUILD_DIR SECONDS
# (BUILD_DIR holds mf_feature_cache_fuzz and mf_feature_cache_fuzz_seeds,
# e.g. build/runtime/fuzz). Fails if the fuzzer finds a crash; the input is
# then kept in BUILD_DIR/crashes/.
set -euo pipefail
dir=$(cd "$1" && pwd)
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/seeds" "$work/corpus" "$dir/crashes"
"$dir/mf_feature_cache_fuzz_seeds" "$work/seeds"
# New inputs go to corpus/ (first directory); seeds are only read.
"$dir/mf_feature_cache_fuzz" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -dict="$here/feature_cache.dict" -artifact_prefix="$dir/crashes/" \
  "$work/corpus" "$work/seeds" 2>"$work/log" || {
  tail -n 60 "$work/log"
  echo "feature-cache fuzzing failed; reproducer in $dir/crashes/" >&2
  exit 1
}
grep -E '^(#[0-9]+[[:space:]]+DONE|Done|stat::)' "$work/log" || tail -n 5 "$work/log"
