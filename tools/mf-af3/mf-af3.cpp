//===- mf-af3.cpp - an AlphaFold3 Pairformer trunk on cached examples -----===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// mf-af3 --block BLOCK.mfa [--entry NAME] [--blocks 48] [--c-s 384]
//        [--c-z 128] [--weights FILE.safetensors | --seed 0]
//        [--save-weights FILE.safetensors] [--tri-mul]
//        [--device cpu|cuda|hip] CACHE.mfc...
//
// Runs a Pairformer trunk on feature caches written by `mf-cache build`:
// for each example, the input embedding (plain C++, Embedding.h) gives the
// single s [1, N, c_s] and pair z [1, N, N, c_z] representations, then the
// compiled Pairformer block (examples/pairformer_block.mlir through
// mf-compile) runs --blocks times, each block's outputs feeding the next,
// each block with its own weights. Prints the time of every block, their
// median and min, the input embedding's time and the process's peak memory
// per example, and checks that the final s and z are finite (exit 1 if
// not).
//
// The block's arguments are bound by name from the artifact's manifest:
// s (or single) [1, N, c_s], z (or pair) [1, N, N, c_z], token_mask [1, N]
// (the cache's seq_mask, zero-copy on the CPU), pair_mask [1, N, N]; every
// other input is a weight of static shape; the outputs are the new s
// (rank 3) and z (rank 4). --c-s / --c-z must match the artifact's widths.
// s, z and the outputs are f32, or all bf16 (examples/pairformer_block_bf16
// .mlir: the embedding, computed in f32 on the host, is rounded to bf16 on
// the way in, and the outputs widened for the finite check).
//
// Weights: random with --seed (N(0, 1/fan_in) for matrices, ones for
// *gamma, zeros for *beta and other vectors), or read by name from a plain
// safetensors file (--weights): "embed.single" [c_s, 67], "embed.pair_left"
// and "embed.pair_right" [c_z, c_s], "embed.relpos" [c_z, 139], and
// "blocks.<i>.<argument name>" for every weight argument of the block (with
// --tri-mul also "blocks.<i>.tri_mul_{out,in}.<name>", see TriMulWeights).
// --save-weights writes the weights in use to such a file.
//
// The triangle multiplicative updates have no evo op yet: by default the
// trunk omits them (and says so); --tri-mul runs them as plain C++
// reference code on the host (timed separately), before each block, as in
// AF3's Pairformer.
//
//===----------------------------------------------------------------------===//

#include "Embedding.h"
#include "Safetensors.h"

#include "mf/runtime/feature_cache.hpp"
#include "mf/runtime/runtime.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <malloc.h>
#include <map>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace mf::af3;
using mf::runtime::Status;

namespace {

/// The feature-set version of mf-cache this driver understands.
constexpr uint32_t kFeatureSetVersion = 1;

void error(const std::string &message) {
  std::fprintf(stderr, "mf-af3: error: %s\n", message.c_str());
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float fromBF16(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

/// Resets the kernel's peak-RSS counter (VmHWM); false if it cannot.
bool resetPeakRss() {
  FILE *f = std::fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  bool ok = std::fputs("5", f) >= 0;
  return (std::fclose(f) == 0) && ok;
}

/// VmRSS in KiB, or -1.
long currentRssKiB() {
  long kib = -1;
  if (FILE *f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmRSS:", 6) == 0)
        kib = std::strtol(line + 6, nullptr, 10);
    std::fclose(f);
  }
  return kib;
}

/// VmHWM in KiB, or getrusage's ru_maxrss when /proc is not there.
long peakRssKiB() {
  if (FILE *f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmHWM:", 6) == 0)
        kib = std::strtol(line + 6, nullptr, 10);
    std::fclose(f);
    if (kib >= 0)
      return kib;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// A buffer of `device` memory from the runtime (aligned host memory for
/// the CPU).
class Buffer {
public:
  Buffer() = default;
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  ~Buffer() { reset(); }

  Status allocate(mf_runtime_t *runtime, mf_device_kind_t device, size_t size) {
    reset();
    runtime_ = runtime;
    device_ = device;
    size_ = size;
    return Status(
        mf_device_alloc(runtime, device, std::max<size_t>(size, 64), &data_));
  }
  /// Copies `size()` bytes from host memory.
  Status upload(const void *host) {
    if (device_ == MF_DEVICE_CPU) {
      if (host != data_)
        std::memcpy(data_, host, size_);
      return Status();
    }
    return Status(mf_device_copy(runtime_, device_, data_, host, size_,
                                 MF_COPY_HOST_TO_DEVICE));
  }
  Status download(void *host) const {
    if (device_ == MF_DEVICE_CPU) {
      if (host != data_)
        std::memcpy(host, data_, size_);
      return Status();
    }
    return Status(mf_device_copy(runtime_, device_, host, data_, size_,
                                 MF_COPY_DEVICE_TO_HOST));
  }
  void *data() const { return data_; }
  size_t size() const { return size_; }

private:
  void reset() {
    if (data_)
      mf_status_free(mf_device_free(runtime_, device_, data_));
    data_ = nullptr;
  }
  mf_runtime_t *runtime_ = nullptr;
  mf_device_kind_t device_ = MF_DEVICE_CPU;
  void *data_ = nullptr;
  size_t size_ = 0;
};

/// What each argument of the block is.
enum class Role {
  Single,
  Pair,
  TokenMask,
  PairMask,
  Weight,
  SingleOut,
  PairOut
};

struct Arg {
  std::string name;
  Role role;
  mf_arg_info_t info;
  std::vector<int64_t> shape; // static dims only (weights)
  int64_t elements = 0;
};

/// Where weights come from: a safetensors file or a seeded generator.
class WeightSource {
public:
  WeightSource(const SafetensorsFile *file, uint64_t seed)
      : file_(file), state_(seed) {}

  /// Fills `out` (f32) with weight `name` of `shape`.
  bool get(const std::string &name, const std::vector<int64_t> &shape,
           std::vector<float> &out, std::string &message) {
    size_t count = 1;
    for (int64_t d : shape)
      count *= static_cast<size_t>(d);
    out.assign(count, 0.0f);
    if (file_) {
      if (!file_->readF32(name, shape, out.data(), message))
        return false;
    } else if (shape.size() >= 2) {
      // N(0, 1/fan_in) by Box-Muller over splitmix64 (fast: the 48 AF3
      // blocks hold ~140M weights).
      float scale = 1.0f / std::sqrt(static_cast<float>(shape.back()));
      for (size_t i = 0; i < count; i += 2) {
        double u1 = (next() >> 11) * 0x1.0p-53, u2 = (next() >> 11) * 0x1.0p-53;
        double r = std::sqrt(-2.0 * std::log(1.0 - u1)) * scale;
        out[i] = static_cast<float>(r * std::cos(2 * M_PI * u2));
        if (i + 1 < count)
          out[i + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
      }
    } else if (endsWith(name, "gamma")) {
      std::fill(out.begin(), out.end(), 1.0f);
    }
    if (saving_)
      saved_.emplace_back(name, shape, out);
    return true;
  }

  void startSaving() { saving_ = true; }

  /// Writes the weights handed out so far as a plain safetensors file.
  bool save(const std::string &path, std::string &message) const {
    std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"producer\":"
                         "\"mf-af3\"}";
    uint64_t offset = 0;
    for (const auto &[name, shape, values] : saved_) {
      uint64_t size = values.size() * 4;
      header += ",\"" + name +
                "\":{\"dtype\":\"F32\",\"shape\":" + shapeString(shape) +
                ",\"data_offsets\":[" + std::to_string(offset) + "," +
                std::to_string(offset + size) + "]}";
      offset += size;
    }
    header += "}";
    while ((8 + header.size()) % 8)
      header += ' ';
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i)
      length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
    out.write(reinterpret_cast<const char *>(length), 8);
    out.write(header.data(), header.size());
    for (const auto &entry : saved_) {
      const auto &values = std::get<2>(entry);
      out.write(reinterpret_cast<const char *>(values.data()),
                values.size() * 4);
    }
    if (!out.good()) {
      message = "cannot write " + path;
      return false;
    }
    return true;
  }

private:
  /// splitmix64.
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  const SafetensorsFile *file_;
  uint64_t state_;
  bool saving_ = false;
  std::vector<std::tuple<std::string, std::vector<int64_t>, std::vector<float>>>
      saved_;
};

/// The progress bar over examples (stderr, only on a terminal).
class Progress {
public:
  Progress(size_t total) : total_(total), enabled_(isatty(2) && total > 1) {}
  void show(size_t done, const std::string &what) {
    if (!enabled_)
      return;
    const int width = 30;
    int filled = static_cast<int>(width * done / total_);
    std::fprintf(
        stderr, "\r\033[K[%s%s] %zu/%zu %s", std::string(filled, '#').c_str(),
        std::string(width - filled, '.').c_str(), done, total_, what.c_str());
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  }

private:
  size_t total_;
  bool enabled_;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: mf-af3 --block BLOCK.mfa [--entry NAME] [--blocks 48] "
      "[--c-s 384] [--c-z 128]\n"
      "              [--weights FILE.safetensors | --seed 0] "
      "[--save-weights FILE.safetensors]\n"
      "              [--tri-mul] [--device cpu|cuda|hip] CACHE.mfc...\n");
  return 2;
}

/// Counts the non-finite values of `count` floats.
int64_t countNonFinite(const float *values, size_t count, double &meanAbs) {
  int64_t bad = 0;
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i]))
      ++bad;
    else
      sum += std::fabs(values[i]);
  }
  meanAbs = count ? sum / count : 0.0;
  return bad;
}

} // namespace

int main(int argc, char **argv) {
  std::string blockPath, entryName, weightsPath, saveWeightsPath, deviceName;
  int64_t numBlocks = 48, cS = 384, cZ = 128;
  uint64_t seed = 0;
  bool seedGiven = false, triMul = false;
  std::vector<std::string> caches;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char * {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    // Accept --opt=value as well as --opt value.
    std::string inlineValue;
    bool hasInline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inlineValue = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      hasInline = true;
    }
    auto value = [&]() -> const char * {
      return hasInline ? inlineValue.c_str() : next();
    };
    auto integer = [&](int64_t &out, int64_t min) {
      const char *v = value();
      char *end = nullptr;
      if (!v)
        return false;
      long long parsed = std::strtoll(v, &end, 10);
      if (*end || end == v || parsed < min) {
        error("bad value '" + std::string(v) + "' for " + arg);
        return false;
      }
      out = parsed;
      return true;
    };
    const char *v = nullptr;
    int64_t number = 0;
    if (arg == "--block" && (v = value()))
      blockPath = v;
    else if (arg == "--entry" && (v = value()))
      entryName = v;
    else if (arg == "--weights" && (v = value()))
      weightsPath = v;
    else if (arg == "--save-weights" && (v = value()))
      saveWeightsPath = v;
    else if (arg == "--device" && (v = value()))
      deviceName = v;
    else if (arg == "--blocks" && integer(numBlocks, 1))
      ;
    else if (arg == "--c-s" && integer(cS, 1))
      ;
    else if (arg == "--c-z" && integer(cZ, 1))
      ;
    else if (arg == "--seed" && integer(number, 0)) {
      seed = static_cast<uint64_t>(number);
      seedGiven = true;
    } else if (arg == "--tri-mul" && !hasInline)
      triMul = true;
    else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else if (!arg.empty() && arg[0] != '-')
      caches.push_back(arg);
    else
      return usage();
  }
  if (blockPath.empty()) {
    error("no --block artifact (compile examples/pairformer_block.mlir with "
          "mf-compile)");
    return usage();
  }
  if (caches.empty()) {
    error("no cache files (write them with `mf-cache build`)");
    return usage();
  }
  if (!weightsPath.empty() && seedGiven) {
    error("--weights and --seed exclude each other");
    return 2;
  }

  // The block artifact and its entry point.
  auto runtime = mf::runtime::Runtime::create();
  if (!runtime.ok()) {
    error("creating the runtime: " + runtime.status().toString());
    return 1;
  }
  auto module = runtime->loadFile(blockPath);
  if (!module.ok()) {
    error(blockPath + ": " + module.status().toString());
    return 1;
  }
  std::string target = module->target();
  mf_device_kind_t device = target == "cuda"   ? MF_DEVICE_CUDA
                            : target == "rocm" ? MF_DEVICE_HIP
                                               : MF_DEVICE_CPU;
  const char *deviceNames[] = {"cpu", "cuda", "hip"};
  if (!deviceName.empty() && deviceName != deviceNames[device] &&
      !(deviceName == "rocm" && device == MF_DEVICE_HIP)) {
    if (deviceName != "cpu" && deviceName != "cuda" && deviceName != "hip" &&
        deviceName != "rocm") {
      error("unknown --device '" + deviceName + "' (cpu, cuda or hip)");
      return 2;
    }
    error("--device " + deviceName + " but " + blockPath +
          " was compiled for target " + target +
          "; compile the block with mf-compile --target=" +
          (deviceName == "hip" ? std::string("rocm") : deviceName));
    return 1;
  }
  if (entryName.empty()) {
    if (module->entryCount() == 1)
      entryName = module->entryName(0);
    else
      entryName = "pairformer_block";
  }
  auto function = module->lookup(entryName);
  if (!function.ok()) {
    error(blockPath + ": " + function.status().toString() +
          " (pass --entry NAME)");
    return 1;
  }

  // Bind the arguments by name; first, is it a Pairformer block at all?
  {
    std::map<std::string, int> names;
    for (size_t a = 0; a < function->argCount(); ++a) {
      auto info = function->argInfo(a);
      if (info.ok() && info->name && !info->is_output)
        names[info->name] = 1;
    }
    const char *missing =
        !names.count("s") && !names.count("single")
            ? "s (the single representation [1, N, c_s])"
        : !names.count("z") && !names.count("pair")
            ? "z (the pair representation [1, N, N, c_z])"
        : !names.count("token_mask") && !names.count("single_mask")
            ? "token_mask [1, N]"
        : !names.count("pair_mask") ? "pair_mask [1, N, N]"
                                    : nullptr;
    if (missing) {
      error(blockPath + ": entry '" + entryName + "' has no argument " +
            missing +
            "; mf-af3 runs a Pairformer block like "
            "examples/pairformer_block.mlir (s, z, token_mask, pair_mask, "
            "weights...) -> (s, z)");
      return 1;
    }
  }
  std::vector<Arg> args;
  int found[7] = {};
  // The activations' element type: that of s; z and the outputs must agree.
  mf_dtype_t actDtype = MF_DTYPE_F32;
  for (size_t a = 0; a < function->argCount(); ++a) {
    auto info = function->argInfo(a);
    if (info.ok() && !info->is_output && info->name &&
        (std::string(info->name) == "s" ||
         std::string(info->name) == "single") &&
        info->dtype == MF_DTYPE_BF16)
      actDtype = MF_DTYPE_BF16;
  }
  auto bindError = [&](const std::string &message) {
    error(blockPath + ": entry '" + entryName + "': " + message);
    return 1;
  };
  for (size_t a = 0; a < function->argCount(); ++a) {
    auto info = function->argInfo(a);
    if (!info.ok())
      return bindError(info.status().toString());
    Arg arg;
    arg.info = *info;
    arg.name = info->name ? info->name : "";
    const std::string &n = arg.name;
    if (info->is_output)
      arg.role = info->rank == 3   ? Role::SingleOut
                 : info->rank == 4 ? Role::PairOut
                                   : Role::Weight;
    else if (n == "s" || n == "single")
      arg.role = Role::Single;
    else if (n == "z" || n == "pair")
      arg.role = Role::Pair;
    else if (n == "token_mask" || n == "single_mask")
      arg.role = Role::TokenMask;
    else if (n == "pair_mask")
      arg.role = Role::PairMask;
    else
      arg.role = Role::Weight;
    if (info->is_output && arg.role == Role::Weight)
      return bindError("output '" + n + "' has rank " +
                       std::to_string(info->rank) +
                       "; a Pairformer block returns s [1, N, c_s] and z "
                       "[1, N, N, c_z]");
    ++found[static_cast<int>(arg.role)];
    // Shapes and dtypes of the activations.
    auto expect = [&](std::vector<int64_t> dims, mf_dtype_t dtype,
                      const char *what) -> std::string {
      // dims: -1 = dynamic N, else the static width wanted.
      if (info->dtype != dtype)
        return "argument '" + n + "' (" + what + ") is " +
               mf_dtype_name(info->dtype) + "; mf-af3 needs " +
               mf_dtype_name(dtype);
      if (info->rank != static_cast<int32_t>(dims.size()))
        return "argument '" + n + "' (" + what + ") has rank " +
               std::to_string(info->rank) + ", expected " +
               std::to_string(dims.size());
      for (size_t d = 0; d < dims.size(); ++d) {
        if (dims[d] == -1)
          continue;
        if (info->dims[d] != dims[d]) {
          std::string width =
              d == 0 ? "the batch dim (1)"
              : std::string(what).find("single") != std::string::npos ? "c_s"
                                                                      : "c_z";
          return "argument '" + n + "' (" + what + ") has dim " +
                 std::to_string(d) + " = " +
                 (info->dims[d] < 0 ? std::string("? (dynamic)")
                                    : std::to_string(info->dims[d])) +
                 " but " + width + " is " + std::to_string(dims[d]) +
                 (d == 0 ? ""
                         : std::string("; pass --") +
                               (width == "c_s" ? "c-s " : "c-z ") +
                               std::to_string(info->dims[d]) +
                               " or compile the block at that width");
        }
      }
      return "";
    };
    std::string problem;
    switch (arg.role) {
    case Role::Single:
      problem = expect({1, -1, cS}, actDtype, "the single representation");
      break;
    case Role::SingleOut:
      problem = expect({1, -1, cS}, actDtype, "the single output");
      break;
    case Role::Pair:
      problem = expect({1, -1, -1, cZ}, actDtype, "the pair representation");
      break;
    case Role::PairOut:
      problem = expect({1, -1, -1, cZ}, actDtype, "the pair output");
      break;
    case Role::TokenMask:
      problem = expect({1, -1}, MF_DTYPE_I1, "the token mask");
      break;
    case Role::PairMask:
      problem = expect({1, -1, -1}, MF_DTYPE_I1, "the pair mask");
      break;
    case Role::Weight:
      if (info->dtype != MF_DTYPE_F32 && info->dtype != MF_DTYPE_BF16)
        problem = "weight argument '" + n + "' is " +
                  mf_dtype_name(info->dtype) + "; weights must be f32 or bf16";
      arg.elements = 1;
      for (int d = 0; d < info->rank && problem.empty(); ++d) {
        if (info->dims[d] < 0)
          problem = "argument '" + n +
                    "' is not one of s, z, token_mask, pair_mask but has a "
                    "dynamic dim " +
                    std::to_string(d) + " (weights must be static)";
        arg.shape.push_back(info->dims[d]);
        arg.elements *= info->dims[d];
      }
      break;
    }
    if (!problem.empty())
      return bindError(problem);
    args.push_back(arg);
  }
  const char *roleNames[] = {"s (the single representation [1, N, c_s])",
                             "z (the pair representation [1, N, N, c_z])",
                             "token_mask [1, N]",
                             "pair_mask [1, N, N]",
                             nullptr,
                             "a single output [1, N, c_s]",
                             "a pair output [1, N, N, c_z]"};
  for (int r = 0; r < 7; ++r) {
    if (!roleNames[r])
      continue;
    if (found[r] != 1)
      return bindError(
          std::string(found[r] ? "more than one argument for " : "no ") +
          roleNames[r] +
          "; mf-af3 runs a Pairformer block like "
          "examples/pairformer_block.mlir "
          "(s, z, token_mask, pair_mask, weights...) -> (s, z)");
  }

  // Weights.
  std::unique_ptr<SafetensorsFile> weightsFile;
  if (!weightsPath.empty()) {
    weightsFile = std::make_unique<SafetensorsFile>();
    std::string message;
    if (!weightsFile->open(weightsPath, message)) {
      error(message);
      return 1;
    }
  }
  WeightSource weights(weightsFile.get(), seed);
  if (!saveWeightsPath.empty())
    weights.startSaving();
  std::string message;
  EmbeddingWeights embedding;
  embedding.cS = static_cast<int>(cS);
  embedding.cZ = static_cast<int>(cZ);
  if (!weights.get("embed.single", {cS, kTargetFeatures}, embedding.single,
                   message) ||
      !weights.get("embed.pair_left", {cZ, cS}, embedding.pairLeft, message) ||
      !weights.get("embed.pair_right", {cZ, cS}, embedding.pairRight,
                   message) ||
      !weights.get("embed.relpos", {cZ, kRelFeatures}, embedding.relpos,
                   message)) {
    error(message);
    return 1;
  }
  auto setupStart = std::chrono::steady_clock::now();
  // blockWeights[b][a]: device memory of weight argument a of block b.
  std::vector<std::vector<std::unique_ptr<Buffer>>> blockWeights(numBlocks);
  size_t weightBytes = 0;
  std::vector<float> values;
  std::vector<uint16_t> bf16;
  for (int64_t b = 0; b < numBlocks; ++b) {
    blockWeights[b].resize(args.size());
    for (size_t a = 0; a < args.size(); ++a) {
      const Arg &arg = args[a];
      if (arg.role != Role::Weight)
        continue;
      if (!weights.get("blocks." + std::to_string(b) + "." + arg.name,
                       arg.shape, values, message)) {
        error(message);
        return 1;
      }
      auto buffer = std::make_unique<Buffer>();
      size_t bytes = arg.elements * mf_dtype_size(arg.info.dtype);
      Status status = buffer->allocate(runtime->get(), device, bytes);
      const void *host = values.data();
      if (arg.info.dtype == MF_DTYPE_BF16) {
        bf16.resize(values.size());
        for (size_t i = 0; i < values.size(); ++i)
          bf16[i] = toBF16(values[i]);
        host = bf16.data();
      }
      if (status.ok())
        status = buffer->upload(host);
      if (!status.ok()) {
        error("weights of block " + std::to_string(b) + ": " +
              status.toString());
        return 1;
      }
      weightBytes += bytes;
      blockWeights[b][a] = std::move(buffer);
    }
  }
  // The triangle multiplicative updates' weights (host; --tri-mul only).
  std::vector<TriMulWeights> triMulOut, triMulIn;
  if (triMul) {
    for (int64_t b = 0; b < numBlocks; ++b)
      for (int outgoing = 1; outgoing >= 0; --outgoing) {
        TriMulWeights w;
        std::string p = "blocks." + std::to_string(b) +
                        (outgoing ? ".tri_mul_out." : ".tri_mul_in.");
        if (!weights.get(p + "ln_in_gamma", {cZ}, w.lnInGamma, message) ||
            !weights.get(p + "ln_in_beta", {cZ}, w.lnInBeta, message) ||
            !weights.get(p + "w_a_gate", {cZ, cZ}, w.aGate, message) ||
            !weights.get(p + "w_a", {cZ, cZ}, w.a, message) ||
            !weights.get(p + "w_b_gate", {cZ, cZ}, w.bGate, message) ||
            !weights.get(p + "w_b", {cZ, cZ}, w.b, message) ||
            !weights.get(p + "w_g", {cZ, cZ}, w.gate, message) ||
            !weights.get(p + "ln_out_gamma", {cZ}, w.lnOutGamma, message) ||
            !weights.get(p + "ln_out_beta", {cZ}, w.lnOutBeta, message) ||
            !weights.get(p + "w_o", {cZ, cZ}, w.out, message)) {
          error(message);
          return 1;
        }
        (outgoing ? triMulOut : triMulIn).push_back(std::move(w));
      }
  }
  if (!saveWeightsPath.empty() && !weights.save(saveWeightsPath, message)) {
    error(message);
    return 1;
  }
  double setupMs = msSince(setupStart);

  std::printf("mf-af3: block %s (target %s, entry %s), %lld blocks, c_s %lld, "
              "c_z %lld, device %s, activations %s\n",
              blockPath.c_str(), target.c_str(), entryName.c_str(),
              static_cast<long long>(numBlocks), static_cast<long long>(cS),
              static_cast<long long>(cZ), deviceNames[device],
              mf_dtype_name(actDtype));
  if (weightsFile)
    std::printf("mf-af3: weights from %s (%.1f MiB on the device)\n",
                weightsPath.c_str(), weightBytes / 1048576.0);
  else
    std::printf("mf-af3: weights random N(0, 1/fan_in), seed %llu (%.1f MiB "
                "on the device, made in %.0f ms)\n",
                static_cast<unsigned long long>(seed), weightBytes / 1048576.0,
                setupMs);
  if (!saveWeightsPath.empty())
    std::printf("mf-af3: wrote the weights to %s\n", saveWeightsPath.c_str());
  if (triMul)
    std::printf("mf-af3: triangle multiplicative updates: plain C++ reference "
                "on the host (no evo op yet), timed apart\n");
  else
    std::printf("mf-af3: note: the trunk omits the triangle multiplicative "
                "updates (no evo op yet; --tri-mul runs a C++ reference)\n");
  std::fflush(stdout);

  int exitCode = 0;
  int failures = 0;
  Progress progress(caches.size());
  for (size_t e = 0; e < caches.size(); ++e) {
    const std::string &path = caches[e];
    progress.show(e, baseName(path));
    // Hand the previous example's freed memory back to the kernel, so that
    // the peak below is this example's.
    malloc_trim(0);
    bool peakReset = resetPeakRss();
    long startKiB = currentRssKiB();
    auto fail = [&](const std::string &what) {
      progress.clear();
      error(what);
      exitCode = 1;
      ++failures;
    };
    auto cache = mf::cache::FeatureCache::open(path, kFeatureSetVersion);
    if (!cache.ok()) {
      fail(cache.status().toString());
      continue;
    }
    TokenFeatures features;
    if (!getTokenFeatures(*cache, features, message)) {
      fail(message);
      continue;
    }
    const int64_t n = features.numTokens;
    const char *metaName = cache->metadata("mf_name");
    std::string name = metaName ? metaName : baseName(path);

    // Activations: ping-pong buffers for s and z, and the masks.
    Buffer single[2], pair[2], tokenMask, pairMask;
    Status status;
    const bool bf16Acts = actDtype == MF_DTYPE_BF16;
    const size_t actSize = bf16Acts ? 2 : 4;
    size_t singleBytes = n * cS * actSize, pairBytes = n * n * cZ * actSize;
    // Host f32 <-> the buffer's element type.
    std::vector<uint16_t> staging;
    auto uploadF32 = [&](Buffer &buffer, const float *values) {
      if (!bf16Acts)
        return buffer.upload(values);
      staging.resize(buffer.size() / 2);
      for (size_t i = 0; i < staging.size(); ++i)
        staging[i] = toBF16(values[i]);
      return buffer.upload(staging.data());
    };
    auto downloadF32 = [&](Buffer &buffer, float *values) {
      if (!bf16Acts)
        return buffer.download(values);
      staging.resize(buffer.size() / 2);
      Status st = buffer.download(staging.data());
      for (size_t i = 0; st.ok() && i < staging.size(); ++i)
        values[i] = fromBF16(staging[i]);
      return st;
    };
    // The activations live in host vectors unless they can be the CPU
    // buffers themselves (f32 on the CPU).
    const bool hostCopies = device != MF_DEVICE_CPU || bf16Acts;
    for (int i = 0; i < 2 && status.ok(); ++i) {
      status = single[i].allocate(runtime->get(), device, singleBytes);
      if (status.ok())
        status = pair[i].allocate(runtime->get(), device, pairBytes);
    }
    std::vector<uint8_t> pairMaskHost(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        pairMaskHost[i * n + j] = features.seqMask[i] && features.seqMask[j];
    // On the CPU the token mask is the cache's seq_mask itself (zero-copy).
    void *tokenMaskData = const_cast<uint8_t *>(features.seqMask);
    if (status.ok())
      status = pairMask.allocate(runtime->get(), device, n * n);
    if (status.ok())
      status = pairMask.upload(pairMaskHost.data());
    if (status.ok() && device != MF_DEVICE_CPU) {
      status = tokenMask.allocate(runtime->get(), device, n);
      if (status.ok())
        status = tokenMask.upload(features.seqMask);
      tokenMaskData = tokenMask.data();
    }
    if (!status.ok()) {
      fail(name + ": allocating N=" + std::to_string(n) +
           " activations: " + status.toString());
      continue;
    }

    // The input embedding (host), then onto the device.
    auto embedStart = std::chrono::steady_clock::now();
    std::vector<float> singleHost, pairHost;
    float *singlePtr = static_cast<float *>(single[0].data());
    float *pairPtr = static_cast<float *>(pair[0].data());
    if (hostCopies || triMul) {
      // --tri-mul works on a host copy of z.
      pairHost.resize(n * n * cZ);
      if (hostCopies) {
        singleHost.resize(n * cS);
        singlePtr = singleHost.data();
        pairPtr = pairHost.data();
      }
    }
    embed(features, embedding, singlePtr, pairPtr);
    if (hostCopies) {
      status = uploadF32(single[0], singleHost.data());
      if (status.ok())
        status = uploadF32(pair[0], pairHost.data());
    }
    double embedMs = msSince(embedStart);
    if (!status.ok()) {
      fail(name + ": " + status.toString());
      continue;
    }

    // The trunk.
    std::vector<double> blockMs, triMulMs;
    std::vector<mf_tensor_t> tensors(args.size());
    int cur = 0;
    for (int64_t b = 0; b < numBlocks && status.ok(); ++b) {
      if (triMul) {
        auto start = std::chrono::steady_clock::now();
        float *z = static_cast<float *>(pair[cur].data());
        if (hostCopies) {
          status = downloadF32(pair[cur], pairHost.data());
          z = pairHost.data();
        }
        if (!status.ok())
          break;
        triangleMultiplication(z, pairMaskHost.data(), n, cZ, triMulOut[b],
                               /*outgoing=*/true);
        triangleMultiplication(z, pairMaskHost.data(), n, cZ, triMulIn[b],
                               /*outgoing=*/false);
        if (hostCopies)
          status = uploadF32(pair[cur], pairHost.data());
        if (!status.ok())
          break;
        triMulMs.push_back(msSince(start));
      }
      for (size_t a = 0; a < args.size(); ++a) {
        mf_tensor_t &t = tensors[a];
        std::memset(&t, 0, sizeof t);
        t.dtype = args[a].info.dtype;
        t.device = device;
        t.rank = args[a].info.rank;
        switch (args[a].role) {
        case Role::Single:
          t.data = single[cur].data();
          t.dims[0] = 1, t.dims[1] = n, t.dims[2] = cS;
          break;
        case Role::SingleOut:
          t.data = single[1 - cur].data();
          t.dims[0] = 1, t.dims[1] = n, t.dims[2] = cS;
          break;
        case Role::Pair:
          t.data = pair[cur].data();
          t.dims[0] = 1, t.dims[1] = n, t.dims[2] = n, t.dims[3] = cZ;
          break;
        case Role::PairOut:
          t.data = pair[1 - cur].data();
          t.dims[0] = 1, t.dims[1] = n, t.dims[2] = n, t.dims[3] = cZ;
          break;
        case Role::TokenMask:
          t.data = tokenMaskData;
          t.dims[0] = 1, t.dims[1] = n;
          break;
        case Role::PairMask:
          t.data = pairMask.data();
          t.dims[0] = 1, t.dims[1] = n, t.dims[2] = n;
          break;
        case Role::Weight:
          t.data = blockWeights[b][a]->data();
          for (int d = 0; d < t.rank; ++d)
            t.dims[d] = args[a].info.dims[d];
          break;
        }
      }
      auto start = std::chrono::steady_clock::now();
      status = function->invokeAsync(tensors, nullptr);
      if (status.ok() && device != MF_DEVICE_CPU)
        status = Status(mf_device_synchronize(runtime->get(), device));
      blockMs.push_back(msSince(start));
      cur = 1 - cur;
    }
    if (!status.ok()) {
      fail(name + ": block " + std::to_string(blockMs.size() - 1) + ": " +
           status.toString());
      continue;
    }

    // The final s and z: finite?
    std::vector<float> finalSingle(n * cS), finalPair(n * n * cZ);
    status = downloadF32(single[cur], finalSingle.data());
    if (status.ok())
      status = downloadF32(pair[cur], finalPair.data());
    if (!status.ok()) {
      fail(name + ": reading the outputs: " + status.toString());
      continue;
    }
    double singleMean = 0, pairMean = 0;
    int64_t badSingle =
        countNonFinite(finalSingle.data(), finalSingle.size(), singleMean);
    int64_t badPair =
        countNonFinite(finalPair.data(), finalPair.size(), pairMean);
    long peakKiB = peakRssKiB();

    progress.clear();
    std::printf("example %s: %lld tokens (%s)\n", name.c_str(),
                static_cast<long long>(n), path.c_str());
    std::printf("  input embedding: %.3f ms\n", embedMs);
    for (size_t b = 0; b < blockMs.size(); ++b) {
      if (triMul)
        std::printf("  block %zu: %.3f ms (+ triangle multiplication %.3f "
                    "ms, C++ reference)\n",
                    b, blockMs[b], triMulMs[b]);
      else
        std::printf("  block %zu: %.3f ms\n", b, blockMs[b]);
    }
    std::vector<double> sorted = blockMs;
    std::sort(sorted.begin(), sorted.end());
    double total = 0;
    for (double ms : blockMs)
      total += ms;
    size_t mid = sorted.size() / 2;
    double median =
        sorted.size() % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    std::printf("  blocks: median %.3f ms, min %.3f ms, total %.3f ms over "
                "%zu blocks\n",
                median, sorted.front(), total, blockMs.size());
    if (device == MF_DEVICE_CPU)
      std::printf("  peak memory: %.1f MiB (%s; %.1f MiB resident at the "
                  "start)\n",
                  peakKiB / 1024.0,
                  peakReset ? "VmHWM of this example" : "process peak RSS",
                  startKiB / 1024.0);
    else
      std::printf("  peak memory: %.1f MiB host (%s); device buffers %.1f "
                  "MiB (weights %.1f MiB, activations %.1f MiB)\n",
                  peakKiB / 1024.0,
                  peakReset ? "VmHWM of this example" : "process peak RSS",
                  (weightBytes + 2 * (singleBytes + pairBytes) + n * n + n) /
                      1048576.0,
                  weightBytes / 1048576.0,
                  (2 * (singleBytes + pairBytes) + n * n + n) / 1048576.0);
    if (badSingle || badPair) {
      std::printf("  outputs: NOT FINITE\n");
      std::fflush(stdout);
      fail(name + ": the final single has " + std::to_string(badSingle) +
           " and the final pair " + std::to_string(badPair) +
           " non-finite values (NaN or inf)");
      continue;
    }
    std::printf("  outputs: single %s mean|x| %.6g, pair %s mean|x| %.6g: "
                "all finite\n",
                shapeString({1, n, cS}).c_str(), singleMean,
                shapeString({1, n, n, cZ}).c_str(), pairMean);
    std::fflush(stdout);
  }
  progress.clear();
  std::printf("mf-af3: %zu examples, %d failed\n", caches.size(), failures);
  return exitCode;
}
