/*===- fake_module.c - A stand-in for compiled code -----------------------===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. Entry points that follow the CPU calling           *|
|* convention of mf/runtime/artifact.h: `void symbol(void **args)`, args[i]   *|
|* pointing to the ranked memref descriptor of argument i.                    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>

#ifndef MF_FAKE_ADD_BIAS
/// Added to every output of _mf_entry_add; a second build of this file uses
/// another value so that tests can tell two modules apart.
#define MF_FAKE_ADD_BIAS 0.0f
#endif

/// The memref descriptor of a rank-1 memref.
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
} MemRef1;

/// The memref descriptor of a rank-3 memref.
typedef struct {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
} MemRef3;

/// The memref descriptor of a rank-0 memref.
typedef struct {
  double *allocated;
  double *aligned;
  int64_t offset;
} MemRef0;

/// out[i] = a[i] + b[i] (+ MF_FAKE_ADD_BIAS) for a dynamic length N.
__attribute__((visibility("default"))) void _mf_entry_add(void **args) {
  const MemRef1 *a = (const MemRef1 *)args[0];
  const MemRef1 *b = (const MemRef1 *)args[1];
  const MemRef1 *out = (const MemRef1 *)args[2];
  for (int64_t i = 0; i < out->sizes[0]; ++i)
    out->aligned[out->offset + i * out->strides[0]] =
        a->aligned[a->offset + i * a->strides[0]] +
        b->aligned[b->offset + i * b->strides[0]] + MF_FAKE_ADD_BIAS;
}

/// out = x * alpha for x of shape [2, S, 3] and a rank-0 f64 alpha. Writes
/// -1 everywhere if the descriptors are not dense row-major.
__attribute__((visibility("default"))) void _mf_entry_scale(void **args) {
  const MemRef3 *x = (const MemRef3 *)args[0];
  const MemRef0 *alpha = (const MemRef0 *)args[1];
  const MemRef3 *out = (const MemRef3 *)args[2];
  int64_t n = x->sizes[0] * x->sizes[1] * x->sizes[2];
  int dense = x->strides[2] == 1 && x->strides[1] == x->sizes[2] &&
              x->strides[0] == x->sizes[1] * x->sizes[2] &&
              out->strides[2] == 1 && out->strides[1] == out->sizes[2] &&
              out->strides[0] == out->sizes[1] * out->sizes[2] &&
              x->allocated == x->aligned && x->offset == 0 &&
              alpha->offset == 0;
  for (int64_t i = 0; i < n; ++i)
    out->aligned[i] = dense ? x->aligned[i] * (float)alpha->aligned[0] : -1.0f;
}
