#!/usr/bin/env python3
"""CPU benchmark: our compiled ops beside PyTorch's eager CPU code.

Times each case in a fresh process per implementation (median of ITERS calls
after one warm-up) and reports peak resident memory of that process, which
holds the inputs and outputs too. PyTorch gets its best configuration on this
machine when available: OpenBLAS (OpenMP build) and jemalloc via LD_PRELOAD.

Usage: bench/cpu/bench.py [--build build] [--sizes 64,128,256] [--iters 5]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def ours(build, artifact, entry, n, iters):
    dims = {"triangle_attention": ["--dim", f"q.1={n}", "--dim", f"q.2={n}"],
            "layernorm_linear": ["--dim", f"x.0={n * n}"],
            "transition": ["--dim", f"x.0={n * n}"]}[entry]
    cmd = ["/usr/bin/time", "-f", "%M", os.path.join(build, "bin", "mf-run"),
           artifact, "--entry", entry, "--iters", str(iters), "--warmup", "1",
           "--seed", "1"] + dims
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    ms = float(re.search(r"median ([0-9.]+) ms", out.stdout).group(1))
    rss_kib = int(out.stderr.strip().splitlines()[-1])
    if "all finite" not in out.stdout:
        raise SystemExit(f"non-finite output from {entry} at N={n}")
    return ms, rss_kib / 1024


def torch(case, n, iters):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    config = []
    if os.path.exists(JEMALLOC):
        env["LD_PRELOAD"] = JEMALLOC
        config.append("jemalloc")
    if os.path.isdir(OPENBLAS):
        env["LD_LIBRARY_PATH"] = OPENBLAS
        config.append("openblas-openmp")
    # Debian's python3-torch lives under the system interpreter.
    python = os.environ.get("TORCH_PYTHON", "/usr/bin/python3")
    out = subprocess.run([python, os.path.join(HERE, "torch_case.py"),
                          case, str(n), str(iters)], env=env,
                         capture_output=True, text=True, check=True)
    ms, rss, blas = out.stdout.split()
    return float(ms), float(rss), "+".join(config + [blas]) or "default"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    artifact = os.path.join(args.build, "bench", "cpu_ops.mfa")
    os.makedirs(os.path.dirname(artifact), exist_ok=True)
    subprocess.run([os.path.join(args.build, "bin", "mf-compile"),
                    os.path.join(HERE, "ops.mlir"), "--target=cpu", "-o",
                    artifact], check=True)
    rows = []
    print(f"{'case':<20}{'N':>5}{'ours ms':>10}{'torch ms':>10}"
          f"{'speedup':>9}{'ours MiB':>10}{'torch MiB':>10}  torch config")
    for case in ("triangle_attention", "layernorm_linear", "transition"):
        for n in (int(s) for s in args.sizes.split(",")):
            ms, rss = ours(args.build, artifact, case, n, args.iters)
            tms, trss, config = torch(case, n, args.iters)
            rows.append(dict(case=case, n=n, ours_ms=ms, torch_ms=tms,
                             ours_peak_mib=rss, torch_peak_mib=trss,
                             torch_config=config))
            print(f"{case:<20}{n:>5}{ms:>10.2f}{tms:>10.2f}{tms / ms:>8.2f}x"
                  f"{rss:>10.0f}{trss:>10.0f}  {config}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
