//===- feature_cache_parse.cc - Verifying feature-cache files -------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Everything in a cache file is checked before any of it is handed out (see
// mf/runtime/feature_cache.h for the list). The bytes may be truncated,
// corrupt or hostile: every size is checked before it is used and every
// arithmetic step that could overflow is checked.
//
//===----------------------------------------------------------------------===//

#include "feature_cache.h"

#include "json.h"
#include "status.h"

#include "mf/runtime/artifact.h"

#include <algorithm>
#include <iterator>

using namespace mf::rt;
using namespace mf::rt::cache;
using json::Kind;
using json::Value;
using mf::artifact::formatChecksum;

namespace {

/// The file's dtype spellings, indexed by mf_cache_dtype_t - 1.
constexpr const char *kDTypeNames[] = {"F32",  "F64", "F16", "BF16", "BOOL",
                                       "I8",   "I32", "I64", "U8"};
constexpr size_t kDTypeSizes[] = {4, 8, 2, 2, 1, 1, 4, 8, 1};
static_assert(std::size(kDTypeNames) == MF_CACHE_DTYPE_U8, "one per dtype");
static_assert(std::size(kDTypeSizes) == MF_CACHE_DTYPE_U8, "one per dtype");

/// Returns `text` in single quotes, cut to 128 bytes (names come from
/// possibly hostile files and end up in messages).
std::string quoted(std::string_view text) {
  constexpr size_t kMax = 128;
  std::string out = "'";
  out.append(text.substr(0, kMax));
  if (text.size() > kMax)
    out += "...";
  return out + "'";
}

/// Returns "an object", "a string", ...
std::string withArticle(Kind kind) {
  return (kind == Kind::Array || kind == Kind::Object ? "an " : "a ") +
         std::string(json::kindName(kind));
}

/// Spells `dims` as "[2, 3]".
std::string shapeString(const std::vector<int64_t> &dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

/// Spells a tensor's byte range as "[begin, end)".
std::string rangeString(const Tensor &tensor) {
  return concat("[", tensor.begin, ", ", tensor.end, ")");
}

/// Checks nesting depth and value count before the DOM parse, so a hostile
/// header can neither nest deeply nor expand into a huge tree. Leaves
/// malformed JSON to the parser.
mf_status_t prescanHeader(std::string_view text) {
  int depth = 0;
  uint64_t values = 1;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxHeaderDepth)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: JSON nested deeper "
                              "than ", kMaxHeaderDepth, " levels at byte ", i,
                              " (the schema needs no more)");
      ++values;
    } else if (c == '}' || c == ']') {
      if (--depth < 0)
        return nullptr; // Malformed; the parser says where.
    } else if (c == ',') {
      ++values;
    }
    if (values > kMaxHeaderValues)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: more than ",
                            kMaxHeaderValues, " JSON values");
  }
  return nullptr;
}

} // namespace

bool mf::rt::cache::parseVersion(std::string_view text, uint32_t &out) {
  if (text.empty() || text.size() > 10 || text[0] == '0')
    return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > UINT32_MAX)
    return false;
  out = static_cast<uint32_t>(value);
  return true;
}

namespace {

/// Reads a non-negative JSON integer.
bool nonNegative(const Value &value, uint64_t &out) {
  if (value.kind != Kind::Number || !value.isInteger || value.integer < 0)
    return false;
  out = static_cast<uint64_t>(value.integer);
  return true;
}

/// Parses the entry of one tensor (or padding entry) and checks everything
/// that does not depend on the other tensors.
mf_status_t parseTensor(const std::string &name, const Value &value,
                        uint64_t dataStart, uint64_t regionSize,
                        Tensor &out) {
  std::string where = "tensor " + quoted(name);
  if (name.empty())
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: a tensor has an empty "
                          "name");
  if (value.kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": must be an object but "
                          "is ", withArticle(value.kind));
  out.name = name;

  const Value *dtype = value.get("dtype");
  if (!dtype || dtype->kind != Kind::String)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where,
                          ": \"dtype\" is missing or not a string");
  out.dtype = parseDType(dtype->string);
  if (out.dtype == MF_CACHE_DTYPE_INVALID)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": unknown dtype ",
                          quoted(dtype->string),
                          " (known: F32 F64 F16 BF16 BOOL I8 I32 I64 U8)");
  size_t elementSize = mf_cache_dtype_size(out.dtype);

  const Value *shape = value.get("shape");
  if (!shape || shape->kind != Kind::Array)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where,
                          ": \"shape\" is missing or not an array");
  if (shape->array.size() > MF_MAX_RANK)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": rank ",
                          shape->array.size(), " exceeds the maximum rank ",
                          MF_MAX_RANK);
  for (size_t d = 0; d < shape->array.size(); ++d) {
    uint64_t dim;
    if (!nonNegative(shape->array[d], dim))
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": shape[", d,
                            "] is not a non-negative integer");
    out.dims.push_back(static_cast<int64_t>(dim));
  }
  uint64_t elements = 1;
  for (int64_t dim : out.dims)
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim),
                               &elements))
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": shape ",
                            shapeString(out.dims),
                            " has 2^64 elements or more");
  out.numElements = elements;
  uint64_t bytes;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(elementSize),
                             &bytes))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": shape ",
                          shapeString(out.dims), " of ",
                          mf_cache_dtype_name(out.dtype),
                          " needs 2^64 bytes or more");

  const Value *offsets = value.get("data_offsets");
  if (!offsets || offsets->kind != Kind::Array || offsets->array.size() != 2 ||
      !nonNegative(offsets->array[0], out.begin) ||
      !nonNegative(offsets->array[1], out.end))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where,
                          ": \"data_offsets\" is missing or not [begin, end] "
                          "with non-negative integers");
  if (out.begin > out.end)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": data_offsets [",
                          out.begin, ", ", out.end, "] end before they begin");
  if (out.end - out.begin != bytes)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": data_offsets [",
                          out.begin, ", ", out.end, "] span ",
                          out.end - out.begin, " bytes but shape ",
                          shapeString(out.dims), " of ",
                          mf_cache_dtype_name(out.dtype), " needs ", bytes,
                          " bytes");
  if (out.end > regionSize)
    return MF_MAKE_STATUS(DATA_LOSS, where, ": data_offsets [", out.begin,
                          ", ", out.end,
                          "] extend past the end of the data region (",
                          regionSize,
                          " bytes); the file is truncated or corrupt");
  // dataStart + begin <= size, so this cannot overflow.
  if ((dataStart + out.begin) % elementSize != 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": starts at file offset ",
                          dataStart + out.begin,
                          ", which is not a multiple of its element size ",
                          elementSize);
  return nullptr;
}

/// Finds `key` in the sorted metadata, or nullptr.
const std::string *
lookup(const std::vector<std::pair<std::string, std::string>> &metadata,
       std::string_view key) {
  auto it = std::lower_bound(
      metadata.begin(), metadata.end(), key,
      [](const auto &entry, std::string_view k) { return entry.first < k; });
  return it != metadata.end() && it->first == key ? &it->second : nullptr;
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

} // namespace

mf_cache_dtype_t mf::rt::cache::parseDType(std::string_view name) {
  for (size_t i = 0; i < std::size(kDTypeNames); ++i)
    if (name == kDTypeNames[i])
      return static_cast<mf_cache_dtype_t>(i + 1);
  return MF_CACHE_DTYPE_INVALID;
}

bool mf::rt::cache::isValidUtf8(std::string_view text) {
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      length = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < length)
      return false;
    for (size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += length;
  }
  return true;
}

mf_status_t mf::rt::cache::parseFromMemory(const unsigned char *data,
                                           size_t size,
                                           uint32_t expectedVersion,
                                           uint32_t flags, ParsedCache &out) {
  out = ParsedCache();
  if (!data && size > 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "data is NULL");
  if (size < kLengthPrefixSize)
    return MF_MAKE_STATUS(DATA_LOSS, "truncated: ", size,
                          " bytes is shorter than the 8-byte header length");
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = headerSize << 8 | data[i];
  if (headerSize > kMaxHeaderSize)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header length ", headerSize,
                          " exceeds the limit of ", kMaxHeaderSize,
                          " bytes; the file is corrupt or not a feature "
                          "cache");
  if (headerSize > size - kLengthPrefixSize)
    return MF_MAKE_STATUS(DATA_LOSS, "truncated: the ", headerSize,
                          "-byte header ends past the end of the file (", size,
                          " bytes)");
  std::string_view text(reinterpret_cast<const char *>(data) +
                            kLengthPrefixSize,
                        headerSize);
  if (!isValidUtf8(text))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: not valid UTF-8");
  MF_RETURN_IF_ERROR(prescanHeader(text));
  Value root;
  std::string error;
  if (!json::parse(text, root, error))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: malformed JSON ", error);
  if (root.kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: must be a JSON object "
                          "but is ", withArticle(root.kind));

  // Metadata and version first: a cache of another version is INCOMPATIBLE
  // even if its layout changed too.
  const Value *metadata = root.get(kMetadataKey);
  if (!metadata)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: no \"__metadata__\" "
                          "object; not an mf feature cache");
  if (metadata->kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: \"__metadata__\" must be "
                          "an object but is ", withArticle(metadata->kind));
  for (const auto &[key, value] : metadata->object) {
    if (value.kind != Kind::String)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: __metadata__ value ",
                            quoted(key), " must be a string but is ",
                            withArticle(value.kind));
    out.metadata.emplace_back(key, value.string);
  }
  std::sort(out.metadata.begin(), out.metadata.end());
  const std::string *version = lookup(out.metadata, kVersionKey);
  if (!version)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: __metadata__ lacks \"",
                          kVersionKey, "\"; not an mf feature cache");
  if (!parseVersion(*version, out.version))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: ", kVersionKey, " is ",
                          quoted(*version),
                          ", not a decimal integer from 1 to 4294967295");
  if (expectedVersion != MF_FEATURE_CACHE_ANY_VERSION &&
      out.version != expectedVersion)
    return MF_MAKE_STATUS(INCOMPATIBLE, "feature-set version ", out.version,
                          " does not match the expected version ",
                          expectedVersion,
                          "; rebuild the cache with this mf-cache");

  // Each tensor on its own.
  out.dataStart = kLengthPrefixSize + headerSize;
  uint64_t regionSize = size - out.dataStart;
  std::vector<Tensor> all;
  all.reserve(root.object.size());
  for (const auto &[name, value] : root.object) {
    if (name == kMetadataKey)
      continue;
    all.emplace_back();
    MF_RETURN_IF_ERROR(
        parseTensor(name, value, out.dataStart, regionSize, all.back()));
    const Tensor &tensor = all.back();
    if (startsWith(name, kPadPrefix) &&
        (tensor.dtype != MF_CACHE_DTYPE_U8 || tensor.dims.size() != 1 ||
         tensor.numElements >= kAlignment))
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "padding entry ", quoted(name),
                            " must be a U8 vector of fewer than ", kAlignment,
                            " bytes");
  }

  // Together, sorted by offset, they must tile the data region.
  std::vector<const Tensor *> byOffset;
  for (const Tensor &tensor : all)
    byOffset.push_back(&tensor);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const Tensor *a, const Tensor *b) {
              return a->begin != b->begin ? a->begin < b->begin
                                          : a->end < b->end;
            });
  uint64_t next = 0;
  for (size_t i = 0; i < byOffset.size(); ++i) {
    const Tensor &tensor = *byOffset[i];
    if (tensor.begin < next)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "tensors ",
                            quoted(byOffset[i - 1]->name), " ",
                            rangeString(*byOffset[i - 1]), " and ",
                            quoted(tensor.name), " ", rangeString(tensor),
                            " overlap");
    if (tensor.begin > next)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "the data region has a gap at [",
                            next, ", ", tensor.begin, ") before tensor ",
                            quoted(tensor.name),
                            "; tensors must tile it (safetensors layout)");
    next = tensor.end;
  }
  if (next != regionSize)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "the data region (", regionSize,
                          " bytes) has ", regionSize - next,
                          " bytes after the last tensor; tensors must tile it "
                          "(safetensors layout)");

  // Padding is zero; every tensor has a checksum and every checksum a tensor.
  const unsigned char *region = data + out.dataStart;
  for (Tensor &tensor : all) {
    if (startsWith(tensor.name, kPadPrefix)) {
      for (uint64_t i = tensor.begin; i < tensor.end; ++i)
        if (region[i] != 0)
          return MF_MAKE_STATUS(DATA_LOSS, "padding entry ",
                                quoted(tensor.name),
                                " holds non-zero bytes; the file is corrupt");
      continue;
    }
    std::string key = std::string(kChecksumPrefix) + tensor.name;
    const std::string *checksum = lookup(out.metadata, key);
    if (!checksum)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "tensor ", quoted(tensor.name),
                            ": no checksum (__metadata__ lacks ", quoted(key),
                            ")");
    if (!mf::artifact::parseChecksum(*checksum, tensor.checksum))
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "tensor ", quoted(tensor.name),
                            ": checksum ", quoted(*checksum),
                            " is not \"0x\" and 16 hex digits");
  }
  for (const auto &[key, value] : out.metadata) {
    if (!startsWith(key, kChecksumPrefix))
      continue;
    std::string_view name = std::string_view(key).substr(kChecksumPrefix.size());
    bool found = !startsWith(name, kPadPrefix) &&
                 std::any_of(all.begin(), all.end(), [&](const Tensor &t) {
                   return t.name == name;
                 });
    if (!found)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "header: __metadata__ has ",
                            quoted(key), " but the file holds no tensor ",
                            quoted(name));
  }
  if (!(flags & MF_FEATURE_CACHE_SKIP_CHECKSUMS)) {
    for (const Tensor &tensor : all) {
      if (startsWith(tensor.name, kPadPrefix))
        continue;
      uint64_t actual = mf::artifact::fnv1a64(region + tensor.begin,
                                              tensor.end - tensor.begin);
      if (actual != tensor.checksum)
        return MF_MAKE_STATUS(DATA_LOSS, "tensor ", quoted(tensor.name),
                              ": checksum mismatch: the header says ",
                              formatChecksum(tensor.checksum),
                              " but the bytes hash to ",
                              formatChecksum(actual), "; the file is corrupt");
    }
  }

  for (Tensor &tensor : all)
    if (!startsWith(tensor.name, kPadPrefix))
      out.tensors.push_back(std::move(tensor));
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const Tensor &a, const Tensor &b) { return a.name < b.name; });
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Dtype helpers of the C API
//===----------------------------------------------------------------------===//

extern "C" {

size_t mf_cache_dtype_size(mf_cache_dtype_t dtype) {
  auto index = static_cast<size_t>(dtype);
  return index >= 1 && index <= std::size(kDTypeSizes) ? kDTypeSizes[index - 1]
                                                       : 0;
}

const char *mf_cache_dtype_name(mf_cache_dtype_t dtype) {
  auto index = static_cast<size_t>(dtype);
  return index >= 1 && index <= std::size(kDTypeNames) ? kDTypeNames[index - 1]
                                                       : "invalid";
}

mf_dtype_t mf_cache_dtype_to_dtype(mf_cache_dtype_t dtype) {
  return dtype >= MF_CACHE_DTYPE_F32 && dtype <= MF_CACHE_DTYPE_I64
             ? static_cast<mf_dtype_t>(dtype)
             : MF_DTYPE_INVALID;
}

} // extern "C"
