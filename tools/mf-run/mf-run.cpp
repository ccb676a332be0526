//===- mf-run.cpp - run a compiled artifact on random inputs --------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-run model.mfa [--entry NAME] [--size N] [--dim SYMBOL=VALUE]...
//        [--iters K] [--warmup W] [--seed S]
//
// Loads an artifact with the mf runtime (C API only, no MLIR), fills every
// input of each entry with random data (normal floats; masks true with
// probability 0.9), binds every dynamic dim symbol to --size unless --dim
// says otherwise, runs the entry W + K times and prints the time per call
// (median, min, max) and whether the outputs are finite. A cuda artifact's
// tensors live in device memory (mf_device_alloc, inputs copied in, outputs
// copied back); each call is timed on the host clock from the launch to
// the end of mf_device_synchronize.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

/// Prints the status's message with `what` and frees it; returns true if it
/// was an error.
bool failed(mf_status_t status, const char *what) {
  if (!status)
    return false;
  std::fprintf(stderr, "mf-run: error: %s: %s: %s\n", what,
               mf_status_code_name(mf_status_code(status)),
               mf_status_message(status));
  mf_status_free(status);
  return true;
}

/// Rounds a float to bf16 (nearest even), as the upper 16 bits.
uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

/// Fills `bytes` with random values of `dtype`.
void fillRandom(std::vector<unsigned char> &bytes, mf_dtype_t dtype,
                int64_t count, std::mt19937_64 &rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::bernoulli_distribution keep(0.9);
  for (int64_t i = 0; i < count; ++i) {
    switch (dtype) {
    case MF_DTYPE_F32: {
      float v = normal(rng);
      std::memcpy(&bytes[i * 4], &v, 4);
      break;
    }
    case MF_DTYPE_BF16: {
      uint16_t v = toBF16(normal(rng));
      std::memcpy(&bytes[i * 2], &v, 2);
      break;
    }
    case MF_DTYPE_I1:
      bytes[i] = keep(rng) ? 1 : 0;
      break;
    default:
      break; // Zeros for the types the examples do not use.
    }
  }
}

/// Counts the non-finite f32/bf16 values of an output.
int64_t countNonFinite(const std::vector<unsigned char> &bytes,
                       mf_dtype_t dtype, int64_t count) {
  int64_t bad = 0;
  for (int64_t i = 0; i < count; ++i) {
    float v = 0.0f;
    if (dtype == MF_DTYPE_F32) {
      std::memcpy(&v, &bytes[i * 4], 4);
    } else if (dtype == MF_DTYPE_BF16) {
      uint32_t bits =
          static_cast<uint32_t>(bytes[i * 2] | (bytes[i * 2 + 1] << 8)) << 16;
      std::memcpy(&v, &bits, 4);
    } else {
      continue;
    }
    bad += !std::isfinite(v);
  }
  return bad;
}

/// The tensors of one entry, in the memory of the module's device.
struct DeviceBuffers {
  mf_runtime_t *runtime;
  mf_device_kind_t device;
  std::vector<void *> pointers;
  ~DeviceBuffers() {
    for (void *ptr : pointers)
      mf_status_free(mf_device_free(runtime, device, ptr));
  }
};

int usage() {
  std::fprintf(stderr, "usage: mf-run MODEL.mfa [--entry NAME] [--size N] "
                       "[--dim SYMBOL=VALUE]... [--iters K] [--warmup W] "
                       "[--seed S]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string path, onlyEntry;
  int64_t size = 64;
  int iters = 5, warmup = 1;
  uint64_t seed = std::random_device{}();
  std::map<std::string, int64_t> dimValues;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char * {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    const char *value = nullptr;
    if (arg == "--entry" && (value = next()))
      onlyEntry = value;
    else if (arg == "--size" && (value = next()))
      size = std::atoll(value);
    else if (arg == "--iters" && (value = next()))
      iters = std::atoi(value);
    else if (arg == "--warmup" && (value = next()))
      warmup = std::atoi(value);
    else if (arg == "--seed" && (value = next()))
      seed = std::strtoull(value, nullptr, 10);
    else if (arg == "--dim" && (value = next())) {
      std::string spec = value;
      size_t eq = spec.find('=');
      if (eq == std::string::npos)
        return usage();
      dimValues[spec.substr(0, eq)] = std::atoll(spec.c_str() + eq + 1);
    } else if (!arg.empty() && arg[0] != '-' && path.empty())
      path = arg;
    else
      return usage();
  }
  if (path.empty() || iters < 1 || warmup < 0 || size < 0)
    return usage();

  mf_runtime_t *runtime = nullptr;
  mf_module_t *module = nullptr;
  if (failed(mf_runtime_create(&runtime), "creating the runtime") ||
      failed(mf_module_load_file(runtime, path.c_str(), &module),
             "loading the artifact"))
    return 1;
  mf_device_kind_t device = MF_DEVICE_CPU;
  if (std::strcmp(mf_module_target(module), "cuda") == 0)
    device = MF_DEVICE_CUDA;
  else if (std::strcmp(mf_module_target(module), "rocm") == 0)
    device = MF_DEVICE_HIP;
  std::printf("%s: target %s, chip %s, %zu entries, seed=%llu\n", path.c_str(),
              mf_module_target(module), mf_module_chip(module),
              mf_module_entry_count(module),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  int status = 0;
  bool found = onlyEntry.empty();
  for (size_t e = 0; e < mf_module_entry_count(module); ++e) {
    const char *name = mf_module_entry_name(module, e);
    if (!onlyEntry.empty() && onlyEntry != name)
      continue;
    found = true;
    mf_function_t *function = nullptr;
    if (failed(mf_module_lookup_function(module, name, &function), name)) {
      status = 1;
      continue;
    }
    size_t count = mf_function_arg_count(function);
    std::vector<std::vector<unsigned char>> storage(count);
    std::vector<mf_tensor_t> tensors(count);
    DeviceBuffers buffers{runtime, device, std::vector<void *>(count)};
    std::string dims;
    for (size_t a = 0; a < count; ++a) {
      mf_arg_info_t info;
      if (failed(mf_function_arg_info(function, a, &info), name))
        return 1;
      mf_tensor_t &t = tensors[a];
      std::memset(&t, 0, sizeof(t));
      t.dtype = info.dtype;
      t.rank = info.rank;
      t.device = device;
      int64_t elements = 1;
      for (int d = 0; d < info.rank; ++d) {
        int64_t extent = info.dims[d];
        if (extent < 0) {
          auto it = dimValues.find(info.dim_symbols[d]);
          extent = it == dimValues.end() ? size : it->second;
          if (dims.find(std::string(info.dim_symbols[d]) + "=") ==
              std::string::npos)
            dims += std::string(" ") + info.dim_symbols[d] + "=" +
                    std::to_string(extent);
        }
        t.dims[d] = extent;
        elements *= extent;
      }
      storage[a].assign(
          std::max<int64_t>(elements, 1) * mf_dtype_size(info.dtype), 0);
      if (!info.is_output)
        fillRandom(storage[a], info.dtype, elements, rng);
      if (failed(mf_device_alloc(runtime, device, storage[a].size(),
                                 &buffers.pointers[a]),
                 name) ||
          failed(mf_device_copy(runtime, device, buffers.pointers[a],
                                storage[a].data(), storage[a].size(),
                                MF_COPY_HOST_TO_DEVICE),
                 name))
        return 1;
      t.data = buffers.pointers[a];
    }
    std::vector<double> ms;
    bool ok = true;
    for (int r = 0; r < warmup + iters && ok; ++r) {
      auto start = std::chrono::steady_clock::now();
      ok = !failed(mf_function_invoke_async(function, tensors.data(), count,
                                            nullptr),
                   name) &&
           !failed(mf_device_synchronize(runtime, device), name);
      auto stop = std::chrono::steady_clock::now();
      if (r >= warmup)
        ms.push_back(
            std::chrono::duration<double, std::milli>(stop - start).count());
    }
    for (size_t a = 0; a < count && ok; ++a)
      ok = !failed(mf_device_copy(runtime, device, storage[a].data(),
                                  buffers.pointers[a], storage[a].size(),
                                  MF_COPY_DEVICE_TO_HOST),
                   name);
    if (!ok) {
      status = 1;
      continue;
    }
    int64_t nonFinite = 0;
    for (size_t a = 0; a < count; ++a) {
      mf_arg_info_t info;
      mf_function_arg_info(function, a, &info);
      if (!info.is_output)
        continue;
      int64_t elements = 1;
      for (int d = 0; d < tensors[a].rank; ++d)
        elements *= tensors[a].dims[d];
      nonFinite += countNonFinite(storage[a], info.dtype, elements);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("entry %s:%s  median %.3f ms (min %.3f, max %.3f) over %d "
                "runs; outputs %s\n",
                name, dims.c_str(), ms[ms.size() / 2], ms.front(), ms.back(),
                iters, nonFinite ? "have non-finite values" : "all finite");
    if (nonFinite)
      status = 1;
  }
  if (!found) {
    std::fprintf(stderr, "mf-run: error: no entry named '%s'\n",
                 onlyEntry.c_str());
    status = 1;
  }
  mf_module_release(module);
  mf_runtime_release(runtime);
  return status;
}
