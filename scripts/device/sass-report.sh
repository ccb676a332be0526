#!/usr/bin/env bash
#===- sass-report.sh - Do the compiled kernels use the tensor cores? -------===#
#
# Usage: sass-report.sh ARTIFACT.mfa [LOGDIR]
#
# Reads ARTIFACT's device code from the fatbin mf-compile wrote beside it
# (mf-compile ... --target=cuda --emit=fatbin -o ARTIFACT-without-.mfa.fatbin),
# disassembles it with cuobjdump (on the GPU machine; this image has no
# cuobjdump), and prints per kernel the count of HMMA / HGMMA (tensor-core
# matrix instructions), MUFU.EX2 and local-memory loads and stores. Fails if
# any kernel has no tensor-core instruction or uses local memory.
#
#===------------------------------------------------------------------------===#
set -euo pipefail
artifact=${1:?usage: sass-report.sh ARTIFACT.mfa [LOGDIR]}
logs=${2:-.}
fatbin=${artifact%.mfa}.fatbin
[ -f "$fatbin" ] || { echo "sass-report: no $fatbin (mf-compile --emit=fatbin)" >&2; exit 1; }
command -v cuobjdump >/dev/null || { echo "sass-report: no cuobjdump" >&2; exit 1; }
mkdir -p "$logs"
sass=$logs/$(basename "${artifact%.mfa}").sass
cuobjdump --dump-sass "$fatbin" > "$sass"
cuobjdump --dump-resource-usage "$fatbin" > "${sass%.sass}.resources.txt" 2>&1 || true
awk '
  /Function : / { fn = $NF; order[++n] = fn }
  /HGMMA/ { g[fn]++ }
  / HMMA/ { h[fn]++ }
  /MUFU\.EX2/ { e[fn]++ }
  /[[:space:]](LDL|STL)[.[:space:]]/ { l[fn]++ }
  END {
    bad = 0
    printf "%-48s %6s %6s %9s %8s\n", "kernel", "HMMA", "HGMMA", "MUFU.EX2", "LDL/STL"
    for (i = 1; i <= n; i++) {
      f = order[i]
      printf "%-48s %6d %6d %9d %8d\n", f, h[f], g[f], e[f], l[f]
      if (h[f] + g[f] == 0 || l[f] > 0) bad++
    }
    if (n == 0) { print "sass-report: no kernels found"; exit 1 }
    printf "sass-report: %d kernels, %d without tensor-core instructions or with local memory\n", n, bad
    exit bad > 0
  }' "$sass"
