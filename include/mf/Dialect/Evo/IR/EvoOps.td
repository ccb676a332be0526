//===- EvoOps.td - evo dialect ops -------------------------*- tablegen -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The ops of docs/DESIGN.md section 2. Every op is Pure, infers its result
// types and reifies its dynamic result dims from its operands' dims, so that
// upstream passes (resolve-shaped-type-result-dims, bufferization, tiling)
// can reason about it.
//
//===----------------------------------------------------------------------===//

#ifndef MF_DIALECT_EVO_IR_EVOOPS_TD
#define MF_DIALECT_EVO_IR_EVOOPS_TD

include "mf/Dialect/Evo/IR/EvoDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

/// Activations and parameters: f32, bf16 or f16 ranked tensors.
def Evo_FloatTensor : RankedTensorOf<[F32, BF16, F16]>;
/// Attention masks: true means "may attend".
def Evo_MaskTensor : RankedTensorOf<[I1]>;
/// Softmax statistics are always f32.
def Evo_StatTensor : RankedTensorOf<[F32]>;

class Evo_Op<string mnemonic, list<Trait> traits = []>
    : Op<Evo_Dialect, mnemonic, !listconcat(traits, [
          Pure, InferTypeOpAdaptor,
          DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                                    ["reifyResultShapes"]>])> {
  // Every op checks its shape relations and explains what is wrong.
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// PairBiasAttentionOp
//===----------------------------------------------------------------------===//

def Evo_PairBiasAttentionOp : Evo_Op<"pair_bias_attention",
    [AttrSizedOperandSegments]> {
  let summary = "multi-head attention with an optional pair bias, mask and gate";
  let description = [{
    For every batch `b`, row `s`, query `i` and head `h`:

    ```
    out[b,s,i,h] = sum_j softmax_j(scale * q[b,s,i,h] . k[b,s,j,h]
                                   + bias[b,0,h,i,j]
                                   + (mask[b,s,0,0,j] ? 0 : -inf))
                         * v[b,s,j,h]
    ```

    then times `sigmoid(gate[b,s,i,h])` when a gate is given. A row whose keys
    are all masked gives 0, never NaN. `scale` defaults to 1/sqrt(D).
    Accumulation and the softmax statistics are f32 whatever the element
    type. With `logsumexp`, a second f32 result `[B,S,H,N]` holds each row's
    log-sum-exp (of the scaled, biased scores; -inf for a fully masked row),
    which a backward pass reuses.

    Shapes: q, k, v, gate `[B,S,N,H,D]`; mask `[B,S,1,1,N]` (i1); bias
    `[B,1,H,N,N]`. B, S and N may be dynamic; H and D are static.
    AlphaFold's four attention variants are shapes of this op: single
    attention (S = 1), triangle attention (S = N), MSA row attention
    (S = N_seq) and MSA column attention (rows and residues swapped, no
    bias).

    Example (triangle attention around the starting node):

    ```mlir
    %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) gate(%g)
        : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
           tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
           tensor<1x1x4x?x?xbf16>, tensor<1x?x?x4x32xbf16>)
        -> tensor<1x?x?x4x32xbf16>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$q, Evo_FloatTensor:$k,
                       Evo_FloatTensor:$v, Optional<Evo_MaskTensor>:$mask,
                       Optional<Evo_FloatTensor>:$bias,
                       Optional<Evo_FloatTensor>:$gate,
                       OptionalAttr<F32Attr>:$scale,
                       UnitAttr:$return_lse);
  let results = (outs Evo_FloatTensor:$out, Optional<Evo_StatTensor>:$lse);

  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` `(` $mask^ `)`)? (`bias` `(` $bias^ `)`)?
    (`gate` `(` $gate^ `)`)? (`scale` `(` $scale^ `)`)?
    (`logsumexp` $return_lse^)? attr-dict `:` functional-type(operands, results)
  }];

  let extraClassDeclaration = [{
    /// The softmax scale: the `scale` attribute, or 1/sqrt(D).
    float getScaleValue();
    /// Heads H and head dim D (static by verification).
    int64_t getNumHeads() { return getQ().getType().getDimSize(3); }
    int64_t getHeadDim() { return getQ().getType().getDimSize(4); }
  }];
}

//===----------------------------------------------------------------------===//
// LayerNormOp
//===----------------------------------------------------------------------===//

def Evo_LayerNormOp : Evo_Op<"layernorm"> {
  let summary = "layer normalization over the last (channel) dim";
  let description = [{
    `y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta` over the last dim
    C, with the biased variance and f32 statistics. x is `[..., C]` with C
    static; gamma and beta are `[C]`.

    ```mlir
    %y = evo.layernorm %x, %gamma, %beta eps(1.0e-05)
        : (tensor<1x?x?x128xf32>, tensor<128xf32>, tensor<128xf32>)
        -> tensor<1x?x?x128xf32>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$x, Evo_FloatTensor:$gamma,
                       Evo_FloatTensor:$beta,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$eps);
  let results = (outs Evo_FloatTensor:$y);

  let assemblyFormat = [{
    $x `,` $gamma `,` $beta (`eps` `(` $eps^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

def Evo_LinearOp : Evo_Op<"linear"> {
  let summary = "x times the transposed weight, plus an optional bias";
  let description = [{
    `y = x w^T + b`, with w in PyTorch's `[Nout, K]` layout. x is `[..., K]`
    with K static; the optional bias is `[Nout]`.

    ```mlir
    %y = evo.linear %x, %w bias(%b)
        : (tensor<?x128xf32>, tensor<516x128xf32>, tensor<516xf32>)
        -> tensor<?x516xf32>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$x, Evo_FloatTensor:$weight,
                       Optional<Evo_FloatTensor>:$bias);
  let results = (outs Evo_FloatTensor:$y);

  let assemblyFormat = [{
    $x `,` $weight (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// LayerNormLinearOp
//===----------------------------------------------------------------------===//

def Evo_LayerNormLinearOp : Evo_Op<"layernorm_linear"> {
  let summary = "linear(layernorm(x)) in one pass";
  let description = [{
    `y = layernorm(x; gamma, beta, eps) w^T + b`. x is `[..., C]` with C
    static, gamma and beta `[C]`, w `[Nout, C]`, the optional bias `[Nout]`.
    The normalized activations never reach memory.

    ```mlir
    %y = evo.layernorm_linear %x, %gamma, %beta, %w eps(1.0e-05)
        : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
           tensor<4x128xbf16>) -> tensor<?x4xbf16>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$x, Evo_FloatTensor:$gamma,
                       Evo_FloatTensor:$beta, Evo_FloatTensor:$weight,
                       Optional<Evo_FloatTensor>:$bias,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$eps);
  let results = (outs Evo_FloatTensor:$y);

  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `,` $weight (`bias` `(` $bias^ `)`)?
    (`eps` `(` $eps^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// SwiGLUOp
//===----------------------------------------------------------------------===//

def Evo_SwiGLUOp : Evo_Op<"swiglu"> {
  let summary = "x[..., :F] * silu(x[..., F:])";
  let description = [{
    Splits the last dim 2F in halves a and b and gives `a * b * sigmoid(b)`.
    The last dim must be static and even.

    ```mlir
    %y = evo.swiglu %x : (tensor<?x1024xf32>) -> tensor<?x512xf32>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$x);
  let results = (outs Evo_FloatTensor:$y);

  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// TransitionOp
//===----------------------------------------------------------------------===//

def Evo_TransitionOp : Evo_Op<"transition"> {
  let summary = "AlphaFold3's Transition: LN, up-projection, SwiGLU, down";
  let description = [{
    `y = linear(swiglu(linear(layernorm(x), w_up)), w_down)`, no biases.
    x is `[..., C]`, gamma and beta `[C]`, w_up `[2F, C]`, w_down `[C, F]`;
    F = n * C (n = 4 in AlphaFold3). The hidden `[..., 2F]` layer never
    reaches memory.

    ```mlir
    %y = evo.transition %x, %gamma, %beta, %w_up, %w_down
        : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>,
           tensor<1024x128xf32>, tensor<128x512xf32>) -> tensor<?x128xf32>
    ```
  }];

  let arguments = (ins Evo_FloatTensor:$x, Evo_FloatTensor:$gamma,
                       Evo_FloatTensor:$beta, Evo_FloatTensor:$w_up,
                       Evo_FloatTensor:$w_down,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$eps);
  let results = (outs Evo_FloatTensor:$y);

  let assemblyFormat = [{
    $x `,` $gamma `,` $beta `,` $w_up `,` $w_down (`eps` `(` $eps^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];

  let extraClassDeclaration = [{
    /// The hidden width F (w_down's second dim).
    int64_t getHiddenSize() { return getWDown().getType().getDimSize(1); }
  }];
}

#endif // MF_DIALECT_EVO_IR_EVOOPS_TD
