#!/usr/bin/env python3
"""GPU benchmark, forward only, bf16: our compiled entries beside PyTorch.

    python3 bench/gpu/bench.py [--artifact A.mfa] [--json PATH] [--cases REGEX]

Peers per case: eager (the naive PyTorch code, bf16), torch.compile of that
code, SDPA with the memory-efficient backend forced (sdpa: the additive mask
built inside the timed call; sdpa*: the same with the mask built beforehand),
and FlexAttention (compiled; bias and key mask in one score_mod). Shapes are
PERF.md's (B = 1). Method (shared/docs METHOD.md): every implementation is
first checked against a float64 reference on the first input set (rel err <=
2e-2, no NaN) and is timed only if it agrees; then CUDA events around each
call, a 256 MiB L2 flush before each, inputs rotating over several sets,
warm-up, median of the calls. Peak memory: torch.cuda.max_memory_allocated
over one call minus what was allocated before it (outputs and temporaries;
memory the mf runtime allocates itself is not seen by torch). Masks drop ~25%
of the keys and never a whole row (peers disagree on fully masked rows).
Writes JSON to --json (default $OUT/bench.json when OUT is set).
"""

import argparse
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "python")]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import reference as ref  # noqa: E402
from megafold_mlir import MFError, Module  # noqa: E402

BF16 = torch.bfloat16
DEV = torch.device("cuda")  # --device cpu: a smoke test of this script
AGREE = 2e-2  # rel err vs the float64 reference that a timed result must meet
FLUSH_BYTES = 256 << 20
L2_BYTES = 50 << 20

CASES = [
    dict(name="triangle N=384", entry="attention_full", S=384, N=384, H=4,
         D=32, mask=True, bias=True, gate=True),
    dict(name="triangle N=768", entry="attention_full", S=768, N=768, H=4,
         D=32, mask=True, bias=True, gate=True),
    dict(name="msa row S=512 N=384", entry="attention_nogate", S=512, N=384,
         H=8, D=32, mask=True, bias=True),
    dict(name="msa col S=384 N=512", entry="attention_plain", S=384, N=512,
         H=8, D=8),
    dict(name="single N=384 D=24", entry="attention_single", S=1, N=384,
         H=16, D=24, mask=True, bias=True, gate=True),
    dict(name="ln+linear 128->516 N=384", entry="layernorm_linear_516",
         N=384, nout=516),
    dict(name="ln+linear 128->4 N=384", entry="layernorm_linear_4", N=384,
         nout=4, bias=True),
    dict(name="transition n=4 N=384", entry="transition", N=384, nout=128,
         hidden=512),
]
PEERS = ["ours", "eager", "compile", "sdpa", "sdpa*", "flex"]


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def attention_inputs(c, gen):
    shape = (1, c["S"], c["N"], c["H"], c["D"])
    x = dict(q=None, k=None, v=None, mask=None, bias=None, gate=None)
    for name in ("q", "k", "v"):
        x[name] = torch.randn(shape, generator=gen, device=DEV).to(BF16)
    if c.get("mask"):
        keep = torch.rand((1, c["S"], 1, 1, c["N"]), generator=gen,
                          device=DEV) > 0.25
        keep[..., 0] = True  # no fully masked row
        x["mask"] = keep
    if c.get("bias"):
        x["bias"] = torch.randn((1, 1, c["H"], c["N"], c["N"]), generator=gen,
                                device=DEV).to(BF16)
    if c.get("gate"):
        x["gate"] = torch.randn(shape, generator=gen, device=DEV).to(BF16)
    return x


def rows_inputs(c, gen):
    C, N = 128, c["N"]

    def normal(*shape, std=1.0, mean=0.0):
        return (torch.randn(shape, generator=gen, device=DEV) * std
                + mean).to(BF16)

    x = dict(x=normal(1, N, N, C, std=1.5, mean=0.5),
             gamma=normal(C, std=0.1, mean=1.0), beta=normal(C, std=0.1))
    if "hidden" in c:
        x["w_up"] = normal(2 * c["hidden"], C, std=C ** -0.5)
        x["w_down"] = normal(C, c["hidden"], std=c["hidden"] ** -0.5)
    else:
        x["w"] = normal(c["nout"], C, std=C ** -0.5)
        x["b"] = normal(c["nout"], std=0.1) if c.get("bias") else None
    return x


def reference(c, x):
    if "H" in c:
        return ref.pair_bias_attention(x["q"], x["k"], x["v"], x["mask"],
                                       x["bias"], x["gate"])
    if "hidden" in c:
        return ref.transition(x["x"], x["gamma"], x["beta"], x["w_up"],
                              x["w_down"])
    return ref.layernorm_linear(x["x"], x["gamma"], x["beta"], x["w"],
                                x["b"])


def nbytes(x):
    return sum(t.numel() * t.element_size() for t in x.values()
               if t is not None)


# --------------------------------------------------------------------------
# Implementations: each a list of (note, fn(x) -> output); the first variant
# that runs and agrees with the reference is timed.
# --------------------------------------------------------------------------

def compiled(fn):
    """torch.compile(fn), compiled on the first call (so that a torch without
    it fails that peer, not the case)."""
    box = []

    def call(*args):
        if not box:
            box.append(torch.compile(fn, dynamic=False))
        return box[0](*args)
    return call


def naive_attention(q, k, v, mask, bias, gate, scale):
    """The plain PyTorch code: [B,S,N,H,D] -> [B,S,H,N,D], scores in bf16."""
    q, k, v = (t.transpose(-2, -3) for t in (q, k, v))
    a = torch.matmul(q * scale, k.transpose(-1, -2))
    if bias is not None:
        a = a + bias
    if mask is not None:
        a = a.masked_fill(~mask, float("-inf"))
    o = torch.matmul(torch.softmax(a, -1), v).transpose(-2, -3)
    if gate is not None:
        o = o * torch.sigmoid(gate)
    return o.contiguous()


def naive_ln_linear(x, gamma, beta, w, b):
    return F.linear(F.layer_norm(x, x.shape[-1:], gamma, beta, 1e-5), w, b)


def naive_transition(x, gamma, beta, w_up, w_down):
    h = F.linear(F.layer_norm(x, x.shape[-1:], gamma, beta, 1e-5), w_up)
    a, b = h.chunk(2, dim=-1)
    return F.linear(a * F.silu(b), w_down)


def heads(t, pad_to=None):
    """[B,S,N,H,D] -> [B*S,H,N,D] (a strided view unless padding D)."""
    B, S, N, H, D = t.shape
    t = t.reshape(B * S, N, H, D).transpose(1, 2)
    return F.pad(t, (0, pad_to - D)) if pad_to and pad_to != D else t


def unheads(o, shape, gate):
    B, S, N, H, D = shape
    o = o[..., :D].transpose(1, 2).reshape(shape)
    return o * torch.sigmoid(gate) if gate is not None else o


def additive_mask(x):
    """bias + where(mask, 0, -inf) as one bf16 [B*S, H, N, N] tensor."""
    B, S, N, H, _ = x["q"].shape
    m = x["bias"] if x["bias"] is not None else torch.zeros(
        (), dtype=BF16, device=DEV)
    if x["mask"] is not None:
        m = m + torch.zeros(x["mask"].shape, dtype=BF16,
                            device=DEV).masked_fill_(~x["mask"], float("-inf"))
    return m.expand(B, S, H, N, N).reshape(B * S, H, N, N)


def sdpa_variants(c, prebuilt):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    scale = c["D"] ** -0.5
    has_mask = c.get("mask") or c.get("bias")

    def make(pad_to):
        def fn(x, attn_mask=None):
            if has_mask and attn_mask is None:
                attn_mask = additive_mask(x)
            with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
                o = F.scaled_dot_product_attention(
                    heads(x["q"], pad_to), heads(x["k"], pad_to),
                    heads(x["v"], pad_to), attn_mask=attn_mask, scale=scale)
            return unheads(o, x["q"].shape, x["gate"])
        return fn

    what = ("q/k/v as strided [B*S,H,N,D] views; attn_mask = bias + "
            "where(mask,0,-inf) materialized bf16 [B*S,H,N,N] "
            + ("built before the timed call" if prebuilt else
               "built inside the timed call") if has_mask else
            "q/k/v as strided [B*S,H,N,D] views; no mask")
    pad = max(16, 1 << (c["D"] - 1).bit_length())
    variants = [(what, make(None))]
    if pad != c["D"]:
        variants.append((what + f"; D={c['D']} zero-padded to {pad}",
                         make(pad)))
    return variants


def flex_variants(c):
    from torch.nn.attention.flex_attention import flex_attention
    scale = c["D"] ** -0.5

    def make(pad_to, contiguous):
        def fn(q, k, v, mask, bias, gate):
            B, S, N, H, D = q.shape
            qh, kh, vh = (heads(t, pad_to) for t in (q, k, v))
            if contiguous:
                qh, kh, vh = (t.contiguous() for t in (qh, kh, vh))
            keys = mask.reshape(B * S, N) if mask is not None else None
            pair = bias.reshape(H, N, N) if bias is not None else None

            def score_mod(score, b, h, q_idx, kv_idx):
                if pair is not None:
                    score = score + pair[h, q_idx, kv_idx]
                if keys is not None:
                    score = torch.where(keys[b, kv_idx], score,
                                        -float("inf"))
                return score

            o = flex_attention(qh, kh, vh, score_mod=score_mod, scale=scale)
            return unheads(o, q.shape, gate)
        run = compiled(fn)
        return lambda x: run(x["q"], x["k"], x["v"], x["mask"], x["bias"],
                             x["gate"])

    mods = ("score_mod: + bias[h,i,j], -inf where the key is masked"
            if c.get("mask") else "score_mod: + bias" if c.get("bias")
            else "no score_mod")
    pad = max(16, 1 << (c["D"] - 1).bit_length())
    variants = [(f"compiled; strided [B*S,H,N,D] views; {mods}",
                 make(None, False)),
                (f"compiled; contiguous [B*S,H,N,D] copies; {mods}",
                 make(None, True))]
    if pad != c["D"]:
        variants.append((f"compiled; D={c['D']} zero-padded to {pad}; {mods}",
                         make(pad, False)))
    return variants


def implementations(c, function):
    """{peer: [(note, fn)] or a string saying why there is none}."""
    impls = {}
    if isinstance(function, str):
        impls["ours"] = function
    else:
        impls["ours"] = [(f"{function.name}",
                          lambda x: function.run(*[t for t in x.values()
                                                   if t is not None])[0])]
    if "H" in c:
        scale = c["D"] ** -0.5

        def eager(x):
            return naive_attention(x["q"], x["k"], x["v"], x["mask"],
                                   x["bias"], x["gate"], scale)
        run = compiled(naive_attention)
        impls["eager"] = [("naive bf16", eager)]
        impls["compile"] = [("torch.compile(naive), default mode",
                             lambda x: run(x["q"], x["k"], x["v"], x["mask"],
                                           x["bias"], x["gate"], scale))]
        for peer, make in (("sdpa", lambda: sdpa_variants(c, False)),
                           ("sdpa*", lambda: sdpa_variants(c, True)),
                           ("flex", lambda: flex_variants(c))):
            try:
                impls[peer] = make()
            except Exception as e:  # noqa: BLE001 - e.g. an older torch
                impls[peer] = f"unavailable: {short(e)}"
    else:
        naive = naive_transition if "hidden" in c else naive_ln_linear
        run = compiled(naive)
        impls["eager"] = [("naive bf16", lambda x: naive(*x.values()))]
        impls["compile"] = [("torch.compile(naive), default mode",
                             lambda x: run(*x.values()))]
        impls["sdpa"] = impls["sdpa*"] = impls["flex"] = "n/a"
    return impls


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------

def rel_err(out, want):
    out = out.double()
    if not torch.isfinite(out).all():
        return math.inf
    return ((out - want).norm() / want.norm()).item()


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def time_ms(fn, sets, warmup_calls, budget_ms, max_calls):
    for i in range(warmup_calls):
        fn(sets[i % len(sets)])
    sync()
    if DEV.type != "cuda":  # smoke test: host clock
        times = []
        for i in range(3):
            start = time.perf_counter()
            fn(sets[i % len(sets)])
            times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        return dict(ms=times[1], p20=times[0], p80=times[2], calls=3,
                    back_to_back_ms=None)
    flush = torch.empty(FLUSH_BYTES, dtype=torch.int8, device=DEV)
    start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
    start.record()
    fn(sets[0])
    end.record()
    torch.cuda.synchronize()
    calls = int(min(max_calls, max(10, budget_ms / max(start.elapsed_time(end),
                                                       1e-3))))
    events = [(torch.cuda.Event(enable_timing=True),
               torch.cuda.Event(enable_timing=True)) for _ in range(calls)]
    for i, (s, e) in enumerate(events):
        flush.zero_()
        s.record()
        fn(sets[i % len(sets)])
        e.record()
    torch.cuda.synchronize()
    times = sorted(s.elapsed_time(e) for s, e in events)

    def pick(q):
        return times[min(len(times) - 1, int(q * len(times)))]
    # Back to back, no flush: host launch overhead hidden behind the GPU
    # where the GPU is the slower of the two.
    start.record()
    for i in range(calls):
        fn(sets[i % len(sets)])
    end.record()
    torch.cuda.synchronize()
    return dict(ms=pick(0.5), p20=pick(0.2), p80=pick(0.8), calls=calls,
                back_to_back_ms=start.elapsed_time(end) / calls)


def peak_mib(fn, x):
    if DEV.type != "cuda":
        return None
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn(x)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out
    return peak / 2 ** 20


def short(e):
    return f"{type(e).__name__}: {' '.join(str(e).split())}"[:400]


def context_alive():
    if DEV.type != "cuda":
        return True
    torch.cuda.empty_cache()
    try:
        torch.cuda.synchronize()
        return (torch.ones(1, device=DEV) + 1).item() == 2
    except Exception:  # noqa: BLE001 - any error means the context is gone
        return False


class ContextLost(RuntimeError):
    pass


def run_case(c, function, args, seed):
    gen = torch.Generator(device=DEV).manual_seed(seed)
    make = attention_inputs if "H" in c else rows_inputs
    first = make(c, gen)
    count = max(2, min(8, math.ceil(2 * L2_BYTES / nbytes(first)) + 1))
    sets = [first] + [make(c, gen) for _ in range(count - 1)]
    want = reference(c, first)
    row = dict(case=c["name"], entry=c["entry"], input_sets=count,
               set_mib=nbytes(first) / 2 ** 20, peers={})
    ours = None
    for peer, variants in implementations(c, function).items():
        if args.peers and peer not in args.peers:
            continue
        result = row["peers"][peer] = {}
        if isinstance(variants, str):
            result["error"] = variants
            continue
        errors = []
        for note, fn in variants:
            try:
                out = fn(first)
                sync()
                err = rel_err(out, want)
                if not err <= AGREE:
                    errors.append(f"{note}: wrong (rel err {err:.2e})")
                    continue
                vs_ours = rel_err(out, ours) if ours is not None else None
                if peer == "ours":
                    ours = out.double()
                del out
                timed = fn
                if peer == "sdpa*" and (c.get("mask") or c.get("bias")):
                    masks = {id(x): additive_mask(x) for x in sets}
                    timed = lambda x, fn=fn: fn(x, masks[id(x)])  # noqa: E731
                result.update(note=note, rel_err=err, rel_vs_ours=vs_ours,
                              peak_mib=peak_mib(timed, first),
                              **time_ms(timed, sets, args.warmup,
                                        args.budget_ms, args.max_calls))
                break
            except Exception as e:  # noqa: BLE001 - a peer may not support it
                errors.append(f"{note}: {short(e)}")
                if not context_alive():
                    result["error"] = " | ".join(errors)
                    raise ContextLost(f"CUDA context lost in {peer} on "
                                      f"{c['name']}: {short(e)}") from e
        if "ms" not in result:
            result["error"] = " | ".join(errors)
    return row


def cell(result, key="ms", fmt="{:.3f}"):
    """A table cell: the value, or a word for why there is none."""
    if not result:
        return "-"
    if key in result:
        return fmt.format(result[key]) if result[key] is not None else "-"
    error = result.get("error", "?")
    if error in ("n/a", "not compiled"):
        return error
    parts = error.split(" | ")
    return "wrong" if all(": wrong (" in p for p in parts) else "error"


def print_tables(rows, gpu):
    print(f"\nGPU: {gpu}; torch {torch.__version__}; forward, bf16; ms = "
          "median of CUDA-event-timed calls (L2 flushed before each)")
    head = (f"{'case':<30}" + "".join(f"{p + ' ms':>11}" for p in PEERS)
            + "".join(f"{'ours/' + p:>13}" for p in PEERS[1:]))
    print(head)
    print("-" * len(head))
    for row in rows:
        peers = row["peers"]
        line = f"{row['case']:<30}" + "".join(
            f"{cell(peers.get(p)):>11}" for p in PEERS)
        ours = peers.get("ours", {}).get("ms")
        for p in PEERS[1:]:
            theirs = peers.get(p, {}).get("ms")
            line += (f"{ours / theirs:>13.2f}" if ours and theirs
                     else f"{'-':>13}")
        print(line)
    print("\nback to back ms (mean over the same number of calls, no L2 flush, "
          "launch overhead hidden where the GPU is the slower side)")
    print(f"{'case':<30}" + "".join(f"{p:>11}" for p in PEERS))
    for row in rows:
        print(f"{row['case']:<30}" + "".join(
            f"{cell(row['peers'].get(p), 'back_to_back_ms'):>11}"
            for p in PEERS))
    print("\npeak MiB over one call (outputs + temporaries; inputs excluded)")
    print(f"{'case':<30}" + "".join(f"{p:>11}" for p in PEERS))
    for row in rows:
        print(f"{row['case']:<30}" + "".join(
            f"{cell(row['peers'].get(p), 'peak_mib', '{:.0f}'):>11}"
            for p in PEERS))
    print("\nnotes (what each peer was given; why one has no time):")
    for row in rows:
        for peer, result in row["peers"].items():
            if "note" in result and peer == "ours":
                print(f"  {row['case']} / ours: {result['note']} (rel err vs "
                      f"f64 {result['rel_err']:.1e}; {row['input_sets']} "
                      f"input sets of {row['set_mib']:.1f} MiB)")
            elif "note" in result:
                extra = (f", rel err vs ours {result['rel_vs_ours']:.1e}"
                         if result.get("rel_vs_ours") is not None else "")
                print(f"  {row['case']} / {peer}: {result['note']} (rel err "
                      f"vs f64 {result['rel_err']:.1e}{extra})")
            elif result.get("error") not in (None, "n/a"):
                print(f"  {row['case']} / {peer}: {result['error']}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", default=os.path.join(
        ROOT, "artifacts", "cuda", "ops_sm_90a.mfa"))
    default_json = (os.path.join(os.environ["OUT"], "bench.json")
                    if os.environ.get("OUT") else "")
    parser.add_argument("--json", default=default_json)
    parser.add_argument("--cases", default=None, help="regex on case names")
    parser.add_argument("--peers", default=None,
                        help="comma-separated subset of " + ",".join(PEERS))
    parser.add_argument("--budget-ms", type=float, default=300,
                        help="GPU time to spend timing each implementation")
    parser.add_argument("--max-calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--size", type=int, default=None,
                        help="replace every N (and S where S > 1) by this, "
                        "for a quick run")
    parser.add_argument("--device", default="cuda",
                        help="cpu: a smoke test of this script (host clock)")
    args = parser.parse_args()
    args.peers = args.peers.split(",") if args.peers else None
    global DEV
    DEV = torch.device(args.device)
    if DEV.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench.py: no CUDA device")
    dynamo = getattr(getattr(torch, "_dynamo", None), "config", None)
    for key in ("cache_size_limit", "recompile_limit",
                "accumulated_cache_size_limit"):
        if hasattr(dynamo, key):
            setattr(dynamo, key, 256)
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    gpu = torch.cuda.get_device_name() if DEV.type == "cuda" else "cpu"
    print(f"bench.py: {gpu}, torch {torch.__version__}, seed={seed}, "
          f"artifact {args.artifact}")
    try:
        module = Module.load_file(args.artifact)
        print(f"  target {module.target}, chip {module.chip}, entries "
              f"{module.entries}")
    except (MFError, OSError) as e:
        module = None
        print(f"  cannot load the artifact ({e}); timing the peers only")
    rows, status = [], 0
    for index, c in enumerate(CASES):
        if args.cases and not re.search(args.cases, c["name"]):
            continue
        if args.size:
            c = dict(c, N=args.size, name=f"{c['name']} @{args.size}")
            if "S" in c and c["S"] > 1:
                c["S"] = args.size
        if module is None:
            function = "artifact not loaded"
        elif c["entry"] not in module.entries:
            function = "not compiled"
        else:
            function = module[c["entry"]]
        print(f"{c['name']} ...", flush=True)
        try:
            rows.append(run_case(c, function, args, seed * 100 + index))
        except ContextLost as e:
            print(f"error: {e}; stopping")
            status = 1
            break
        except Exception as e:  # noqa: BLE001 - e.g. out of memory
            print(f"error in {c['name']}: {short(e)}")
            rows.append(dict(case=c["name"], entry=c["entry"], peers={
                "ours": dict(error=short(e))}))
            if not context_alive():
                print("error: CUDA context lost; stopping")
                status = 1
                break
        finally:
            if DEV.type == "cuda":
                torch.cuda.empty_cache()
        ours = rows[-1]["peers"].get("ours", {})
        if "ms" not in ours and ours.get("error") not in ("not compiled",):
            status = 1
    print_tables(rows, gpu)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(dict(gpu=gpu, torch=torch.__version__,
                           cuda=torch.version.cuda, seed=seed,
                           artifact=args.artifact, agree_rel_err=AGREE,
                           l2_flush_bytes=FLUSH_BYTES, rows=rows), f,
                      indent=1)
        print(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
