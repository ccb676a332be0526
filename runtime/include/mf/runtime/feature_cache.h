/*===- feature_cache.h - Memory-mapped feature caches (C API) -----*- C -*-===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. The loader of the ahead-of-time feature cache that  *|
|* mf-cache writes (one file per example); the writer is mf::cache::Writer in *|
|* feature_cache.hpp.                                                         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

/* The file format (a valid safetensors file; little-endian throughout):
 *
 *   offset 0:     uint64 N, the length of the JSON header in bytes
 *   offset 8:     N bytes of UTF-8 JSON, padded at the end with spaces so that
 *                 8 + N is a multiple of 64 (the writer's choice; readers
 *                 accept any N)
 *   offset 8 + N: the data region: every tensor's raw bytes, dense row-major,
 *                 little-endian
 *
 * The JSON is one object. Each member but "__metadata__" describes a tensor:
 *
 *   "msa": {"dtype": "I32", "shape": [512, 384], "data_offsets": [0, 786432]}
 *
 * - "dtype" is one of F32 F64 F16 BF16 BOOL I8 I32 I64 U8 (BOOL is one byte
 *   per element, 0 or 1).
 * - "shape" has at most MF_MAX_RANK (8) non-negative integers; [] is a scalar.
 * - "data_offsets" [begin, end) is relative to the start of the data region;
 *   end - begin == product(shape) * element size.
 * - As safetensors requires, the tensors sorted by begin tile the data region
 *   exactly: the first begins at 0, each begins where the previous ends, the
 *   last ends at the end of the file. No gaps, no overlaps.
 * - Every tensor starts at a file offset that is a multiple of its element
 *   size (so the mapped view is naturally aligned). The writer goes further
 *   and starts every tensor at a multiple of 64 bytes of the file; since the
 *   region may have no gaps, it fills the space in front of a tensor with a
 *   padding entry: a U8 tensor of shape [k], 0 < k < 64, of zero bytes, named
 *   "__mf_pad.<i>" (i = 0, 1, ...). Readers skip entries whose name starts
 *   with "__mf_pad." (this loader hides them; generic safetensors readers
 *   show them as small U8 tensors). Other tensor names must not be empty.
 *
 * "__metadata__" (required here; optional in safetensors) maps strings to
 * strings:
 *
 * - "mf_feature_set_version": the feature-set version, a decimal integer
 *   >= 1 (e.g. "1"). It changes whenever the featurization changes (names,
 *   shapes, dtypes or meaning of any tensor), so an old cache is refused
 *   (INCOMPATIBLE) instead of being silently used.
 * - "mf_input_hashes" (written by mf-cache; not checked by the loader): the
 *   FNV-1a 64 hashes of the input files the example came from, as a
 *   JSON-encoded object in a string, keys sorted:
 *   "{\"1abc.json\":\"0x0123456789abcdef\",\"1abc_A.a3m\":\"0x...\"}".
 * - "mf_checksum.<name>" for every tensor <name> (padding entries excepted):
 *   "0x" and 16 lowercase hex digits, the FNV-1a 64 hash of that tensor's
 *   bytes (mf::artifact::fnv1a64). A checksum for a tensor that does not
 *   exist is an error.
 * - Other keys are free-form and ignored.
 *
 * The writer's output is deterministic: tensors laid out in order of their
 * names (bytewise), metadata keys sorted, no whitespace in the JSON but the
 * final padding; the same features give the same bytes.
 *
 * What the loader checks on open (each failure is a status naming the file,
 * the tensor and what is wrong; nothing crashes on any input):
 * - the header length is within the file and at most 100,000,000 bytes (the
 *   safetensors limit); the JSON is well-formed UTF-8, nested at most 3
 *   levels deep, with at most 262,144 values, and has the schema above;
 * - every dtype is known, rank <= 8, dims are non-negative, and the element
 *   count and byte size do not overflow 64 bits and match data_offsets;
 * - data_offsets lie inside the file (DATA_LOSS otherwise: truncated),
 *   tensors tile the data region (no overlaps, no gaps, no trailing bytes)
 *   and are aligned to their element size; padding is zero;
 * - the feature-set version equals the expected one (INCOMPATIBLE otherwise);
 * - every tensor has a well-formed checksum, and (unless
 *   MF_FEATURE_CACHE_SKIP_CHECKSUMS) its bytes hash to it (DATA_LOSS).
 *
 * Status codes: DATA_LOSS for a truncated or corrupted file (short file,
 * offsets past the end, checksum mismatch), INCOMPATIBLE for another
 * feature-set version, INVALID_ARGUMENT for anything malformed, NOT_FOUND /
 * PERMISSION_DENIED for a file that cannot be opened.
 *
 * The ownership rules of api.h apply. A cache maps its file read-only and
 * private: views stay valid until the last reference is released, and their
 * memory must not be written (it is PROT_READ). The file must not be
 * truncated or rewritten in place while it is open (the writer replaces files
 * atomically by renaming a temporary file, which is safe). A cache is
 * immutable once open and may be used from several threads at once.
 */

#ifndef MF_RUNTIME_FEATURE_CACHE_H
#define MF_RUNTIME_FEATURE_CACHE_H

#include "mf/runtime/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Element types of a cache file, numbered like mf_dtype_t where the two
/// agree (BOOL is MF_DTYPE_I1); U8 has no mf_dtype_t.
typedef enum mf_cache_dtype_e {
  MF_CACHE_DTYPE_INVALID = 0,
  MF_CACHE_DTYPE_F32 = 1,
  MF_CACHE_DTYPE_F64 = 2,
  MF_CACHE_DTYPE_F16 = 3,
  MF_CACHE_DTYPE_BF16 = 4,
  MF_CACHE_DTYPE_BOOL = 5,
  MF_CACHE_DTYPE_I8 = 6,
  MF_CACHE_DTYPE_I32 = 7,
  MF_CACHE_DTYPE_I64 = 8,
  MF_CACHE_DTYPE_U8 = 9,
  /// Not a dtype: makes every non-negative int32 a value of the enum.
  MF_CACHE_DTYPE_MAX_ENUM = 0x7fffffff,
} mf_cache_dtype_t;

/// Returns the size of one element in bytes; 0 for an invalid dtype.
MF_API_EXPORT size_t mf_cache_dtype_size(mf_cache_dtype_t dtype);

/// Returns the file's spelling of `dtype` ("F32"), or "invalid".
MF_API_EXPORT const char *mf_cache_dtype_name(mf_cache_dtype_t dtype);

/// Returns the mf_dtype_t with the same layout (BOOL -> MF_DTYPE_I1), or
/// MF_DTYPE_INVALID (for U8 and invalid dtypes).
MF_API_EXPORT mf_dtype_t mf_cache_dtype_to_dtype(mf_cache_dtype_t dtype);

/// A zero-copy view of one tensor in a mapped cache. Everything is borrowed
/// from the cache and valid until its last reference is released.
typedef struct mf_cache_tensor_t {
  const char *name;
  /// Points into the read-only mapping; aligned to the element size.
  const void *data;
  mf_cache_dtype_t dtype;
  int32_t rank;
  /// Dims past `rank` are 0.
  int64_t dims[MF_MAX_RANK];
  uint64_t num_elements;
  uint64_t size_bytes;
} mf_cache_tensor_t;

/// An open, verified cache file (reference-counted).
typedef struct mf_feature_cache_s mf_feature_cache_t;

/// Pass as expected_version to accept any feature-set version (for tools
/// that only inspect caches).
#define MF_FEATURE_CACHE_ANY_VERSION 0u

/// Flags of mf_feature_cache_open_with_flags; 0 verifies everything.
typedef enum mf_feature_cache_flags_e {
  /// Do not hash tensor data on open (checksums must still be present and
  /// well-formed). Faster for large files on trusted storage; corruption of
  /// tensor bytes then goes undetected.
  MF_FEATURE_CACHE_SKIP_CHECKSUMS = 1,
} mf_feature_cache_flags_t;

/// Maps and verifies the cache at `path` (everything, checksums included).
/// INCOMPATIBLE when its feature-set version is not `expected_version`
/// (unless MF_FEATURE_CACHE_ANY_VERSION); see the top of this file for the
/// rest.
MF_API_EXPORT mf_status_t mf_feature_cache_open(const char *path,
                                                uint32_t expected_version,
                                                mf_feature_cache_t **out_cache);

/// Like mf_feature_cache_open, with mf_feature_cache_flags_t bits.
MF_API_EXPORT mf_status_t mf_feature_cache_open_with_flags(
    const char *path, uint32_t expected_version, uint32_t flags,
    mf_feature_cache_t **out_cache);

/// Like mf_feature_cache_open_with_flags, over `size` bytes at `data`, which
/// are not copied: they must stay alive and unchanged until the cache is
/// destroyed. Views point into `data`, aligned if `data` is 64-byte aligned.
MF_API_EXPORT mf_status_t mf_feature_cache_open_memory(
    const void *data, size_t size, uint32_t expected_version, uint32_t flags,
    mf_feature_cache_t **out_cache);

/// Adds a reference to `cache`.
MF_API_EXPORT void mf_feature_cache_retain(mf_feature_cache_t *cache);

/// Drops a reference to `cache`; NULL is allowed. The last one unmaps the
/// file, invalidating every view and string obtained from it.
MF_API_EXPORT void mf_feature_cache_release(mf_feature_cache_t *cache);

/// Returns the path the cache was opened from ("" for memory); borrowed.
MF_API_EXPORT const char *mf_feature_cache_path(
    const mf_feature_cache_t *cache);

/// Returns the file's feature-set version.
MF_API_EXPORT uint32_t
mf_feature_cache_version(const mf_feature_cache_t *cache);

/// Returns the number of tensors (padding entries not counted).
MF_API_EXPORT size_t
mf_feature_cache_tensor_count(const mf_feature_cache_t *cache);

/// Returns the name of tensor `index` (tensors are sorted by name), or NULL
/// if out of range; borrowed.
MF_API_EXPORT const char *
mf_feature_cache_tensor_name(const mf_feature_cache_t *cache, size_t index);

/// Fills `out_view` with tensor `index`; OUT_OF_RANGE past the count.
MF_API_EXPORT mf_status_t mf_feature_cache_tensor_at(
    const mf_feature_cache_t *cache, size_t index,
    mf_cache_tensor_t *out_view);

/// Fills `out_view` with the tensor called `name`; NOT_FOUND names the
/// tensor and the file.
MF_API_EXPORT mf_status_t mf_feature_cache_find(const mf_feature_cache_t *cache,
                                                const char *name,
                                                mf_cache_tensor_t *out_view);

/// Returns the "__metadata__" value of `key`, or NULL if absent; borrowed.
MF_API_EXPORT const char *
mf_feature_cache_metadata(const mf_feature_cache_t *cache, const char *key);

/// Returns the number of "__metadata__" entries (checksums included).
MF_API_EXPORT size_t
mf_feature_cache_metadata_count(const mf_feature_cache_t *cache);

/// Returns metadata key `index` (keys are sorted), or NULL if out of range;
/// borrowed.
MF_API_EXPORT const char *
mf_feature_cache_metadata_key(const mf_feature_cache_t *cache, size_t index);

#ifdef __cplusplus
} // extern "C"
#endif

#endif /* MF_RUNTIME_FEATURE_CACHE_H */
