//===- artifact.h - On-disk layout of an mf artifact (.mfa) -----*- C++ -*-===//
//
// Part of MegaFold-MLIR. Shared by the runtime (which reads artifacts) and
// mf-compile (which writes them). Header-only, C++17, standard library only.
//
//===----------------------------------------------------------------------===//
//
// An artifact is one file, little-endian throughout:
//
//   offset  0: 8-byte magic  {'M','F','A','R','T','\0','\0','\1'}
//   offset  8: uint32 format_version (kFormatVersion), uint32 reserved (0)
//   offset 16: uint64 manifest_size, in bytes of UTF-8 JSON
//   offset 24: uint64 manifest_checksum, fnv1a64 of the JSON bytes
//   offset 32: the manifest JSON, then zero padding to a 64-byte boundary
//              (blobRegionStart), then the blobs, each at the offset the
//              manifest states (from the file start, 64-byte aligned, in
//              bounds, not overlapping; gaps between blobs are allowed).
//
// The manifest (unknown keys are ignored; all keys shown are required unless
// marked optional):
//
//   {"format_version": 1, "target": "cpu", "chip": "x86-64" (optional),
//    "producer": "mf-compile 0.1" (optional),
//    "blobs": [{"name": "host", "kind": "elf-shared-object",
//               "offset": 1024, "size": 52344,
//               "checksum": "0x0123456789abcdef"}],
//    "entries": [{"name": "attention", "symbol": "_mf_entry_attention",
//                 "host_blob": "host",
//                 "args": [{"name": "q", "role": "input", "dtype": "f32",
//                           "shape": [1, "S", "N", 4, 32]},
//                          {"name": "out", "role": "output", "dtype": "f32",
//                           "shape": [1, "S", "N", 4, 32]}]}]}
//
// - "role" is "input" or "output"; all inputs come before all outputs.
// - "dtype" is one of kDTypeNames. "shape" has at most kMaxRank entries, each
//   a non-negative integer (static) or a non-empty string naming a symbol
//   (dynamic; every occurrence of a symbol in an entry has the same value).
// - "checksum" is formatChecksum(fnv1a64(blob bytes)).
// - For target "cpu" the host blob is an ELF shared object exporting, per
//   entry, `extern "C" void <symbol>(void **args)`: args[i] points to the MLIR
//   ranked memref descriptor of argument i (inputs then outputs),
//   `{void *allocated; void *aligned; int64_t offset; int64_t sizes[r];
//   int64_t strides[r];}`, with dense row-major strides in elements.
//
// Writing one: render the manifest with renderManifest (which settles the
// blob offsets), then assembleArtifact.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_ARTIFACT_H
#define MF_RUNTIME_ARTIFACT_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::artifact {

/// The 8 bytes every artifact starts with.
inline constexpr char kMagic[8] = {'M', 'F', 'A', 'R', 'T', '\0', '\0', '\1'};
/// The only format version this header describes.
inline constexpr uint32_t kFormatVersion = 1;
/// Size of the fixed header that precedes the manifest.
inline constexpr uint64_t kHeaderSize = 32;
/// Alignment of the blob region and of every blob offset.
inline constexpr uint64_t kBlobAlignment = 64;
/// Largest tensor rank a manifest may declare (MF_MAX_RANK in api.h).
inline constexpr int kMaxRank = 8;
/// Conventional file extension.
inline constexpr const char *kFileExtension = ".mfa";
/// Blob kind of a host shared object (the code of a "cpu" artifact).
inline constexpr const char *kBlobKindElfSharedObject = "elf-shared-object";
/// Element type spellings, in the order of mf_dtype_t starting at MF_DTYPE_F32.
inline constexpr const char *kDTypeNames[] = {"f32", "f64", "f16", "bf16",
                                              "i1",  "i8",  "i32", "i64"};

/// FNV-1a 64-bit hash of `size` bytes at `data`.
inline uint64_t fnv1a64(const void *data, size_t size) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/// Spells a checksum the way the manifest stores it: "0x" + 16 hex digits.
inline std::string formatChecksum(uint64_t value) {
  static const char kHex[] = "0123456789abcdef";
  std::string text = "0x0000000000000000";
  for (int i = 17; i >= 2; --i, value >>= 4)
    text[i] = kHex[value & 0xf];
  return text;
}

/// Parses formatChecksum's spelling (either hex case); false if malformed.
inline bool parseChecksum(std::string_view text, uint64_t &out) {
  if (text.size() != 18 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
    return false;
  uint64_t value = 0;
  for (size_t i = 2; i < text.size(); ++i) {
    char c = text[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0)
      return false;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  out = value;
  return true;
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
inline constexpr uint64_t alignTo(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

/// First offset at which a blob may start, given the manifest's size.
inline constexpr uint64_t blobRegionStart(uint64_t manifestSize) {
  return alignTo(kHeaderSize + manifestSize, kBlobAlignment);
}

/// The decoded fixed header.
struct Header {
  uint32_t formatVersion = kFormatVersion;
  uint32_t reserved = 0;
  uint64_t manifestSize = 0;
  uint64_t manifestChecksum = 0;
};

/// Writes `header` (with the magic) into `out[0, kHeaderSize)`.
inline void encodeHeader(const Header &header, unsigned char *out) {
  auto put = [&](size_t offset, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out[offset + i] = static_cast<unsigned char>(value >> (8 * i));
  };
  std::memcpy(out, kMagic, sizeof(kMagic));
  put(8, header.formatVersion, 4);
  put(12, header.reserved, 4);
  put(16, header.manifestSize, 8);
  put(24, header.manifestChecksum, 8);
}

/// Reads the header fields from `in[0, kHeaderSize)`; false if the magic is
/// wrong. Does not check the version or sizes.
inline bool decodeHeader(const unsigned char *in, Header &out) {
  if (std::memcmp(in, kMagic, sizeof(kMagic)) != 0)
    return false;
  auto get = [&](size_t offset, int bytes) {
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i)
      value = value << 8 | in[offset + i];
    return value;
  };
  out.formatVersion = static_cast<uint32_t>(get(8, 4));
  out.reserved = static_cast<uint32_t>(get(12, 4));
  out.manifestSize = get(16, 8);
  out.manifestChecksum = get(24, 8);
  return true;
}

/// Renders a manifest whose blob offsets depend on its own size.
/// `render(base)` must return the JSON with blobs placed at or after `base`
/// (aligned); the returned JSON is one for which `base >=
/// blobRegionStart(json.size())`, and `outBase` receives that base.
template <typename RenderFn>
std::string renderManifest(RenderFn render, uint64_t &outBase) {
  uint64_t base = blobRegionStart(0);
  for (;;) {
    std::string json = render(base);
    uint64_t needed = blobRegionStart(json.size());
    if (needed <= base) {
      outBase = base;
      return json;
    }
    base = needed;
  }
}

/// Builds the bytes of an artifact from its manifest and its blobs, given as
/// (offset, bytes) pairs matching the manifest. Gaps are zero-filled.
inline std::string assembleArtifact(
    std::string_view manifest,
    const std::vector<std::pair<uint64_t, std::string_view>> &blobs) {
  Header header;
  header.manifestSize = manifest.size();
  header.manifestChecksum = fnv1a64(manifest.data(), manifest.size());
  std::string bytes(blobRegionStart(manifest.size()), '\0');
  encodeHeader(header, reinterpret_cast<unsigned char *>(&bytes[0]));
  bytes.replace(kHeaderSize, manifest.size(), manifest);
  for (const auto &[offset, blob] : blobs) {
    if (bytes.size() < offset + blob.size())
      bytes.resize(offset + blob.size(), '\0');
    bytes.replace(offset, blob.size(), blob);
  }
  return bytes;
}

} // namespace mf::artifact

#endif // MF_RUNTIME_ARTIFACT_H
