//===- LinalgBuilders.h - helpers to build linalg from evo ------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Small builders shared by the evo lowerings (convert-evo-to-linalg and
// evo-tile-attention): f32 casts, filled tensors and linalg.generic.
//
//===----------------------------------------------------------------------===//

#ifndef MF_DIALECT_EVO_UTILS_LINALGBUILDERS_H
#define MF_DIALECT_EVO_UTILS_LINALGBUILDERS_H

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mf::evo {

/// Body of a linalg.generic: the block arguments (inputs then outputs) in,
/// the values to yield out.
using GenericBody = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// Extends a scalar to f32 (no-op for f32).
mlir::Value extendToF32(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);

/// Truncates an f32 scalar to `type` (no-op for f32).
mlir::Value truncateFromF32(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value v, mlir::Type type);

/// An f32 constant.
mlir::Value f32Constant(mlir::OpBuilder &b, mlir::Location loc, float value);

/// A tensor.empty of `sizes` and `elementType`.
mlir::Value emptyTensor(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<mlir::OpFoldResult> sizes,
                        mlir::Type elementType);

/// A tensor of `sizes` filled with the f32 `value`.
mlir::Value filledF32Tensor(mlir::OpBuilder &b, mlir::Location loc,
                            llvm::ArrayRef<mlir::OpFoldResult> sizes,
                            float value);

/// Builds one linalg.generic with a single output `init` and returns its
/// result. `maps` are given as affine-map lists with `numDims` dims.
mlir::Value buildGeneric(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::ValueRange inputs, mlir::Value init,
                         llvm::ArrayRef<mlir::AffineMap> maps,
                         llvm::ArrayRef<mlir::utils::IteratorType> iterators,
                         GenericBody body);

/// `numParallel` parallel iterators followed by `numReduction` reductions.
llvm::SmallVector<mlir::utils::IteratorType>
iteratorTypes(unsigned numParallel, unsigned numReduction = 0);

/// The affine map (d0, ..., d{numDims-1}) -> (dims[0], dims[1], ...).
mlir::AffineMap dimsMap(mlir::MLIRContext *ctx, unsigned numDims,
                        llvm::ArrayRef<unsigned> dims);

/// select(x == -inf, 0, x): the row max to subtract in a softmax, so that a
/// fully masked row gives exp(-inf) = 0 rather than NaN.
mlir::Value buildSafeMax(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

/// One attention score from the block arguments (q.k, [bias], [mask]):
/// scale * q.k, plus the bias, or -inf where the mask is false.
mlir::Value buildAttentionScore(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::ValueRange args, float scale,
                                bool hasBias, bool hasMask);

/// exp(x - buildSafeMax(max)): a softmax numerator, 0 for a fully masked row.
mlir::Value buildShiftedExp(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value x, mlir::Value max);

/// One attention output element from the f32 accumulator and row sum:
/// (sum == 0 ? 0 : acc / sum), times sigmoid(gate) when `gate` is non-null,
/// rounded to `type`.
mlir::Value buildAttentionOutput(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Value acc, mlir::Value sum,
                                 mlir::Value gate, mlir::Type type);

/// The body of every contraction: yields out + f32(a) * f32(b) for the block
/// arguments (a, b, out).
llvm::SmallVector<mlir::Value> buildMultiplyAccumulate(mlir::OpBuilder &b,
                                                       mlir::Location loc,
                                                       mlir::ValueRange args);

/// sigmoid(x) = 1 / (1 + exp(-x)) in f32.
mlir::Value buildSigmoid(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

} // namespace mf::evo

#endif // MF_DIALECT_EVO_UTILS_LINALGBUILDERS_H
