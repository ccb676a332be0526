#!/usr/bin/env python3
"""Numerics of a compiled artifact's entries against float64 references.

    python3 bench/gpu/check.py [ARTIFACT.mfa] [--seed N] [--only REGEX]
                               [--max-n N] [--no-repeat]

For every entry named in ENTRIES (signatures below; B = 1, inputs then
outputs, S and N dynamic) and each of its cases: fresh random normal inputs
(bf16; masks drop random keys, whole S rows, a leading span of keys and all but
one key of a row), outputs poisoned with NaN inside NaN guard zones, one call,
then every element against the float64 reference (bench/gpu/reference.py):
||out - ref|| / ||ref|| <= REL and |out - ref| <= ATOL + RTOL |ref| per element
(bf16: 1e-2, 2e-2, 2e-2; f32: 2e-3, 5e-3, 5e-3), no NaN or Inf where the
reference is finite, an infinite reference (the -inf logsumexp of a fully
masked row) matched exactly, fully masked rows exactly 0, guard zones and
inputs untouched, and a second call bitwise equal to the first (a race shows
as a difference). Prints one line per case, then exactly "P passed, F failed";
exits 1 if F > 0. Entries missing from the artifact fail as "not compiled". A
CUDA fault (e.g. an illegal address) poisons the context: the remaining cases
are reported as not run and counted as failed. Runs on the device the
artifact's target names (cuda, else the CPU: --max-n keeps that quick).

  attention_full(q,k,v [1,S,N,4,32] bf16, mask [1,S,1,1,N] i1,
                 bias [1,1,4,N,N] bf16, gate [1,S,N,4,32] bf16) -> out bf16
  attention_nogate(q,k,v [1,S,N,8,32], mask, bias [1,1,8,N,N]) -> out
  attention_plain(q,k,v [1,S,N,8,8]) -> out
  attention_single(q,k,v [1,1,N,16,24], mask [1,1,1,1,N], bias [1,1,16,N,N],
                   gate) -> out
  attention_lse(q,k,v [1,S,N,4,32], mask, bias [1,1,4,N,N])
                -> out bf16, lse [1,S,4,N] f32
  layernorm_linear_516(x [1,N,N,128], gamma [128], beta [128], w [516,128])
                       -> [1,N,N,516]                          (eps 1e-5)
  layernorm_linear_4(x, gamma, beta, w [4,128], b [4]) -> [1,N,N,4]
  transition(x, gamma, beta, w_up [1024,128], w_down [128,512]) -> [1,N,N,128]
"""

import argparse
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "python")]

import torch  # noqa: E402

import reference as ref  # noqa: E402
from megafold_mlir import MFError, Module  # noqa: E402

BF16 = torch.bfloat16
# Per output dtype: (relative norm error, atol, rtol).
TOLERANCE = {torch.bfloat16: (1e-2, 2e-2, 2e-2),
             torch.float16: (1e-2, 2e-2, 2e-2),
             torch.float32: (2e-3, 5e-3, 5e-3)}
GUARD = 8192  # elements of NaN on each side of every output

ATTENTION = {
    "attention_full": dict(H=4, D=32, mask=True, bias=True, gate=True),
    "attention_nogate": dict(H=8, D=32, mask=True, bias=True),
    "attention_plain": dict(H=8, D=8),
    "attention_single": dict(H=16, D=24, mask=True, bias=True, gate=True),
    "attention_lse": dict(H=4, D=32, mask=True, bias=True, lse=True),
}
ROWS = {
    "layernorm_linear_516": dict(nout=516),
    "layernorm_linear_4": dict(nout=4, bias=True),
    "transition": dict(nout=128, hidden=512),
}
# (S, N) per attention entry, N per row entry (x is [1, N, N, 128]).
CASES = {
    "attention_full": [(384, 384), (768, 768), (37, 37), (100, 100),
                       (129, 129), (385, 385), (5, 100), (3, 1)],
    "attention_nogate": [(512, 384), (128, 384), (33, 385), (7, 129),
                         (16, 37)],
    "attention_plain": [(384, 512), (100, 129), (5, 37), (37, 1000)],
    "attention_single": [(1, 384), (1, 768), (1, 37), (1, 100), (1, 129),
                         (1, 385), (1, 1)],
    "attention_lse": [(384, 384), (37, 37), (100, 129), (129, 100)],
    "layernorm_linear_516": [384, 37, 100, 129, 385],
    "layernorm_linear_4": [384, 37, 100, 129, 385],
    "transition": [384, 37, 100, 129, 385],
}
ENTRIES = list(CASES)


class Inputs:
    """Random draws for one case: normal bf16 on the device, structure on the
    CPU (so a case reproduces from its seed on any device)."""

    def __init__(self, seed, device):
        self.device = device
        self.cpu = torch.Generator().manual_seed(seed)
        self.gen = torch.Generator(device=device).manual_seed(seed)

    def normal(self, *shape, std=1.0, mean=0.0):
        x = torch.randn(shape, generator=self.gen, device=self.device)
        return (x * std + mean).to(BF16)

    def mask(self, S, N):
        """[1,S,1,1,N] bool: ~25% of keys dropped; with S > 1, S/8 rows fully
        masked, one row keeping a single key, one missing its first 80 keys
        (with S = 1 and N > 100, that row). Returns (mask, indices of the
        fully masked rows)."""
        keep = torch.rand((1, S, 1, 1, N), generator=self.cpu) > 0.25
        keep[0, torch.arange(S), 0, 0,
             torch.randint(N, (S,), generator=self.cpu)] = True
        dead = torch.zeros(0, dtype=torch.long)
        if S > 1:
            rows = torch.randperm(S, generator=self.cpu)
            dead = rows[:max(1, S // 8)]
            keep[:, dead] = False
            if S > len(dead):
                one = rows[len(dead)]
                keep[0, one] = False
                key = torch.randint(N, (1,), generator=self.cpu)
                keep[0, one, 0, 0, key] = True
            if S > len(dead) + 1:
                span = rows[len(dead) + 1]
                keep[0, span, 0, 0, :min(N - 1, 80)] = False
                keep[0, span, 0, 0, -1] = True
        elif N > 100:
            keep[0, 0, 0, 0, :80] = False
        return keep.to(self.device), dead.to(self.device)


def attention_case(spec, S, N, draw):
    H, D = spec["H"], spec["D"]
    shape = (1, S, N, H, D)
    q, k, v = (draw.normal(*shape) for _ in range(3))
    inputs, mask, bias, gate, dead = [q, k, v], None, None, None, None
    if spec.get("mask"):
        mask, dead = draw.mask(S, N)
        inputs.append(mask)
    if spec.get("bias"):
        bias = draw.normal(1, 1, H, N, N)
        inputs.append(bias)
    if spec.get("gate"):
        gate = draw.normal(*shape)
        inputs.append(gate)
    outputs = [(shape, BF16)]
    if spec.get("lse"):
        outputs.append(((1, S, H, N), torch.float32))
    want = ref.pair_bias_attention(q, k, v, mask, bias, gate,
                                   logsumexp=bool(spec.get("lse")))
    return inputs, outputs, list(want) if spec.get("lse") else [want], dead


def rows_case(spec, N, draw):
    C, nout = 128, spec["nout"]
    x = draw.normal(1, N, N, C, std=1.5, mean=0.5)
    gamma, beta = draw.normal(C, std=0.1, mean=1.0), draw.normal(C, std=0.1)
    if "hidden" in spec:
        F = spec["hidden"]
        w_up = draw.normal(2 * F, C, std=C ** -0.5)
        w_down = draw.normal(C, F, std=F ** -0.5)
        inputs = [x, gamma, beta, w_up, w_down]
        want = ref.transition(x, gamma, beta, w_up, w_down, eps=1e-5)
    else:
        w = draw.normal(nout, C, std=C ** -0.5)
        b = draw.normal(nout, std=0.1) if spec.get("bias") else None
        inputs = [x, gamma, beta, w] + ([b] if b is not None else [])
        want = ref.layernorm_linear(x, gamma, beta, w, b, eps=1e-5)
    return inputs, [((1, N, N, nout), BF16)], [want], None


def signature_problem(function, inputs, outputs):
    """Why the manifest cannot take these tensors, or None."""
    wanted = [(tuple(t.shape), t.dtype) for t in inputs] + list(outputs)
    if len(function.args) != len(wanted):
        return (f"signature mismatch: {len(function.args)} arguments, expected "
                f"{len(wanted)}; artifact: {function.signature()}")
    for i, (arg, (shape, dtype)) in enumerate(zip(function.args, wanted)):
        name = {torch.bfloat16: "bf16", torch.float32: "f32",
                torch.bool: "i1"}[dtype]
        fits = (arg.dtype == name and len(arg.dims) == len(shape) and
                all(d < 0 or d == s for d, s in zip(arg.dims, shape)) and
                arg.is_output == (i >= len(inputs)))
        if not fits:
            return (f"signature mismatch at argument {i} ('{arg.name}'): "
                    f"expected {name}{list(shape)}; artifact: "
                    f"{function.signature()}")
    return None


def bits(t):
    """The tensor's bits as integers (so that NaNs compare equal)."""
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32,
                   8: torch.int64}[t.element_size()])


def guarded(shape, dtype, device):
    """A NaN-filled output inside a NaN guard zone: (buffer, view)."""
    count = math.prod(shape)
    buffer = torch.full((count + 2 * GUARD,), math.nan, dtype=dtype,
                        device=device)
    return buffer, buffer[GUARD:GUARD + count].view(shape)


def compare(out, want):
    """(rel_err, max_abs, problems) of one output against its reference."""
    rel_tol, atol, rtol = TOLERANCE[out.dtype]
    got = out.double()
    finite = torch.isfinite(want)
    problems = []
    nonfinite = int((finite & ~torch.isfinite(got)).sum())
    if nonfinite:
        problems.append(f"{nonfinite} NaN/Inf where the reference is finite")
    inf_wrong = int((~finite & (got != want)).sum())
    if inf_wrong:
        problems.append(f"{inf_wrong} elements miss an infinite reference")
    diff = (got - want)[finite]
    scale = want[finite].norm().item()
    rel = diff.norm().item() / scale if scale else diff.norm().item()
    err = diff.abs()
    max_abs = err.max().item() if err.numel() else 0.0
    bad = int((err > atol + rtol * want[finite].abs()).sum())
    if bad:
        problems.append(f"{bad} elements over {atol:g} + {rtol:g}|ref|")
    if not rel <= rel_tol:
        problems.append(f"rel_err over {rel_tol:g}")
    return rel, max_abs, problems


def run_case(function, entry, size, draw, repeat):
    """Returns (rel_err, max_abs, problems, notes) for one case: rel_err and
    max_abs of the first output, notes with those of the others."""
    if entry in ATTENTION:
        inputs, outputs, wants, dead = attention_case(ATTENTION[entry], *size,
                                                      draw)
    else:
        inputs, outputs, wants, dead = rows_case(ROWS[entry], size, draw)
    problem = signature_problem(function, inputs, outputs)
    if problem:
        return math.nan, math.nan, [problem], []
    device = draw.device
    saved = [t.clone() for t in inputs]
    buffers, outs = zip(*(guarded(s, d, device) for s, d in outputs))
    function(*inputs, *outs)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    problems, notes = [], []
    for i, (out, want) in enumerate(zip(outs, wants)):
        r, m, p = compare(out, want)
        if i == 0:
            rel, max_abs = r, m
        else:
            notes.append(f"output {i}: rel_err={r:.2e} max_abs={m:.2e}")
        problems += [f"output {i}: {text}" for text in p]
    if dead is not None and len(dead) and not (outs[0][:, dead] == 0).all():
        problems.append(f"fully masked rows not exactly 0 (rows "
                        f"{dead.tolist()[:8]})")
    for i, buffer in enumerate(buffers):
        if not (buffer[:GUARD].isnan().all() and buffer[-GUARD:].isnan().all()):
            problems.append(f"output {i}: written outside its bounds")
    if not all(torch.equal(a, b) for a, b in zip(saved, inputs)):
        problems.append("an input was modified")
    if repeat:
        again = [guarded(s, d, device)[1] for s, d in outputs]
        function(*inputs, *again)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if not all(torch.equal(bits(a), bits(b)) for a, b in zip(outs, again)):
            problems.append("a second call gave different bits (a race?)")
    return rel, max_abs, problems, notes


def context_alive(device):
    if device.type != "cuda":
        return True
    try:
        torch.cuda.synchronize(device)
        return (torch.ones(1, device=device) + 1).item() == 2
    except Exception:  # noqa: BLE001 - any error means the context is gone
        return False


def label(entry, size):
    if entry in ATTENTION:
        spec = ATTENTION[entry]
        S, N = size
        return f"1x{S}x{N}x{spec['H']}x{spec['D']}"
    return f"1x{size}x{size}x128"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifact", nargs="?",
                        default=os.path.join(ROOT, "artifacts", "cuda",
                                             "ops_sm_90a.mfa"))
    parser.add_argument("--seed", type=int, default=None,
                        help="base seed (default: from the clock; printed)")
    parser.add_argument("--only", default=None, help="regex on entry names")
    parser.add_argument("--max-n", type=int, default=None,
                        help="skip cases with S or N above this")
    parser.add_argument("--no-repeat", action="store_true",
                        help="skip the second, bitwise-compared call")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    cases = [(e, s) for e in ENTRIES for s in CASES[e]
             if not args.only or re.search(args.only, e)]
    if args.max_n:
        limit = args.max_n
        cases = [(e, s) for e, s in cases
                 if max(s if isinstance(s, tuple) else (s,)) <= limit]
    # Small problems first: a fault at a large size loses fewer cases.
    cases.sort(key=lambda c: math.prod(c[1]) if isinstance(c[1], tuple)
               else c[1] ** 2)

    passed = failed = 0

    def report(ok, entry, size, rel=math.nan, max_abs=math.nan, why=()):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        line = (f"{'PASS' if ok else 'FAIL'} {entry} {label(entry, size)} "
                f"rel_err={rel:.2e} max_abs={max_abs:.2e}")
        print(line + ("  " + "; ".join(why) if why else ""), flush=True)

    print(f"check.py: artifact {args.artifact}, seed={seed}, torch "
          f"{torch.__version__}")
    try:
        module = Module.load_file(args.artifact)
    except (MFError, OSError) as e:
        print(f"cannot load the artifact: {e}")
        for entry, size in cases:
            report(False, entry, size, why=["not run (artifact not loaded)"])
        print(f"{passed} passed, {failed} failed")
        return 1
    device = torch.device("cuda" if module.target == "cuda" else "cpu")
    gpu = (torch.cuda.get_device_name(device) if device.type == "cuda"
           else "cpu")
    print(f"target {module.target}, chip {module.chip}, producer "
          f"{module.producer}; running on {gpu}")
    present = set(module.entries)
    for name in sorted(present - set(ENTRIES)):
        print(f"note: entry {name} is not checked (unknown to check.py)")
    for name in ENTRIES:
        if name in present:
            print(f"  {module[name].signature()}")

    lost = None  # why the context is gone
    for index, (entry, size) in enumerate(cases):
        if entry not in present:
            report(False, entry, size, why=["not compiled"])
            continue
        if lost:
            report(False, entry, size, why=[f"not run ({lost})"])
            continue
        draw = Inputs(seed * 1000 + index, device)
        try:
            rel, max_abs, why, notes = run_case(module[entry], entry, size,
                                                draw, not args.no_repeat)
            report(not why, entry, size, rel, max_abs, notes + why)
        except torch.cuda.OutOfMemoryError as e:
            report(False, entry, size, why=[f"out of memory: {e}"])
            torch.cuda.empty_cache()
        except Exception as e:  # noqa: BLE001 - report and go on
            message = " ".join(str(e).split())[:300]
            report(False, entry, size, why=[f"{type(e).__name__}: {message}"])
            if not context_alive(device):
                lost = f"CUDA context lost at {entry} {label(entry, size)}"
                print(f"error: {lost}; the remaining cases are not run",
                      flush=True)
    skipped = sum(len(CASES[e]) for e in ENTRIES) - len(cases)
    if skipped:
        print(f"({skipped} cases skipped by --only/--max-n)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
