#!/usr/bin/env python3
"""The examples/ modules compiled for a GPU, against float64 references, and
timed beside PyTorch eager on the same inputs.

    python3 bench/gpu/check_examples.py ARTIFACT.mfa [...] [--seed N]
                                        [--no-bench]

An artifact is named after its example (mf-compile examples/X.mlir
--target=cuda -o .../X.mfa). Its entries are checked at odd sizes (N = 37,
100, 129 and, for the attention examples, 385): fresh random inputs, masks
that drop random keys, whole rows and a leading span of keys, outputs
poisoned with NaN inside NaN guard zones, every element compared with the
float64 reference (f32: ||out - ref|| / ||ref|| <= 1e-5 and |out - ref| <=
1e-5 + 1e-4 |ref|; bf16 inputs: 1e-2, and 5e-2 + 5e-2 |ref| for the bf16
Pairformer block, whose ops each round their output to bf16), no NaN, fully
masked rows exactly 0, guard zones and inputs untouched. Prints one line per
case and "P passed, F failed"; exits 1 if F > 0.

Then (without --no-bench) every entry is timed at N = 384 (Pairformer block:
N = 256 and 384) beside PyTorch eager on the same inputs, and with
--compile the block beside torch.compile of the same eager code: CUDA
events, warm-up, median, L2 flushed before each call (bench.py's time_ms).
--profile prints the per-kernel GPU time of one call (torch.profiler).
--as-bf16 checks artifacts compiled with --gpu-f32-as-bf16 (f32 in and out,
bf16 tensor cores inside) at the bf16 tolerances; --peer-precision medium
lets the peers' f32 matmuls use bf16 too.
"""

import argparse
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "python")]

import torch  # noqa: E402

import check  # noqa: E402  (Inputs, guarded, bits)
import reference as ref  # noqa: E402
from megafold_mlir import Module  # noqa: E402

F32, BF16 = torch.float32, torch.bfloat16
GUARD = check.GUARD


AS_BF16 = False  # --as-bf16: f32 artifacts from mf-compile --gpu-f32-as-bf16


def tolerance(dtype, entry):
    if dtype == F32 and not AS_BF16:
        return 1e-5, 1e-5, 1e-4
    if entry == "pairformer_block":
        return 1e-2, 5e-2, 5e-2
    return 1e-2, 2e-2, 2e-2


# --- inputs and references per example -------------------------------------

class Draw(check.Inputs):
    def __init__(self, seed, device, dtype):
        super().__init__(seed, device)
        self.dtype = dtype

    def normal(self, *shape, std=1.0, mean=0.0):
        x = torch.randn(shape, generator=self.gen, device=self.device)
        return (x * std + mean).to(self.dtype)

    def weight(self, n_out, n_in):
        return self.normal(n_out, n_in, std=n_in ** -0.5)

    def norm_params(self, c):
        return self.normal(c, std=0.1, mean=1.0), self.normal(c, std=0.1)


ATTENTION = {
    # entry: (H, D, S is N, has bias, has mask, transposed)
    "triangle_attention_starting": (4, 32, True, True, True, False),
    "triangle_attention_ending": (4, 32, True, True, True, True),
    "single_attention": (16, 24, False, True, True, False),
    "msa_row_attention": (8, 32, False, True, True, False),
    "msa_column_attention": (8, 8, False, False, True, False),
}


def attention_case(entry, n, draw):
    H, D, square, has_bias, has_mask, transposed = ATTENTION[entry]
    S = n if square else (1 if entry == "single_attention" else 33)
    shape = (1, S, n, H, D)
    q, k, v = (draw.normal(*shape) for _ in range(3))
    inputs = [q, k, v]
    mask = bias = dead = None
    if has_mask:
        mask, dead = draw.mask(S, n)
        inputs.append(mask)
    if has_bias:
        bias = draw.normal(1, 1, H, n, n)
        inputs.append(bias)
    gate = draw.normal(*shape)
    inputs.append(gate)
    if transposed:
        t = lambda x: x.transpose(1, 2)  # noqa: E731
        want = t(ref.pair_bias_attention(t(q), t(k), t(v), mask, bias, t(gate)))
        # The ending-node rows are the transposed ones: dead rows are not
        # whole output rows here.
        dead = None
    else:
        want = ref.pair_bias_attention(q, k, v, mask, bias, gate)
    return inputs, [(shape, draw.dtype)], [want], dead


PAIRFORMER_WEIGHTS = [
    # (name, shape) in argument order after s, z, token_mask, pair_mask.
    *[(f"{p}_{w}", s) for p in ("ts", "te") for w, s in (
        ("gamma", (128,)), ("beta", (128,)), ("wq", (128, 128)),
        ("wk", (128, 128)), ("wv", (128, 128)), ("wg", (128, 128)),
        ("wb", (4, 128)), ("wo", (128, 128)))],
    ("pt_gamma", (128,)), ("pt_beta", (128,)), ("pt_up", (1024, 128)),
    ("pt_down", (128, 512)),
    ("sa_gamma", (384,)), ("sa_beta", (384,)), ("sa_wq", (384, 384)),
    ("sa_wk", (384, 384)), ("sa_wv", (384, 384)), ("sa_wg", (384, 384)),
    ("sa_zgamma", (128,)), ("sa_zbeta", (128,)), ("sa_wb", (16, 128)),
    ("sa_wo", (384, 384)),
    ("st_gamma", (384,)), ("st_beta", (384,)), ("st_up", (3072, 384)),
    ("st_down", (384, 1536)),
]


def pairformer_inputs(n, draw):
    s = draw.normal(1, n, 384)
    z = draw.normal(1, n, n, 128)
    token_mask = torch.rand((1, n), generator=draw.cpu) > 0.2
    token_mask[0, 0] = True
    pair_mask = torch.rand((1, n, n), generator=draw.cpu) > 0.25
    pair_mask[0, : max(1, n // 10)] = False  # whole rows dropped
    pair_mask[0, -1, : min(n - 1, 20)] = False
    weights = {}
    for name, shape in PAIRFORMER_WEIGHTS:
        if name.endswith("gamma"):
            weights[name] = draw.normal(*shape, std=0.1, mean=1.0)
        elif name.endswith("beta"):
            weights[name] = draw.normal(*shape, std=0.1)
        else:
            weights[name] = draw.normal(*shape, std=shape[1] ** -0.5)
    dev = draw.device
    return [s, z, token_mask.to(dev), pair_mask.to(dev)] + [
        weights[name] for name, _ in PAIRFORMER_WEIGHTS], weights


def triangle_update(z, pair_mask, w, p, attention, ops):
    n = z.shape[1]
    zn = ops.layernorm(z, w[f"{p}_gamma"], w[f"{p}_beta"])
    q, k, v, g = (ops.linear(zn, w[f"{p}_{x}"]).reshape(1, n, n, 4, 32)
                  for x in ("wq", "wk", "wv", "wg"))
    bias = ops.linear(zn, w[f"{p}_wb"]).permute(0, 3, 1, 2).reshape(
        1, 1, 4, n, n)
    mask = pair_mask.reshape(1, n, 1, 1, n)
    o = attention(q, k, v, mask, bias, g)
    return ops.linear(o.reshape(1, n, n, 128), w[f"{p}_wo"])


def pairformer_block(s, z, token_mask, pair_mask, w, attention, ops):
    """The block of examples/pairformer_block.mlir. `ops` is `ref` (float64)
    or the eager-PyTorch peer; `attention` likewise."""
    n = z.shape[1]
    z1 = z + triangle_update(z, pair_mask, w, "ts", attention, ops)
    u2 = triangle_update(z1.transpose(1, 2), pair_mask.transpose(1, 2), w,
                         "te", attention, ops)
    z2 = z1 + u2.transpose(1, 2)
    z3 = z2 + ops.transition(z2, w["pt_gamma"], w["pt_beta"], w["pt_up"],
                             w["pt_down"])
    sn = ops.layernorm(s, w["sa_gamma"], w["sa_beta"])
    sq, sk, sv, sg = (ops.linear(sn, w[f"sa_{x}"]).reshape(1, 1, n, 16, 24)
                      for x in ("wq", "wk", "wv", "wg"))
    zb = ops.layernorm(z3, w["sa_zgamma"], w["sa_zbeta"])
    bias = ops.linear(zb, w["sa_wb"]).permute(0, 3, 1, 2).reshape(
        1, 1, 16, n, n)
    so = attention(sq, sk, sv, token_mask.reshape(1, 1, 1, 1, n), bias, sg)
    s1 = s + ops.linear(so.reshape(1, n, 384), w["sa_wo"])
    s2 = s1 + ops.transition(s1, w["st_gamma"], w["st_beta"], w["st_up"],
                             w["st_down"])
    return s2, z3


class Eager:
    """The PyTorch-eager peer, in the inputs' precision."""

    @staticmethod
    def layernorm(x, gamma, beta, eps=1e-5):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], gamma, beta,
                                              eps)

    @staticmethod
    def linear(x, w, b=None):
        return torch.nn.functional.linear(x, w, b)

    @staticmethod
    def transition(x, gamma, beta, w_up, w_down, eps=1e-5):
        h = Eager.linear(Eager.layernorm(x, gamma, beta, eps), w_up)
        f = h.shape[-1] // 2
        return Eager.linear(h[..., :f] * torch.nn.functional.silu(h[..., f:]),
                            w_down)


def eager_attention(q, k, v, mask, bias, gate):
    """Masked softmax attention in the inputs' precision (the eager
    formulation of bench.py: scores materialized)."""
    D = q.shape[-1]
    qs, ks, vs = (t.transpose(2, 3) for t in (q, k, v))
    scores = torch.matmul(qs, ks.transpose(-1, -2)) * D ** -0.5
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    p = torch.softmax(scores.float(), -1).nan_to_num(0.0).to(q.dtype)
    o = torch.matmul(p, vs).transpose(2, 3)
    return o * torch.sigmoid(gate) if gate is not None else o


def ref_attention(q, k, v, mask, bias, gate):
    return ref.pair_bias_attention(q, k, v, mask, bias, gate)


def pairformer_case(n, draw):
    inputs, w = pairformer_inputs(n, draw)
    s, z, token_mask, pair_mask = inputs[:4]
    want = pairformer_block(s, z, token_mask, pair_mask, w, ref_attention,
                            ref)
    outputs = [((1, n, 384), draw.dtype), ((1, n, n, 128), draw.dtype)]
    return inputs, outputs, list(want), None


# --- checking ---------------------------------------------------------------

def compare(out, want, tol):
    rel_tol, atol, rtol = tol
    got = out.double()
    problems = []
    if not torch.isfinite(got).all():
        problems.append(f"{int((~torch.isfinite(got)).sum())} NaN/Inf")
    diff = got - want
    scale = want.norm().item()
    rel = diff.norm().item() / scale if scale else diff.norm().item()
    bad = int((diff.abs() > atol + rtol * want.abs()).sum())
    if bad:
        problems.append(f"{bad} elements over {atol:g} + {rtol:g}|ref|")
    if not rel <= rel_tol:
        problems.append(f"rel_err {rel:.2e} over {rel_tol:g}")
    return rel, problems


def run_case(function, entry, n, draw):
    if entry == "pairformer_block":
        inputs, outputs, wants, dead = pairformer_case(n, draw)
    else:
        inputs, outputs, wants, dead = attention_case(entry, n, draw)
    saved = [t.clone() for t in inputs]
    buffers, outs = zip(*(check.guarded(s, d, draw.device)
                          for s, d in outputs))
    function(*inputs, *outs)
    torch.cuda.synchronize()
    tol = tolerance(draw.dtype, entry)
    rels, problems = [], []
    for i, (out, want) in enumerate(zip(outs, wants)):
        rel, p = compare(out, want, tol)
        rels.append(rel)
        problems += [f"output {i}: {text}" for text in p]
    if dead is not None and len(dead) and not (outs[0][:, dead] == 0).all():
        problems.append("fully masked rows not exactly 0")
    for i, buffer in enumerate(buffers):
        if not (buffer[:GUARD].isnan().all() and buffer[-GUARD:].isnan().all()):
            problems.append(f"output {i}: written outside its bounds")
    if not all(torch.equal(a, b) for a, b in zip(saved, inputs)):
        problems.append("an input was modified")
    return rels, problems


# --- timing -----------------------------------------------------------------

def profile(fn, label):
    """The GPU kernels of one call of `fn`, by total time."""
    from torch.profiler import ProfilerActivity, profile as torch_profile
    fn(None)
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn(None)
        torch.cuda.synchronize()
    print(f"profile of {label}:")
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=15,
                                    max_name_column_width=50))


COMPILED = {}


def compiled_block(key):
    """The eager block under torch.compile, compiled afresh for each dtype
    and N with static shapes (a recompilation for a second shape would
    otherwise make dims dynamic, which timed up to 1.5x slower)."""
    if key not in COMPILED:
        torch._dynamo.reset()
        COMPILED.clear()
        COMPILED[key] = torch.compile(
            lambda *a: pairformer_block(*a, eager_attention, Eager),
            dynamic=False)
    return COMPILED[key]


def time_pair(function, entry, n, draw, want_profile=False,
              with_compile=False):
    """(ours ms, eager ms, torch.compile ms or None) on the same inputs."""
    import bench
    bench.DEV = torch.device("cuda")
    if entry == "pairformer_block":
        inputs, w = pairformer_inputs(n, draw)
        shapes = [((1, n, 384), draw.dtype), ((1, n, n, 128), draw.dtype)]
        args = inputs[:4]

        def peer(_):
            return pairformer_block(*args, w, eager_attention, Eager)
    else:
        inputs, outputs, _, _ = attention_case(entry, n, draw)
        shapes = outputs
        H, D, square, has_bias, has_mask, transposed = ATTENTION[entry]
        q, k, v = inputs[:3]
        mask = inputs[3] if has_mask else None
        bias = inputs[4] if has_bias else None
        gate = inputs[-1]
        if transposed:
            t = lambda x: x.transpose(1, 2)  # noqa: E731

            def peer(_):
                return t(eager_attention(t(q), t(k), t(v), mask, bias,
                                         t(gate)))
        else:
            def peer(_):
                return eager_attention(q, k, v, mask, bias, gate)
    outs = [torch.empty(s, dtype=d, device="cuda") for s, d in shapes]

    def ours(_):
        function(*inputs, *outs)

    if want_profile and n == (256 if entry == "pairformer_block" else 384):
        profile(ours, f"{entry} N={n} (ours)")
        profile(peer, f"{entry} N={n} (eager)")
    mine = bench.time_ms(ours, [None], 3, 2000, 200)["ms"]
    theirs = bench.time_ms(peer, [None], 3, 2000, 200)["ms"]
    compiled_ms = None
    if with_compile and entry == "pairformer_block":
        block = compiled_block((draw.dtype, n))
        compiled_ms = bench.time_ms(lambda _: block(*args, w), [None], 3, 2000,
                                    200)["ms"]
    return mine, theirs, compiled_ms


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifacts", nargs="+")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="per-kernel GPU time of one call of each entry "
                             "at the first bench size (torch.profiler)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the Pairformer block under "
                             "torch.compile")
    parser.add_argument("--as-bf16", action="store_true",
                        help="the artifacts were compiled with "
                             "--gpu-f32-as-bf16: hold f32 outputs to the bf16 "
                             "tolerances")
    parser.add_argument("--peer-precision", default=None,
                        choices=["highest", "high", "medium"],
                        help="torch.set_float32_matmul_precision for the "
                             "peers (medium: bf16 matmuls, like "
                             "--gpu-f32-as-bf16)")
    parser.add_argument("--only", default=None,
                        help="check and time only entries of this name")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    global AS_BF16
    AS_BF16 = args.as_bf16
    if args.peer_precision:
        torch.set_float32_matmul_precision(args.peer_precision)
    device = torch.device("cuda")
    print(f"check_examples.py: seed={seed}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name(device)}, f32 matmul precision of the "
          f"peers: {torch.get_float32_matmul_precision()}"
          + (", f32 outputs held to bf16 tolerances" if AS_BF16 else ""))
    passed = failed = 0
    timings = []
    for path in args.artifacts:
        module = Module.load_file(path)
        print(f"{os.path.basename(path)}: target {module.target}, chip "
              f"{module.chip}")
        for entry in module.entries:
            if args.only and entry != args.only:
                continue
            function = module[entry]
            dtype = {"f32": F32, "bf16": BF16}[function.args[0].dtype]
            sizes = [37, 100, 129] + ([] if entry == "pairformer_block"
                                      else [385])
            for index, n in enumerate(sizes):
                draw = Draw(seed * 1000 + index, device, dtype)
                try:
                    rels, why = run_case(function, entry, n, draw)
                except Exception as e:  # noqa: BLE001 - report and go on
                    rels, why = [math.nan], [f"{type(e).__name__}: {e}"[:300]]
                ok = not why
                passed, failed = passed + ok, failed + (not ok)
                rel = " ".join(f"{r:.2e}" for r in rels)
                print(f"{'PASS' if ok else 'FAIL'} {entry} {dtype} N={n} "
                      f"rel_err={rel}" + ("  " + "; ".join(why) if why else ""),
                      flush=True)
            if not args.no_bench:
                for n in ([256, 384] if entry == "pairformer_block" else [384]):
                    draw = Draw(seed + n, device, dtype)
                    try:
                        mine, theirs, comp = time_pair(
                            function, entry, n, draw, args.profile,
                            args.compile)
                        timings.append((entry, str(dtype), n, mine, theirs,
                                        comp))
                    except Exception as e:  # noqa: BLE001
                        print(f"bench {entry} N={n}: {type(e).__name__}: "
                              f"{str(e)[:200]}")
                    torch.cuda.empty_cache()
    print(f"{passed} passed, {failed} failed")
    if timings:
        print("\nms, median of CUDA-event-timed calls (L2 flushed), same "
              "inputs; eager = PyTorch eager in the same precision")
        print(f"{'entry':32} {'dtype':15} {'N':>4} {'ours':>9} {'eager':>9} "
              f"{'compile':>9} {'eager/ours':>10} {'compile/ours':>12}")
        for entry, dtype, n, mine, theirs, comp in timings:
            c = f"{comp:9.3f}" if comp else f"{'-':>9}"
            cr = f"{comp / mine:12.2f}" if comp else f"{'-':>12}"
            print(f"{entry:32} {dtype:15} {n:4d} {mine:9.3f} {theirs:9.3f} "
                  f"{c} {theirs / mine:10.2f} {cr}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
