// RUN: mf-opt %s -evo-tile-attention="block-q=16 block-k=32" | FileCheck %s
// RUN: mf-opt %s -evo-tile-attention | FileCheck %s --check-prefix=DEFAULT
// No tensor holding the full N x N scores (N = 100 in @static_n) is left; the
// untiled reference lowering does materialize one, which the last RUN shows.
// RUN: mf-opt %s -evo-tile-attention="block-q=16 block-k=32" | FileCheck %s --check-prefix=NO-NN
// RUN: mf-opt %s -evo-tile-attention | FileCheck %s --check-prefix=NO-NN
// RUN: mf-opt %s -convert-evo-to-linalg | FileCheck %s --check-prefix=UNTILED
//
// The invalid block sizes are tested in tile-attention-invalid.mlir.

// NO-NN-NOT: 100x100
// NO-NN: func.func @static_n
// NO-NN-NOT: 100x100

// pair_bias_attention with mask, bias and gate -> scf.forall over (b, s, h,
// query block) with one shared output, around an scf.for over key blocks that
// carries the running max, the running sum and the f32 accumulator.
// CHECK-LABEL: func @all_operands
// CHECK-SAME: (%[[Q:.*]]: tensor<?x?x?x4x32xf32>, %[[K:.*]]: tensor<?x?x?x4x32xf32>, %[[V:.*]]: tensor<?x?x?x4x32xf32>, %[[MASK:.*]]: tensor<?x?x1x1x?xi1>, %[[BIAS:.*]]: tensor<?x1x4x?x?xf32>, %[[GATE:.*]]: tensor<?x?x?x4x32xf32>)
// CHECK-NOT: evo.pair_bias_attention
// The default scale is 1 / sqrt(D).
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 0.176776692 : f32
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[N:.*]] = tensor.dim %[[Q]], %[[C2]] : tensor<?x?x?x4x32xf32>
// CHECK: %[[NQ:.*]] = arith.ceildivsi %[[N]], %[[C16]] : index
// CHECK: %[[INIT:.*]] = tensor.empty({{.*}}) : tensor<?x?x?x4x32xf32>
// CHECK: %[[RES:.*]] = scf.forall (%[[B:.*]], %[[S:.*]], %[[H:.*]], %[[IB:.*]]) in (%{{.*}}, %{{.*}}, 4, %[[NQ]]) shared_outs(%[[OUT:.*]] = %[[INIT]]) -> (tensor<?x?x?x4x32xf32>) {
// CHECK: %[[I0:.*]] = arith.muli %[[IB]], %[[C16]] : index
// CHECK: %[[ROWS:.*]] = arith.minsi %{{.*}}, %[[C16]] : index
// CHECK: %[[QT:.*]] = tensor.extract_slice %[[Q]][%[[B]], %[[S]], %[[I0]], %[[H]], 0] [1, 1, %[[ROWS]], 1, 32] [1, 1, 1, 1, 1] : tensor<?x?x?x4x32xf32> to tensor<?x32xf32>
// CHECK: %[[M0:.*]] = linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.*}} : tensor<?xf32>) -> tensor<?xf32>
// CHECK: %[[L0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?xf32>) -> tensor<?xf32>
// CHECK: %[[ACC0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x32xf32>) -> tensor<?x32xf32>
// Full key blocks first, with static [32, D] tiles; k^T once per block so
// that q k^T runs with j innermost.
// CHECK: %[[FULL:.*]] = arith.muli %{{.*}}, %[[C32]] : index
// CHECK: %[[LOOP:.*]]:3 = scf.for %[[J0:.*]] = %{{.*}} to %[[FULL]] step %[[C32]] iter_args(%[[M:.*]] = %[[M0]], %[[L:.*]] = %[[L0]], %[[ACC:.*]] = %[[ACC0]]) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>) {
// CHECK: %[[KT:.*]] = tensor.extract_slice %[[K]][%[[B]], %[[S]], %[[J0]], %[[H]], 0] [1, 1, 32, 1, 32] [1, 1, 1, 1, 1] : tensor<?x?x?x4x32xf32> to tensor<32x32xf32>
// CHECK: %[[VT:.*]] = tensor.extract_slice %[[V]][%[[B]], %[[S]], %[[J0]], %[[H]], 0] [1, 1, 32, 1, 32] [1, 1, 1, 1, 1] : tensor<?x?x?x4x32xf32> to tensor<32x32xf32>
// CHECK: %[[KTT:.*]] = linalg.transpose ins(%[[KT]] : tensor<32x32xf32>) outs(%{{.*}} : tensor<32x32xf32>) permutation = [1, 0]
// The score block is block-q x block-k (rows x keys), never N x N.
// CHECK: tensor.empty(%[[ROWS]]) : tensor<?x32xf32>
// CHECK: %[[QK:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[QT]], %[[KTT]] : tensor<?x32xf32>, tensor<32x32xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK: %[[BT:.*]] = tensor.extract_slice %[[BIAS]][%[[B]], 0, %[[H]], %[[I0]], %[[J0]]] [1, 1, 1, %[[ROWS]], 32] [1, 1, 1, 1, 1] : tensor<?x1x4x?x?xf32> to tensor<?x32xf32>
// CHECK: %[[MT:.*]] = tensor.extract_slice %[[MASK]][%[[B]], %[[S]], 0, 0, %[[J0]]] [1, 1, 1, 1, 32] [1, 1, 1, 1, 1] : tensor<?x?x1x1x?xi1> to tensor<32xi1>
// CHECK: %[[SC:.*]] = linalg.generic {{.*}} ins(%[[QK]], %[[BT]], %[[MT]] : tensor<?x32xf32>, tensor<?x32xf32>, tensor<32xi1>)
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK: arith.addf
// CHECK: arith.select %{{.*}}, %{{.*}}, %[[NEGINF]] : f32
// The running max starts from m.
// CHECK: %[[MNEW:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[SC]] : tensor<?x32xf32>) outs(%[[M]] : tensor<?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[SC]], %[[MNEW]] : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: math.exp
// CHECK: %[[ALPHA:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[MNEW]] : tensor<?xf32>, tensor<?xf32>)
// CHECK: math.exp
// CHECK: %[[LS:.*]] = linalg.generic {{.*}} ins(%[[L]], %[[ALPHA]] : tensor<?xf32>, tensor<?xf32>)
// CHECK: %[[LNEW:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[P]] : tensor<?x32xf32>) outs(%[[LS]] : tensor<?xf32>)
// CHECK: %[[AS:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %[[ALPHA]] : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: %[[ACCNEW:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[P]], %[[VT]] : tensor<?x32xf32>, tensor<32x32xf32>) outs(%[[AS]] : tensor<?x32xf32>)
// CHECK: scf.yield %[[MNEW]], %[[LNEW]], %[[ACCNEW]] : tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>
// CHECK: }
// The last, partial key block (N % 32 keys) with dynamic tiles.
// CHECK: %[[REM:.*]] = arith.subi %[[N]], %[[FULL]] : index
// CHECK: %[[HAS:.*]] = arith.cmpi sgt, %[[REM]], %{{.*}} : index
// CHECK: %[[TAIL:.*]]:3 = scf.if %[[HAS]] -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>) {
// CHECK: tensor.extract_slice %[[K]][%[[B]], %[[S]], %[[FULL]], %[[H]], 0] [1, 1, %[[REM]], 1, 32]
// CHECK: tensor.empty(%[[ROWS]], %[[REM]]) : tensor<?x?xf32>
// CHECK: } else {
// CHECK: scf.yield %[[LOOP]]#0, %[[LOOP]]#1, %[[LOOP]]#2
// Normalize and gate the tile, then insert it.
// CHECK: %[[GT:.*]] = tensor.extract_slice %[[GATE]][%[[B]], %[[S]], %[[I0]], %[[H]], 0] [1, 1, %[[ROWS]], 1, 32] [1, 1, 1, 1, 1] : tensor<?x?x?x4x32xf32> to tensor<?x32xf32>
// CHECK: %[[OT:.*]] = linalg.generic {{.*}} ins(%[[TAIL]]#2, %[[TAIL]]#1, %[[GT]] : tensor<?x32xf32>, tensor<?xf32>, tensor<?x32xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK: arith.divf
// CHECK: math.exp
// CHECK: scf.forall.in_parallel {
// CHECK-NEXT: tensor.parallel_insert_slice %[[OT]] into %[[OUT]][%[[B]], %[[S]], %[[I0]], %[[H]], 0] [1, 1, %[[ROWS]], 1, 32] [1, 1, 1, 1, 1] : tensor<?x32xf32> into tensor<?x?x?x4x32xf32>
// CHECK-NEXT: }
// CHECK-NOT: evo.pair_bias_attention
// CHECK: return %[[RES]] : tensor<?x?x?x4x32xf32>
// DEFAULT-LABEL: func @all_operands
// DEFAULT-DAG: %[[C32:.*]] = arith.constant 32 : index
// DEFAULT-DAG: %[[C64:.*]] = arith.constant 64 : index
// DEFAULT: %[[NQ:.*]] = arith.ceildivsi %{{.*}}, %[[C32]] : index
// DEFAULT: scf.forall ({{.*}}) in (%{{.*}}, %{{.*}}, 4, %[[NQ]]) shared_outs(
// DEFAULT: scf.for {{.*}} step %[[C64]] iter_args({{.*}}) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>)
// DEFAULT: tensor.parallel_insert_slice
// DEFAULT-NOT: evo.pair_bias_attention
// DEFAULT: return
func.func @all_operands(%q: tensor<?x?x?x4x32xf32>,
    %k: tensor<?x?x?x4x32xf32>, %v: tensor<?x?x?x4x32xf32>,
    %m: tensor<?x?x1x1x?xi1>, %b: tensor<?x1x4x?x?xf32>,
    %g: tensor<?x?x?x4x32xf32>) -> tensor<?x?x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) bias(%b) gate(%g)
      : (tensor<?x?x?x4x32xf32>, tensor<?x?x?x4x32xf32>,
         tensor<?x?x?x4x32xf32>, tensor<?x?x1x1x?xi1>,
         tensor<?x1x4x?x?xf32>, tensor<?x?x?x4x32xf32>)
      -> tensor<?x?x?x4x32xf32>
  return %o : tensor<?x?x?x4x32xf32>
}

// A static N = 100 (H = 4, D = 32): ceil(100 / 16) = 7 query blocks, ragged
// edges (the tiles stay dynamic), and no 100 x 100 score tensor (NO-NN).
// CHECK-LABEL: func @static_n
// CHECK-DAG: %[[C7:.*]] = arith.constant 7 : index
// CHECK-DAG: %[[C96:.*]] = arith.constant 96 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 4, %[[C7]]) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x2x100x4x32xf32>) {
// Three full key blocks of 32, then the last 4 keys.
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[C96]] step %[[C32]] iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>) {
// CHECK: tensor.extract_slice %{{.*}} : tensor<1x2x1x1x100xi1> to tensor<32xi1>
// CHECK: tensor.empty(%{{.*}}) : tensor<?x32xf32>
// CHECK: scf.yield
// CHECK: scf.if
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]]{{.*}} : tensor<?x32xf32> into tensor<1x2x100x4x32xf32>
// DEFAULT-LABEL: func @static_n
// DEFAULT-DAG: %[[C4:.*]] = arith.constant 4 : index
// DEFAULT-DAG: %[[C64:.*]] = arith.constant 64 : index
// DEFAULT: scf.forall ({{.*}}) in (1, 2, 4, %[[C4]]) shared_outs(
// DEFAULT: scf.for {{.*}} step %[[C64]] iter_args(
// UNTILED-LABEL: func @static_n
// UNTILED: tensor<1x2x4x100x100xf32>
func.func @static_n(%q: tensor<1x2x100x4x32xf32>,
    %k: tensor<1x2x100x4x32xf32>, %v: tensor<1x2x100x4x32xf32>,
    %m: tensor<1x2x1x1x100xi1>, %g: tensor<1x2x100x4x32xf32>)
    -> tensor<1x2x100x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%m) gate(%g)
      : (tensor<1x2x100x4x32xf32>, tensor<1x2x100x4x32xf32>,
         tensor<1x2x100x4x32xf32>, tensor<1x2x1x1x100xi1>,
         tensor<1x2x100x4x32xf32>) -> tensor<1x2x100x4x32xf32>
  return %o : tensor<1x2x100x4x32xf32>
}

// With logsumexp: a second shared output [B, S, H, N] in f32 and a second
// parallel insert of m + log(l). bf16 inputs are extended to f32 inside the
// generics and the output tile is truncated back.
// CHECK-LABEL: func @logsumexp_bf16
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK: %[[RES:.*]]:2 = scf.forall (%[[B:.*]], %[[S:.*]], %[[H:.*]], %[[IB:.*]]) in (2, %{{.*}}, 4, %{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}}, %[[LSE:.*]] = %{{.*}}) -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>) {
// CHECK: %[[I0:.*]] = arith.muli %[[IB]]
// CHECK: %[[ROWS:.*]] = arith.minsi
// CHECK: tensor.extract_slice {{.*}} to tensor<?x32xbf16>
// CHECK: %[[LOOP:.*]]:3 = scf.for {{.*}} -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>) {
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK: scf.yield
// CHECK: %[[TAIL:.*]]:3 = scf.if
// CHECK: %[[OT:.*]] = linalg.generic {{.*}} ins(%[[TAIL]]#2, %[[TAIL]]#1 : tensor<?x32xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?x32xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[LT:.*]] = linalg.generic {{.*}} ins(%[[TAIL]]#0, %[[TAIL]]#1 : tensor<?xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: math.log
// CHECK: scf.forall.in_parallel {
// CHECK-NEXT: tensor.parallel_insert_slice %[[OT]] into %[[OUT]][%[[B]], %[[S]], %[[I0]], %[[H]], 0] [1, 1, %[[ROWS]], 1, 32] [1, 1, 1, 1, 1] : tensor<?x32xbf16> into tensor<2x?x?x4x32xbf16>
// CHECK-NEXT: tensor.parallel_insert_slice %[[LT]] into %[[LSE]][%[[B]], %[[S]], %[[H]], %[[I0]]] [1, 1, 1, %[[ROWS]]] [1, 1, 1, 1] : tensor<?xf32> into tensor<2x?x4x?xf32>
// CHECK-NEXT: }
// CHECK: return %[[RES]]#0, %[[RES]]#1
// DEFAULT-LABEL: func @logsumexp_bf16
// DEFAULT: scf.forall {{.*}} shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>)
// DEFAULT-COUNT-2: tensor.parallel_insert_slice
func.func @logsumexp_bf16(%q: tensor<2x?x?x4x32xbf16>,
    %k: tensor<2x?x?x4x32xbf16>, %v: tensor<2x?x?x4x32xbf16>)
    -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v scale(0.25) logsumexp
      : (tensor<2x?x?x4x32xbf16>, tensor<2x?x?x4x32xbf16>,
         tensor<2x?x?x4x32xbf16>)
      -> (tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>)
  return %o, %lse : tensor<2x?x?x4x32xbf16>, tensor<2x?x4x?xf32>
}

// No mask, bias or gate: the scores are only scaled (one input), nothing is
// selected to -inf, and the output tile is normalized but not gated.
// CHECK-LABEL: func @plain
// CHECK-NOT: tensor<?xi1>
// CHECK: scf.forall ({{.*}}) in (1, %{{.*}}, 4, %{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x?x?x4x32xf32>) {
// CHECK: %[[LOOP:.*]]:3 = scf.for {{.*}} -> (tensor<?xf32>, tensor<?xf32>, tensor<?x32xf32>) {
// CHECK: %[[QK:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.generic {{.*}} ins(%[[QK]] : tensor<?x32xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: linalg.yield
// CHECK: scf.yield
// CHECK: %[[TAIL:.*]]:3 = scf.if
// CHECK: } else {
// CHECK: scf.yield %[[LOOP]]#0, %[[LOOP]]#1, %[[LOOP]]#2
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[OT:.*]] = linalg.generic {{.*}} ins(%[[TAIL]]#2, %[[TAIL]]#1 : tensor<?x32xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK-NOT: math.exp
// CHECK: linalg.yield
// CHECK: tensor.parallel_insert_slice %[[OT]] into %[[OUT]]
// CHECK-NOT: tensor<?xi1>
// CHECK: return
func.func @plain(%q: tensor<1x?x?x4x32xf32>, %k: tensor<1x?x?x4x32xf32>,
    %v: tensor<1x?x?x4x32xf32>) -> tensor<1x?x?x4x32xf32> {
  %o = evo.pair_bias_attention %q, %k, %v
      : (tensor<1x?x?x4x32xf32>, tensor<1x?x?x4x32xf32>,
         tensor<1x?x?x4x32xf32>) -> tensor<1x?x?x4x32xf32>
  return %o : tensor<1x?x?x4x32xf32>
}

// Other evo ops are left alone.
// CHECK-LABEL: func @other_ops_untouched
// CHECK: evo.layernorm
// CHECK: scf.forall
// CHECK-NOT: evo.pair_bias_attention
// CHECK: evo.swiglu
// CHECK: return
func.func @other_ops_untouched(%q: tensor<1x1x?x4x32xf32>,
    %x: tensor<?x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>)
    -> (tensor<1x1x?x4x32xf32>, tensor<?x64xf32>) {
  %n = evo.layernorm %x, %g, %b
      : (tensor<?x128xf32>, tensor<128xf32>, tensor<128xf32>)
      -> tensor<?x128xf32>
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x1x?x4x32xf32>, tensor<1x1x?x4x32xf32>,
         tensor<1x1x?x4x32xf32>) -> tensor<1x1x?x4x32xf32>
  %a = evo.swiglu %n : (tensor<?x128xf32>) -> tensor<?x64xf32>
  return %o, %a : tensor<1x1x?x4x32xf32>, tensor<?x64xf32>
}
