//===- feature_cache_writer.cc - mf::cache::Writer ------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Lays tensors out in name order, each at a 64-byte boundary of the file with
// a zero padding entry in front where needed (safetensors forbids gaps), and
// renders the header with sorted keys and no whitespace, so the output is a
// function of the contents alone.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/feature_cache.hpp"

#include "feature_cache.h"
#include "status.h"

#include "mf/runtime/artifact.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <unistd.h>

using namespace mf::rt;
using namespace mf::rt::cache;
using mf::artifact::alignTo;
using mf::artifact::fnv1a64;
using mf::artifact::formatChecksum;

namespace {

/// Runs `body` (returning mf_status_t) with no exception escaping.
template <typename Body> mf::cache::Status guarded(Body body) {
  auto run = [&]() -> mf_status_t {
    MF_API_BEGIN
    return body();
    MF_API_END
  };
  return mf::cache::Status(run());
}

/// Checks a name, key or value: UTF-8 without NUL.
mf_status_t checkText(std::string_view text, const char *what) {
  if (text.find('\0') != std::string_view::npos)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache writer: ", what,
                          " contains a NUL character");
  if (!isValidUtf8(text))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache writer: ", what,
                          " is not valid UTF-8");
  return nullptr;
}

/// Appends `text` as a JSON string.
void appendJsonString(std::string &out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

/// Appends one header entry.
void appendEntry(std::string &json, std::string_view name,
                 mf_cache_dtype_t dtype, const std::vector<int64_t> &shape,
                 uint64_t begin, uint64_t end) {
  json += ',';
  appendJsonString(json, name);
  json += ":{\"dtype\":\"";
  json += mf_cache_dtype_name(dtype);
  json += "\",\"shape\":[";
  for (size_t i = 0; i < shape.size(); ++i)
    json += (i ? "," : "") + std::to_string(shape[i]);
  json += "],\"data_offsets\":[" + std::to_string(begin) + "," +
          std::to_string(end) + "]}";
}

/// A piece of the data region: `size` zero bytes, or a tensor's bytes.
struct Chunk {
  const std::string *bytes; // nullptr for padding
  uint64_t size;
};

/// A tensor as layout() sees it; points into the writer.
struct TensorRef {
  const std::string *name;
  mf_cache_dtype_t dtype;
  const std::vector<int64_t> *shape;
  const std::string *bytes;
};

/// Renders the header (length prefix, JSON, space padding) and lists the
/// chunks of the data region, for `tensors` sorted by name.
mf_status_t layout(const std::vector<TensorRef> &tensors,
                   std::map<std::string, std::string> metadata,
                   std::string &header, std::vector<Chunk> &chunks) {
  auto versionIt = metadata.find(std::string(kVersionKey));
  uint32_t version;
  if (versionIt == metadata.end())
    return MF_MAKE_STATUS(FAILED_PRECONDITION,
                          "feature cache writer: no feature-set version; call "
                          "setFeatureSetVersion first");
  if (!parseVersion(versionIt->second, version))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache writer: ",
                          kVersionKey, " is '", versionIt->second,
                          "', not a decimal integer from 1 to 4294967295");
  for (const TensorRef &tensor : tensors)
    metadata[std::string(kChecksumPrefix) + *tensor.name] =
        formatChecksum(fnv1a64(tensor.bytes->data(), tensor.bytes->size()));

  std::string json = "{";
  appendJsonString(json, kMetadataKey);
  json += ":{";
  bool first = true;
  for (const auto &[key, value] : metadata) {
    if (!first)
      json += ',';
    first = false;
    appendJsonString(json, key);
    json += ':';
    appendJsonString(json, value);
  }
  json += '}';
  uint64_t offset = 0;
  size_t pads = 0;
  for (const TensorRef &tensor : tensors) {
    const std::string &bytes = *tensor.bytes;
    uint64_t aligned = alignTo(offset, kAlignment);
    if (aligned != offset) {
      appendEntry(json, std::string(kPadPrefix) + std::to_string(pads++),
                  MF_CACHE_DTYPE_U8, {static_cast<int64_t>(aligned - offset)},
                  offset, aligned);
      chunks.push_back({nullptr, aligned - offset});
    }
    appendEntry(json, *tensor.name, tensor.dtype, *tensor.shape, aligned,
                aligned + bytes.size());
    chunks.push_back({&bytes, bytes.size()});
    offset = aligned + bytes.size();
  }
  json += '}';
  // Pad with spaces so that the data region starts at a multiple of 64.
  json.append(alignTo(kLengthPrefixSize + json.size(), kAlignment) -
                  kLengthPrefixSize - json.size(),
              ' ');
  if (json.size() > kMaxHeaderSize)
    return MF_MAKE_STATUS(RESOURCE_EXHAUSTED, "feature cache writer: the "
                          "header would be ", json.size(),
                          " bytes, more than the limit of ", kMaxHeaderSize);
  header.assign(kLengthPrefixSize, '\0');
  uint64_t size = json.size();
  for (size_t i = 0; i < kLengthPrefixSize; ++i)
    header[i] = static_cast<char>(size >> (8 * i) & 0xff);
  header += json;
  return nullptr;
}

} // namespace

namespace mf::cache {

Status Writer::add(const std::string &name, mf_cache_dtype_t dtype,
                   const std::vector<int64_t> &shape, const void *data,
                   size_t size) {
  return guarded([&]() -> mf_status_t {
    if (name.empty())
      return MF_MAKE_STATUS(INVALID_ARGUMENT,
                            "feature cache writer: tensor name is empty");
    MF_RETURN_IF_ERROR(checkText(name, "tensor name"));
    std::string where = "feature cache writer: tensor '" + name + "'";
    if (name.compare(0, 2, "__") == 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where,
                            ": names starting with \"__\" are reserved");
    if (tensors_.count(name))
      return MF_MAKE_STATUS(ALREADY_EXISTS, where, " was already added");
    size_t elementSize = mf_cache_dtype_size(dtype);
    if (elementSize == 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": invalid dtype ",
                            static_cast<int>(dtype));
    if (shape.size() > MF_MAX_RANK)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": rank ", shape.size(),
                            " exceeds the maximum rank ", MF_MAX_RANK);
    uint64_t bytes = elementSize;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": shape[", d, "] is ",
                              shape[d], ", which is negative");
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(shape[d]),
                                 &bytes))
        return MF_MAKE_STATUS(INVALID_ARGUMENT, where,
                              ": the shape needs 2^64 bytes or more");
    }
    if (bytes != size)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": its shape of ",
                            mf_cache_dtype_name(dtype), " needs ", bytes,
                            " bytes but ", size, " were given");
    if (!data && size > 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, where, ": data is NULL");
    Entry entry{dtype, shape,
                std::string(static_cast<const char *>(data), size)};
    tensors_.emplace(name, std::move(entry));
    return nullptr;
  });
}

Status Writer::setMetadata(const std::string &key, const std::string &value) {
  return guarded([&]() -> mf_status_t {
    if (key.empty())
      return MF_MAKE_STATUS(INVALID_ARGUMENT,
                            "feature cache writer: metadata key is empty");
    MF_RETURN_IF_ERROR(checkText(key, "metadata key"));
    MF_RETURN_IF_ERROR(checkText(value, "metadata value"));
    if (key.compare(0, kChecksumPrefix.size(), kChecksumPrefix) == 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache writer: "
                            "metadata key '", key, "' is reserved (the writer "
                            "computes checksums)");
    metadata_[key] = value;
    return nullptr;
  });
}

Status Writer::setFeatureSetVersion(uint32_t version) {
  if (version == 0)
    return Status(MF_MAKE_STATUS(INVALID_ARGUMENT,
                                 "feature cache writer: the feature-set "
                                 "version must be at least 1"));
  return setMetadata(std::string(kVersionKey), std::to_string(version));
}

Status Writer::setInputHashes(const std::map<std::string, uint64_t> &hashes) {
  std::string json;
  Status status = guarded([&]() -> mf_status_t {
    json = "{";
    for (const auto &[name, hash] : hashes) {
      MF_RETURN_IF_ERROR(checkText(name, "input name"));
      if (json.size() > 1)
        json += ',';
      appendJsonString(json, name);
      json += ':';
      appendJsonString(json, formatChecksum(hash));
    }
    json += '}';
    return nullptr;
  });
  if (!status.ok())
    return status;
  return setMetadata(std::string(kInputHashesKey), json);
}

Status Writer::serialize(std::string &out) const {
  return guarded([&]() -> mf_status_t {
    std::string header;
    std::vector<Chunk> chunks;
    std::vector<TensorRef> refs;
    for (const auto &[name, entry] : tensors_)
      refs.push_back({&name, entry.dtype, &entry.shape, &entry.bytes});
    MF_RETURN_IF_ERROR(layout(refs, metadata_, header, chunks));
    std::string bytes = header;
    for (const Chunk &chunk : chunks) {
      if (chunk.bytes)
        bytes += *chunk.bytes;
      else
        bytes.append(chunk.size, '\0');
    }
    out = std::move(bytes);
    return nullptr;
  });
}

Status Writer::write(const std::string &path) const {
  return guarded([&]() -> mf_status_t {
    std::string header;
    std::vector<Chunk> chunks;
    std::vector<TensorRef> refs;
    for (const auto &[name, entry] : tensors_)
      refs.push_back({&name, entry.dtype, &entry.shape, &entry.bytes});
    MF_RETURN_IF_ERROR(layout(refs, metadata_, header, chunks));
    // Unique per process and call, so concurrent writers never share one.
    static std::atomic<uint64_t> counter{0};
    std::string temp = path + ".tmp." + std::to_string(::getpid()) + "." +
                       std::to_string(counter.fetch_add(1));
    std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(temp.c_str(), "wb"),
                                                &std::fclose);
    if (!file) {
      int error = errno;
      return makeStatus(error == ENOENT   ? MF_STATUS_NOT_FOUND
                        : error == EACCES ? MF_STATUS_PERMISSION_DENIED
                                          : MF_STATUS_INVALID_ARGUMENT,
                        __FILE__, __LINE__,
                        concat("feature cache writer: cannot create '", temp,
                               "': ", std::strerror(error)));
    }
    static const char kZeros[kAlignment] = {};
    bool ok = std::fwrite(header.data(), 1, header.size(), file.get()) ==
              header.size();
    for (const Chunk &chunk : chunks) {
      if (!ok)
        break;
      const char *bytes = chunk.bytes ? chunk.bytes->data() : kZeros;
      ok = std::fwrite(bytes, 1, chunk.size, file.get()) == chunk.size;
    }
    int error = errno;
    if (std::fclose(file.release()) != 0 && ok) {
      ok = false;
      error = errno;
    }
    if (!ok) {
      std::remove(temp.c_str());
      return MF_MAKE_STATUS(DATA_LOSS, "feature cache writer: cannot write '",
                            temp, "': ", std::strerror(error));
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
      error = errno;
      std::remove(temp.c_str());
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "feature cache writer: cannot "
                            "rename '", temp, "' to '", path, "': ",
                            std::strerror(error));
    }
    return nullptr;
  });
}

} // namespace mf::cache
