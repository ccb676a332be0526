//===- feature_cache_fuzz_seeds.cc - Seed corpus for the cache fuzzer -----===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Usage: mf_feature_cache_fuzz_seeds DIR. Writes a few small valid cache
// files (every dtype, padding, a scalar, an empty tensor, no tensors) into
// DIR with mf::cache::Writer, and checks that each one opens.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/feature_cache.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using mf::cache::FeatureCache;
using mf::cache::Status;
using mf::cache::Writer;

namespace {

bool report(const Status &status, const std::string &what) {
  if (status.ok())
    return true;
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.toString().c_str());
  return false;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  std::vector<std::pair<std::string, Writer>> seeds;

  Writer empty;
  (void)empty.setFeatureSetVersion(1);
  seeds.emplace_back("empty", std::move(empty));

  Writer small;
  (void)small.setFeatureSetVersion(1);
  (void)small.setInputHashes({{"1abc.json", 0x0123456789abcdefull}});
  std::vector<int32_t> aatype = {1, 5, 7, 20, 3};
  (void)small.add("aatype", MF_CACHE_DTYPE_I32, {5}, aatype.data(),
                  aatype.size() * 4);
  float scalar = 0.5f;
  (void)small.add("resolution", MF_CACHE_DTYPE_F32, {}, &scalar, 4);
  seeds.emplace_back("small", std::move(small));

  Writer mixed;
  (void)mixed.setFeatureSetVersion(2);
  (void)mixed.setMetadata("producer", "mf-cache seeds");
  std::vector<unsigned char> bytes(64);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<unsigned char>(i * 37 + 1);
  const mf_cache_dtype_t dtypes[] = {
      MF_CACHE_DTYPE_F32, MF_CACHE_DTYPE_F64, MF_CACHE_DTYPE_F16,
      MF_CACHE_DTYPE_BF16, MF_CACHE_DTYPE_BOOL, MF_CACHE_DTYPE_I8,
      MF_CACHE_DTYPE_I32, MF_CACHE_DTYPE_I64, MF_CACHE_DTYPE_U8};
  for (mf_cache_dtype_t dtype : dtypes) {
    size_t elementSize = mf_cache_dtype_size(dtype);
    std::vector<unsigned char> data(bytes.begin(),
                                    bytes.begin() + 3 * elementSize);
    if (dtype == MF_CACHE_DTYPE_BOOL)
      data = {0, 1, 1};
    (void)mixed.add(std::string("t_") + mf_cache_dtype_name(dtype), dtype,
                    {1, 3}, data.data(), data.size());
  }
  (void)mixed.add("zero_rows", MF_CACHE_DTYPE_I32, {0, 4}, nullptr, 0);
  seeds.emplace_back("mixed", std::move(mixed));

  bool ok = true;
  for (const auto &[name, writer] : seeds) {
    std::string path = dir + "/" + name + ".mfc";
    if (!report(writer.write(path), "writing " + path)) {
      ok = false;
      continue;
    }
    auto cache = FeatureCache::open(path, MF_FEATURE_CACHE_ANY_VERSION);
    ok = report(cache.status(), "opening " + path) && ok;
  }
  if (ok)
    std::printf("wrote %zu seed files to %s\n", seeds.size(), dir.c_str());
  return ok ? 0 : 1;
}
