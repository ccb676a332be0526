// RUN: mf-opt %s --convert-evo-to-gpu --split-input-file | FileCheck %s

// Host side of attention: read-only buffers of the operands, one buffer for
// the result, one launch over (query tiles, heads, batch x S groups), the
// result back as a tensor. The kernel: Q/K/V tiles, the bias tile and the
// key mask (bytes) in shared memory (rows padded by 8 elements), ldmatrix
// fragments, bf16 mma.sync m16n8k16 with f32 accumulators, the key loop, quad
// shuffles for the row statistics, exp2.

// CHECK-LABEL: func.func @attention(
// CHECK-DAG:     %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<1x?x?x4x32xbf16> to memref<1x?x?x4x32xbf16>
// CHECK-DAG:     %[[M:.*]] = bufferization.to_buffer %arg3 read_only : tensor<1x?x1x1x?xi1> to memref<1x?x1x1x?xi1>
// CHECK-DAG:     %[[B:.*]] = bufferization.to_buffer %arg4 read_only : tensor<1x1x4x?x?xbf16> to memref<1x1x4x?x?xbf16>
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<1x?x?x4x32xbf16>
// CHECK:         gpu.launch_func @mf_kernels::@attention_attention_0 blocks in (%{{.*}}, %c4, %{{.*}}) threads in (%c128, %{{.*}}, %{{.*}}) args(%[[Q]] : {{.*}}, %[[M]] : memref<1x?x1x1x?xi1>, %[[B]] : memref<1x1x4x?x?xbf16>, %[[OUT]] : memref<1x?x?x4x32xbf16>)
// CHECK:         %[[T:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK:         return %[[T]]

// CHECK:       gpu.module @mf_kernels
// CHECK:         gpu.func @attention_attention_0({{.*}}) workgroup(%{{.*}} : memref<1x64x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<1x32x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<1x32x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<1x32xi8, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK:           vector.load {{.*}} {alignment = 16 : i64} : memref<1x?x?x4x32xbf16>, vector<8xbf16>
// CHECK:           gpu.barrier
// CHECK:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK:           scf.for
// CHECK:             nvvm.mma.sync {{.*}} {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:             gpu.shuffle xor
// CHECK:             math.exp2
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK:             scf.yield
// CHECK:           vector.store {{.*}} : memref<1x?x?x4x32xbf16>, vector<2xbf16>
// CHECK:           gpu.return
func.func @attention(%q: tensor<1x?x?x4x32xbf16>, %k: tensor<1x?x?x4x32xbf16>,
    %v: tensor<1x?x?x4x32xbf16>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16> {
  %o = evo.pair_bias_attention %q, %k, %v mask(%mask) bias(%bias)
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}

// -----

// The logsumexp is a second f32 buffer and kernel argument. D = 24 pads to
// 32 in shared memory (rows of 40); the fallback table entry (64 query
// rows, 32-key steps, one S row per block) applies.

// CHECK-LABEL: func.func @attention_lse(
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<1x1x?x16x24xf16>
// CHECK:         %[[LSE:.*]] = memref.alloc(%{{.*}}) : memref<1x1x16x?xf32>
// CHECK:         gpu.launch_func @mf_kernels::@attention_lse_attention_0 {{.*}} args({{.*}}, %[[OUT]] : memref<1x1x?x16x24xf16>, %[[LSE]] : memref<1x1x16x?xf32>)
// CHECK:         gpu.func @attention_lse_attention_0({{.*}}) workgroup(%{{.*}} : memref<1x64x40xf16, {{.*}}>, %{{.*}} : memref<1x32x40xf16, {{.*}}>, %{{.*}} : memref<1x32x40xf16, {{.*}}>)
// CHECK:           nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK:           math.log2
// CHECK:           memref.store {{.*}} : memref<1x1x16x?xf32>
func.func @attention_lse(%q: tensor<1x1x?x16x24xf16>, %k: tensor<1x1x?x16x24xf16>,
    %v: tensor<1x1x?x16x24xf16>)
    -> (tensor<1x1x?x16x24xf16>, tensor<1x1x16x?xf32>) {
  %o, %lse = evo.pair_bias_attention %q, %k, %v logsumexp
      : (tensor<1x1x?x16x24xf16>, tensor<1x1x?x16x24xf16>,
         tensor<1x1x?x16x24xf16>)
      -> (tensor<1x1x?x16x24xf16>, tensor<1x1x16x?xf32>)
  return %o, %lse : tensor<1x1x?x16x24xf16>, tensor<1x1x16x?xf32>
}

// -----

// LayerNorm -> Linear: x [?, 7, 128] runs as [?*7, 128] rows; the result
// [?*7, 36] is expanded back. No shared memory for x: the weight tile, and
// the output tile, written out through shared memory in coalesced vectors.

// CHECK-LABEL: func.func @layernorm_linear(
// CHECK:         %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<?x7x128xbf16> into tensor<?x128xbf16>
// CHECK:         %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only
// CHECK:         %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x36xbf16>
// CHECK:         gpu.launch_func @mf_kernels::@layernorm_linear_layernorm_linear_0 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[XB]] : memref<?x128xbf16>, {{.*}}, %[[OUT]] : memref<?x36xbf16>)
// CHECK:         %[[T:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK:         tensor.expand_shape %[[T]] {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 7, 36]
// CHECK:         gpu.func @layernorm_linear_layernorm_linear_0({{.*}}) workgroup(%{{.*}} : memref<1x64x136xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x72xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK:           math.rsqrt
// CHECK:           scf.for
// CHECK:             nvvm.mma.sync
func.func @layernorm_linear(%x: tensor<?x7x128xbf16>, %g: tensor<128xbf16>,
    %b: tensor<128xbf16>, %w: tensor<36x128xbf16>) -> tensor<?x7x36xbf16> {
  %y = evo.layernorm_linear %x, %g, %b, %w eps(1.0e-05)
      : (tensor<?x7x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<36x128xbf16>) -> tensor<?x7x36xbf16>
  return %y : tensor<?x7x36xbf16>
}

// -----

// Transition: one kernel; the hidden layer never leaves the registers (no
// buffer for it on the host, SwiGLU's sigmoid between the two products).

// CHECK-LABEL: func.func @transition(
// CHECK-COUNT-1: memref.alloc
// CHECK:         gpu.launch_func @mf_kernels::@transition_transition_0
// CHECK-NOT:     memref.alloc
// CHECK:         gpu.func @transition_transition_0({{.*}}) workgroup(%{{.*}} : memref<2x16x136xbf16, {{.*}}>, %{{.*}} : memref<1x128x24xbf16, {{.*}}>, %{{.*}} : memref<64x136xbf16, {{.*}}>)
// CHECK:           scf.for
// CHECK:             nvvm.mma.sync
// CHECK:             math.exp
// CHECK:             nvvm.mma.sync
func.func @transition(%x: tensor<?x128xbf16>, %g: tensor<128xbf16>,
    %b: tensor<128xbf16>, %wu: tensor<1024x128xbf16>,
    %wd: tensor<128x512xbf16>) -> tensor<?x128xbf16> {
  %y = evo.transition %x, %g, %b, %wu, %wd eps(1.0e-05)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<1024x128xbf16>, tensor<128x512xbf16>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
