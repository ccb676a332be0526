// RUN: not mf-opt %s -split-input-file 2>&1 | FileCheck %s

// Malformed evo IR gets a located diagnostic and a failing exit code, never a
// crash (`not` fails on a crash).

func.func @missing_paren(%q: tensor<1x1x7x4x32xf32>) -> tensor<1x1x7x4x32xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: expected ')'
  %o = evo.pair_bias_attention %q, %q, %q mask(%q : (tensor<1x1x7x4x32xf32>, tensor<1x1x7x4x32xf32>, tensor<1x1x7x4x32xf32>) -> tensor<1x1x7x4x32xf32>
  return %o : tensor<1x1x7x4x32xf32>
}

// -----

func.func @too_few_operand_types(%x: tensor<?x128xf32>, %g: tensor<128xf32>) -> tensor<?x128xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: custom op 'evo.layernorm' number of operands and types do not match: got 3 operands and 2 types
  %y = evo.layernorm %x, %g, %g : (tensor<?x128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

func.func @undefined_value(%x: tensor<?x128xf32>) -> tensor<?x64xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: use of undeclared SSA value name
  %y = evo.swiglu %nope : (tensor<?x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @unknown_keyword(%x: tensor<?x128xf32>, %w: tensor<4x128xf32>) -> tensor<?x4xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: expected ':'
  %y = evo.linear %x, %w bogus(%w) : (tensor<?x128xf32>, tensor<4x128xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// A verifier error is located too.
func.func @wrong_weight(%x: tensor<?x128xf32>, %w: tensor<4x64xf32>) -> tensor<?x4xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: 'evo.linear' op expects weight dim 1 (K) to be 128 (x dim -1) but got 64
  %y = evo.linear %x, %w : (tensor<?x128xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

func.func @not_a_tensor(%x: memref<?x128xf32>) -> tensor<?x64xf32> {
  // CHECK: parse-errors.mlir:[[@LINE+1]]:{{[0-9]+}}: error: 'evo.swiglu' op operand #0 must be ranked tensor of 32-bit float or bfloat16 type or 16-bit float values
  %y = evo.swiglu %x : (memref<?x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
