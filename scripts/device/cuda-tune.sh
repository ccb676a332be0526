#!/usr/bin/env bash
#===- cuda-tune.sh - Time every tuning variant on the GPU machine ----------===#
#
# Usage (GPU machine, repo root, after scripts/make-cuda-tuning-variants.sh
# here and carrying artifacts/): bash scripts/device/cuda-tune.sh [REGEX]
#
# Builds the runtime, checks the first variant's numerics on small sizes,
# times our kernels (only ours: bench.py --peers ours) for every variant and
# prints, per case, each variant's median ms and the best.
#
#===------------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PYTHONUNBUFFERED=1
LOGS=${OUT:-build-device/logs}
mkdir -p "$LOGS"
cmake -G Ninja -S runtime -B build-device/runtime -DCMAKE_BUILD_TYPE=Release \
  -DMF_RUNTIME_ENABLE_TESTS=OFF > "$LOGS/tune-build.log" 2>&1
cmake --build build-device/runtime --target mf_runtime >> "$LOGS/tune-build.log" 2>&1
export MF_RUNTIME_LIB=$PWD/build-device/runtime/lib/libmf_runtime.so
status=0
for a in artifacts/cuda/tune/*.mfa; do
  name=$(basename "$a" .mfa)
  python3 bench/gpu/check.py "$a" --max-n 200 --no-repeat > "$LOGS/tune-check-$name.log" 2>&1 || status=1
  echo "$name: $(tail -n 1 "$LOGS/tune-check-$name.log")"
  python3 bench/gpu/bench.py --artifact "$a" --peers ours ${1:+--cases "$1"} \
    --json "$LOGS/tune-$name.json" > "$LOGS/tune-bench-$name.log" 2>&1 || status=1
done
python3 - "$LOGS" <<'PY'
import glob, json, os, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "tune-*.json"))):
    variant = os.path.basename(path)[5:-5]
    for case in json.load(open(path))["rows"]:
        ms = case["peers"].get("ours", {}).get("ms")
        rows.setdefault(case["case"], {})[variant] = ms
for case, by in rows.items():
    ok = {v: ms for v, ms in by.items() if isinstance(ms, (int, float))}
    best = min(ok, key=ok.get) if ok else None
    cells = "  ".join(f"{v}={ms:.3f}" if isinstance(ms, (int, float)) else f"{v}=err"
                      for v, ms in by.items())
    print(f"{case:28s} best {best} ({ok.get(best, float('nan')):.3f} ms)\n    {cells}")
PY
exit $status
