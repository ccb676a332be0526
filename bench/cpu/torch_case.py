"""One PyTorch CPU case in a fresh process: prints 'median_ms peak_rss_mib'.

Usage: torch_case.py CASE N ITERS. The naive eager code is what AlphaFold
implementations run on the CPU; fp32, 2 threads.
"""
import resource
import sys
import time

import torch

case, n, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(2)
torch.manual_seed(0)


def attention(q, k, v, mask, bias):
    # q, k, v [B, S, N, H, D]; mask [B, S, 1, 1, N]; bias [B, 1, H, N, N].
    qh, kh, vh = (t.permute(0, 1, 3, 2, 4) for t in (q, k, v))
    s = torch.matmul(qh, kh.transpose(-1, -2)) * q.shape[-1] ** -0.5 + bias
    s = s.masked_fill(~mask, float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return torch.matmul(p, vh).permute(0, 1, 3, 2, 4)


if case == "triangle_attention":
    q, k, v = (torch.randn(1, n, n, 4, 32) for _ in range(3))
    mask = torch.rand(1, n, 1, 1, n) < 0.9
    bias = torch.randn(1, 1, 4, n, n)
    run = lambda: attention(q, k, v, mask, bias)
elif case == "layernorm_linear":
    x = torch.randn(n * n, 128)
    ln = torch.nn.LayerNorm(128)
    lin = torch.nn.Linear(128, 512)
    run = lambda: lin(ln(x))
elif case == "transition":
    x = torch.randn(n * n, 128)
    ln = torch.nn.LayerNorm(128)
    up = torch.nn.Linear(128, 1024, bias=False)
    down = torch.nn.Linear(512, 128, bias=False)

    def run():
        a, b = up(ln(x)).chunk(2, dim=-1)
        return down(a * torch.nn.functional.silu(b))
else:
    raise SystemExit(f"unknown case {case}")

with torch.no_grad():
    run()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
times.sort()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# Which BLAS the process really mapped (the config claims are checked).
with open("/proc/self/maps") as maps:
    blas = sorted({line.split()[-1].rsplit("/", 2)[-2] + "/" +
                   line.split()[-1].rsplit("/", 1)[-1]
                   for line in maps if "blas" in line and "/" in line})
print(f"{times[len(times) // 2]:.3f} {peak:.1f} {','.join(blas) or 'none'}")
