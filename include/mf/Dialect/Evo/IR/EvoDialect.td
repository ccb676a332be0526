//===- EvoDialect.td - the evo dialect ---------------------*- tablegen -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MF_DIALECT_EVO_IR_EVODIALECT_TD
#define MF_DIALECT_EVO_IR_EVODIALECT_TD

include "mlir/IR/OpBase.td"

def Evo_Dialect : Dialect {
  let name = "evo";
  let summary = "Tensor-level ops of AlphaFold-style protein structure models";
  let description = [{
    The `evo` dialect holds the operators that dominate AlphaFold's Evoformer
    and AlphaFold3's Pairformer: pair-bias attention (single, triangle, MSA
    row and MSA column attention are shapes of one op), LayerNorm, Linear,
    their fusion, SwiGLU and AlphaFold3's Transition. Ops have value
    semantics on ranked tensors. Heads H, head dim D and channels C are
    static; batch B, rows S and residues N may be dynamic. Element types are
    f32, bf16 and f16; accumulation and softmax statistics are always f32.
  }];
  let cppNamespace = "::mf::evo";
}

#endif // MF_DIALECT_EVO_IR_EVODIALECT_TD
