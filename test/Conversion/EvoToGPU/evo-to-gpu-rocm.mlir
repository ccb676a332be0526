// RUN: mf-opt %s --convert-evo-to-gpu="target=rocm chip=gfx942" --split-input-file | FileCheck %s
// RUN: mf-opt %s --convert-evo-to-gpu="target=rocm chip=gfx1100" --split-input-file | FileCheck %s --check-prefix=GFX11

// The rocm target builds the same kernels on MFMA (wave64). GEMMs: 64
// threads per 16 rows, amdgpu.mfma 16x16x16 fed by vector<4> fragments, the
// LayerNorm statistics reduced over lanes 16 and 32 apart.

// CHECK-LABEL: func.func @layernorm_linear(
// CHECK:         gpu.launch_func @mf_kernels::@layernorm_linear_layernorm_linear_0 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%c512,
// CHECK:         gpu.func @layernorm_linear_layernorm_linear_0({{.*}}) workgroup(%{{.*}} : memref<1x64x136xbf16, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 512, 1, 1>}
// CHECK:           gpu.shuffle xor %{{.*}}, %c16_i32, %c64_i32
// CHECK:           gpu.shuffle xor %{{.*}}, %c32_i32, %c64_i32{{.*}} : f32
// CHECK:           math.rsqrt
// CHECK:           scf.for
// CHECK:             amdgpu.mfma 16x16x16 {{.*}} : vector<4xbf16>, vector<4xbf16>, vector<4xf32>
// gfx1100: WMMA (wave32), a whole row of x per lane (no shuffle for the
// LayerNorm), 32 threads per 16 rows.
// GFX11-LABEL: func.func @layernorm_linear(
// GFX11: threads in (%c256,
// GFX11: amdgpu.wmma 16x16x16 {{.*}} : vector<16xbf16>, vector<16xbf16>, vector<8xf32>
func.func @layernorm_linear(%x: tensor<?x7x128xbf16>, %g: tensor<128xbf16>,
    %b: tensor<128xbf16>, %w: tensor<36x128xbf16>) -> tensor<?x7x36xbf16> {
  %y = evo.layernorm_linear %x, %g, %b, %w eps(1.0e-05)
      : (tensor<?x7x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<36x128xbf16>) -> tensor<?x7x36xbf16>
  return %y : tensor<?x7x36xbf16>
}

// -----

// The transition: SwiGLU's output goes through LDS (C layout in, A layout
// out), one [16, blockN] tile per wave.

// CHECK-LABEL: func.func @transition(
// CHECK:         gpu.func @transition_transition_0({{.*}}) workgroup(%{{.*}} : memref<2x16x136xbf16, {{.*}}>, %{{.*}} : memref<1x128x24xbf16, {{.*}}>, %{{.*}} : memref<4x16x24xbf16, {{.*}}>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK:           scf.for
// CHECK:             amdgpu.mfma
// CHECK:             math.exp
// CHECK:             memref.store {{.*}} : memref<4x16x24xbf16, #gpu.address_space<workgroup>>
// CHECK:             gpu.barrier
// CHECK:             vector.load {{.*}} : memref<4x16x24xbf16, #gpu.address_space<workgroup>>, vector<4xbf16>
// CHECK:             amdgpu.mfma
func.func @transition(%x: tensor<?x128xbf16>, %g: tensor<128xbf16>,
    %b: tensor<128xbf16>, %wu: tensor<1024x128xbf16>,
    %wd: tensor<128x512xbf16>) -> tensor<?x128xbf16> {
  %y = evo.transition %x, %g, %b, %wu, %wd eps(1.0e-05)
      : (tensor<?x128xbf16>, tensor<128xbf16>, tensor<128xbf16>,
         tensor<1024x128xbf16>, tensor<128x512xbf16>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}

// -----

// Attention: transposed products (S^T = K Q^T, O^T += V^T P^T), so P stays
// in registers; V staged transposed in LDS, with the bias tile and the mask;
// one query row per lane, its statistics reduced over lanes 16 and 32 apart.

// CHECK-LABEL: func.func @attention(
// CHECK:         gpu.launch_func @mf_kernels::@attention_attention_0 blocks in (%{{.*}}, %c4, %{{.*}}) threads in (%c256,
// CHECK:         gpu.func @attention_attention_0({{.*}}) workgroup(%{{.*}} : memref<1x32x40xbf16, {{.*}}>, %{{.*}} : memref<32x40xbf16, {{.*}}>, %{{.*}} : memref<64x40xbf16, {{.*}}>, %{{.*}} : memref<32xi8, {{.*}}>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK:           scf.for
// CHECK:             amdgpu.mfma 16x16x16 {{.*}} : vector<4xbf16>, vector<4xbf16>, vector<4xf32>
// CHECK:             gpu.shuffle xor %{{.*}}, %c16_i32
// CHECK:             math.exp2
// CHECK:             amdgpu.mfma 16x16x16
// CHECK:             scf.yield
// CHECK:           vector.store {{.*}} : memref<1x?x?x4x32xbf16>, vector<4xbf16>
// On gfx1100 the lane holds keys of one parity; one xor-16 exchange per
// score completes the P^T column.
// GFX11-LABEL: func.func @attention(
// GFX11: amdgpu.wmma 16x16x16
// GFX11: gpu.shuffle xor %{{.*}}, %c16_i32{{[_0-9]*}}, %c32_i32
// GFX11: amdgpu.wmma 16x16x16
func.func @attention(%q: tensor<1x?x?x4x32xbf16>, %mask: tensor<1x?x1x1x?xi1>,
    %bias: tensor<1x1x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16> {
  %o = evo.pair_bias_attention %q, %q, %q mask(%mask) bias(%bias)
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>, tensor<1x?x1x1x?xi1>,
         tensor<1x1x4x?x?xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}
