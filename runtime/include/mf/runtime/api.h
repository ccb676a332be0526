/*===- api.h - The mf runtime C API -------------------------------*- C -*-===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. The runtime C API (the cache: feature_cache.h).     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

/* Ownership rules (they hold for every function below):
 *
 * - Every function that can fail returns an mf_status_t; NULL means success.
 *   A non-NULL status is owned by the caller, who must pass it to
 *   mf_status_free exactly once. On failure, out_ parameters are untouched.
 * - Objects returned through out_ parameters of *_create and *_load_* calls
 *   are owned by the caller (one reference), who must *_release them. *_retain
 *   adds a reference; the object is destroyed when the last one is released.
 *   A module holds a reference to its runtime, so the runtime may be released
 *   before its modules.
 * - Accessors return borrowed pointers (strings, mf_function_t*) that stay
 *   valid as long as the object they came from (for a status: until it is
 *   freed; for functions and manifest strings: until the module is destroyed).
 * - Tensor data is always caller-owned. The runtime never allocates, frees or
 *   retains tensor memory (mf_device_alloc is a helper the caller owns the
 *   result of); it only passes the pointers to compiled code for the duration
 *   of mf_function_invoke (and, for work enqueued on a stream, until that
 *   work completes). Outputs are written in place (destination-passing
 *   style).
 * - Buffers passed in (paths, artifact bytes) are only read during the call.
 *
 * Threads: runtimes, modules and functions may be used from several threads at
 * once; mf_function_invoke keeps no shared mutable state. Releasing an object
 * while another thread still uses it is the caller's error.
 *
 * No function aborts, exits or prints; no C++ exception crosses this API.
 */

#ifndef MF_RUNTIME_API_H
#define MF_RUNTIME_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MF_API_EXPORT __declspec(dllexport)
#else
#define MF_API_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*
 * Status
 *===----------------------------------------------------------------------===*/

/// Canonical status codes (the common set used by IREE, absl and gRPC).
typedef enum mf_status_code_e {
  /// Success; never stored in a status object (NULL is OK).
  MF_STATUS_OK = 0,
  /// The operation was cancelled by the caller.
  MF_STATUS_CANCELLED = 1,
  /// An error that fits no other code.
  MF_STATUS_UNKNOWN = 2,
  /// The caller passed a bad value: a tensor that does not match the
  /// manifest, a malformed artifact, a NULL where an object is needed.
  MF_STATUS_INVALID_ARGUMENT = 3,
  /// A deadline expired before the operation completed.
  MF_STATUS_DEADLINE_EXCEEDED = 4,
  /// A named thing does not exist: a file, an entry point, a symbol.
  MF_STATUS_NOT_FOUND = 5,
  /// Something that must be unique already exists.
  MF_STATUS_ALREADY_EXISTS = 6,
  /// The caller may not do this (e.g. a file it cannot read).
  MF_STATUS_PERMISSION_DENIED = 7,
  /// Out of memory or another exhausted resource.
  MF_STATUS_RESOURCE_EXHAUSTED = 8,
  /// The system is not in a state the operation needs.
  MF_STATUS_FAILED_PRECONDITION = 9,
  /// The operation was aborted (e.g. by a concurrency conflict).
  MF_STATUS_ABORTED = 10,
  /// An index or size is past the valid range.
  MF_STATUS_OUT_OF_RANGE = 11,
  /// The feature or target is not built into this runtime.
  MF_STATUS_UNIMPLEMENTED = 12,
  /// An invariant of the runtime broke (a bug, or an unexpected exception).
  MF_STATUS_INTERNAL = 13,
  /// A device or driver is temporarily unavailable.
  MF_STATUS_UNAVAILABLE = 14,
  /// Data is corrupt or truncated (checksum mismatch, short file).
  MF_STATUS_DATA_LOSS = 15,
  /// The artifact was made for an incompatible runtime (format version).
  MF_STATUS_INCOMPATIBLE = 16,
  /// Not a code: makes every non-negative int32 a value of the enum.
  MF_STATUS_MAX_ENUM = 0x7fffffff,
} mf_status_code_t;

/// A status: NULL on success, else an owned object with a code and message.
typedef struct mf_status_s *mf_status_t;

/// Returns the code of `status` (MF_STATUS_OK for NULL).
MF_API_EXPORT mf_status_code_t mf_status_code(mf_status_t status);

/// Returns the message of `status` ("" for NULL); borrowed from `status`.
MF_API_EXPORT const char *mf_status_message(mf_status_t status);

/// Returns where in the runtime's sources `status` was made (file and line);
/// "" and 0 for NULL. Either out pointer may be NULL.
MF_API_EXPORT void mf_status_source(mf_status_t status, const char **out_file,
                                    int *out_line);

/// Frees `status`; NULL is allowed.
MF_API_EXPORT void mf_status_free(mf_status_t status);

/// Returns the name of `code`, e.g. "INVALID_ARGUMENT"; static storage.
MF_API_EXPORT const char *mf_status_code_name(mf_status_code_t code);

/// Returns `expr`'s status from the enclosing function if it is not OK.
#define MF_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    mf_status_t mf_status_tmp_ = (expr);                                       \
    if (mf_status_tmp_)                                                        \
      return mf_status_tmp_;                                                   \
  } while (0)

/*===----------------------------------------------------------------------===*
 * Element types, devices, tensors
 *===----------------------------------------------------------------------===*/

/// Largest tensor rank.
#define MF_MAX_RANK 8

/// Element types. Manifests spell them "f32", "f64", "f16", "bf16", "i1",
/// "i8", "i32", "i64". I1 takes one byte per element (like torch.bool).
typedef enum mf_dtype_e {
  MF_DTYPE_INVALID = 0,
  MF_DTYPE_F32 = 1,
  MF_DTYPE_F64 = 2,
  MF_DTYPE_F16 = 3,
  MF_DTYPE_BF16 = 4,
  MF_DTYPE_I1 = 5,
  MF_DTYPE_I8 = 6,
  MF_DTYPE_I32 = 7,
  MF_DTYPE_I64 = 8,
  /// Not a dtype: makes every non-negative int32 a value of the enum.
  MF_DTYPE_MAX_ENUM = 0x7fffffff,
} mf_dtype_t;

/// Returns the size of one element in bytes; 0 for an invalid dtype.
MF_API_EXPORT size_t mf_dtype_size(mf_dtype_t dtype);

/// Returns the manifest spelling of `dtype` ("f32"), or "invalid".
MF_API_EXPORT const char *mf_dtype_name(mf_dtype_t dtype);

/// Where a tensor's memory lives.
typedef enum mf_device_kind_e {
  MF_DEVICE_CPU = 0,
  MF_DEVICE_CUDA = 1,
  MF_DEVICE_HIP = 2,
  /// Not a device: makes every non-negative int32 a value of the enum.
  MF_DEVICE_MAX_ENUM = 0x7fffffff,
} mf_device_kind_t;

/// A view of caller-owned memory. `strides` are in elements; an all-zero
/// strides array means dense row-major. Compiled code assumes dense
/// row-major tensors, so any other strides are rejected. Rank 0 is a scalar
/// (one element); dims and strides past `rank` are ignored.
typedef struct mf_tensor_t {
  void *data;
  mf_dtype_t dtype;
  int32_t rank;
  int64_t dims[MF_MAX_RANK];
  int64_t strides[MF_MAX_RANK];
  mf_device_kind_t device;
} mf_tensor_t;

/*===----------------------------------------------------------------------===*
 * Runtime
 *===----------------------------------------------------------------------===*/

/// The root object: the set of backends (targets) this library can run.
typedef struct mf_runtime_s mf_runtime_t;

/// Creates a runtime with every backend built into this library.
MF_API_EXPORT mf_status_t mf_runtime_create(mf_runtime_t **out_runtime);

/// Adds a reference to `runtime`.
MF_API_EXPORT void mf_runtime_retain(mf_runtime_t *runtime);

/// Drops a reference to `runtime`; NULL is allowed.
MF_API_EXPORT void mf_runtime_release(mf_runtime_t *runtime);

/*===----------------------------------------------------------------------===*
 * Modules (loaded artifacts) and their functions (entry points)
 *===----------------------------------------------------------------------===*/

/// A loaded artifact: its manifest and its code.
typedef struct mf_module_s mf_module_t;

/// An entry point of a module; borrowed from the module, never released.
typedef struct mf_function_s mf_function_t;

/// Loads the artifact at `path` (see mf/runtime/artifact.h for the format).
/// Fails with NOT_FOUND for a missing file, INVALID_ARGUMENT, DATA_LOSS or
/// INCOMPATIBLE for a bad artifact, UNIMPLEMENTED for a target this runtime
/// lacks, UNAVAILABLE for a cuda artifact without a CUDA driver or device, or
/// a rocm artifact without the HIP runtime (libamdhip64) or an AMD device (a
/// failing driver or HIP call is named in the message with its error). Host
/// code (every target's) is loaded from memory (memfd); if that is
/// unavailable, or the environment variable MF_RUNTIME_DISABLE_MEMFD is set,
/// through a temporary file in $TMPDIR (default /tmp), unlinked once loaded.
/// Loading makes the runtime library's symbols global (dlopen RTLD_GLOBAL
/// of itself), as host code calls back into it even when the runtime was
/// opened RTLD_LOCAL (e.g. by Python's ctypes).
MF_API_EXPORT mf_status_t mf_module_load_file(mf_runtime_t *runtime,
                                              const char *path,
                                              mf_module_t **out_module);

/// Like mf_module_load_file, from `size` bytes at `data` (not retained).
MF_API_EXPORT mf_status_t mf_module_load_memory(mf_runtime_t *runtime,
                                                const void *data, size_t size,
                                                mf_module_t **out_module);

/// Adds a reference to `module`.
MF_API_EXPORT void mf_module_retain(mf_module_t *module);

/// Drops a reference to `module`; NULL is allowed. When the last one goes,
/// the module's code is unloaded and its functions become invalid.
MF_API_EXPORT void mf_module_release(mf_module_t *module);

/// Returns the manifest's target, e.g. "cpu"; borrowed.
MF_API_EXPORT const char *mf_module_target(const mf_module_t *module);

/// Returns the manifest's chip, e.g. "x86-64" or "sm_90a" ("" if none).
MF_API_EXPORT const char *mf_module_chip(const mf_module_t *module);

/// Returns the manifest's producer, e.g. "mf-compile 0.1" ("" if none).
MF_API_EXPORT const char *mf_module_producer(const mf_module_t *module);

/// Returns the number of entry points.
MF_API_EXPORT size_t mf_module_entry_count(const mf_module_t *module);

/// Returns the name of entry `index`, or NULL if out of range; borrowed.
MF_API_EXPORT const char *mf_module_entry_name(const mf_module_t *module,
                                               size_t index);

/// Finds the entry point called `name`. NOT_FOUND names the entry and lists
/// the available ones.
MF_API_EXPORT mf_status_t mf_module_lookup_function(
    mf_module_t *module, const char *name, mf_function_t **out_function);

/// Returns the entry point's name; borrowed.
MF_API_EXPORT const char *mf_function_name(const mf_function_t *function);

/// Returns the number of arguments (inputs then outputs).
MF_API_EXPORT size_t mf_function_arg_count(const mf_function_t *function);

/// The manifest's description of one argument. Strings are borrowed from
/// the module.
typedef struct mf_arg_info_t {
  const char *name;
  /// 0 for an input, 1 for an output (written in place by the callee).
  int is_output;
  mf_dtype_t dtype;
  int32_t rank;
  /// Static sizes, or -1 for a dynamic dim.
  int64_t dims[MF_MAX_RANK];
  /// The symbol of each dynamic dim (e.g. "N"), NULL for a static one.
  const char *dim_symbols[MF_MAX_RANK];
} mf_arg_info_t;

/// Describes argument `index`; OUT_OF_RANGE past mf_function_arg_count.
MF_API_EXPORT mf_status_t mf_function_arg_info(const mf_function_t *function,
                                               size_t index,
                                               mf_arg_info_t *out_info);

/// Runs the entry point. `args` holds the inputs then the outputs, in
/// manifest order; every one is checked against the manifest first (count,
/// dtype, device, rank, static dims, consistent dynamic dims, dense
/// row-major layout, non-NULL aligned data; CUDA and HIP tensors must be
/// memory of the runtime's device of that kind, 16-byte aligned), and a
/// mismatch is an INVALID_ARGUMENT naming the entry and the argument. Blocks
/// until the outputs are written: a cpu module runs on the calling thread; a
/// cuda or rocm module is mf_function_invoke_async on the default stream
/// (NULL: CUDA's legacy default stream, HIP's null stream), then waits for
/// that stream and reports any error of the work on it.
MF_API_EXPORT mf_status_t mf_function_invoke(const mf_function_t *function,
                                             const mf_tensor_t *args,
                                             size_t num_args);

/// Enqueues the entry point on `stream` and returns: for a cuda module a
/// CUstream (NULL = the legacy default stream), for a rocm module a
/// hipStream_t (NULL = the null stream), the outputs are ready in stream
/// order; for a cpu module `stream` must be NULL and the call runs to
/// completion. Same argument checks as mf_function_invoke.
///
/// CUDA: every kernel, copy, memset and stream-ordered allocation
/// (cuMemAllocAsync) of the compiled code goes to `stream`, in program order;
/// the streams the code creates and synchronizes are that stream, and their
/// synchronization does not block the host. The caller's tensors must stay
/// allocated until the work completes (as for any kernel on that stream).
/// Errors of enqueueing (a launch the driver refuses, a kernel or function
/// not found) are returned here; errors of the kernels themselves surface at
/// the next synchronization (e.g. mf_device_synchronize, or the caller's own
/// cudaStreamSynchronize). The call makes the device's primary context
/// (which PyTorch uses too) current on the calling thread for its duration
/// and restores the previous one. The device is 0, or the ordinal in the
/// environment variable MF_CUDA_DEVICE; the driver is libcuda.so.1, or the
/// library named by MF_CUDA_DRIVER_LIBRARY.
///
/// HIP (rocm modules, tensors of MF_DEVICE_HIP): the same, on a hipStream_t,
/// with stream-ordered allocation by hipMallocAsync (hipMalloc where the
/// device lacks memory pools). Instead of a context, the call makes the
/// device current on the calling thread (hipSetDevice) for its duration and
/// restores the previous one. The device is 0, or the ordinal in
/// MF_HIP_DEVICE; the library is the first of libamdhip64.so.6,
/// libamdhip64.so.5 and libamdhip64.so that loads, or the one named by
/// MF_HIP_RUNTIME_LIBRARY. The HIP runtime is only loaded when first needed
/// (a rocm module, or mf_device_* on MF_DEVICE_HIP).
MF_API_EXPORT mf_status_t mf_function_invoke_async(
    const mf_function_t *function, const mf_tensor_t *args, size_t num_args,
    void *stream);

/*===----------------------------------------------------------------------===*
 * Device memory
 *===----------------------------------------------------------------------===*/

/// The direction of an mf_device_copy.
typedef enum mf_copy_kind_e {
  MF_COPY_HOST_TO_DEVICE = 1,
  MF_COPY_DEVICE_TO_HOST = 2,
  MF_COPY_DEVICE_TO_DEVICE = 3,
  /// Not a kind: makes every non-negative int32 a value of the enum.
  MF_COPY_MAX_ENUM = 0x7fffffff,
} mf_copy_kind_t;

/// Device memory helpers for tests and tools (a trainer keeps its own
/// allocator). For MF_DEVICE_CPU they use aligned host memory and memcpy.
/// UNAVAILABLE when the device's driver is absent; UNIMPLEMENTED for a
/// device this runtime was built without.

/// Allocates `size` bytes on `device` (at least 64-byte aligned) into
/// `*out_ptr`, to be freed with mf_device_free. Size 0 gives NULL.
MF_API_EXPORT mf_status_t mf_device_alloc(mf_runtime_t *runtime,
                                          mf_device_kind_t device, size_t size,
                                          void **out_ptr);

/// Frees memory from mf_device_alloc on the same device; NULL is allowed.
/// CUDA: cuMemFree, HIP: hipFree, which may wait for the device.
MF_API_EXPORT mf_status_t mf_device_free(mf_runtime_t *runtime,
                                         mf_device_kind_t device, void *ptr);

/// Copies `size` bytes from `src` to `dst`, in the direction `kind` (the
/// device pointers being memory of `device`). CUDA and HIP (hipMemcpy):
/// ordered after the work on the default stream; host-to-device and
/// device-to-host copies return when done, device-to-device ones may still
/// be running.
MF_API_EXPORT mf_status_t mf_device_copy(mf_runtime_t *runtime,
                                         mf_device_kind_t device, void *dst,
                                         const void *src, size_t size,
                                         mf_copy_kind_t kind);

/// Waits for all work on `device` (CUDA: cuCtxSynchronize on the primary
/// context; HIP: hipDeviceSynchronize) and reports the first error of that
/// work.
MF_API_EXPORT mf_status_t mf_device_synchronize(mf_runtime_t *runtime,
                                                mf_device_kind_t device);

#ifdef __cplusplus
} // extern "C"
#endif

#endif /* MF_RUNTIME_API_H */
