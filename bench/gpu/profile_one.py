"""Runs one entry of an artifact a few times on fresh inputs, for a profiler.

    ncu --kernel-name regex:attention_full -c 1 python3 bench/gpu/profile_one.py \
        artifacts/cuda/ops_sm_90a.mfa attention_full 384

Inputs: bf16 normal; masks keep ~75% of the keys. N is the residue count
(S = N for the triangle entries, S = 1 for attention_single).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from megafold_mlir import runtime as mf  # noqa: E402


def main():
    path, entry, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    iters = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    function = mf.Module.load_file(path).function(entry)
    dev = torch.device("cuda")
    s = 1 if entry == "attention_single" else n
    inputs = []
    for arg in function.args:
        if arg.is_output:
            continue
        dims = [d if d >= 0 else (s if sym.endswith(".1") else n)
                for d, sym in zip(arg.dims, arg.symbols)]
        if arg.dtype == "i1":
            inputs.append(torch.rand(dims, device=dev) > 0.25)
        else:
            inputs.append(torch.randn(dims, device=dev).to(torch.bfloat16))
    outputs = mf.outputs_like(function, *inputs)
    for _ in range(iters):
        function(*inputs, *outputs)
    torch.cuda.synchronize()
    print(f"{entry} N={n}: ran {iters} times; output finite:",
          all(torch.isfinite(o.float()).all().item() for o in outputs))


if __name__ == "__main__":
    main()
