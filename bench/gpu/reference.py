"""float64 PyTorch references for the evo ops (docs DESIGN.md section 2).

Every function upcasts its inputs to float64 on their device and returns
float64 tensors; the caller rounds its inputs (e.g. to bf16) before calling,
so the reference sees exactly the values the compiled code saw.
"""

import math

import torch
import torch.nn.functional as F


def pair_bias_attention(q, k, v, mask=None, bias=None, gate=None, scale=None,
                        logsumexp=False, chunk_elements=1 << 27):
    """out[b,s,i,h] = sum_j softmax_j(scale q.k + bias[b,0,h,i,j]
    + (mask[b,s,0,0,j] ? 0 : -inf)) v[b,s,j,h], times sigmoid(gate).

    q, k, v, gate [B,S,N,H,D]; mask [B,S,1,1,N] bool (true = may attend);
    bias [B,1,H,N,N]; scale defaults to 1/sqrt(D). A fully masked row gives
    0 (never NaN) and a logsumexp of -inf. Returns out, or (out, lse) with
    lse [B,S,H,N] (natural log) when `logsumexp`. Works on chunks of S rows so
    that one chunk's scores hold at most `chunk_elements` values.
    """
    q, k, v = q.double(), k.double(), v.double()
    B, S, N, H, D = q.shape
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    bias = bias.double() if bias is not None else None
    out = torch.empty_like(q)
    lse = q.new_empty(B, S, H, N) if logsumexp else None
    step = max(1, chunk_elements // max(1, B * H * N * N))
    for s0 in range(0, S, step):
        rows = slice(s0, s0 + step)
        qs, ks, vs = (t[:, rows].transpose(2, 3) for t in (q, k, v))
        scores = scale * torch.matmul(qs, ks.transpose(-1, -2))  # [B,s,H,N,N]
        if bias is not None:
            scores = scores + bias
        if mask is not None:
            scores = scores.masked_fill(~mask[:, rows].bool(), -math.inf)
        top = scores.amax(-1, keepdim=True)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
        p = torch.exp(scores - top)
        total = p.sum(-1, keepdim=True)
        o = torch.matmul(p, vs) / torch.where(total > 0, total,
                                              torch.ones_like(total))
        out[:, rows] = o.transpose(2, 3)
        if logsumexp:
            lse[:, rows] = (top + torch.log(total)).squeeze(-1)
        del scores, p, o
    if gate is not None:
        out = out * torch.sigmoid(gate.double())
    return (out, lse) if logsumexp else out


def layernorm(x, gamma, beta, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last dim (biased
    variance)."""
    x = x.double()
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).square().mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma.double() + beta.double()


def linear(x, w, b=None):
    """x w^T + b, w [Nout, K] (PyTorch layout)."""
    y = torch.matmul(x.double(), w.double().t())
    return y + b.double() if b is not None else y


def layernorm_linear(x, gamma, beta, w, b=None, eps=1e-5):
    return linear(layernorm(x, gamma, beta, eps), w, b)


def swiglu(x):
    """x[..., :F] * silu(x[..., F:]) with F = x.shape[-1] // 2."""
    x = x.double()
    f = x.shape[-1] // 2
    return x[..., :f] * F.silu(x[..., f:])


def transition(x, gamma, beta, w_up, w_down, eps=1e-5):
    """linear(swiglu(linear(layernorm(x), w_up [2F,C])), w_down [C,F])."""
    return linear(swiglu(linear(layernorm(x, gamma, beta, eps), w_up)),
                  w_down)
