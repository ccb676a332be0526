//===- manifest.cc - Reading and validating artifacts ---------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Everything in an artifact is checked before it is used: the header, the
// manifest checksum and schema, and every blob's bounds and checksum. A
// malformed artifact is an INVALID_ARGUMENT, a damaged one (truncated, bad
// checksum) a DATA_LOSS, one of another format version an INCOMPATIBLE.
//
//===----------------------------------------------------------------------===//

#include "manifest.h"

#include "json.h"
#include "status.h"

#include "mf/runtime/artifact.h"

#include <algorithm>
#include <cstring>
#include <iterator>

using namespace mf::rt;
using json::Kind;
using json::Value;
using mf::artifact::formatChecksum;

mf_dtype_t mf::rt::parseDType(const std::string &name) {
  for (size_t i = 0; i < std::size(mf::artifact::kDTypeNames); ++i)
    if (name == mf::artifact::kDTypeNames[i])
      return static_cast<mf_dtype_t>(MF_DTYPE_F32 + i);
  return MF_DTYPE_INVALID;
}

namespace {

/// Returns the path of field `key` of the object at `where` ("" = top level).
std::string fieldPath(const std::string &where, const char *key) {
  return where.empty() ? key : where + "." + key;
}

/// Returns "an object", "a string", ...
std::string withArticle(Kind kind) {
  return (kind == Kind::Array || kind == Kind::Object ? "an " : "a ") +
         std::string(json::kindName(kind));
}

/// Returns member `key` of `object` (at `where`) if it has kind `kind`;
/// otherwise sets `status`. Absent optional members yield nullptr silently.
const Value *member(const Value &object, const char *key, Kind kind,
                    const std::string &where, mf_status_t &status,
                    bool optional = false) {
  const Value *value = object.get(key);
  if (!value) {
    if (!optional)
      status =
          MF_MAKE_STATUS(INVALID_ARGUMENT,
                         "manifest: ", where.empty() ? "the top level" : where,
                         " is missing the field '", key, "'");
    return nullptr;
  }
  if (value->kind != kind) {
    status = MF_MAKE_STATUS(
        INVALID_ARGUMENT, "manifest: ", fieldPath(where, key), " must be ",
        withArticle(kind), " but is ", withArticle(value->kind));
    return nullptr;
  }
  return value;
}

/// Like member, for a non-empty string copied into `out`.
mf_status_t stringMember(const Value &object, const char *key,
                         const std::string &where, std::string &out,
                         bool optional = false) {
  mf_status_t status = nullptr;
  const Value *value =
      member(object, key, Kind::String, where, status, optional);
  if (status || !value)
    return status;
  if (value->string.empty() && !optional)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", fieldPath(where, key),
                          " is empty");
  out = value->string;
  return nullptr;
}

/// Like member, for a non-negative integer.
mf_status_t sizeMember(const Value &object, const char *key,
                       const std::string &where, uint64_t &out) {
  mf_status_t status = nullptr;
  const Value *value = member(object, key, Kind::Number, where, status);
  if (status)
    return status;
  if (!value->isInteger || value->integer < 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", fieldPath(where, key),
                          " must be a non-negative integer");
  out = static_cast<uint64_t>(value->integer);
  return nullptr;
}

/// Parses the argument at path `at` of `entry`, registering its symbols.
mf_status_t parseArg(const Value &value, const std::string &at,
                     EntrySpec &entry, ArgSpec &arg) {
  if (value.kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", at,
                          " must be an object");
  MF_RETURN_IF_ERROR(stringMember(value, "name", at, arg.name));
  std::string where = at + " '" + arg.name + "'";
  std::string role, dtype;
  MF_RETURN_IF_ERROR(stringMember(value, "role", where, role));
  if (role != "input" && role != "output")
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where, ".role is '",
                          role, "' but must be 'input' or 'output'");
  arg.isOutput = role == "output";
  MF_RETURN_IF_ERROR(stringMember(value, "dtype", where, dtype));
  arg.dtype = parseDType(dtype);
  if (arg.dtype == MF_DTYPE_INVALID)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where,
                          ".dtype: unknown dtype '", dtype,
                          "' (known: f32 f64 f16 bf16 i1 i8 i32 i64)");
  mf_status_t status = nullptr;
  const Value *shape = member(value, "shape", Kind::Array, where, status);
  if (status)
    return status;
  if (shape->array.size() > MF_MAX_RANK)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where, ": rank ",
                          shape->array.size(), " exceeds the maximum rank ",
                          MF_MAX_RANK);
  for (size_t d = 0; d < shape->array.size(); ++d) {
    const Value &dim = shape->array[d];
    if (dim.kind == Kind::Number && dim.isInteger && dim.integer >= 0) {
      arg.dims.push_back(dim.integer);
      arg.symbols.emplace_back();
      arg.symbolIds.push_back(-1);
    } else if (dim.kind == Kind::String && !dim.string.empty()) {
      auto &names = entry.symbolNames;
      auto it = std::find(names.begin(), names.end(), dim.string);
      if (it == names.end())
        it = names.insert(names.end(), dim.string);
      arg.dims.push_back(-1);
      arg.symbols.push_back(dim.string);
      arg.symbolIds.push_back(static_cast<int>(it - names.begin()));
    } else {
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where, ".shape[", d,
                            "] must be a non-negative integer or a symbol "
                            "name");
    }
  }
  return nullptr;
}

/// Parses the entry at path `where`; blobs must already be parsed.
mf_status_t parseEntry(const Value &value, const std::string &where,
                       const Manifest &manifest, EntrySpec &entry) {
  if (value.kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where,
                          " must be an object");
  MF_RETURN_IF_ERROR(stringMember(value, "name", where, entry.name));
  std::string named = where + " '" + entry.name + "'";
  MF_RETURN_IF_ERROR(stringMember(value, "symbol", named, entry.symbol));
  std::string hostBlob;
  MF_RETURN_IF_ERROR(
      stringMember(value, "host_blob", named, hostBlob, /*optional=*/true));
  if (!hostBlob.empty()) {
    for (size_t b = 0; b < manifest.blobs.size(); ++b)
      if (manifest.blobs[b].name == hostBlob)
        entry.hostBlob = static_cast<int>(b);
    if (entry.hostBlob < 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", named,
                            ": host_blob '", hostBlob, "' names no blob");
  }
  mf_status_t status = nullptr;
  const Value *args = member(value, "args", Kind::Array, named, status);
  if (status)
    return status;
  entry.args.resize(args->array.size());
  for (size_t i = 0; i < args->array.size(); ++i) {
    ArgSpec &arg = entry.args[i];
    MF_RETURN_IF_ERROR(parseArg(args->array[i],
                                named + ".args[" + std::to_string(i) + "]",
                                entry, arg));
    for (size_t j = 0; j < i; ++j)
      if (entry.args[j].name == arg.name)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", named,
                              ": two arguments are named '", arg.name, "'");
    if (!arg.isOutput && i > 0 && entry.args[i - 1].isOutput)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", named, ": input '",
                            arg.name,
                            "' comes after an output; inputs must come first");
    if (!arg.isOutput)
      entry.numInputs = i + 1;
  }
  return nullptr;
}

/// Parses the blob records and checks their placement and checksums.
mf_status_t parseBlobs(const Value &blobs, const unsigned char *data,
                       size_t size, uint64_t manifestSize, Manifest &manifest) {
  uint64_t regionStart = mf::artifact::blobRegionStart(manifestSize);
  for (size_t i = 0; i < blobs.array.size(); ++i) {
    const Value &value = blobs.array[i];
    std::string where = "blobs[" + std::to_string(i) + "]";
    if (value.kind != Kind::Object)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where,
                            " must be an object");
    BlobSpec blob;
    MF_RETURN_IF_ERROR(stringMember(value, "name", where, blob.name));
    where += " '" + blob.name + "'";
    MF_RETURN_IF_ERROR(stringMember(value, "kind", where, blob.kind));
    MF_RETURN_IF_ERROR(sizeMember(value, "offset", where, blob.offset));
    MF_RETURN_IF_ERROR(sizeMember(value, "size", where, blob.size));
    std::string checksum;
    MF_RETURN_IF_ERROR(stringMember(value, "checksum", where, checksum));
    if (!mf::artifact::parseChecksum(checksum, blob.checksum))
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: ", where,
                            ".checksum '", checksum,
                            "' is not \"0x\" and 16 hex digits");
    for (const BlobSpec &other : manifest.blobs)
      if (other.name == blob.name)
        return MF_MAKE_STATUS(INVALID_ARGUMENT,
                              "manifest: two blobs are "
                              "named '",
                              blob.name, "'");
    if (blob.offset % mf::artifact::kBlobAlignment != 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "artifact: blob '", blob.name,
                            "' offset ", blob.offset,
                            " is not a multiple of 64");
    if (blob.offset < regionStart)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "artifact: blob '", blob.name,
                            "' offset ", blob.offset,
                            " overlaps the header and manifest (blobs start at "
                            "byte ",
                            regionStart, ")");
    if (blob.offset > size || blob.size > size - blob.offset)
      return MF_MAKE_STATUS(
          DATA_LOSS, "artifact: blob '", blob.name, "' at bytes [", blob.offset,
          ", ", blob.offset + blob.size, ") extends past the end of the file (",
          size, " bytes); the file is truncated or corrupt");
    manifest.blobs.push_back(std::move(blob));
  }
  // Check overlaps on the blobs sorted by offset.
  std::vector<const BlobSpec *> sorted;
  for (const BlobSpec &blob : manifest.blobs)
    sorted.push_back(&blob);
  std::sort(sorted.begin(), sorted.end(),
            [](const BlobSpec *a, const BlobSpec *b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < sorted.size(); ++i) {
    const BlobSpec &a = *sorted[i - 1], &b = *sorted[i];
    if (a.offset + a.size > b.offset)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "artifact: blobs '", a.name,
                            "' [", a.offset, ", ", a.offset + a.size, ") and '",
                            b.name, "' [", b.offset, ", ", b.offset + b.size,
                            ") overlap");
  }
  for (const BlobSpec &blob : manifest.blobs) {
    uint64_t actual = mf::artifact::fnv1a64(data + blob.offset, blob.size);
    if (actual != blob.checksum)
      return MF_MAKE_STATUS(DATA_LOSS, "artifact: blob '", blob.name,
                            "' checksum mismatch: the manifest says ",
                            formatChecksum(blob.checksum),
                            " but the bytes hash to ", formatChecksum(actual));
  }
  return nullptr;
}

} // namespace

mf_status_t mf::rt::parseArtifact(const unsigned char *data, size_t size,
                                  Manifest &out) {
  using namespace mf::artifact;
  if (!data && size > 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "artifact data is NULL");
  if (size == 0)
    return MF_MAKE_STATUS(DATA_LOSS, "truncated artifact: it is empty");
  if (std::memcmp(data, kMagic, std::min<size_t>(size, sizeof(kMagic))) != 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT,
                          "not an mf artifact: bad magic (expected "
                          "\"MFART\\0\\0\\1\")");
  Header header;
  if (size < kHeaderSize || !decodeHeader(data, header))
    return MF_MAKE_STATUS(DATA_LOSS, "truncated artifact: ", size,
                          " bytes is shorter than the ", kHeaderSize,
                          "-byte header");
  if (header.formatVersion != kFormatVersion)
    return MF_MAKE_STATUS(
        INCOMPATIBLE, "artifact format version ", header.formatVersion,
        " is not supported (this runtime reads version ", kFormatVersion, ")");
  if (header.reserved != 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT,
                          "artifact header: reserved field "
                          "is ",
                          header.reserved, " but must be 0");
  if (header.manifestSize > size - kHeaderSize)
    return MF_MAKE_STATUS(DATA_LOSS, "truncated artifact: the manifest of ",
                          header.manifestSize,
                          " bytes ends past the end of "
                          "the file (",
                          size, " bytes)");
  const char *text = reinterpret_cast<const char *>(data + kHeaderSize);
  uint64_t checksum = fnv1a64(text, header.manifestSize);
  if (checksum != header.manifestChecksum)
    return MF_MAKE_STATUS(DATA_LOSS,
                          "artifact: manifest checksum mismatch: the header "
                          "says ",
                          formatChecksum(header.manifestChecksum),
                          " but the manifest bytes hash to ",
                          formatChecksum(checksum));
  Value root;
  std::string error;
  if (!json::parse(std::string_view(text, header.manifestSize), root, error))
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "manifest: malformed JSON ", error);
  if (root.kind != Kind::Object)
    return MF_MAKE_STATUS(INVALID_ARGUMENT,
                          "manifest: the top level must be an object");

  mf_status_t status = nullptr;
  const Value *version =
      member(root, "format_version", Kind::Number, "", status);
  if (status)
    return status;
  if (!version->isInteger || version->integer != kFormatVersion)
    return MF_MAKE_STATUS(INCOMPATIBLE, "manifest: format_version must be ",
                          kFormatVersion, " like the header's");
  MF_RETURN_IF_ERROR(stringMember(root, "target", "", out.target));
  MF_RETURN_IF_ERROR(stringMember(root, "chip", "", out.chip,
                                  /*optional=*/true));
  MF_RETURN_IF_ERROR(
      stringMember(root, "producer", "", out.producer, /*optional=*/true));
  const Value *blobs = member(root, "blobs", Kind::Array, "", status);
  if (status)
    return status;
  const Value *entries = member(root, "entries", Kind::Array, "", status);
  if (status)
    return status;
  MF_RETURN_IF_ERROR(parseBlobs(*blobs, data, size, header.manifestSize, out));
  out.entries.resize(entries->array.size());
  for (size_t i = 0; i < entries->array.size(); ++i) {
    MF_RETURN_IF_ERROR(parseEntry(entries->array[i],
                                  "entries[" + std::to_string(i) + "]", out,
                                  out.entries[i]));
    for (size_t j = 0; j < i; ++j)
      if (out.entries[j].name == out.entries[i].name)
        return MF_MAKE_STATUS(INVALID_ARGUMENT,
                              "manifest: two entries are "
                              "named '",
                              out.entries[i].name, "'");
  }
  return nullptr;
}
