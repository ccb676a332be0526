#!/usr/bin/env python3
"""The Python binding on CPU artifacts (no GPU, no pytest).

    /usr/bin/python3 python/tests/test_runtime_cpu.py [--mf-compile PATH]

Compiles a small CPU module with build/bin/mf-compile (skips, exit 0, if
there is none), runs it through megafold_mlir on torch CPU tensors, compares
every output with bench/gpu/reference.py in float64, checks that bad calls
raise errors naming the argument, and checks the references themselves.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "python"),
                os.path.join(ROOT, "bench", "gpu")]

import torch  # noqa: E402

import reference as ref  # noqa: E402
from megafold_mlir import (MFError, Module, Runtime, outputs_like,  # noqa: E402
                           read_artifact, runtime)

MODULE = """
func.func @attention(%q: tensor<1x?x?x2x16xf32>, %k: tensor<1x?x?x2x16xf32>,
    %v: tensor<1x?x?x2x16xf32>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x2x?x?xf32>, %gate: tensor<1x?x?x2x16xf32>)
    -> (tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      gate(%gate) logsumexp
      : (tensor<1x?x?x2x16xf32>, tensor<1x?x?x2x16xf32>,
         tensor<1x?x?x2x16xf32>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x2x?x?xf32>, tensor<1x?x?x2x16xf32>)
      -> (tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>)
  return %o, %lse : tensor<1x?x?x2x16xf32>, tensor<1x?x2x?xf32>
}
func.func @attention_bf16(%q: tensor<1x?x?x2x16xbf16>,
    %k: tensor<1x?x?x2x16xbf16>, %v: tensor<1x?x?x2x16xbf16>,
    %mask: tensor<1x?x1x1x?xi1>, %bias: tensor<1x1x2x?x?xbf16>)
    -> tensor<1x?x?x2x16xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      : (tensor<1x?x?x2x16xbf16>, tensor<1x?x?x2x16xbf16>,
         tensor<1x?x?x2x16xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x2x?x?xbf16>) -> tensor<1x?x?x2x16xbf16>
  return %o : tensor<1x?x?x2x16xbf16>
}
func.func @layernorm_linear(%x: tensor<1x?x?x64xf32>, %gamma: tensor<64xf32>,
    %beta: tensor<64xf32>, %w: tensor<20x64xf32>, %b: tensor<20xf32>)
    -> tensor<1x?x?x20xf32> {
  %y = evo.layernorm_linear %x, %gamma, %beta, %w bias(%b) eps(1.0e-05)
      : (tensor<1x?x?x64xf32>, tensor<64xf32>, tensor<64xf32>,
         tensor<20x64xf32>, tensor<20xf32>) -> tensor<1x?x?x20xf32>
  return %y : tensor<1x?x?x20xf32>
}
func.func @transition(%x: tensor<?x32xf32>, %gamma: tensor<32xf32>,
    %beta: tensor<32xf32>, %w_up: tensor<128x32xf32>,
    %w_down: tensor<32x64xf32>) -> tensor<?x32xf32> {
  %y = evo.transition %x, %gamma, %beta, %w_up, %w_down
      : (tensor<?x32xf32>, tensor<32xf32>, tensor<32xf32>,
         tensor<128x32xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
"""


def rel_err(out, expected):
    out, expected = out.double(), expected.double()
    return ((out - expected).norm() / expected.norm()).item()


def assert_close(name, out, expected, tol, atol=None):
    assert torch.isfinite(out).all(), f"{name}: non-finite output"
    err = rel_err(out, expected)
    assert err <= tol, f"{name}: rel err {err:.2e} > {tol:.0e}"
    if atol is not None:
        worst = (out.double() - expected).abs().max().item()
        assert worst <= atol, f"{name}: max abs err {worst:.2e} > {atol:.0e}"
    print(f"ok   {name}: rel err {err:.1e}")


def expect_error(name, fn, *needles, kind=MFError):
    try:
        fn()
    except kind as e:
        text = str(e)
        for needle in needles:
            assert needle in text, f"{name}: '{needle}' not in: {text}"
        if kind is MFError:
            assert e.code_name == "INVALID_ARGUMENT", (name, e.code_name)
        print(f"ok   {name}: {text.splitlines()[0][:110]}")
        return
    raise AssertionError(f"{name}: no {kind.__name__} raised")


def attention_inputs(g, S, N, dtype):
    shape = (1, S, N, 2, 16)
    q, k, v, gate = (torch.randn(shape, generator=g).to(dtype)
                     for _ in range(4))
    mask = torch.rand(1, S, 1, 1, N, generator=g) > 0.3
    if S > 1:
        mask[:, S // 2] = False  # one fully masked row
    bias = torch.randn(1, 1, 2, N, N, generator=g).to(dtype)
    return q, k, v, mask, bias, gate


def test_references():
    """The references against a direct formula and each other."""
    g = torch.Generator().manual_seed(1)
    q, k, v, mask, bias, gate = attention_inputs(g, 5, 9, torch.float64)
    out, lse = ref.pair_bias_attention(q, k, v, mask, bias, gate,
                                       logsumexp=True)
    # Direct formula, row by row, on the rows that keep a key.
    for s in range(5):
        for h in range(2):
            keep = mask[0, s, 0, 0]
            if not keep.any():
                assert (out[0, s] == 0).all() and (lse[0, s] == -math.inf).all()
                continue
            logits = q[0, s, :, h] @ k[0, s, :, h].t() / 4.0 + bias[0, 0, h]
            logits[:, ~keep] = -math.inf
            o = torch.softmax(logits, -1) @ v[0, s, :, h]
            o = o * torch.sigmoid(gate[0, s, :, h])
            assert torch.allclose(out[0, s, :, h], o, atol=1e-12)
            assert torch.allclose(lse[0, s, h], torch.logsumexp(logits, -1))
    # Chunking over S does not change the result.
    small = ref.pair_bias_attention(q, k, v, mask, bias, gate,
                                    chunk_elements=1)
    assert torch.equal(small, out)
    x = torch.randn(7, 32, generator=g, dtype=torch.float64)
    gamma, beta = torch.rand(32, dtype=torch.float64) + 0.5, torch.randn(32)
    ln = torch.nn.functional.layer_norm(x, (32,), gamma, beta.double(), 1e-5)
    assert torch.allclose(ref.layernorm(x, gamma, beta, 1e-5), ln)
    h = torch.randn(7, 128, dtype=torch.float64)
    a, b = h[:, :64], h[:, 64:]
    assert torch.allclose(ref.swiglu(h), a * b * torch.sigmoid(b))
    print("ok   references")


def compile_module(mf_compile, directory):
    source = os.path.join(directory, "ops.mlir")
    artifact = os.path.join(directory, "ops.mfa")
    with open(source, "w") as f:
        f.write(MODULE)
    subprocess.run([mf_compile, source, "--target=cpu", "-o", artifact],
                   check=True)
    return artifact


def test_module(artifact):
    manifest, blobs = read_artifact(artifact)
    assert manifest["target"] == "cpu" and blobs, manifest
    module = Module.load_file(artifact)
    assert module.target == "cpu", module.target
    assert sorted(module.entries) == ["attention", "attention_bf16",
                                      "layernorm_linear", "transition"]
    assert "transition" in module and "nope" not in module
    try:
        module["nope"]
        raise AssertionError("lookup of a missing entry succeeded")
    except MFError as e:
        assert e.code_name == "NOT_FOUND" and "nope" in e.message, e
    attention = module["attention"]
    names = [a.name for a in attention.args]
    assert names[:6] == ["q", "k", "v", "mask", "bias", "gate"], names
    q_info, mask_info, out_info, lse_info = (attention.args[0],
                                             attention.args[3],
                                             attention.args[6],
                                             attention.args[7])
    assert q_info.dtype == "f32" and mask_info.dtype == "i1"
    assert q_info.dims == (1, -1, -1, 2, 16), q_info
    assert q_info.symbols[:3] == (None, q_info.symbols[1], q_info.symbols[2])
    assert q_info.symbols[1] and q_info.symbols[2]
    assert out_info.is_output and lse_info.is_output and lse_info.dtype == "f32"
    assert out_info.symbols[1:3] == q_info.symbols[1:3], (out_info, q_info)
    print(f"ok   manifest: {attention.signature()}")
    return module


def test_attention(module):
    attention = module["attention"]
    g = torch.Generator().manual_seed(2)
    for S, N in ((3, 7), (4, 37), (1, 20)):
        inputs = attention_inputs(g, S, N, torch.float32)
        out, lse = outputs_like(attention, *inputs)
        assert out.shape == (1, S, N, 2, 16) and lse.shape == (1, S, 2, N)
        assert lse.dtype == torch.float32
        out.fill_(math.nan), lse.fill_(math.nan)
        attention(*inputs, out, lse)
        want, want_lse = ref.pair_bias_attention(*inputs, logsumexp=True)
        assert_close(f"attention f32 S={S} N={N}", out, want, 1e-5, 1e-5)
        dead = ~inputs[3].any(-1).reshape(S)
        assert (out[0, dead] == 0).all(), "fully masked row not 0"
        assert (lse[0, dead] == -math.inf).all(), "fully masked lse not -inf"
        live = ~dead
        assert_close(f"logsumexp S={S} N={N}", lse[0, live], want_lse[0, live],
                     1e-5)
    bf16 = module["attention_bf16"]
    inputs = attention_inputs(g, 4, 33, torch.bfloat16)[:5]
    (out,) = bf16.run(*inputs)
    assert out.dtype == torch.bfloat16
    assert_close("attention bf16 S=4 N=33", out,
                 ref.pair_bias_attention(*inputs), 1e-2, 2e-2)


def test_rows(module):
    g = torch.Generator().manual_seed(3)
    f = module["layernorm_linear"]
    x = torch.randn(1, 5, 6, 64, generator=g)
    gamma = 1 + 0.1 * torch.randn(64, generator=g)
    beta = 0.1 * torch.randn(64, generator=g)
    w = torch.randn(20, 64, generator=g) / 8
    b = 0.1 * torch.randn(20, generator=g)
    (y,) = outputs_like(f, x, gamma, beta, w, b)
    assert y.shape == (1, 5, 6, 20)
    y.fill_(math.nan)
    f(x, gamma, beta, w, b, y)
    assert_close("layernorm_linear f32", y,
                 ref.layernorm_linear(x, gamma, beta, w, b), 1e-5)
    t = module["transition"]
    x = torch.randn(41, 32, generator=g)
    w_up = torch.randn(128, 32, generator=g) / math.sqrt(32)
    w_down = torch.randn(32, 64, generator=g) / 8
    (y,) = t.run(x, gamma[:32], beta[:32], w_up, w_down)
    assert_close("transition f32", y,
                 ref.transition(x, gamma[:32], beta[:32], w_up, w_down), 1e-5)


def test_errors(module):
    attention = module["attention"]
    g = torch.Generator().manual_seed(4)
    inputs = list(attention_inputs(g, 2, 9, torch.float32))
    outs = outputs_like(attention, *inputs)
    before = [o.clone() for o in outs]

    def call_with(index, tensor):
        args = inputs + outs
        args[index] = tensor
        return lambda: attention(*args)

    expect_error("wrong dtype", call_with(1, inputs[1].double()), "'k'",
                 "f64")
    expect_error("wrong static dim",
                 call_with(2, torch.randn(1, 2, 9, 2, 8)), "'v'")
    expect_error("wrong dynamic dim",
                 call_with(4, torch.randn(1, 1, 2, 9, 10)), "'bias'")
    expect_error("wrong output dim",
                 call_with(7, torch.empty(1, 2, 2, 8)), "result1")
    expect_error("wrong rank", call_with(3, inputs[3].reshape(1, 2, 9)),
                 "'mask'")
    expect_error("not contiguous",
                 call_with(0, inputs[0].transpose(2, 3).contiguous()
                           .transpose(2, 3)), "'q'")
    expect_error("too few", lambda: attention(*inputs), "attention")
    expect_error("no mf dtype", call_with(0, inputs[0].to(torch.complex64)),
                 "'q'", kind=TypeError)
    expect_error("stream on CPU",
                 lambda: attention(*inputs, *outs, stream=1), "stream",
                 kind=ValueError)
    expect_error("outputs_like rank",
                 lambda: outputs_like(attention, inputs[0][0], *inputs[1:]),
                 "'q'", kind=ValueError)
    for o, b in zip(outs, before):
        assert torch.equal(o.isnan(), b.isnan()), "refused call wrote outputs"


def test_optional_symbols(module):
    """The newer symbols: usable when the library has them, else a clean
    UNIMPLEMENTED (never an AttributeError)."""
    try:
        Runtime.default().synchronize("cpu")
        print("ok   mf_device_synchronize(cpu)")
    except MFError as e:
        assert e.code_name == "UNIMPLEMENTED", e
        print(f"ok   mf_device_synchronize: {e.code_name}")
    f = module["transition"]
    g = torch.Generator().manual_seed(5)
    inputs = [torch.randn(9, 32, generator=g), torch.ones(32), torch.zeros(32),
              torch.randn(128, 32, generator=g) / 6,
              torch.randn(32, 64, generator=g) / 8]
    (out,) = outputs_like(f, *inputs)
    tensors = (runtime._Tensor * 6)(*(f._tensor(i, t) for i, t in
                                      enumerate(inputs + [out])))
    try:
        invoke_async = runtime._optional("mf_function_invoke_async")
    except MFError as e:
        assert e.code_name == "UNIMPLEMENTED", e
        print("ok   no mf_function_invoke_async in this library")
        return
    out.fill_(math.nan)
    runtime._check(invoke_async(f._handle, tensors, 6, None))
    assert_close("invoke_async(cpu, NULL stream)", out,
                 ref.transition(*inputs), 1e-5)
    try:
        runtime._check(invoke_async(f._handle, tensors, 6, 1))
        raise AssertionError("a cpu module took a non-NULL stream")
    except MFError as e:
        print(f"ok   cpu module refuses a stream: {e.code_name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mf-compile",
                        default=os.path.join(ROOT, "build", "bin",
                                             "mf-compile"))
    args = parser.parse_args()
    test_references()
    if not os.path.exists(args.mf_compile):
        print(f"SKIP runtime tests: no {args.mf_compile}")
        return
    with tempfile.TemporaryDirectory() as directory:
        module = test_module(compile_module(args.mf_compile, directory))
        test_attention(module)
        test_rows(module)
        test_errors(module)
        test_optional_symbols(module)
    print("all passed")


if __name__ == "__main__":
    main()
