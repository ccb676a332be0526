// RUN: mf-opt %s --convert-evo-to-gpu="target=rocm chip=gfx942" --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not mf-opt %s --convert-evo-to-gpu="target=rocm chip=gfx1100" 2>&1 | FileCheck %s --check-prefix=GFX11

// The rocm target builds the same row-block GEMMs on MFMA (wave64): 64
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
// GFX11: error: convert-evo-to-gpu: no kernels for gfx1100 yet
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

// Attention has no MFMA kernel yet.
func.func @attention(%q: tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16> {
  // expected-error @+1 {{'evo.pair_bias_attention' op has no ROCm kernel yet}}
  %o = evo.pair_bias_attention %q, %q, %q
      : (tensor<1x?x?x4x32xbf16>, tensor<1x?x?x4x32xbf16>,
         tensor<1x?x?x4x32xbf16>) -> tensor<1x?x?x4x32xbf16>
  return %o : tensor<1x?x?x4x32xbf16>
}
