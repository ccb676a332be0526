#!/usr/bin/env bash
# The test command: installs what it needs, builds everything and runs every
# test suite (lit for the compiler, ctest for the runtime). Fails when any
# test fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh"
build=${MF_BUILD_DIR:-$root/build}
status=0
echo "== lit (check-mf) =="
/usr/lib/llvm-22/bin/lit -sv "$build/test" || status=1
# The feature-cache parser's libFuzzer target (built when clang can link
# -fsanitize=fuzzer), for a bounded time on a fresh seed corpus.
if [ -x "$build/runtime/fuzz/mf_feature_cache_fuzz" ]; then
  echo "== fuzz (feature-cache parser, 20 s) =="
  bash "$root/runtime/fuzz/run_feature_cache_fuzz.sh" "$build/runtime/fuzz" 20 || status=1
fi
if [ -f "$build/runtime/CTestTestfile.cmake" ]; then
  echo "== ctest (runtime) =="
  ctest --test-dir "$build/runtime" --output-on-failure || status=1
fi
exit $status
