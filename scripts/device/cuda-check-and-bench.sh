#!/usr/bin/env bash
# The one command for the GPU machine (no MLIR there), from the repo root:
#
#   bash scripts/device/cuda-check-and-bench.sh [ARTIFACT.mfa ...]
#
# 1. builds the runtime alone (cmake + ninja) into build-device/runtime;
# 2. checks every artifact (default artifacts/cuda/ops_sm_90a.mfa, compiled
#    on the dev machine with mf-compile --target=cuda --chip=sm_90a and
#    carried) with bench/gpu/check.py;
# 3. dumps the SASS of the artifact's cubins and counts HGMMA/HMMA, spills
#    and MUFU.EX2 per kernel (or runs $SASS_HOOK / scripts/device/sass-report.sh
#    ARTIFACT LOGDIR when there is one);
# 4. times the first artifact beside PyTorch with bench/gpu/bench.py.
#
# Logs (and bench.json) go to $OUT when set, else build-device/logs.
# Environment knobs: PYTHON (python3), CHECK_ARGS, BENCH_ARGS (extra
# arguments), SKIP_CHECK=1, SKIP_BENCH=1, SKIP_SASS=1, SANITIZE=1 (also run a
# small check under compute-sanitizer memcheck; slow).
# Exit status: non-zero if the build, a check or our side of the bench failed.

set -euo pipefail
trap 'echo "error: ${BASH_SOURCE[0]}:${LINENO}: \"${BASH_COMMAND}\" failed" >&2' ERR
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
LOGS=${OUT:-$ROOT/build-device/logs}
BUILD=build-device/runtime
mkdir -p "$LOGS"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

artifacts=("$@")
[ ${#artifacts[@]} -gt 0 ] || artifacts=(artifacts/cuda/ops_sm_90a.mfa)
for artifact in "${artifacts[@]}"; do
  [ -f "$artifact" ] || die "no artifact $artifact: compile it on the dev \
machine (mf-compile ... --target=cuda --chip=sm_90a -o $artifact) and carry it"
done

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
  --format=csv || echo "warning: nvidia-smi failed"
"$PYTHON" - <<'EOF' || die "$PYTHON cannot import torch or sees no GPU"
import sys, torch
assert torch.cuda.is_available(), "torch sees no CUDA device"
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
      f"cuda {torch.version.cuda}, {torch.cuda.get_device_name()}")
EOF

step "runtime build ($BUILD)"
command -v cmake >/dev/null || die "cmake not found"
generator=Ninja
command -v ninja >/dev/null || { generator="Unix Makefiles"; echo "no ninja; using make"; }
cmake -G "$generator" -S runtime -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DMF_RUNTIME_ENABLE_TESTS=OFF -DMF_RUNTIME_ENABLE_CUDA=ON \
  2>&1 | tee "$LOGS/runtime-build.log"
cmake --build "$BUILD" --target mf_runtime -j "$(nproc)" \
  2>&1 | tee -a "$LOGS/runtime-build.log"
export MF_RUNTIME_LIB=$ROOT/$BUILD/lib/libmf_runtime.so
[ -f "$MF_RUNTIME_LIB" ] || die "the build made no $MF_RUNTIME_LIB"
"$PYTHON" - <<'EOF'
import ctypes, os
lib = ctypes.CDLL(os.environ["MF_RUNTIME_LIB"])
if not hasattr(lib, "mf_function_invoke_async"):
    print("warning: this runtime has no mf_function_invoke_async (no CUDA "
          "backend?): CUDA entries will fail")
EOF

status=0

if [ "${SKIP_CHECK:-0}" != 1 ]; then
  for artifact in "${artifacts[@]}"; do
    name=$(basename "$artifact" .mfa)
    step "check $artifact"
    # shellcheck disable=SC2086 # CHECK_ARGS is a list of words
    if ! "$PYTHON" bench/gpu/check.py "$artifact" ${CHECK_ARGS:-} \
        2>&1 | tee "$LOGS/check-$name.log"; then
      status=1
    fi
    if [ "${SANITIZE:-0}" = 1 ]; then
      step "compute-sanitizer memcheck, small cases: $artifact"
      if ! compute-sanitizer --tool memcheck --error-exitcode 99 \
          "$PYTHON" bench/gpu/check.py "$artifact" --max-n 129 --no-repeat \
          2>&1 | tee "$LOGS/sanitize-$name.log"; then
        status=1
      fi
    fi
  done
fi

if [ "${SKIP_SASS:-0}" != 1 ]; then
  for artifact in "${artifacts[@]}"; do
    name=$(basename "$artifact" .mfa)
    hook=${SASS_HOOK:-scripts/device/sass-report.sh}
    if [ -f "$hook" ]; then
      step "SASS: $hook $artifact"
      bash "$hook" "$artifact" "$LOGS" || echo "warning: $hook failed"
      continue
    fi
    command -v cuobjdump >/dev/null || { echo "no cuobjdump: no SASS report"; break; }
    step "SASS of $artifact (per kernel: HGMMA, HMMA, MUFU.EX2, local ld/st)"
    dir="$LOGS/sass-$name"
    mkdir -p "$dir"
    # Every blob that is a CUDA ELF (cubin) or a fatbin, written out.
    "$PYTHON" - "$artifact" "$dir" <<'EOF'
import os, struct, sys
sys.path.insert(0, "python")
from megafold_mlir import read_artifact
manifest, blobs = read_artifact(sys.argv[1])
found = 0
for name, data in blobs.items():
    if data[:4] == b"\x7fELF" and struct.unpack_from("<H", data, 18)[0] == 190:
        ext = "cubin"
    elif data[:4] == b"\x50\xed\x55\xba":
        ext = "fatbin"
    else:
        kind = [b.get("kind") for b in manifest["blobs"] if b["name"] == name]
        print(f"  blob {name} ({kind[0] if kind else '?'}, {len(data)} bytes): "
              "not a cubin or fatbin")
        continue
    with open(os.path.join(sys.argv[2], f"{name}.{ext}"), "wb") as f:
        f.write(data)
    found += 1
print(f"  {found} device code blob(s) written to {sys.argv[2]}")
EOF
    for blob in "$dir"/*.cubin "$dir"/*.fatbin; do
      [ -f "$blob" ] || continue
      cuobjdump --dump-resource-usage "$blob" > "$blob.resources.txt" 2>&1 || true
      if ! cuobjdump --dump-sass "$blob" > "$blob.sass" 2>&1; then
        echo "warning: cuobjdump --dump-sass $blob failed"; continue
      fi
      echo "  $(basename "$blob"):"
      awk '
        /Function :/ { fn = $NF; order[++n] = fn }
        /HGMMA/ { g[fn]++ } /[^G]HMMA|^HMMA/ { h[fn]++ }
        /MUFU\.EX2/ { e[fn]++ } /[[:space:]](LDL|STL)(\.|[[:space:]])/ { l[fn]++ }
        END {
          printf "    %-60s %7s %7s %9s %9s\n", "kernel", "HGMMA", "HMMA", "MUFU.EX2", "LDL/STL"
          for (i = 1; i <= n; i++) { f = order[i]
            printf "    %-60s %7d %7d %9d %9d\n", f, g[f], h[f], e[f], l[f] }
        }' "$blob.sass" | tee "$blob.counts.txt"
      grep -E "Function|REG|STACK|SHARED|LOCAL" "$blob.resources.txt" | head -40 || true
    done
  done
fi

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  step "bench ${artifacts[0]}"
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of words
  if ! "$PYTHON" bench/gpu/bench.py --artifact "${artifacts[0]}" \
      --json "$LOGS/bench.json" ${BENCH_ARGS:-} 2>&1 | tee "$LOGS/bench.log"; then
    status=1
  fi
fi

step "summary (logs in $LOGS)"
for log in "$LOGS"/check-*.log; do
  if [ -f "$log" ]; then echo "  $(basename "$log"): $(tail -n 1 "$log")"; fi
done
if [ "$status" = 0 ]; then echo "  all steps passed"; else echo "  FAILED (see above)"; fi
exit "$status"
