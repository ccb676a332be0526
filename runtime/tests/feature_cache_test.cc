//===- feature_cache_test.cc - Feature-cache writer and loader ------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Round trips, deterministic output, safetensors compatibility (checked by an
// independent reader below), and every refusal of a damaged or hostile file.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/feature_cache.hpp"

#include "mf/runtime/artifact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mf::cache;
using mf::artifact::fnv1a64;
using mf::artifact::formatChecksum;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

std::string readFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A fresh path in the test's temporary directory.
std::string tempPath(const std::string &name) {
  return testing::TempDir() + "mf_feature_cache_test_" +
         std::to_string(::getpid()) + "_" + name;
}

/// The checksum string of `bytes`.
std::string cs(const std::string &bytes) {
  return formatChecksum(fnv1a64(bytes.data(), bytes.size()));
}

/// Little-endian bytes of `value`.
std::string le(const void *value, size_t size) {
  return std::string(static_cast<const char *>(value), size);
}

const std::vector<int32_t> kAatype = {1, 5, 7, 20, 3};
const std::vector<float> kProfile = {0.5f, 0.25f, 0.25f, 1.0f, 0.0f, 0.0f};
const double kScalar = 3.25;

/// The features of the base file used by most tests.
Writer baseWriter() {
  Writer writer;
  EXPECT_TRUE(writer.setFeatureSetVersion(1).ok());
  EXPECT_TRUE(writer
                  .setInputHashes({{"1abc.json", 0x1111222233334444ull},
                                   {"1abc_A.a3m", 0xaaaabbbbccccddddull}})
                  .ok());
  EXPECT_TRUE(writer.setMetadata("producer", "feature_cache_test").ok());
  EXPECT_TRUE(writer
                  .add("profile", MF_CACHE_DTYPE_F32, {2, 3}, kProfile.data(),
                       kProfile.size() * 4)
                  .ok());
  EXPECT_TRUE(writer.add("aatype", MF_CACHE_DTYPE_I32, {5}, kAatype).ok());
  EXPECT_TRUE(
      writer.add("scalar", MF_CACHE_DTYPE_F64, {}, &kScalar, 8).ok());
  return writer;
}

std::string baseBytes() {
  std::string bytes;
  Status status = baseWriter().serialize(bytes);
  EXPECT_TRUE(status.ok()) << status.toString();
  return bytes;
}

/// Splits a file into its header JSON (trailing spaces removed) and data.
std::pair<std::string, std::string> split(const std::string &file) {
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);
  std::string json = file.substr(8, n);
  json.erase(json.find_last_not_of(' ') + 1);
  return {json, file.substr(8 + n)};
}

/// Builds a file from header JSON and data, padding the JSON with spaces so
/// that the data starts at a multiple of 64 (unless `pad` is false).
std::string join(std::string json, const std::string &data, bool pad = true) {
  if (pad)
    json.append((64 - (8 + json.size()) % 64) % 64, ' ');
  uint64_t n = json.size();
  return le(&n, 8) + json + data;
}

/// Replaces the first `from` in the base file's header with `to`.
std::string editedBase(const std::string &from, const std::string &to) {
  auto [json, data] = split(baseBytes());
  size_t at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << json;
  if (at != std::string::npos)
    json.replace(at, from.size(), to);
  return join(json, data);
}

/// A "__metadata__" member with version `version` and `extra` members.
std::string meta(const std::string &extra, const std::string &version = "1") {
  return R"("__metadata__":{"mf_feature_set_version":")" + version + "\"" +
         (extra.empty() ? "" : "," + extra) + "}";
}

/// A checksum metadata member for tensor `name` holding `bytes`.
std::string checksumMember(const std::string &name, const std::string &bytes) {
  return "\"mf_checksum." + name + "\":\"" + cs(bytes) + "\"";
}

/// Opens `bytes` from memory; returns the status (the cache is released).
Status tryOpen(const std::string &bytes, uint32_t version = 1,
               uint32_t flags = 0) {
  mf_feature_cache_t *cache = nullptr;
  mf_status_t status = mf_feature_cache_open_memory(bytes.data(), bytes.size(),
                                                    version, flags, &cache);
  mf_feature_cache_release(cache);
  return Status(status);
}

/// Expects `bytes` to be refused with `code` and a message containing every
/// one of `texts`.
void expectRefused(const std::string &bytes, mf_status_code_t code,
                   std::initializer_list<std::string> texts,
                   uint32_t version = 1) {
  Status status = tryOpen(bytes, version);
  ASSERT_FALSE(status.ok()) << "opened, but wanted: " << *texts.begin();
  EXPECT_EQ(status.code(), code) << status.toString();
  for (const std::string &text : texts)
    EXPECT_NE(std::string(status.message()).find(text), std::string::npos)
        << "message: " << status.message() << "\nwanted: " << text;
}

//===----------------------------------------------------------------------===//
// An independent safetensors-style reader (its own JSON parser), following
// the rules of the reference implementation: u64 header length, a JSON
// object, tensors sorted by offset tiling the data exactly, sizes matching.
//===----------------------------------------------------------------------===//

struct Json {
  enum Kind { Object, Array, String, Integer } kind = Object;
  std::string string;
  uint64_t integer = 0;
  std::vector<std::pair<std::string, Json>> members;
  std::vector<Json> items;
  const Json &at(const std::string &key) const {
    for (const auto &m : members)
      if (m.first == key)
        return m.second;
    throw std::runtime_error("no key " + key);
  }
};

class MiniJson {
public:
  explicit MiniJson(const std::string &text) : t(text) {}
  Json document() {
    Json v = value();
    space();
    if (i != t.size())
      throw std::runtime_error("trailing characters");
    return v;
  }

private:
  void space() {
    while (i < t.size() && std::strchr(" \t\r\n", t[i]))
      ++i;
  }
  char next() {
    if (i >= t.size())
      throw std::runtime_error("unexpected end");
    return t[i++];
  }
  void expect(char c) {
    space();
    if (next() != c)
      throw std::runtime_error(std::string("expected ") + c);
  }
  std::string str() {
    expect('"');
    std::string out;
    for (char c; (c = next()) != '"';) {
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = next();
      if (e == 'u') {
        unsigned cp = std::stoul(t.substr(i, 4), nullptr, 16);
        i += 4;
        if (cp >= 0x80)
          throw std::runtime_error("only ASCII escapes here");
        out += static_cast<char>(cp);
      } else {
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      }
    }
    return out;
  }
  Json value() {
    space();
    Json v;
    char c = i < t.size() ? t[i] : '\0';
    if (c == '{') {
      ++i;
      space();
      if (t[i] == '}')
        return ++i, v;
      do {
        std::string key = str();
        expect(':');
        v.members.emplace_back(key, value());
        space();
      } while (next() == ',');
      if (t[i - 1] != '}')
        throw std::runtime_error("expected }");
    } else if (c == '[') {
      v.kind = Json::Array;
      ++i;
      space();
      if (t[i] == ']')
        return ++i, v;
      do {
        v.items.push_back(value());
        space();
      } while (next() == ',');
      if (t[i - 1] != ']')
        throw std::runtime_error("expected ]");
    } else if (c == '"') {
      v.kind = Json::String;
      v.string = str();
    } else if (c >= '0' && c <= '9') {
      v.kind = Json::Integer;
      size_t end = i;
      while (end < t.size() && t[end] >= '0' && t[end] <= '9')
        ++end;
      v.integer = std::stoull(t.substr(i, end - i));
      i = end;
    } else {
      throw std::runtime_error("unexpected character");
    }
    return v;
  }
  const std::string &t;
  size_t i = 0;
};

struct SafetensorsTensor {
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

/// Reads `file` the way a safetensors reader does; throws on any violation.
std::map<std::string, SafetensorsTensor>
readSafetensors(const std::string &file,
                std::map<std::string, std::string> &metadata) {
  static const std::map<std::string, uint64_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},
      {"F64", 8},  {"I64", 8},  {"U64", 8}};
  if (file.size() < 8)
    throw std::runtime_error("too small");
  uint64_t n = 0;
  for (int b = 7; b >= 0; --b)
    n = n << 8 | static_cast<unsigned char>(file[b]);
  if (n > 100000000 || n > file.size() - 8)
    throw std::runtime_error("bad header length");
  std::string header = file.substr(8, n);
  if (header.empty() || header[0] != '{')
    throw std::runtime_error("header does not start with {");
  Json root = MiniJson(header).document();
  std::string data = file.substr(8 + n);
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> order;
  std::map<std::string, SafetensorsTensor> tensors;
  for (const auto &[name, value] : root.members) {
    if (name == "__metadata__") {
      for (const auto &[k, v] : value.members) {
        if (v.kind != Json::String)
          throw std::runtime_error("metadata value not a string");
        metadata[k] = v.string;
      }
      continue;
    }
    SafetensorsTensor tensor;
    tensor.dtype = value.at("dtype").string;
    if (!kSizes.count(tensor.dtype))
      throw std::runtime_error("unknown dtype " + tensor.dtype);
    uint64_t bytes = kSizes.at(tensor.dtype);
    for (const Json &dim : value.at("shape").items) {
      tensor.shape.push_back(dim.integer);
      bytes *= dim.integer;
    }
    const Json &offsets = value.at("data_offsets");
    uint64_t begin = offsets.items.at(0).integer,
             end = offsets.items.at(1).integer;
    if (end < begin || end - begin != bytes)
      throw std::runtime_error("size mismatch for " + name);
    order.push_back({{begin, end}, name});
    tensor.bytes = data.substr(begin, end - begin);
    tensors[name] = tensor;
  }
  std::sort(order.begin(), order.end());
  uint64_t next = 0;
  for (const auto &[range, name] : order) {
    if (range.first != next)
      throw std::runtime_error("invalid offset for " + name);
    next = range.second;
  }
  if (next != data.size())
    throw std::runtime_error("data region not fully covered");
  return tensors;
}

//===----------------------------------------------------------------------===//
// Round trips and determinism
//===----------------------------------------------------------------------===//

TEST(FeatureCacheTest, RoundTripThroughAFile) {
  std::string path = tempPath("roundtrip.mfc");
  ASSERT_TRUE(baseWriter().write(path).ok());
  Result<FeatureCache> cache = FeatureCache::open(path, 1);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_STREQ(cache->path(), path.c_str());
  EXPECT_EQ(cache->version(), 1u);
  ASSERT_EQ(cache->tensorCount(), 3u);
  EXPECT_STREQ(cache->tensorName(0), "aatype");
  EXPECT_STREQ(cache->tensorName(1), "profile");
  EXPECT_STREQ(cache->tensorName(2), "scalar");
  EXPECT_EQ(cache->tensorName(3), nullptr);

  Result<mf_cache_tensor_t> aatype = cache->find("aatype");
  ASSERT_TRUE(aatype.ok()) << aatype.status().toString();
  EXPECT_STREQ(aatype->name, "aatype");
  EXPECT_EQ(aatype->dtype, MF_CACHE_DTYPE_I32);
  EXPECT_EQ(aatype->rank, 1);
  EXPECT_EQ(aatype->dims[0], 5);
  EXPECT_EQ(aatype->num_elements, 5u);
  EXPECT_EQ(aatype->size_bytes, 20u);
  EXPECT_EQ(std::memcmp(aatype->data, kAatype.data(), 20), 0);

  Result<mf_cache_tensor_t> profile = cache->tensor(1);
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->dtype, MF_CACHE_DTYPE_F32);
  EXPECT_EQ(profile->rank, 2);
  EXPECT_EQ(profile->dims[0], 2);
  EXPECT_EQ(profile->dims[1], 3);
  EXPECT_EQ(profile->dims[2], 0);
  EXPECT_EQ(std::memcmp(profile->data, kProfile.data(), 24), 0);

  Result<mf_cache_tensor_t> scalar = cache->find("scalar");
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->rank, 0);
  EXPECT_EQ(scalar->num_elements, 1u);
  EXPECT_EQ(*static_cast<const double *>(scalar->data), kScalar);

  // Views point into the page-aligned mapping at 64-byte boundaries.
  for (size_t i = 0; i < cache->tensorCount(); ++i)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(cache->tensor(i)->data) % 64, 0u)
        << cache->tensorName(i);

  EXPECT_STREQ(cache->metadata("mf_feature_set_version"), "1");
  EXPECT_STREQ(cache->metadata("mf_input_hashes"),
               R"({"1abc.json":"0x1111222233334444",)"
               R"("1abc_A.a3m":"0xaaaabbbbccccdddd"})");
  EXPECT_STREQ(cache->metadata("producer"), "feature_cache_test");
  EXPECT_STREQ(cache->metadata("mf_checksum.aatype"),
               formatChecksum(fnv1a64(kAatype.data(), 20)).c_str());
  EXPECT_EQ(cache->metadata("absent"), nullptr);

  Result<mf_cache_tensor_t> missing = cache->find("msa");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), MF_STATUS_NOT_FOUND);
  EXPECT_NE(std::string(missing.status().message()).find("'msa'"),
            std::string::npos);
  EXPECT_NE(std::string(missing.status().message()).find(path),
            std::string::npos);
  EXPECT_EQ(cache->tensor(3).status().code(), MF_STATUS_OUT_OF_RANGE);

  // A copy keeps the mapping alive after the original goes.
  std::optional<FeatureCache> copy;
  {
    FeatureCache original = std::move(cache).value();
    copy.emplace(original);
  }
  EXPECT_EQ(copy->find("aatype")->dims[0], 5);
  std::remove(path.c_str());
}

TEST(FeatureCacheTest, CApiRoundTrip) {
  std::string path = tempPath("capi.mfc");
  ASSERT_TRUE(baseWriter().write(path).ok());
  mf_feature_cache_t *cache = nullptr;
  mf_status_t status = mf_feature_cache_open(path.c_str(), 1, &cache);
  ASSERT_EQ(status, nullptr) << mf_status_message(status);
  EXPECT_EQ(mf_feature_cache_tensor_count(cache), 3u);
  mf_cache_tensor_t view;
  ASSERT_EQ(mf_feature_cache_find(cache, "profile", &view), nullptr);
  EXPECT_EQ(view.size_bytes, 24u);
  // Metadata: 3 checksums, the version, the input hashes, the producer.
  ASSERT_EQ(mf_feature_cache_metadata_count(cache), 6u);
  EXPECT_STREQ(mf_feature_cache_metadata_key(cache, 0), "mf_checksum.aatype");
  EXPECT_EQ(mf_feature_cache_metadata_key(cache, 6), nullptr);
  mf_feature_cache_retain(cache);
  mf_feature_cache_release(cache);
  EXPECT_EQ(mf_feature_cache_version(cache), 1u);
  mf_feature_cache_release(cache);
  mf_feature_cache_release(nullptr);

  // Bad arguments are statuses, not crashes.
  Status nullPath(mf_feature_cache_open(nullptr, 1, &cache));
  EXPECT_EQ(nullPath.code(), MF_STATUS_INVALID_ARGUMENT);
  Status nullOut(mf_feature_cache_open(path.c_str(), 1, nullptr));
  EXPECT_EQ(nullOut.code(), MF_STATUS_INVALID_ARGUMENT);
  Status nullCache(mf_feature_cache_find(nullptr, "x", &view));
  EXPECT_EQ(nullCache.code(), MF_STATUS_INVALID_ARGUMENT);
  std::remove(path.c_str());
}

TEST(FeatureCacheTest, DtypeHelpersAndToTensor) {
  EXPECT_EQ(mf_cache_dtype_size(MF_CACHE_DTYPE_BF16), 2u);
  EXPECT_EQ(mf_cache_dtype_size(MF_CACHE_DTYPE_U8), 1u);
  EXPECT_EQ(mf_cache_dtype_size(MF_CACHE_DTYPE_INVALID), 0u);
  EXPECT_EQ(mf_cache_dtype_size(static_cast<mf_cache_dtype_t>(99)), 0u);
  EXPECT_STREQ(mf_cache_dtype_name(MF_CACHE_DTYPE_BOOL), "BOOL");
  EXPECT_STREQ(mf_cache_dtype_name(static_cast<mf_cache_dtype_t>(99)),
               "invalid");
  EXPECT_EQ(mf_cache_dtype_to_dtype(MF_CACHE_DTYPE_BOOL), MF_DTYPE_I1);
  EXPECT_EQ(mf_cache_dtype_to_dtype(MF_CACHE_DTYPE_I64), MF_DTYPE_I64);
  EXPECT_EQ(mf_cache_dtype_to_dtype(MF_CACHE_DTYPE_U8), MF_DTYPE_INVALID);

  std::string bytes = baseBytes();
  Result<FeatureCache> cache =
      FeatureCache::openMemory(bytes.data(), bytes.size(), 1);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_STREQ(cache->path(), "");
  mf_tensor_t tensor = toTensor(cache->find("profile").value());
  EXPECT_EQ(tensor.dtype, MF_DTYPE_F32);
  EXPECT_EQ(tensor.rank, 2);
  EXPECT_EQ(tensor.dims[1], 3);
  EXPECT_EQ(tensor.strides[0], 0);
  EXPECT_EQ(tensor.device, MF_DEVICE_CPU);
}

TEST(FeatureCacheTest, OutputIsDeterministic) {
  // The same features added in another order give the same bytes.
  Writer reordered;
  ASSERT_TRUE(
      reordered.add("scalar", MF_CACHE_DTYPE_F64, {}, &kScalar, 8).ok());
  ASSERT_TRUE(reordered
                  .add("aatype", MF_CACHE_DTYPE_I32, {5}, kAatype.data(), 20)
                  .ok());
  ASSERT_TRUE(reordered.setMetadata("producer", "feature_cache_test").ok());
  ASSERT_TRUE(reordered
                  .setInputHashes({{"1abc_A.a3m", 0xaaaabbbbccccddddull},
                                   {"1abc.json", 0x1111222233334444ull}})
                  .ok());
  ASSERT_TRUE(reordered
                  .add("profile", MF_CACHE_DTYPE_F32, {2, 3},
                       kProfile.data(), 24)
                  .ok());
  ASSERT_TRUE(reordered.setFeatureSetVersion(1).ok());
  std::string a = baseBytes(), b;
  ASSERT_TRUE(reordered.serialize(b).ok());
  EXPECT_EQ(a, b);

  // Writing twice gives identical files, equal to serialize's bytes.
  std::string path1 = tempPath("det1.mfc"), path2 = tempPath("det2.mfc");
  ASSERT_TRUE(baseWriter().write(path1).ok());
  ASSERT_TRUE(reordered.write(path2).ok());
  EXPECT_EQ(readFile(path1), a);
  EXPECT_EQ(readFile(path2), a);
  // Rewriting a path replaces the file.
  ASSERT_TRUE(baseWriter().write(path1).ok());
  EXPECT_EQ(readFile(path1), a);
  std::remove(path1.c_str());
  std::remove(path2.c_str());
}

TEST(FeatureCacheTest, LayoutIsAlignedAndDocumented) {
  std::string file = baseBytes();
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  EXPECT_EQ((8 + n) % 64, 0u);
  auto [json, data] = split(file);
  EXPECT_EQ(json.rfind(R"({"__metadata__":{"mf_checksum.aatype":")", 0), 0u)
      << json;
  // aatype [0, 20), padding [20, 64), profile [64, 88), padding [88, 128),
  // scalar [128, 136).
  EXPECT_NE(json.find(R"("aatype":{"dtype":"I32","shape":[5],)"
                      R"("data_offsets":[0,20]})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("__mf_pad.0":{"dtype":"U8","shape":[44],)"
                      R"("data_offsets":[20,64]})"),
            std::string::npos);
  EXPECT_NE(json.find(R"("profile":{"dtype":"F32","shape":[2,3],)"
                      R"("data_offsets":[64,88]})"),
            std::string::npos);
  EXPECT_NE(json.find(R"("__mf_pad.1":{"dtype":"U8","shape":[40],)"
                      R"("data_offsets":[88,128]})"),
            std::string::npos);
  EXPECT_NE(json.find(R"("scalar":{"dtype":"F64","shape":[],)"
                      R"("data_offsets":[128,136]})"),
            std::string::npos);
  EXPECT_EQ(data.size(), 136u);
}

TEST(FeatureCacheTest, ASafetensorsStyleReaderReadsTheFile) {
  std::map<std::string, std::string> metadata;
  std::map<std::string, SafetensorsTensor> tensors;
  ASSERT_NO_THROW(tensors = readSafetensors(baseBytes(), metadata));
  // Our three tensors plus two padding entries.
  ASSERT_EQ(tensors.size(), 5u);
  EXPECT_EQ(tensors["aatype"].dtype, "I32");
  EXPECT_EQ(tensors["aatype"].shape, std::vector<uint64_t>{5});
  EXPECT_EQ(tensors["aatype"].bytes, le(kAatype.data(), 20));
  EXPECT_EQ(tensors["profile"].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(tensors["profile"].bytes, le(kProfile.data(), 24));
  EXPECT_EQ(tensors["scalar"].bytes, le(&kScalar, 8));
  EXPECT_EQ(tensors["__mf_pad.0"].bytes, std::string(44, '\0'));
  EXPECT_EQ(metadata["mf_feature_set_version"], "1");
  EXPECT_EQ(metadata["mf_checksum.profile"], cs(le(kProfile.data(), 24)));

  // Every dtype and an empty tensor too.
  Writer writer;
  ASSERT_TRUE(writer.setFeatureSetVersion(7).ok());
  unsigned char bytes[24] = {};
  for (int d = MF_CACHE_DTYPE_F32; d <= MF_CACHE_DTYPE_U8; ++d) {
    auto dtype = static_cast<mf_cache_dtype_t>(d);
    ASSERT_TRUE(writer
                    .add(std::string("t_") + mf_cache_dtype_name(dtype),
                         dtype, {3}, bytes, 3 * mf_cache_dtype_size(dtype))
                    .ok());
  }
  ASSERT_TRUE(writer.add("empty", MF_CACHE_DTYPE_I64, {0, 7}, nullptr, 0).ok());
  std::string file;
  ASSERT_TRUE(writer.serialize(file).ok());
  metadata.clear();
  ASSERT_NO_THROW(tensors = readSafetensors(file, metadata));
  EXPECT_EQ(tensors["t_BF16"].bytes.size(), 6u);
  EXPECT_EQ(tensors["empty"].shape, (std::vector<uint64_t>{0, 7}));
  Result<FeatureCache> cache =
      FeatureCache::openMemory(file.data(), file.size(), 7);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_EQ(cache->tensorCount(), 10u);
  EXPECT_EQ(cache->find("empty")->num_elements, 0u);
}

TEST(FeatureCacheTest, EmptyCacheAndSkippingChecksums) {
  Writer writer;
  ASSERT_TRUE(writer.setFeatureSetVersion(3).ok());
  std::string file;
  ASSERT_TRUE(writer.serialize(file).ok());
  EXPECT_EQ(file.size(), 64u);
  Result<FeatureCache> cache =
      FeatureCache::openMemory(file.data(), file.size(), 3);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_EQ(cache->tensorCount(), 0u);
  EXPECT_TRUE(tryOpen(file, MF_FEATURE_CACHE_ANY_VERSION).ok());

  // A corrupted tensor is found by default and passes when skipping.
  std::string corrupt = baseBytes();
  corrupt[corrupt.size() - 1] ^= 0x40;
  EXPECT_FALSE(tryOpen(corrupt).ok());
  EXPECT_TRUE(tryOpen(corrupt, 1, MF_FEATURE_CACHE_SKIP_CHECKSUMS).ok());
}

//===----------------------------------------------------------------------===//
// Refusals: damaged files
//===----------------------------------------------------------------------===//

TEST(FeatureCacheTest, TruncatedFilesAreDataLoss) {
  std::string file = baseBytes();
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  size_t dataStart = 8 + n;
  expectRefused("", MF_STATUS_DATA_LOSS, {"truncated", "8-byte"});
  expectRefused(file.substr(0, 5), MF_STATUS_DATA_LOSS, {"truncated"});
  expectRefused(file.substr(0, 8), MF_STATUS_DATA_LOSS,
                {"truncated", "header ends past the end"});
  expectRefused(file.substr(0, 8 + n / 2), MF_STATUS_DATA_LOSS,
                {"truncated", "header ends past the end"});
  // Without data, in the middle of a tensor, one byte short.
  for (size_t size : {dataStart, dataStart + 70, file.size() - 1}) {
    SCOPED_TRACE(size);
    expectRefused(file.substr(0, size), MF_STATUS_DATA_LOSS,
                  {"past the end of the data region", "truncated"});
  }
  // The same through a file names the file.
  std::string path = tempPath("truncated.mfc");
  writeFile(path, file.substr(0, file.size() - 1));
  mf_feature_cache_t *cache = nullptr;
  Status status(mf_feature_cache_open(path.c_str(), 1, &cache));
  EXPECT_EQ(status.code(), MF_STATUS_DATA_LOSS);
  EXPECT_NE(std::string(status.message()).find("'" + path + "'"),
            std::string::npos)
      << status.message();
  EXPECT_NE(std::string(status.message()).find("tensor 'scalar'"),
            std::string::npos)
      << status.message();
  EXPECT_EQ(cache, nullptr);
  writeFile(path, "");
  Status empty(mf_feature_cache_open(path.c_str(), 1, &cache));
  EXPECT_EQ(empty.code(), MF_STATUS_DATA_LOSS) << empty.toString();
  std::remove(path.c_str());
}

TEST(FeatureCacheTest, FlippedDataByteIsAChecksumErrorNamingTheTensor) {
  std::string file = baseBytes();
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  std::string flipped = file;
  flipped[8 + n + 64 + 5] ^= 0x01; // inside profile
  expectRefused(flipped, MF_STATUS_DATA_LOSS,
                {"tensor 'profile'", "checksum mismatch",
                 cs(le(kProfile.data(), 24))});
  flipped = file;
  flipped[8 + n + 30] = 1; // inside the padding after aatype
  expectRefused(flipped, MF_STATUS_DATA_LOSS,
                {"padding entry '__mf_pad.0'", "non-zero"});
}

TEST(FeatureCacheTest, FlippedHeaderBytesNeverCrash) {
  std::string file = baseBytes();
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  size_t refused = 0;
  for (size_t i = 0; i < 8 + n; ++i)
    for (unsigned char bit : {0x01, 0x80}) {
      std::string flipped = file;
      flipped[i] = static_cast<char>(flipped[i] ^ bit);
      Status status = tryOpen(flipped);
      refused += !status.ok();
    }
  // Only flips inside free-form metadata strings can go unnoticed.
  EXPECT_GT(refused, 2 * (8 + n) * 3 / 4);

  // Targeted flips give targeted messages.
  expectRefused(editedBase(R"("shape":[5])", R"("shape":[4])"),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'aatype'", "span 20 bytes", "needs 16 bytes"});
  expectRefused(editedBase(R"("dtype":"I32")", R"("dtype":"I33")"),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'aatype'", "unknown dtype 'I33'"});
  expectRefused(editedBase(R"({"__metadata__")", R"(["__metadata__")"),
                MF_STATUS_INVALID_ARGUMENT, {"malformed JSON"});
}

TEST(FeatureCacheTest, HugeHeaderLengths) {
  std::string file = baseBytes();
  for (uint64_t n : {uint64_t(1) << 63, ~uint64_t(0), uint64_t(100000001)}) {
    std::string bad = file;
    std::memcpy(&bad[0], &n, 8);
    expectRefused(bad, MF_STATUS_INVALID_ARGUMENT,
                  {"header length " + std::to_string(n), "exceeds the limit"});
  }
  std::string bad = file;
  uint64_t n = file.size() - 7;
  std::memcpy(&bad[0], &n, 8);
  expectRefused(bad, MF_STATUS_DATA_LOSS, {"header ends past the end"});
}

//===----------------------------------------------------------------------===//
// Refusals: hostile or malformed headers
//===----------------------------------------------------------------------===//

/// A file of tensors given as JSON members over `data`, with checksums of
/// `checksums` (name -> bytes) in the metadata.
std::string crafted(const std::string &members, const std::string &data,
                    const std::map<std::string, std::string> &checksums = {},
                    const std::string &version = "1") {
  std::string extra;
  for (const auto &[name, bytes] : checksums)
    extra += (extra.empty() ? "" : ",") + checksumMember(name, bytes);
  return join("{" + meta(extra, version) + (members.empty() ? "" : ",") +
                  members + "}",
              data);
}

TEST(FeatureCacheTest, OffsetsOutOfBounds) {
  std::string data(16, '\x11');
  expectRefused(crafted(R"("a":{"dtype":"F32","shape":[1024],)"
                        R"("data_offsets":[0,4096]})",
                        data, {{"a", data}}),
                MF_STATUS_DATA_LOSS,
                {"tensor 'a'", "[0, 4096]", "past the end of the data region"});
  expectRefused(
      crafted(R"("a":{"dtype":"U8","shape":[16],)"
              R"("data_offsets":[18446744073709551600,18446744073709551616]})",
              data, {{"a", data}}),
      MF_STATUS_INVALID_ARGUMENT, {"tensor 'a'", "data_offsets"});
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[0],)"
                        R"("data_offsets":[8,0]})",
                        data, {{"a", ""}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a'", "end before they begin"});
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[16],)"
                        R"("data_offsets":[0,-16]})",
                        data, {{"a", data}}),
                MF_STATUS_INVALID_ARGUMENT, {"tensor 'a'", "data_offsets"});
}

TEST(FeatureCacheTest, OverlapsGapsAndTrailingBytes) {
  std::string data(24, '\x22');
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[16],)"
                        R"("data_offsets":[0,16]},)"
                        R"("b":{"dtype":"U8","shape":[16],)"
                        R"("data_offsets":[8,24]})",
                        data,
                        {{"a", data.substr(0, 16)}, {"b", data.substr(8)}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensors 'a' [0, 16) and 'b' [8, 24) overlap"});
  // The same range twice.
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[24],)"
                        R"("data_offsets":[0,24]},)"
                        R"("b":{"dtype":"U8","shape":[24],)"
                        R"("data_offsets":[0,24]})",
                        data, {{"a", data}, {"b", data}}),
                MF_STATUS_INVALID_ARGUMENT, {"overlap"});
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[8],)"
                        R"("data_offsets":[0,8]},)"
                        R"("b":{"dtype":"U8","shape":[8],)"
                        R"("data_offsets":[16,24]})",
                        data,
                        {{"a", data.substr(0, 8)}, {"b", data.substr(16)}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"gap at [8, 16) before tensor 'b'"});
  expectRefused(crafted(R"("a":{"dtype":"U8","shape":[8],)"
                        R"("data_offsets":[0,8]})",
                        data, {{"a", data.substr(0, 8)}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"16 bytes after the last tensor"});
}

TEST(FeatureCacheTest, MisalignedTensors) {
  std::string data(8, '\x33');
  std::string json = "{" + meta(checksumMember("a", data)) +
                     R"(,"a":{"dtype":"I64","shape":[1],)"
                     R"("data_offsets":[0,8]}})";
  // Make 8 + N odd.
  if ((8 + json.size()) % 2 == 0)
    json += ' ';
  expectRefused(join(json, data, /*pad=*/false), MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a'", "not a multiple of its element size 8"});
}

TEST(FeatureCacheTest, AbsurdShapes) {
  std::string data(16, '\0');
  auto withShape = [&](const std::string &dtype, const std::string &shape,
                       const std::string &offsets = "[0,16]") {
    return crafted(R"("a":{"dtype":")" + dtype + R"(","shape":)" + shape +
                       R"(,"data_offsets":)" + offsets + "}",
                   data, {{"a", data}});
  };
  expectRefused(withShape("U8", "[4294967296,4294967296,2]"),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a'", "has 2^64 elements or more"});
  // 2^62 elements of F32: 2^64 bytes.
  expectRefused(withShape("F32", "[4611686018427387904]"),
                MF_STATUS_INVALID_ARGUMENT, {"needs 2^64 bytes or more"});
  // 2^62 bytes, claimed at their true size, far past the end of the file.
  expectRefused(
      withShape("U8", "[4611686018427387904]", "[0,4611686018427387904]"),
      MF_STATUS_DATA_LOSS, {"past the end of the data region"});
  expectRefused(withShape("U8", "[-16]"), MF_STATUS_INVALID_ARGUMENT,
                {"shape[0] is not a non-negative integer"});
  expectRefused(withShape("U8", "[1e3]"), MF_STATUS_INVALID_ARGUMENT,
                {"shape[0] is not a non-negative integer"});
  expectRefused(withShape("U8", "[99999999999999999999]"),
                MF_STATUS_INVALID_ARGUMENT, {"shape[0]"});
  expectRefused(withShape("U8", "[1,1,1,1,1,1,1,1,16]"),
                MF_STATUS_INVALID_ARGUMENT,
                {"rank 9 exceeds the maximum rank 8"});
  expectRefused(withShape("U8", "16"), MF_STATUS_INVALID_ARGUMENT,
                {"\"shape\" is missing or not an array"});
  // Rank 8 of ones is fine.
  EXPECT_TRUE(tryOpen(withShape("U8", "[1,1,1,1,1,1,1,16]")).ok());
}

TEST(FeatureCacheTest, WrongVersionIsIncompatible) {
  std::string data(4, '\x01');
  std::string v2 = crafted(R"("a":{"dtype":"I32","shape":[1],)"
                           R"("data_offsets":[0,4]})",
                           data, {{"a", data}}, "2");
  expectRefused(v2, MF_STATUS_INCOMPATIBLE,
                {"feature-set version 2", "expected version 1"});
  EXPECT_TRUE(tryOpen(v2, 2).ok());
  EXPECT_TRUE(tryOpen(v2, MF_FEATURE_CACHE_ANY_VERSION).ok());
  // Another version is INCOMPATIBLE even when the layout is broken too.
  expectRefused(crafted(R"("a":{"dtype":"F99"})", "", {}, "9"),
                MF_STATUS_INCOMPATIBLE, {"version 9"});
  for (const char *bad : {"01", "0", "x", "", "1.0", "4294967296", "-1"}) {
    SCOPED_TRACE(bad);
    expectRefused(crafted("", "", {}, bad), MF_STATUS_INVALID_ARGUMENT,
                  {"mf_feature_set_version is '" + std::string(bad) + "'"});
  }
  expectRefused(join(R"({"__metadata__":{}})", ""),
                MF_STATUS_INVALID_ARGUMENT,
                {"lacks \"mf_feature_set_version\""});
  expectRefused(join(R"({})", ""), MF_STATUS_INVALID_ARGUMENT,
                {"no \"__metadata__\""});
  // A file from another writer keeps its path in the message.
  std::string path = tempPath("v2.mfc");
  writeFile(path, v2);
  Result<FeatureCache> cache = FeatureCache::open(path, 1);
  EXPECT_EQ(cache.status().code(), MF_STATUS_INCOMPATIBLE);
  EXPECT_NE(std::string(cache.status().message()).find(path),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(FeatureCacheTest, UnknownDtypes) {
  std::string data(4, '\0');
  for (const char *dtype : {"F8_E4M3", "U16", "f32", "", "I32 "}) {
    SCOPED_TRACE(dtype);
    expectRefused(crafted(R"("a":{"dtype":")" + std::string(dtype) +
                              R"(","shape":[1],"data_offsets":[0,4]})",
                          data, {{"a", data}}),
                  MF_STATUS_INVALID_ARGUMENT,
                  {"tensor 'a'", "unknown dtype '" + std::string(dtype) + "'"});
  }
  expectRefused(crafted(R"("a":{"dtype":4,"shape":[1],"data_offsets":[0,4]})",
                        data, {{"a", data}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"\"dtype\" is missing or not a string"});
}

TEST(FeatureCacheTest, ChecksumsMustBePresentWellFormedAndMatch) {
  std::string data(4, '\x05');
  std::string tensor = R"("a":{"dtype":"I32","shape":[1],)"
                       R"("data_offsets":[0,4]})";
  expectRefused(crafted(tensor, data), MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a'", "no checksum", "'mf_checksum.a'"});
  // Missing checksums are refused even when skipping verification.
  Status skipped = tryOpen(crafted(tensor, data), 1,
                           MF_FEATURE_CACHE_SKIP_CHECKSUMS);
  EXPECT_EQ(skipped.code(), MF_STATUS_INVALID_ARGUMENT);
  expectRefused(join("{" + meta(R"("mf_checksum.a":"0x12")") + "," + tensor +
                         "}",
                     data),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a'", "checksum '0x12' is not"});
  expectRefused(crafted(tensor, data, {{"a", data}, {"b", ""}}),
                MF_STATUS_INVALID_ARGUMENT,
                {"'mf_checksum.b'", "no tensor 'b'"});
  expectRefused(crafted(tensor, data, {{"a", "other"}}), MF_STATUS_DATA_LOSS,
                {"tensor 'a'", "checksum mismatch"});
  // Upper-case hex is accepted.
  std::string upper = cs(data);
  for (char &c : upper)
    c = static_cast<char>(c == 'x' ? c : std::toupper(c));
  EXPECT_TRUE(tryOpen(join("{" + meta("\"mf_checksum.a\":\"" + upper + "\"") +
                               "," + tensor + "}",
                           data))
                  .ok());
}

TEST(FeatureCacheTest, JsonBombsAndMalformedHeaders) {
  // Deep nesting, in a tensor and in the metadata.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expectRefused(join("{" + meta("") + R"(,"a":)" + deep + "}", ""),
                MF_STATUS_INVALID_ARGUMENT, {"nested deeper than 3 levels"});
  expectRefused(join(R"({"__metadata__":{"x":[[[[]]]]}})", ""),
                MF_STATUS_INVALID_ARGUMENT, {"nested deeper than 3 levels"});
  // Many values.
  std::string wide = "[0";
  for (int i = 0; i < 300000; ++i)
    wide += ",0";
  wide += "]";
  expectRefused(join("{" + meta("") + R"(,"a":)" + wide + "}", ""),
                MF_STATUS_INVALID_ARGUMENT, {"more than 262144 JSON values"});
  // Not an object, not JSON, not UTF-8, duplicate keys, bad metadata.
  expectRefused(join("[]", ""), MF_STATUS_INVALID_ARGUMENT,
                {"must be a JSON object but is an array"});
  expectRefused(join("{\"__metadata__\":", ""), MF_STATUS_INVALID_ARGUMENT,
                {"malformed JSON"});
  expectRefused(join("{" + meta("\"k\":\"\xff\"") + "}", ""),
                MF_STATUS_INVALID_ARGUMENT, {"not valid UTF-8"});
  expectRefused(join("{" + meta("") + "," + meta("") + "}", ""),
                MF_STATUS_INVALID_ARGUMENT, {"duplicate object key"});
  expectRefused(join("{" + meta(R"("n":5)") + "}", ""),
                MF_STATUS_INVALID_ARGUMENT,
                {"__metadata__ value 'n' must be a string"});
  expectRefused(join(R"({"__metadata__":"1"})", ""),
                MF_STATUS_INVALID_ARGUMENT,
                {"\"__metadata__\" must be an object"});
  expectRefused(join("{" + meta("") + R"(,"a":[]})", ""),
                MF_STATUS_INVALID_ARGUMENT,
                {"tensor 'a': must be an object"});
  expectRefused(join("{" + meta("") + R"(,"":{}})", ""),
                MF_STATUS_INVALID_ARGUMENT, {"empty name"});
  // Long names are cut in messages.
  std::string longName(1000, 'n');
  Status status = tryOpen(join("{" + meta("") + ",\"" + longName + "\":5}",
                               ""));
  EXPECT_LT(std::string(status.message()).size(), 400u) << status.message();
}

TEST(FeatureCacheTest, PaddingEntriesAreChecked) {
  std::string data(8, '\0');
  expectRefused(crafted(R"("__mf_pad.0":{"dtype":"I32","shape":[2],)"
                        R"("data_offsets":[0,8]})",
                        data),
                MF_STATUS_INVALID_ARGUMENT,
                {"padding entry '__mf_pad.0' must be a U8 vector"});
  std::string big(64, '\0');
  expectRefused(crafted(R"("__mf_pad.0":{"dtype":"U8","shape":[64],)"
                        R"("data_offsets":[0,64]})",
                        big),
                MF_STATUS_INVALID_ARGUMENT, {"fewer than 64 bytes"});
  // A valid padding entry needs no checksum and is hidden.
  std::string ok = crafted(R"("__mf_pad.0":{"dtype":"U8","shape":[8],)"
                           R"("data_offsets":[0,8]})",
                           data);
  Result<FeatureCache> cache = FeatureCache::openMemory(ok.data(), ok.size(), 1);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_EQ(cache->tensorCount(), 0u);
  EXPECT_EQ(cache->find("__mf_pad.0").status().code(), MF_STATUS_NOT_FOUND);
}

TEST(FeatureCacheTest, FilesThatCannotBeOpened) {
  mf_feature_cache_t *cache = nullptr;
  std::string missing = tempPath("does-not-exist.mfc");
  Status notFound(mf_feature_cache_open(missing.c_str(), 1, &cache));
  EXPECT_EQ(notFound.code(), MF_STATUS_NOT_FOUND);
  EXPECT_NE(std::string(notFound.message()).find(missing), std::string::npos);
  Status directory(mf_feature_cache_open(testing::TempDir().c_str(), 1, &cache));
  EXPECT_EQ(directory.code(), MF_STATUS_INVALID_ARGUMENT)
      << directory.toString();
  EXPECT_EQ(cache, nullptr);
}

//===----------------------------------------------------------------------===//
// Writer refusals
//===----------------------------------------------------------------------===//

TEST(FeatureCacheTest, WriterRefusesBadInput) {
  Writer writer;
  int32_t four[4] = {};
  EXPECT_EQ(writer.add("", MF_CACHE_DTYPE_I32, {4}, four, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.add("__x", MF_CACHE_DTYPE_I32, {4}, four, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.add("bad\xff", MF_CACHE_DTYPE_I32, {4}, four, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.add(std::string("n\0ul", 4), MF_CACHE_DTYPE_I32, {4}, four,
                       16)
                .code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.add("a", MF_CACHE_DTYPE_INVALID, {4}, four, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  Status mismatch = writer.add("a", MF_CACHE_DTYPE_I32, {5}, four, 16);
  EXPECT_EQ(mismatch.code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mismatch.message()).find("needs 20 bytes but 16"),
            std::string::npos)
      << mismatch.message();
  EXPECT_EQ(writer.add("a", MF_CACHE_DTYPE_I32, {-4}, four, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(
      writer.add("a", MF_CACHE_DTYPE_I32, {1, 1, 1, 1, 1, 1, 1, 1, 4}, four, 16)
          .code(),
      MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer
                .add("a", MF_CACHE_DTYPE_I32,
                     {int64_t(1) << 62, int64_t(1) << 62}, four, 16)
                .code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.add("a", MF_CACHE_DTYPE_I32, {4}, nullptr, 16).code(),
            MF_STATUS_INVALID_ARGUMENT);
  ASSERT_TRUE(writer.add("a", MF_CACHE_DTYPE_I32, {4}, four, 16).ok());
  EXPECT_EQ(writer.add("a", MF_CACHE_DTYPE_I32, {4}, four, 16).code(),
            MF_STATUS_ALREADY_EXISTS);
  EXPECT_EQ(writer.setMetadata("mf_checksum.a", "0x0").code(),
            MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.setMetadata("", "x").code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(writer.setFeatureSetVersion(0).code(),
            MF_STATUS_INVALID_ARGUMENT);

  std::string bytes;
  EXPECT_EQ(writer.serialize(bytes).code(), MF_STATUS_FAILED_PRECONDITION);
  ASSERT_TRUE(writer.setMetadata("mf_feature_set_version", "v1").ok());
  EXPECT_EQ(writer.serialize(bytes).code(), MF_STATUS_INVALID_ARGUMENT);
  ASSERT_TRUE(writer.setFeatureSetVersion(1).ok());
  // Names and values with quotes and control characters are escaped.
  ASSERT_TRUE(writer.setMetadata("note", "a \"quoted\"\n\tvalue\\").ok());
  ASSERT_TRUE(writer.add("we\"ird\x01", MF_CACHE_DTYPE_U8, {0}, nullptr, 0)
                  .ok());
  ASSERT_TRUE(writer.serialize(bytes).ok());
  Result<FeatureCache> cache =
      FeatureCache::openMemory(bytes.data(), bytes.size(), 1);
  ASSERT_TRUE(cache.ok()) << cache.status().toString();
  EXPECT_STREQ(cache->metadata("note"), "a \"quoted\"\n\tvalue\\");
  EXPECT_TRUE(cache->find("we\"ird\x01").ok());

  Status badDir = writer.write(tempPath("no-such-dir/x.mfc"));
  EXPECT_EQ(badDir.code(), MF_STATUS_NOT_FOUND) << badDir.toString();
}

} // namespace
