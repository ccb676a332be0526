//===- numerics.cpp - Numerics of compiled evo ops on the CPU ---*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Runs the entries of artifacts compiled from Inputs/ops_{f32,bf16}.mlir
// through the runtime's C API on fresh random inputs and compares every
// output element with a float64 reference written here with plain loops.
//
//   mf-numerics --artifact a.mfa [--artifact b.mfa ...] --dtype f32|bf16
//               [--seed N] [--only NAME[,NAME...]] [--sizes 1,7,33]
//               [--rtol X] [--atol X] [--timeout SECONDS] [--no-fork]
//   mf-numerics --self-test        (checks the references; no artifact)
//
// Every call runs in a forked child (tensors live in shared memory), so a
// crash, heap corruption or hang (--timeout, default 120 s per call) of
// compiled code fails that one call and the rest still run; --no-fork calls
// in-process (for a debugger).
//
// For every case the harness knows (buildCases() below; the signatures must
// match Inputs/*.mlir) and every artifact holding its entry it checks:
//   - the manifest: argument names (SSA names, then result0, result1, ...),
//     order, roles, dtypes, ranks, static dims, and that the dynamic dims
//     are tied together by shared symbols (so the runtime can check them);
//   - the numerics at N in {1, 7, 33, 100, 130} (S = N for triangle
//     attention, S in {1, 3} where S is separate): outputs poisoned with NaN
//     before the call, canaries around every buffer, inputs unchanged after,
//     every element |got - ref| <= atol + rtol * |ref|, a non-finite value
//     where the reference is finite always failing (an infinite reference,
//     the -inf logsumexp of a fully masked row, must be matched exactly);
//   - fused vs unfused: entries of one case (transition and
//     transition_unfused, layernorm_linear and ln_linear_unfused) agree on
//     identical inputs, across every artifact given (e.g. a default and a
//     --no-fusion build);
//   - one loaded module called at several dynamic sizes in sequence;
//   - negative calls (wrong static dim, dtype, rank, dynamic dim, output
//     dim, argument count): a non-OK status whose message names the
//     argument, and the outputs left untouched.
//
// Tolerances: f32 outputs rtol = atol = 1e-5; bf16 outputs rtol = atol =
// 1e-2 (inputs are rounded to bf16 with round-to-nearest-even before the
// reference sees them; outputs are rounded to bf16 once). The tolerance
// follows each output's element type: the f32 logsumexp of a bf16 module is
// held to the f32 tolerance. Weights are scaled by 1/sqrt(fan_in) so that
// every intermediate is O(1) and an absolute tolerance is meaningful.
// Cases with fused and unfused entries also accept, element by element, a
// second reference that rounds the unfused program's intermediate tensors to
// the element type; in bf16 the unfused entries get 2x the tolerance and
// fused-vs-unfused agreement 4x (see toleranceFor and crossTolerance: an
// unfused bf16 program stores three intermediates in bf16).
//
// The seed is printed first (`seed=N`); each (case, S, N) draws from its own
// stream derived from the seed and its name, so `--seed N --only CASE`
// reproduces one failure exactly.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/runtime.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <csignal>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using mf::runtime::Function;
using mf::runtime::Module;
using mf::runtime::Result;
using mf::runtime::Runtime;
using mf::runtime::Status;

constexpr double kInf = std::numeric_limits<double>::infinity();

//===----------------------------------------------------------------------===//
// bf16
//===----------------------------------------------------------------------===//

/// Rounds a float to bf16, to nearest even; NaN stays a (quiet) NaN.
uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

//===----------------------------------------------------------------------===//
// Random numbers (own generators, so a seed means the same on every libc++)
//===----------------------------------------------------------------------===//

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hashString(uint64_t hash, const std::string &text) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/// xoshiro256** with Box-Muller normals.
class Rng {
public:
  explicit Rng(uint64_t seed) {
    for (uint64_t &word : state_)
      word = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    if (haveSpare_) {
      haveSpare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform(), u2 = uniform();
    double radius = std::sqrt(-2.0 * std::log(u1));
    spare_ = radius * std::sin(2.0 * M_PI * u2);
    haveSpare_ = true;
    return radius * std::cos(2.0 * M_PI * u2);
  }
  bool bernoulli(double p) { return uniform() < p; }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
  bool haveSpare_ = false;
  double spare_ = 0;
};

//===----------------------------------------------------------------------===//
// Host tensors
//===----------------------------------------------------------------------===//

int64_t product(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

/// A dense row-major tensor in 64-byte aligned memory, with 64-byte canaries
/// on both sides. The capacity is always 4 bytes per element, so a call
/// that wrongly accepts a narrower dtype still stays in bounds.
class HostTensor {
public:
  static constexpr size_t kGuard = 64;
  static constexpr unsigned char kCanary = 0xa5;

  HostTensor(std::string name, mf_dtype_t dtype, std::vector<int64_t> shape)
      : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {
    numel_ = static_cast<size_t>(product(shape_));
    bytes_ = numel_ * mf_dtype_size(dtype_);
    size_t capacity = std::max(bytes_, numel_ * 4);
    size_t total = (2 * kGuard + capacity + 63) / 64 * 64;
    // Shared, so that a forked child's writes are seen here; page-aligned,
    // so data() is 64-byte aligned.
    void *memory = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      std::fprintf(stderr, "mf-numerics: mmap of %zu bytes failed\n", total);
      std::abort();
    }
    storage_ = static_cast<unsigned char *>(memory);
    std::memset(storage_, kCanary, total);
    total_ = total;
    std::memset(data(), 0, bytes_);
  }
  ~HostTensor() { ::munmap(storage_, total_); }
  HostTensor(const HostTensor &) = delete;
  HostTensor &operator=(const HostTensor &) = delete;

  const std::string &name() const { return name_; }
  mf_dtype_t dtype() const { return dtype_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  size_t numel() const { return numel_; }
  unsigned char *data() const { return storage_ + kGuard; }

  double get(size_t i) const {
    switch (dtype_) {
    case MF_DTYPE_F32: {
      float value;
      std::memcpy(&value, data() + 4 * i, 4);
      return value;
    }
    case MF_DTYPE_BF16: {
      uint16_t value;
      std::memcpy(&value, data() + 2 * i, 2);
      return bf16ToFloat(value);
    }
    case MF_DTYPE_I1:
      return data()[i] ? 1.0 : 0.0;
    default:
      return std::nan("");
    }
  }

  /// Stores `value` rounded to the element type (to nearest even).
  void set(size_t i, double value) {
    switch (dtype_) {
    case MF_DTYPE_F32: {
      float f = static_cast<float>(value);
      std::memcpy(data() + 4 * i, &f, 4);
      break;
    }
    case MF_DTYPE_BF16: {
      uint16_t h = floatToBf16(static_cast<float>(value));
      std::memcpy(data() + 2 * i, &h, 2);
      break;
    }
    case MF_DTYPE_I1:
      data()[i] = value != 0 ? 1 : 0;
      break;
    default:
      break;
    }
  }

  /// Fills the tensor with NaN (0xff bytes for non-float types).
  void poison() {
    if (dtype_ == MF_DTYPE_F32 || dtype_ == MF_DTYPE_BF16) {
      for (size_t i = 0; i < numel_; ++i)
        set(i, std::nan(""));
    } else {
      std::memset(data(), 0xff, bytes_);
    }
  }

  std::vector<double> values() const {
    std::vector<double> result(numel_);
    for (size_t i = 0; i < numel_; ++i)
      result[i] = get(i);
    return result;
  }

  /// The bytes of the tensor (to check that inputs are left alone).
  std::vector<unsigned char> snapshot() const {
    return std::vector<unsigned char>(data(), data() + bytes_);
  }
  bool sameBytes(const std::vector<unsigned char> &bytes) const {
    return bytes.size() == bytes_ && std::memcmp(bytes.data(), data(), bytes_) == 0;
  }

  /// True if nothing was written outside [data, data + bytes) (the canary
  /// before, and the unused capacity and canary after).
  bool guardsIntact() const {
    const unsigned char *base = storage_;
    for (size_t i = 0; i < total_; ++i)
      if ((i < kGuard || i >= kGuard + bytes_) && base[i] != kCanary)
        return false;
    return true;
  }

  mf_tensor_t view() const { return viewAs(dtype_, shape_); }
  /// A view that lies about the dtype or shape (for the negative tests).
  mf_tensor_t viewAs(mf_dtype_t dtype, const std::vector<int64_t> &shape) const {
    mf_tensor_t tensor = {};
    tensor.data = data();
    tensor.dtype = dtype;
    tensor.device = MF_DEVICE_CPU;
    for (int64_t dim : shape)
      if (tensor.rank < MF_MAX_RANK)
        tensor.dims[tensor.rank++] = dim;
    return tensor;
  }

private:
  std::string name_;
  mf_dtype_t dtype_;
  std::vector<int64_t> shape_;
  size_t numel_ = 0, bytes_ = 0, total_ = 0;
  unsigned char *storage_ = nullptr;
};

//===----------------------------------------------------------------------===//
// Calls, isolated in a child process
//===----------------------------------------------------------------------===//

/// The outcome of one call.
struct CallResult {
  /// False if the callee crashed, hung or exited: then `crash` says how.
  bool completed = true;
  std::string crash;
  mf_status_code_t code = MF_STATUS_OK;
  std::string message;
  double ms = 0;

  bool ok() const { return completed && code == MF_STATUS_OK; }
  std::string toString() const {
    if (!completed)
      return crash;
    if (code == MF_STATUS_OK)
      return "OK";
    return std::string(mf_status_code_name(code)) + ": " + message;
  }
};

bool writeAll(int fd, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

CallResult invokeDirect(const Function &function,
                        const std::vector<mf_tensor_t> &args) {
  CallResult result;
  auto start = std::chrono::steady_clock::now();
  Status status = function.invoke(args);
  result.ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  result.code = status.code();
  result.message = status.message();
  return result;
}

/// Runs the call in a forked child (the tensors are in shared memory) and
/// reports a crash, a timeout or an exit of the callee instead of dying.
CallResult invokeIsolated(const Function &function,
                          const std::vector<mf_tensor_t> &args,
                          unsigned timeoutSeconds) {
  int fds[2];
  if (::pipe(fds) != 0)
    return invokeDirect(function, args);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return invokeDirect(function, args);
  }
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(timeoutSeconds);
    CallResult result = invokeDirect(function, args);
    int32_t code = static_cast<int32_t>(result.code);
    uint64_t length = result.message.size();
    bool ok = writeAll(fds[1], &code, sizeof(code)) &&
              writeAll(fds[1], &result.ms, sizeof(result.ms)) &&
              writeAll(fds[1], &length, sizeof(length)) &&
              writeAll(fds[1], result.message.data(), length);
    ::_exit(ok ? 0 : 3);
  }
  ::close(fds[1]);
  std::string bytes;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  CallResult result;
  const size_t header = sizeof(int32_t) + sizeof(double) + sizeof(uint64_t);
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    result.completed = false;
    result.crash = sig == SIGALRM
                       ? "timed out after " + std::to_string(timeoutSeconds) +
                             " s (see --timeout)"
                       : "crashed with signal " + std::to_string(sig) + " (" +
                             ::strsignal(sig) + ")";
    return result;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 ||
      bytes.size() < header) {
    result.completed = false;
    result.crash = "the call exited the process (status " +
                   std::to_string(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) +
                   ")";
    return result;
  }
  int32_t code;
  uint64_t length;
  std::memcpy(&code, bytes.data(), sizeof(code));
  std::memcpy(&result.ms, bytes.data() + sizeof(code), sizeof(result.ms));
  std::memcpy(&length, bytes.data() + sizeof(code) + sizeof(result.ms),
              sizeof(length));
  result.code = static_cast<mf_status_code_t>(code);
  result.message = bytes.substr(header, length);
  return result;
}

//===----------------------------------------------------------------------===//
// References (float64, plain loops)
//===----------------------------------------------------------------------===//

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct AttentionShape {
  int64_t S, N, H, D;
  double scale;
};

/// out[s,i,h,:] = sum_j softmax_j(scale * q.k + bias[h,i,j], masked keys
/// excluded) v[s,j,h,:], times sigmoid(gate) when given; 0 for a fully
/// masked row. lse[s,h,i] = log sum_j exp(scaled biased score), -inf for a
/// fully masked row. B = 1. mask is [S, N] (1 = may attend), bias
/// [H, N, N], q/k/v/gate/out [S, N, H, D], lse [S, H, N]; mask, bias, gate
/// and lse may be null.
void referenceAttention(const AttentionShape &a, const double *q,
                        const double *k, const double *v, const double *mask,
                        const double *bias, const double *gate, double *out,
                        double *lse) {
  const int64_t S = a.S, N = a.N, H = a.H, D = a.D;
  std::vector<double> scores(N), acc(D);
  std::vector<char> allowed(N);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        const double *qi = q + ((s * N + i) * H + h) * D;
        double maxScore = -kInf;
        bool any = false;
        for (int64_t j = 0; j < N; ++j) {
          allowed[j] = !mask || mask[s * N + j] != 0;
          if (!allowed[j])
            continue;
          const double *kj = k + ((s * N + j) * H + h) * D;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qi[d] * kj[d];
          scores[j] = a.scale * dot + (bias ? bias[(h * N + i) * N + j] : 0.0);
          maxScore = std::max(maxScore, scores[j]);
          any = true;
        }
        double *oi = out + ((s * N + i) * H + h) * D;
        if (!any) {
          std::fill(oi, oi + D, 0.0);
          if (lse)
            lse[(s * H + h) * N + i] = -kInf;
          continue;
        }
        double sum = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < N; ++j) {
          if (!allowed[j])
            continue;
          double weight = std::exp(scores[j] - maxScore);
          sum += weight;
          const double *vj = v + ((s * N + j) * H + h) * D;
          for (int64_t d = 0; d < D; ++d)
            acc[d] += weight * vj[d];
        }
        for (int64_t d = 0; d < D; ++d) {
          oi[d] = acc[d] / sum;
          if (gate)
            oi[d] *= sigmoid(gate[((s * N + i) * H + h) * D + d]);
        }
        if (lse)
          lse[(s * H + h) * N + i] = maxScore + std::log(sum);
      }
}

/// y[r,:] = (x[r,:] - mean) / sqrt(var + eps) * gamma + beta, biased var.
std::vector<double> referenceLayerNorm(const std::vector<double> &x,
                                       const std::vector<double> &gamma,
                                       const std::vector<double> &beta,
                                       int64_t rows, int64_t C, double eps) {
  std::vector<double> y(rows * C);
  for (int64_t r = 0; r < rows; ++r) {
    const double *xr = &x[r * C];
    double mean = 0;
    for (int64_t c = 0; c < C; ++c)
      mean += xr[c];
    mean /= C;
    double var = 0;
    for (int64_t c = 0; c < C; ++c)
      var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
  }
  return y;
}

/// y = x w^T + b, w [Nout, K]; b may be null.
std::vector<double> referenceLinear(const std::vector<double> &x,
                                    const std::vector<double> &w,
                                    const std::vector<double> *b, int64_t rows,
                                    int64_t K, int64_t Nout) {
  std::vector<double> y(rows * Nout);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < Nout; ++o) {
      double sum = b ? (*b)[o] : 0.0;
      for (int64_t kk = 0; kk < K; ++kk)
        sum += x[r * K + kk] * w[o * K + kk];
      y[r * Nout + o] = sum;
    }
  return y;
}

/// y[r,f] = a * b * sigmoid(b), a = x[r,f], b = x[r,F+f].
std::vector<double> referenceSwiGLU(const std::vector<double> &x, int64_t rows,
                                    int64_t F) {
  std::vector<double> y(rows * F);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < F; ++f) {
      double a = x[r * 2 * F + f], b = x[r * 2 * F + F + f];
      y[r * F + f] = a * b * sigmoid(b);
    }
  return y;
}

double identity(double x) { return x; }

/// linear(layernorm(x)) with its own loops (not the composition above, which
/// --self-test checks it against). `round` is applied to the normalized
/// activations (what an unfused program stores in its element type).
std::vector<double> referenceLayerNormLinear(
    const std::vector<double> &x, const std::vector<double> &gamma,
    const std::vector<double> &beta, const std::vector<double> &w,
    const std::vector<double> *b, int64_t rows, int64_t C, int64_t Nout,
    double eps, const std::function<double(double)> &round = identity) {
  std::vector<double> y(rows * Nout), n(C);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0, sumSq = 0;
    for (int64_t c = 0; c < C; ++c)
      sum += x[r * C + c];
    double mean = sum / C;
    for (int64_t c = 0; c < C; ++c) {
      double centered = x[r * C + c] - mean;
      sumSq += centered * centered;
    }
    double rstd = 1.0 / std::sqrt(sumSq / C + eps);
    for (int64_t c = 0; c < C; ++c)
      n[c] = round(gamma[c] * ((x[r * C + c] - mean) * rstd) + beta[c]);
    for (int64_t o = 0; o < Nout; ++o) {
      double acc = 0;
      for (int64_t c = 0; c < C; ++c)
        acc += w[o * C + c] * n[c];
      y[r * Nout + o] = acc + (b ? (*b)[o] : 0.0);
    }
  }
  return y;
}

/// linear(swiglu(linear(layernorm(x), w_up)), w_down), own loops; `round`
/// is applied to the three intermediate tensors of the unfused program.
std::vector<double> referenceTransition(
    const std::vector<double> &x, const std::vector<double> &gamma,
    const std::vector<double> &beta, const std::vector<double> &wUp,
    const std::vector<double> &wDown, int64_t rows, int64_t C, int64_t F,
    double eps, const std::function<double(double)> &round = identity) {
  std::vector<double> y(rows * C), n(C), hidden(2 * F), act(F);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0, sumSq = 0;
    for (int64_t c = 0; c < C; ++c)
      sum += x[r * C + c];
    double mean = sum / C;
    for (int64_t c = 0; c < C; ++c)
      sumSq += (x[r * C + c] - mean) * (x[r * C + c] - mean);
    double rstd = 1.0 / std::sqrt(sumSq / C + eps);
    for (int64_t c = 0; c < C; ++c)
      n[c] = round((x[r * C + c] - mean) * rstd * gamma[c] + beta[c]);
    for (int64_t o = 0; o < 2 * F; ++o) {
      double acc = 0;
      for (int64_t c = 0; c < C; ++c)
        acc += n[c] * wUp[o * C + c];
      hidden[o] = round(acc);
    }
    for (int64_t f = 0; f < F; ++f) {
      double gateValue = hidden[F + f];
      act[f] = round(hidden[f] * gateValue / (1.0 + std::exp(-gateValue)));
    }
    for (int64_t c = 0; c < C; ++c) {
      double acc = 0;
      for (int64_t f = 0; f < F; ++f)
        acc += act[f] * wDown[c * F + f];
      y[r * C + c] = acc;
    }
  }
  return y;
}

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

struct Tolerance {
  double rtol, atol;
};

struct Comparison {
  bool ok = true;
  size_t bad = 0;
  /// Elements that passed only against the alternative reference.
  size_t altOnly = 0;
  /// NaN or infinite values where the reference is finite.
  size_t nonFinite = 0;
  /// max |got - ref| / max(|ref|, 1) over finite references.
  double maxRel = 0;
  /// max |got - ref| / (atol + rtol |ref|): the fraction of the budget used.
  double maxRatio = 0;
  std::string details; // the first few mismatches
};

std::string formatIndex(size_t flat, const std::vector<int64_t> &shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] ? static_cast<int64_t>(flat % shape[d]) : 0;
    flat = shape[d] ? flat / shape[d] : flat;
  }
  return formatShape(index);
}

/// Compares one element; returns whether it passes and sets `ratio` to
/// |got - ref| / (atol + rtol |ref|) and `rel` to |got - ref| / max(|ref|, 1)
/// (both +inf when a non-finite value decides).
bool compareElement(double g, double r, Tolerance tol, double &ratio,
                    double &rel) {
  ratio = rel = kInf;
  if (std::isnan(r))
    return false; // a harness bug; never expected
  if (std::isinf(r)) {
    if (g != r)
      return false;
    ratio = rel = 0;
    return true;
  }
  if (!std::isfinite(g))
    return false;
  double err = std::fabs(g - r);
  ratio = err / (tol.atol + tol.rtol * std::fabs(r));
  rel = err / std::max(std::fabs(r), 1.0);
  return ratio <= 1.0;
}

/// Element i passes if got and ref are equal infinities, or ref is finite,
/// got is finite and |got - ref| <= atol + rtol |ref| -- or the same holds
/// against `alt` when given (an equally valid reference, e.g. one that rounds
/// the intermediates of an unfused program to its element type).
Comparison compareValues(const std::vector<double> &got,
                         const std::vector<double> &ref, Tolerance tol,
                         const std::vector<int64_t> &shape,
                         const std::vector<double> *alt = nullptr) {
  Comparison result;
  if (got.size() != ref.size() || (alt && alt->size() != ref.size())) {
    result.ok = false;
    result.details = "size mismatch: got " + std::to_string(got.size()) +
                     " elements, reference " + std::to_string(ref.size());
    return result;
  }
  int shown = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], r = ref[i];
    double ratio, rel;
    bool pass = compareElement(g, r, tol, ratio, rel);
    if (alt) {
      double altRatio, altRel;
      bool altPass = compareElement(g, (*alt)[i], tol, altRatio, altRel);
      if (altPass && !pass)
        ++result.altOnly;
      pass = pass || altPass;
      ratio = std::min(ratio, altRatio);
      rel = std::min(rel, altRel);
    }
    if (std::isfinite(ratio)) {
      result.maxRatio = std::max(result.maxRatio, ratio);
      result.maxRel = std::max(result.maxRel, rel);
    }
    if (!pass) {
      result.ok = false;
      ++result.bad;
      if (!std::isfinite(g) && std::isfinite(r))
        ++result.nonFinite;
      if (shown++ < 5) {
        char line[200];
        if (alt)
          std::snprintf(line, sizeof(line),
                        "\n    at %s: got %.9g, want %.9g (or %.9g)",
                        formatIndex(i, shape).c_str(), g, r, (*alt)[i]);
        else
          std::snprintf(line, sizeof(line), "\n    at %s: got %.9g, want %.9g",
                        formatIndex(i, shape).c_str(), g, r);
        result.details += line;
      }
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

/// The element type of an argument: the module's (f32 or bf16), i1 masks, or
/// f32 statistics whatever the module's type.
enum class Kind { Act, Mask, Stat };

/// One dim of an argument's shape: a static size or a symbol ('S', 'N').
struct DimSpec {
  int64_t size = 0;
  char symbol = 0;
};

std::vector<DimSpec> parseShape(const char *text) {
  std::vector<DimSpec> dims;
  for (const char *p = text; *p;) {
    DimSpec dim;
    if (*p >= '0' && *p <= '9') {
      char *end = nullptr;
      dim.size = std::strtoll(p, &end, 10);
      p = end;
    } else {
      dim.symbol = *p++;
    }
    dims.push_back(dim);
    if (*p == ',')
      ++p;
  }
  return dims;
}

struct Sizes {
  int64_t S = 1, N = 1;
};

/// How an input's values are drawn.
struct Gen {
  enum Type { Normal, KeyMask } type = Normal;
  double mean = 0, stddev = 1;
};

struct ArgDesc {
  std::string name;
  Kind kind;
  std::vector<DimSpec> shape;
  Gen gen;

  std::vector<int64_t> concrete(const Sizes &sizes) const {
    std::vector<int64_t> dims;
    for (const DimSpec &dim : shape)
      dims.push_back(dim.symbol == 'S'   ? sizes.S
                     : dim.symbol == 'N' ? sizes.N
                                         : dim.size);
    return dims;
  }
};

ArgDesc input(const char *name, Kind kind, const char *shape, Gen gen = {}) {
  return {name, kind, parseShape(shape), gen};
}
ArgDesc output(int index, Kind kind, const char *shape) {
  return {"result" + std::to_string(index), kind, parseShape(shape), {}};
}
Gen normal(double mean, double stddev) {
  return {Gen::Normal, mean, stddev};
}
Gen keyMask() { return {Gen::KeyMask, 0, 0}; }

using Values = std::map<std::string, std::vector<double>>;
/// Rounds an intermediate value to the element type an unfused program
/// stores it in (the identity for the exact reference).
using Rounder = std::function<double(double)>;
using ReferenceFn = std::function<std::vector<std::vector<double>>(
    const Values &, const Sizes &, const Rounder &)>;

/// How S relates to N in a case's size sweep.
enum class SMode {
  None,     // no S symbol (S = 1 static, or 2-D [N, C] tensors)
  EqualsN,  // triangle attention: S = N
  Separate, // S in {1, 3}
};

struct Case {
  std::string name;
  /// Entries that take the same inputs and compute the same function
  /// (fused and unfused forms); the first is the one the others are
  /// compared with.
  std::vector<std::string> entries;
  std::vector<ArgDesc> inputs, outputs;
  SMode sMode;
  ReferenceFn reference;
};

/// Draws a key mask [..., N] (flattened as rows x N, rows = B*S): keys
/// dropped with probability 1/4, and whole rows fully masked: row 1 when
/// there are at least 3 rows (row 0 never), the only row when N == 7, and
/// other rows with probability 1/10.
void drawKeyMask(HostTensor &tensor, Rng &rng, int64_t N) {
  const int64_t rows = N ? static_cast<int64_t>(tensor.numel()) / N : 0;
  for (int64_t r = 0; r < rows; ++r) {
    bool fullyMasked;
    if (rows >= 3)
      fullyMasked = r == 1 || (r != 0 && rng.bernoulli(0.1));
    else if (rows == 1)
      fullyMasked = N == 7;
    else
      fullyMasked = rng.bernoulli(0.1);
    for (int64_t j = 0; j < N; ++j)
      tensor.set(r * N + j, fullyMasked ? 0.0 : (rng.bernoulli(0.25) ? 0.0 : 1.0));
  }
}

Case attentionCase(const std::string &name, int64_t H, int64_t D, SMode sMode,
                   bool hasMask, bool hasBias, bool hasGate, double scale,
                   bool withLse) {
  std::string S = sMode == SMode::None ? "1" : "S";
  std::string hd = std::to_string(H) + "," + std::to_string(D);
  std::string act = "1," + S + ",N," + hd;
  Case c;
  c.name = name;
  c.entries = {name};
  c.sMode = sMode;
  c.inputs = {input("q", Kind::Act, act.c_str(), normal(0, 1)),
              input("k", Kind::Act, act.c_str(), normal(0, 1)),
              input("v", Kind::Act, act.c_str(), normal(0, 1))};
  if (hasMask)
    c.inputs.push_back(
        input("mask", Kind::Mask, ("1," + S + ",1,1,N").c_str(), keyMask()));
  if (hasBias)
    c.inputs.push_back(input("bias", Kind::Act,
                             ("1,1," + std::to_string(H) + ",N,N").c_str(),
                             normal(0, 1.5)));
  if (hasGate)
    c.inputs.push_back(input("gate", Kind::Act, act.c_str(), normal(0, 1.5)));
  c.outputs = {output(0, Kind::Act, act.c_str())};
  if (withLse)
    c.outputs.push_back(output(
        1, Kind::Stat, ("1," + S + "," + std::to_string(H) + ",N").c_str()));
  double effectiveScale = scale > 0 ? scale : 1.0 / std::sqrt(double(D));
  c.reference = [=](const Values &in, const Sizes &sz, const Rounder &) {
    AttentionShape shape{sMode == SMode::None ? 1 : sz.S, sz.N, H, D,
                         effectiveScale};
    std::vector<std::vector<double>> out(withLse ? 2 : 1);
    out[0].resize(shape.S * shape.N * H * D);
    if (withLse)
      out[1].resize(shape.S * H * shape.N);
    auto ptr = [&](const char *key) -> const double * {
      auto it = in.find(key);
      return it == in.end() ? nullptr : it->second.data();
    };
    referenceAttention(shape, ptr("q"), ptr("k"), ptr("v"), ptr("mask"),
                       ptr("bias"), ptr("gate"), out[0].data(),
                       withLse ? out[1].data() : nullptr);
    return out;
  };
  return c;
}

/// The cases; they mirror Inputs/ops_{f32,bf16}.mlir.
std::vector<Case> buildCases() {
  std::vector<Case> cases;
  // Attention (DESIGN.md: triangle H=4 D=32, MSA row H=8 D=32, MSA column,
  // single H=16 D=24).
  cases.push_back(attentionCase("attention_full", 4, 32, SMode::EqualsN, true,
                                true, true, 0, false));
  cases.push_back(attentionCase("attention_nogate", 8, 32, SMode::Separate,
                                true, true, false, 0, false));
  cases.push_back(attentionCase("attention_plain", 8, 8, SMode::Separate,
                                false, false, false, 0, false));
  cases.push_back(attentionCase("attention_single", 16, 24, SMode::None, true,
                                true, true, 0, false));
  cases.push_back(attentionCase("attention_lse", 2, 16, SMode::Separate, true,
                                true, true, 0.3, true));
  cases.push_back(attentionCase("attention_bias_only", 2, 64, SMode::Separate,
                                false, true, false, 0, false));

  const double invSqrt128 = 1.0 / std::sqrt(128.0);
  {
    Case c;
    c.name = "layernorm";
    c.entries = {"layernorm"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,128", normal(0.5, 1.5)),
                input("gamma", Kind::Act, "128", normal(1, 0.5)),
                input("beta", Kind::Act, "128", normal(0, 0.5))};
    c.outputs = {output(0, Kind::Act, "N,128")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &) {
      return std::vector<std::vector<double>>{
          referenceLayerNorm(in.at("x"), in.at("gamma"), in.at("beta"), sz.N,
                             128, 1e-5)};
    };
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "linear";
    c.entries = {"linear"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,128", normal(0, 1)),
                input("w", Kind::Act, "516,128", normal(0, invSqrt128)),
                input("b", Kind::Act, "516", normal(0, 0.5))};
    c.outputs = {output(0, Kind::Act, "N,516")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &) {
      return std::vector<std::vector<double>>{
          referenceLinear(in.at("x"), in.at("w"), &in.at("b"), sz.N, 128, 516)};
    };
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "linear_nobias";
    c.entries = {"linear_nobias"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,128", normal(0, 1)),
                input("w", Kind::Act, "4,128", normal(0, invSqrt128))};
    c.outputs = {output(0, Kind::Act, "N,4")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &) {
      return std::vector<std::vector<double>>{
          referenceLinear(in.at("x"), in.at("w"), nullptr, sz.N, 128, 4)};
    };
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "layernorm_linear";
    c.entries = {"layernorm_linear", "ln_linear_unfused"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,128", normal(0.5, 1.5)),
                input("gamma", Kind::Act, "128", normal(1, 0.5)),
                input("beta", Kind::Act, "128", normal(0, 0.5)),
                input("w", Kind::Act, "132,128", normal(0, invSqrt128)),
                input("b", Kind::Act, "132", normal(0, 0.5))};
    c.outputs = {output(0, Kind::Act, "N,132")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &round) {
      return std::vector<std::vector<double>>{referenceLayerNormLinear(
          in.at("x"), in.at("gamma"), in.at("beta"), in.at("w"), &in.at("b"),
          sz.N, 128, 132, 1e-3, round)};
    };
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "swiglu";
    c.entries = {"swiglu"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,1024", normal(0, 2))};
    c.outputs = {output(0, Kind::Act, "N,512")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &) {
      return std::vector<std::vector<double>>{
          referenceSwiGLU(in.at("x"), sz.N, 512)};
    };
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "transition";
    c.entries = {"transition", "transition_unfused"};
    c.sMode = SMode::None;
    c.inputs = {input("x", Kind::Act, "N,128", normal(0.2, 1.2)),
                input("gamma", Kind::Act, "128", normal(1, 0.5)),
                input("beta", Kind::Act, "128", normal(0, 0.5)),
                input("w_up", Kind::Act, "1024,128", normal(0, invSqrt128)),
                input("w_down", Kind::Act, "128,512",
                      normal(0, 1.0 / std::sqrt(512.0)))};
    c.outputs = {output(0, Kind::Act, "N,128")};
    c.reference = [](const Values &in, const Sizes &sz, const Rounder &round) {
      return std::vector<std::vector<double>>{referenceTransition(
          in.at("x"), in.at("gamma"), in.at("beta"), in.at("w_up"),
          in.at("w_down"), sz.N, 128, 512, 1e-3, round)};
    };
    cases.push_back(c);
  }
  return cases;
}

//===----------------------------------------------------------------------===//
// The harness
//===----------------------------------------------------------------------===//

struct Options {
  std::vector<std::string> artifacts;
  mf_dtype_t dtype = MF_DTYPE_INVALID;
  uint64_t seed = 0;
  bool haveSeed = false;
  std::vector<std::string> only;
  std::vector<int64_t> sizes = {1, 7, 33, 100, 130};
  double rtol = -1, atol = -1;
  bool selfTest = false;
  bool fork = true;
  unsigned timeoutSeconds = 120;
};

struct Artifact {
  std::string path, label;
  Module module;
};

class Harness {
public:
  Harness(const Options &options, std::vector<Artifact> &artifacts)
      : options_(options), artifacts_(artifacts) {}

  int passed = 0, failed = 0;

  void pass(const std::string &line) {
    ++passed;
    std::printf("PASS %s\n", line.c_str());
    std::fflush(stdout);
  }
  void fail(const std::string &line) {
    ++failed;
    std::printf("FAIL %s\n", line.c_str());
    std::fflush(stdout);
  }
  void note(const std::string &line) {
    std::printf("NOTE %s\n", line.c_str());
    std::fflush(stdout);
  }

  const char *dtypeName() const { return mf_dtype_name(options_.dtype); }

  CallResult call(const Function &function,
                  const std::vector<mf_tensor_t> &args) const {
    return options_.fork
               ? invokeIsolated(function, args, options_.timeoutSeconds)
               : invokeDirect(function, args);
  }

  mf_dtype_t dtypeOf(Kind kind) const {
    switch (kind) {
    case Kind::Act:
      return options_.dtype;
    case Kind::Mask:
      return MF_DTYPE_I1;
    case Kind::Stat:
      return MF_DTYPE_F32;
    }
    return MF_DTYPE_INVALID;
  }

  /// f32: 1e-5; bf16: 1e-2, doubled for the unfused entries of a case (the
  /// entries after its first): an unfused bf16 program stores three
  /// intermediate tensors in bf16, and an intermediate that rounds to the
  /// other neighbour than the reference's moves an output by up to ~1e-2
  /// (measured over 100 seeds with a float32 stand-in for compiled code:
  /// 0.97x of 1e-2 even against the rounded-intermediates reference).
  Tolerance toleranceFor(mf_dtype_t dtype, bool unfusedEntry = false) const {
    Tolerance tol = dtype == MF_DTYPE_BF16 ? Tolerance{1e-2, 1e-2}
                                           : Tolerance{1e-5, 1e-5};
    if (dtype == MF_DTYPE_BF16 && unfusedEntry) {
      tol.rtol *= 2;
      tol.atol *= 2;
    }
    if (options_.rtol >= 0)
      tol.rtol = options_.rtol;
    if (options_.atol >= 0)
      tol.atol = options_.atol;
    return tol;
  }

  /// Fused against unfused outputs. Same as toleranceFor, except bf16:
  /// there the unfused program rounds three intermediate tensors to bf16 and
  /// the fused one does not, which moves outputs by up to 2.2x the bf16
  /// tolerance (measured over 100 seeds with a float32 stand-in for compiled
  /// code), so the bf16 cross tolerance is 4x (4e-2).
  Tolerance crossTolerance(mf_dtype_t dtype) const {
    Tolerance tol = toleranceFor(dtype);
    if (dtype == MF_DTYPE_BF16 && options_.rtol < 0 && options_.atol < 0) {
      tol.rtol *= kCrossBf16Factor;
      tol.atol *= kCrossBf16Factor;
    }
    return tol;
  }
  static constexpr double kCrossBf16Factor = 4.0;

  bool selected(const Case &c) const {
    if (options_.only.empty())
      return true;
    for (const std::string &name : options_.only) {
      if (name == c.name)
        return true;
      for (const std::string &entry : c.entries)
        if (name == entry)
          return true;
    }
    return false;
  }

  /// The (S, N) pairs a case runs at.
  std::vector<Sizes> sweep(const Case &c) const {
    std::vector<Sizes> result;
    for (int64_t n : options_.sizes) {
      switch (c.sMode) {
      case SMode::None:
        result.push_back({1, n});
        break;
      case SMode::EqualsN:
        result.push_back({n, n});
        break;
      case SMode::Separate:
        result.push_back({1, n});
        result.push_back({3, n});
        break;
      }
    }
    return result;
  }

  std::string sizeText(const Case &c, const Sizes &sz) const {
    std::string text = "N=" + std::to_string(sz.N);
    if (c.sMode != SMode::None)
      text += " S=" + std::to_string(sz.S);
    return text;
  }

  /// Checks an entry's manifest against the case. Returns false if the
  /// entry cannot be called by name (then its numerics are skipped);
  /// `tiesOk` says whether the dynamic dims are tied by symbols.
  bool checkManifest(const Case &c, const std::string &entry,
                     const Artifact &artifact, const Function &function,
                     bool &tiesOk) {
    std::string where = "manifest " + entry + " " + dtypeName() + " [" +
                        artifact.label + "]";
    std::vector<const ArgDesc *> expected;
    for (const ArgDesc &arg : c.inputs)
      expected.push_back(&arg);
    for (const ArgDesc &arg : c.outputs)
      expected.push_back(&arg);
    std::string problems;
    bool callable = true;
    tiesOk = true;
    size_t count = function.argCount();
    auto expectedNames = [&] {
      std::string names;
      for (const ArgDesc *arg : expected)
        names += (names.empty() ? "" : ", ") + arg->name;
      return names;
    };
    std::vector<mf_arg_info_t> infos;
    for (size_t i = 0; i < count; ++i) {
      Result<mf_arg_info_t> info = function.argInfo(i);
      if (!info.ok()) {
        fail(where + ": argInfo(" + std::to_string(i) +
             ") failed: " + info.status().toString());
        return false;
      }
      infos.push_back(*info);
    }
    std::string actualNames;
    for (const mf_arg_info_t &info : infos)
      actualNames += (actualNames.empty() ? "" : ", ") + std::string(info.name);
    if (count != expected.size()) {
      problems += "\n    " + std::to_string(count) + " arguments (" +
                  actualNames + "), expected " +
                  std::to_string(expected.size()) + " (" + expectedNames() + ")";
    }
    // Every expected argument must be present by name.
    std::map<std::string, size_t> byName;
    for (size_t i = 0; i < infos.size(); ++i)
      byName[infos[i].name] = i;
    for (const ArgDesc *arg : expected)
      if (!byName.count(arg->name)) {
        problems += "\n    no argument named '" + arg->name + "' (manifest: " +
                    actualNames + ")";
        callable = false;
      }
    if (callable && count == expected.size()) {
      // Order: inputs as written, then result0, result1, ...
      for (size_t i = 0; i < count; ++i)
        if (infos[i].name != expected[i]->name) {
          problems += "\n    argument order is (" + actualNames +
                      "), expected (" + expectedNames() + ")";
          break;
        }
    }
    // symbol tie-up: expected symbol -> manifest symbols, and back.
    std::map<char, std::set<std::string>> forward;
    std::map<std::string, std::set<char>> backward;
    for (size_t e = 0; e < expected.size() && callable; ++e) {
      const ArgDesc &arg = *expected[e];
      const mf_arg_info_t &info = infos[byName[arg.name]];
      std::string at = "\n    '" + arg.name + "': ";
      bool isOutput = e >= c.inputs.size();
      if (info.is_output != (isOutput ? 1 : 0))
        problems += at + "role is " + (info.is_output ? "output" : "input") +
                    ", expected " + (isOutput ? "output" : "input");
      mf_dtype_t want = dtypeOf(arg.kind);
      if (info.dtype != want)
        problems += at + "dtype " + mf_dtype_name(info.dtype) + ", expected " +
                    mf_dtype_name(want);
      if (info.rank != static_cast<int32_t>(arg.shape.size())) {
        problems += at + "rank " + std::to_string(info.rank) + ", expected " +
                    std::to_string(arg.shape.size());
        continue;
      }
      for (size_t d = 0; d < arg.shape.size(); ++d) {
        const DimSpec &dim = arg.shape[d];
        std::string dimAt = at + "dim " + std::to_string(d) + " ";
        if (dim.symbol) {
          if (info.dims[d] >= 0 || !info.dim_symbols[d]) {
            problems += dimAt + "is static " + std::to_string(info.dims[d]) +
                        ", expected dynamic (" + dim.symbol + ")";
            continue;
          }
          forward[dim.symbol].insert(info.dim_symbols[d]);
          backward[info.dim_symbols[d]].insert(dim.symbol);
        } else if (info.dims[d] != dim.size) {
          problems += dimAt + "is " +
                      (info.dims[d] < 0 ? std::string("dynamic (") +
                                              (info.dim_symbols[d]
                                                   ? info.dim_symbols[d]
                                                   : "?") +
                                              ")"
                                        : std::to_string(info.dims[d])) +
                      ", expected " + std::to_string(dim.size);
        }
      }
    }
    for (const auto &[symbol, names] : forward)
      if (names.size() > 1) {
        std::string list;
        for (const std::string &name : names)
          list += (list.empty() ? "" : ", ") + name;
        problems += std::string("\n    the dims that are all ") + symbol +
                    " have different symbols (" + list +
                    "), so the runtime cannot check that they agree";
        tiesOk = false;
      }
    for (const auto &[name, symbols] : backward)
      if (symbols.size() > 1) {
        problems += "\n    symbol " + name +
                    " stands for independent dims (" +
                    std::string(symbols.begin(), symbols.end()) + ")";
        tiesOk = false;
      }
    if (problems.empty())
      pass(where);
    else
      fail(where + ":" + problems);
    return callable;
  }

  struct Run {
    std::string entry;
    const Artifact *artifact;
    std::vector<std::vector<double>> outputs;
    std::vector<std::vector<int64_t>> shapes;
  };

  struct Target {
    std::string entry;
    const Artifact *artifact;
    Function function;
  };

  /// Runs `c` at `sz` on every target, checking each against the reference
  /// and the later entries of the case against the first.
  void runCase(const Case &c, const Sizes &sz, const std::vector<Target> &targets,
               const std::string &prefix = "") {
    uint64_t streamSeed = hashString(0xcbf29ce484222325ull ^ options_.seed, c.name);
    streamSeed = hashString(streamSeed, "S" + std::to_string(sz.S) + "N" +
                                            std::to_string(sz.N));
    Rng rng(streamSeed);
    std::vector<std::unique_ptr<HostTensor>> inputs;
    Values values;
    for (const ArgDesc &arg : c.inputs) {
      auto tensor = std::make_unique<HostTensor>(arg.name, dtypeOf(arg.kind),
                                                 arg.concrete(sz));
      if (arg.gen.type == Gen::KeyMask) {
        drawKeyMask(*tensor, rng, sz.N);
      } else {
        for (size_t i = 0; i < tensor->numel(); ++i)
          tensor->set(i, arg.gen.mean + arg.gen.stddev * rng.normal());
      }
      values[arg.name] = tensor->values(); // what the callee sees, exactly
      inputs.push_back(std::move(tensor));
    }
    std::vector<std::vector<double>> reference =
        c.reference(values, sz, identity);
    // Cases with fused and unfused entries: an unfused program stores its
    // intermediates in the element type, so a second reference rounds them
    // (to bf16 or f32) and either is accepted, element by element.
    std::vector<std::vector<double>> rounded;
    if (c.entries.size() > 1) {
      mf_dtype_t dtype = options_.dtype;
      rounded = c.reference(values, sz, [dtype](double x) {
        return dtype == MF_DTYPE_BF16
                   ? static_cast<double>(
                         bf16ToFloat(floatToBf16(static_cast<float>(x))))
                   : static_cast<double>(static_cast<float>(x));
      });
    }
    std::string sizes = sizeText(c, sz);

    std::vector<Run> runs;
    for (const Target &target : targets) {
      std::string label = prefix + target.entry + " " + dtypeName() + " " +
                          sizes + " [" + target.artifact->label + "]";
      std::vector<std::unique_ptr<HostTensor>> outputs;
      for (const ArgDesc &arg : c.outputs) {
        outputs.push_back(std::make_unique<HostTensor>(
            arg.name, dtypeOf(arg.kind), arg.concrete(sz)));
        outputs.back()->poison();
      }
      std::vector<std::vector<unsigned char>> before;
      for (const auto &tensor : inputs)
        before.push_back(tensor->snapshot());

      std::vector<mf_tensor_t> args;
      std::string missing;
      for (size_t i = 0; i < target.function.argCount(); ++i) {
        Result<mf_arg_info_t> info = target.function.argInfo(i);
        const HostTensor *found = nullptr;
        if (info.ok()) {
          for (const auto &tensor : info->is_output ? outputs : inputs)
            if (tensor->name() == info->name)
              found = tensor.get();
        }
        if (!found) {
          missing += std::string(missing.empty() ? "" : ", ") +
                     (info.ok() ? info->name : "?");
          continue;
        }
        args.push_back(found->view());
      }
      if (!missing.empty()) {
        fail(label + ": the manifest has arguments this case does not know: " +
             missing);
        continue;
      }
      CallResult status = call(target.function, args);
      double ms = status.ms;
      if (!status.ok()) {
        fail(label + ": invoke failed: " + status.toString());
        continue;
      }
      std::string problems;
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i]->sameBytes(before[i]))
          problems += "\n    input '" + inputs[i]->name() + "' was modified";
        if (!inputs[i]->guardsIntact())
          problems += "\n    memory around input '" + inputs[i]->name() +
                      "' was written";
      }
      Run run{target.entry, target.artifact, {}, {}};
      double maxRel = 0, maxRatio = 0;
      size_t altOnly = 0;
      bool unfusedEntry = target.entry != c.entries.front();
      for (size_t o = 0; o < outputs.size(); ++o) {
        if (!outputs[o]->guardsIntact())
          problems += "\n    memory around output '" + outputs[o]->name() +
                      "' was written (out of bounds)";
        std::vector<double> got = outputs[o]->values();
        Tolerance tol = toleranceFor(outputs[o]->dtype(), unfusedEntry);
        Comparison cmp = compareValues(
            got, reference[o], tol, outputs[o]->shape(),
            rounded.empty() ? nullptr : &rounded[o]);
        altOnly += cmp.altOnly;
        maxRel = std::max(maxRel, cmp.maxRel);
        maxRatio = std::max(maxRatio, cmp.maxRatio);
        if (!cmp.ok) {
          char line[160];
          std::snprintf(line, sizeof(line),
                        "\n    %s: %zu of %zu elements off, %zu of them NaN or "
                        "inf (rtol=%g atol=%g, max_rel=%.3g):",
                        outputs[o]->name().c_str(), cmp.bad, got.size(),
                        cmp.nonFinite, tol.rtol, tol.atol, cmp.maxRel);
          problems += line + cmp.details;
        }
        run.outputs.push_back(std::move(got));
        run.shapes.push_back(outputs[o]->shape());
      }
      char metrics[160];
      std::snprintf(metrics, sizeof(metrics),
                    " max_rel=%.3g tol_used=%.3g time=%.1fms", maxRel, maxRatio,
                    ms);
      if (altOnly)
        std::snprintf(metrics + std::strlen(metrics),
                      sizeof(metrics) - std::strlen(metrics),
                      " (%zu elements match only the rounded-intermediates "
                      "reference)",
                      altOnly);
      if (problems.empty())
        pass(label + metrics);
      else
        fail(label + metrics + problems);
      runs.push_back(std::move(run));
    }

    // Fused vs unfused: every run of a later entry against the first run of
    // the case's first entry, on the same inputs.
    const Run *base = nullptr;
    for (const Run &run : runs)
      if (run.entry == c.entries.front() && !base)
        base = &run;
    if (!base)
      return;
    for (const Run &run : runs) {
      if (run.entry == base->entry)
        continue;
      std::string label = prefix + "fused-vs-unfused " + base->entry + " [" +
                          base->artifact->label + "] ~ " + run.entry + " [" +
                          run.artifact->label + "] " + dtypeName() + " " + sizes;
      std::string problems;
      double maxRel = 0, maxRatio = 0;
      for (size_t o = 0; o < run.outputs.size(); ++o) {
        Comparison cmp = compareValues(run.outputs[o], base->outputs[o],
                                       crossTolerance(dtypeOf(c.outputs[o].kind)),
                                       run.shapes[o]);
        maxRel = std::max(maxRel, cmp.maxRel);
        maxRatio = std::max(maxRatio, cmp.maxRatio);
        if (!cmp.ok)
          problems += "\n    " + c.outputs[o].name + ": " +
                      std::to_string(cmp.bad) + " elements differ (got: " +
                      run.entry + ", want: " + base->entry + "):" + cmp.details;
      }
      char metrics[64];
      std::snprintf(metrics, sizeof(metrics), " max_rel=%.3g tol_used=%.3g",
                    maxRel, maxRatio);
      if (problems.empty())
        pass(label + metrics);
      else
        fail(label + metrics + problems);
    }
  }

  /// Expects `status` to be INVALID_ARGUMENT naming `argName`, and the
  /// outputs untouched (the code never ran).
  void expectRejected(const std::string &label, const CallResult &status,
                      const std::string &argName,
                      const std::vector<const HostTensor *> &outputs) {
    std::string problems;
    if (!status.completed) {
      problems += "\n    the call was not rejected: the code ran and " +
                  status.crash;
    } else if (status.ok()) {
      problems += "\n    the call succeeded";
    } else {
      const std::string &message = status.message;
      if (status.code != MF_STATUS_INVALID_ARGUMENT)
        problems += std::string("\n    code is ") +
                    mf_status_code_name(status.code) +
                    ", expected INVALID_ARGUMENT";
      bool named = message.find("'" + argName + "'") != std::string::npos ||
                   message.find("\"" + argName + "\"") != std::string::npos ||
                   message.find("`" + argName + "`") != std::string::npos;
      if (!named)
        problems += "\n    the message does not name '" + argName + "'";
    }
    for (const HostTensor *out : outputs) {
      bool untouched = out->guardsIntact();
      for (size_t i = 0; i < out->numel() && untouched; ++i)
        untouched = std::isnan(out->get(i));
      if (!untouched)
        problems += "\n    output '" + out->name() + "' was written";
    }
    std::string shown = status.ok() ? "OK" : status.toString();
    if (problems.empty())
      pass(label + ": " + shown);
    else
      fail(label + ": " + shown + problems);
  }

  /// One negative call: the case's arguments in manifest order, with
  /// argument `badName` given the shape `reshape(shape)`, or viewed as
  /// `dtypeOverride`, or (with neither) left out. Expects a rejection whose
  /// message names `expectNamed`.
  void negative(const std::string &what, const Case &c, const Target &target,
                const Sizes &sz, const std::string &badName,
                const std::function<std::vector<int64_t>(std::vector<int64_t>)>
                    &reshape,
                mf_dtype_t dtypeOverride, const std::string &expectNamed) {
    std::string label = "negative " + what + " " + target.entry + " " +
                        dtypeName() + " [" + target.artifact->label + "]";
    std::vector<std::unique_ptr<HostTensor>> tensors;
    // Allocate the bad argument with its bad shape, so a call that wrongly
    // goes through stays inside its buffers.
    Rng rng(99);
    for (const ArgDesc &arg : c.inputs) {
      std::vector<int64_t> shape = arg.concrete(sz);
      if (arg.name == badName && reshape)
        shape = reshape(shape);
      tensors.push_back(
          std::make_unique<HostTensor>(arg.name, dtypeOf(arg.kind), shape));
      for (size_t i = 0; i < tensors.back()->numel(); ++i)
        tensors.back()->set(i, arg.kind == Kind::Mask ? 1.0 : rng.normal());
    }
    std::vector<const HostTensor *> outs;
    for (const ArgDesc &arg : c.outputs) {
      std::vector<int64_t> shape = arg.concrete(sz);
      if (arg.name == badName && reshape)
        shape = reshape(shape);
      tensors.push_back(
          std::make_unique<HostTensor>(arg.name, dtypeOf(arg.kind), shape));
      tensors.back()->poison();
      outs.push_back(tensors.back().get());
    }
    std::vector<mf_tensor_t> args;
    for (size_t i = 0; i < target.function.argCount(); ++i) {
      Result<mf_arg_info_t> info = target.function.argInfo(i);
      if (!info.ok())
        continue;
      for (const auto &tensor : tensors)
        if (tensor->name() == info->name) {
          if (tensor->name() == badName && !reshape &&
              dtypeOverride == MF_DTYPE_INVALID)
            break; // dropped
          mf_tensor_t view = tensor->view();
          if (tensor->name() == badName && dtypeOverride != MF_DTYPE_INVALID)
            view.dtype = dtypeOverride;
          args.push_back(view);
        }
    }
    expectRejected(label, call(target.function, args), expectNamed, outs);
  }

  void runNegatives(const std::map<std::string, const Case *> &caseOf,
                    const Artifact &artifact,
                    const std::map<std::string, std::vector<Target>> &targets,
                    const std::map<std::string, bool> &tied) {
    auto find = [&](const std::string &entry) -> const Target * {
      auto it = targets.find(entry);
      if (it == targets.end())
        return nullptr;
      for (const Target &target : it->second)
        if (target.artifact == &artifact)
          return &target;
      return nullptr;
    };
    auto key = [&](const std::string &entry) {
      return entry + "@" + artifact.label;
    };
    mf_dtype_t otherFloat =
        options_.dtype == MF_DTYPE_F32 ? MF_DTYPE_BF16 : MF_DTYPE_F32;
    Sizes sz{5, 5};
    if (const Target *t = find("linear")) {
      const Case &c = *caseOf.at("linear");
      negative("static-dim", c, *t, sz, "w",
               [](std::vector<int64_t> s) { s[0] += 1; return s; },
               MF_DTYPE_INVALID, "w");
      negative("arg-count", c, *t, sz, "b", nullptr, MF_DTYPE_INVALID, "linear");
    }
    if (const Target *t = find("layernorm")) {
      const Case &c = *caseOf.at("layernorm");
      negative("rank", c, *t, sz, "x",
               [](std::vector<int64_t> s) { s.insert(s.begin(), 1); return s; },
               MF_DTYPE_INVALID, "x");
      if (tied.count(key("layernorm")) && tied.at(key("layernorm")))
        negative("output-dim", c, *t, sz, "result0",
                 [](std::vector<int64_t> s) { s[0] += 1; return s; },
                 MF_DTYPE_INVALID, "result0");
    }
    if (const Target *t = find("attention_full")) {
      const Case &c = *caseOf.at("attention_full");
      negative("dtype", c, *t, sz, "bias", nullptr, otherFloat, "bias");
      negative("mask-dtype", c, *t, sz, "mask", nullptr, options_.dtype, "mask");
      if (tied.count(key("attention_full")) && tied.at(key("attention_full")))
        negative("dynamic-dim", c, *t, sz, "k",
                 [](std::vector<int64_t> s) { s[2] += 1; return s; },
                 MF_DTYPE_INVALID, "k");
      else
        note("negative dynamic-dim attention_full [" + artifact.label +
             "] skipped: the manifest does not tie the dynamic dims");
    }
  }

  int run(const std::vector<Case> &cases) {
    std::map<std::string, const Case *> caseOf;
    std::set<std::string> known;
    for (const Case &c : cases)
      for (const std::string &entry : c.entries) {
        caseOf[entry] = &c;
        known.insert(entry);
      }
    for (const Artifact &artifact : artifacts_) {
      if (std::strcmp(artifact.module.target(), "cpu") != 0)
        fail("artifact [" + artifact.label + "] has target '" +
             artifact.module.target() + "', expected 'cpu'");
      for (size_t i = 0; i < artifact.module.entryCount(); ++i)
        if (!known.count(artifact.module.entryName(i)))
          note(std::string("entry '") + artifact.module.entryName(i) + "' of [" +
               artifact.label + "] is not known to this test");
    }

    // Look up and check the manifests of every known entry.
    std::map<std::string, std::vector<Target>> targets;
    std::map<std::string, bool> tied; // entry@label
    for (const Case &c : cases) {
      if (!selected(c))
        continue;
      for (const std::string &entry : c.entries) {
        for (const Artifact &artifact : artifacts_) {
          Result<Function> function = artifact.module.lookup(entry);
          if (!function.ok())
            continue;
          bool tiesOk = true;
          if (checkManifest(c, entry, artifact, *function, tiesOk))
            targets[entry].push_back({entry, &artifact, *function});
          tied[entry + "@" + artifact.label] = tiesOk;
        }
        if (!targets.count(entry))
          fail(entry + " " + dtypeName() +
               ": no artifact has a usable entry of this name");
      }
    }

    // Numerics.
    for (const Case &c : cases) {
      if (!selected(c))
        continue;
      std::vector<Target> caseTargets;
      for (const std::string &entry : c.entries)
        if (targets.count(entry))
          for (const Target &target : targets[entry])
            caseTargets.push_back(target);
      if (caseTargets.empty())
        continue;
      for (const Sizes &sz : sweep(c))
        runCase(c, sz, caseTargets);
    }

    // One loaded module, several dynamic sizes in sequence, two entries
    // interleaved.
    for (const Artifact &artifact : artifacts_) {
      std::vector<std::pair<const Case *, Target>> pair;
      for (const char *entry : {"layernorm", "attention_nogate"}) {
        if (!caseOf.count(entry) || !selected(*caseOf[entry]))
          continue;
        for (const Target &target : targets[entry])
          if (target.artifact == &artifact)
            pair.push_back({caseOf[entry], target});
      }
      if (pair.empty())
        continue;
      int step = 0;
      for (int64_t n : {100, 1, 33, 130, 7, 1, 100}) {
        for (auto &[c, target] : pair) {
          Sizes sz{c->sMode == SMode::None ? 1 : 2, n};
          runCase(*c, sz, {target}, "sequence[" + std::to_string(step) + "] ");
        }
        ++step;
      }
      break; // the first artifact that has them is enough
    }

    // Negative calls.
    for (const Artifact &artifact : artifacts_)
      runNegatives(caseOf, artifact, targets, tied);

    return failed;
  }

private:
  const Options &options_;
  std::vector<Artifact> &artifacts_;
};

//===----------------------------------------------------------------------===//
// --self-test: the references and the comparison checked against each other
//===----------------------------------------------------------------------===//

class SelfTest {
public:
  int passed = 0, failed = 0;

  void check(bool ok, const std::string &what, const std::string &detail = "") {
    if (ok) {
      ++passed;
      std::printf("PASS self-test %s\n", what.c_str());
    } else {
      ++failed;
      std::printf("FAIL self-test %s %s\n", what.c_str(), detail.c_str());
    }
  }

  static double maxAbsDiff(const std::vector<double> &a,
                           const std::vector<double> &b) {
    if (a.size() != b.size())
      return kInf;
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isinf(a[i]) || std::isinf(b[i])) {
        if (a[i] != b[i])
          return kInf;
        continue;
      }
      m = std::max(m, std::fabs(a[i] - b[i]));
    }
    return m;
  }

  void near(const std::vector<double> &a, const std::vector<double> &b,
            double tol, const std::string &what) {
    double diff = maxAbsDiff(a, b);
    char detail[64];
    std::snprintf(detail, sizeof(detail), "(max abs diff %.3g > %.3g)", diff, tol);
    check(diff <= tol, what, detail);
  }

  /// The textbook formula: p_j = m_j e^{s_j} / sum_k m_k e^{s_k}, no max
  /// subtraction, masks as 0/1 weights; lse = log sum_k m_k e^{s_k}.
  static void naiveAttention(const AttentionShape &a, const double *q,
                             const double *k, const double *v,
                             const double *mask, const double *bias,
                             const double *gate, double *out, double *lse) {
    const int64_t S = a.S, N = a.N, H = a.H, D = a.D;
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < N; ++i)
        for (int64_t h = 0; h < H; ++h) {
          std::vector<double> e(N);
          double z = 0;
          for (int64_t j = 0; j < N; ++j) {
            double score = 0;
            for (int64_t d = 0; d < D; ++d)
              score += q[((s * N + i) * H + h) * D + d] *
                       k[((s * N + j) * H + h) * D + d];
            score *= a.scale;
            if (bias)
              score += bias[h * N * N + i * N + j];
            e[j] = (mask ? mask[s * N + j] : 1.0) * std::exp(score);
            z += e[j];
          }
          for (int64_t d = 0; d < D; ++d) {
            double o = 0;
            for (int64_t j = 0; j < N; ++j)
              o += (z > 0 ? e[j] / z : 0.0) * v[((s * N + j) * H + h) * D + d];
            if (gate)
              o /= 1.0 + std::exp(-gate[((s * N + i) * H + h) * D + d]);
            out[((s * N + i) * H + h) * D + d] = o;
          }
          lse[(s * H + h) * N + i] = std::log(z); // log(0) = -inf
        }
  }

  static std::vector<double> randomVector(Rng &rng, size_t n, double mean = 0,
                                          double stddev = 1) {
    std::vector<double> v(n);
    for (double &x : v)
      x = mean + stddev * rng.normal();
    return v;
  }

  void run() {
    // bf16 rounding.
    struct {
      float in;
      uint16_t out;
    } bf16Cases[] = {
        {1.0f, 0x3f80},
        {1.0f + 0x1.0p-8f, 0x3f80},        // tie, even below
        {1.0f + 3 * 0x1.0p-8f, 0x3f82},    // tie, even above
        {1.0f + 0x1.0p-8f + 0x1.0p-20f, 0x3f81}, // just above the tie
        {-2.5f, 0xc020},
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {std::numeric_limits<float>::infinity(), 0x7f80},
        {3.3895314e38f, 0x7f7f},           // largest bf16
        {3.4e38f, 0x7f80},                 // rounds up to inf
        {1e-40f, 0x0001},                  // subnormal
    };
    bool bf16Ok = true;
    std::string bf16Detail;
    for (const auto &c : bf16Cases)
      if (floatToBf16(c.in) != c.out) {
        bf16Ok = false;
        char line[80];
        std::snprintf(line, sizeof(line), "[%a -> 0x%04x, want 0x%04x]", c.in,
                      floatToBf16(c.in), c.out);
        bf16Detail += line;
      }
    bf16Ok = bf16Ok && std::isnan(bf16ToFloat(floatToBf16(std::nanf(""))));
    bf16Ok = bf16Ok && bf16ToFloat(0x3f80) == 1.0f && bf16ToFloat(0xc020) == -2.5f;
    check(bf16Ok, "bf16 round-to-nearest-even", bf16Detail);
    {
      HostTensor t("t", MF_DTYPE_BF16, {3});
      t.set(0, 1.0 + 1.0 / 256);
      t.set(1, M_PI);
      t.set(2, -1e-3);
      check(t.get(0) == 1.0 && t.get(1) == 3.140625 &&
                std::fabs(t.get(2) + 1e-3) < 4e-6,
            "HostTensor bf16 set/get");
      HostTensor p("p", MF_DTYPE_BF16, {4});
      p.poison();
      check(std::isnan(p.get(3)) && p.guardsIntact(), "HostTensor poison");
      p.data()[8] = 0; // one byte past the 8-byte bf16 data
      check(!p.guardsIntact(), "HostTensor detects a write past the end");
    }

    // The comparison.
    {
      Tolerance tol{1e-5, 1e-5};
      std::vector<int64_t> shape = {6};
      auto ok = [&](std::vector<double> got, std::vector<double> ref) {
        return compareValues(got, ref, tol, {int64_t(got.size())}).ok;
      };
      check(ok({1.0, -2.0, 0.0, -kInf, 100.0, 1e-6},
               {1.0 + 9e-6, -2.0 - 2.5e-5, 9e-6, -kInf, 100.0 + 1e-3, 0.0}),
            "compare accepts errors within atol + rtol |ref|");
      check(!ok({1.0 + 2.1e-5}, {1.0}), "compare rejects 2.1e-5 at 1");
      check(!ok({100.0 + 1.02e-3}, {100.0}), "compare rejects 1.02e-3 at 100");
      check(!ok({std::nan("")}, {0.0}), "compare rejects NaN");
      check(!ok({kInf}, {1e30}), "compare rejects inf for finite");
      check(!ok({0.0}, {-kInf}), "compare rejects finite for -inf");
      check(!ok({kInf}, {-kInf}), "compare rejects +inf for -inf");
      check(!ok({std::nan("")}, {std::nan("")}), "compare rejects NaN reference");
      Comparison c = compareValues({0.5, 3.0}, {0.5, 2.0}, tol, {2});
      check(!c.ok && c.bad == 1 && std::fabs(c.maxRel - 0.5) < 1e-12 &&
                c.details.find("[1]") != std::string::npos,
            "compare reports the element and max_rel", c.details);
      check(formatIndex(7, {2, 2, 3}) == "[1,0,1]" &&
                formatIndex(5, {2, 2, 3}) == "[0,1,2]",
            "formatIndex",
            formatIndex(7, {2, 2, 3}));
    }

    // Attention: the reference against the naive formula, with and without
    // masks (including fully masked rows), bias and gate.
    Rng rng(42);
    for (int variant = 0; variant < 4; ++variant) {
      AttentionShape a{3, variant == 3 ? 1 : 9, 2, 5, variant == 2 ? 0.3 : 1 / std::sqrt(5.0)};
      size_t act = a.S * a.N * a.H * a.D;
      auto q = randomVector(rng, act), k = randomVector(rng, act),
           v = randomVector(rng, act), g = randomVector(rng, act);
      auto bias = randomVector(rng, a.H * a.N * a.N, 0, 1.5);
      HostTensor maskTensor("mask", MF_DTYPE_I1, {1, a.S, 1, 1, a.N});
      drawKeyMask(maskTensor, rng, a.N);
      std::vector<double> mask = maskTensor.values();
      bool useMask = variant != 1, useBias = variant != 1, useGate = variant >= 2;
      std::vector<double> out(act), lse(a.S * a.H * a.N), out2(act),
          lse2(a.S * a.H * a.N);
      referenceAttention(a, q.data(), k.data(), v.data(),
                         useMask ? mask.data() : nullptr,
                         useBias ? bias.data() : nullptr,
                         useGate ? g.data() : nullptr, out.data(), lse.data());
      naiveAttention(a, q.data(), k.data(), v.data(),
                     useMask ? mask.data() : nullptr,
                     useBias ? bias.data() : nullptr,
                     useGate ? g.data() : nullptr, out2.data(), lse2.data());
      std::string what = "attention reference = naive formula (variant " +
                         std::to_string(variant) + ")";
      near(out, out2, 1e-12, what + " out");
      near(lse, lse2, 1e-12, what + " lse");
      if (useMask) {
        // Row s = 1 is fully masked (drawKeyMask with S = 3): out 0, lse -inf.
        bool rowZero = true, rowInf = true;
        for (int64_t i = 0; i < a.N; ++i)
          for (int64_t h = 0; h < a.H; ++h) {
            rowInf = rowInf && lse[(1 * a.H + h) * a.N + i] == -kInf;
            for (int64_t d = 0; d < a.D; ++d)
              rowZero = rowZero && out[((1 * a.N + i) * a.H + h) * a.D + d] == 0.0;
          }
        bool masked = true;
        for (int64_t j = 0; j < a.N; ++j)
          masked = masked && mask[1 * a.N + j] == 0;
        check(masked && rowZero && rowInf,
              "fully masked row gives 0 and lse -inf (variant " +
                  std::to_string(variant) + ")");
        // An all-true mask is no mask.
        std::vector<double> ones(a.S * a.N, 1.0), out3(act), lse3(lse.size()),
            out4(act), lse4(lse.size());
        referenceAttention(a, q.data(), k.data(), v.data(), ones.data(),
                           bias.data(), nullptr, out3.data(), lse3.data());
        referenceAttention(a, q.data(), k.data(), v.data(), nullptr,
                           bias.data(), nullptr, out4.data(), lse4.data());
        near(out3, out4, 0, "all-true mask = no mask");
        // A masked key never matters, whatever its score.
        std::vector<double> k2 = k, v2 = v;
        for (int64_t s = 0; s < a.S; ++s)
          for (int64_t j = 0; j < a.N; ++j)
            if (mask[s * a.N + j] == 0)
              for (int64_t h = 0; h < a.H; ++h)
                for (int64_t d = 0; d < a.D; ++d) {
                  k2[((s * a.N + j) * a.H + h) * a.D + d] = 50.0;
                  v2[((s * a.N + j) * a.H + h) * a.D + d] = 1e6;
                }
        referenceAttention(a, q.data(), k2.data(), v2.data(), mask.data(),
                           bias.data(), nullptr, out3.data(), lse3.data());
        referenceAttention(a, q.data(), k.data(), v.data(), mask.data(),
                           bias.data(), nullptr, out4.data(), lse4.data());
        near(out3, out4, 0, "masked keys do not matter");
      }
      if (useBias) {
        // A constant added to the bias shifts lse and leaves out alone.
        std::vector<double> shifted = bias;
        for (double &x : shifted)
          x += 3.25;
        std::vector<double> out3(act), lse3(lse.size()), lseShift = lse;
        referenceAttention(a, q.data(), k.data(), v.data(),
                           useMask ? mask.data() : nullptr, shifted.data(),
                           useGate ? g.data() : nullptr, out3.data(),
                           lse3.data());
        for (double &x : lseShift)
          x += 3.25;
        near(out3, out, 1e-12, "bias shift invariance out (variant " +
                                   std::to_string(variant) + ")");
        near(lse3, lseShift, 1e-12, "bias shift moves lse (variant " +
                                        std::to_string(variant) + ")");
      }
    }
    {
      // N = 1, one key: out = v * sigmoid(gate), lse = scaled score + bias.
      AttentionShape a{1, 1, 1, 3, 0.5};
      std::vector<double> q = {1, 2, 3}, k = {0.5, -1, 2}, v = {4, -5, 6},
                          g = {0, 100, -100}, bias = {0.25}, out(3), lse(1);
      referenceAttention(a, q.data(), k.data(), v.data(), nullptr, bias.data(),
                         g.data(), out.data(), lse.data());
      near(out, {2.0, -5.0, 6.0 / (1.0 + std::exp(100.0))}, 1e-12,
           "attention by hand, one key");
      near(lse, {0.5 * (0.5 - 2 + 6) + 0.25}, 1e-12, "lse by hand, one key");
      // Two keys: equal scores average v.
      AttentionShape b{1, 2, 1, 1, 1.0};
      std::vector<double> q2 = {0, 0}, k2 = {1, 2}, v2 = {2, 6}, o2(2), l2(2);
      referenceAttention(b, q2.data(), k2.data(), v2.data(), nullptr, nullptr,
                         nullptr, o2.data(), l2.data());
      near(o2, {4.0, 4.0}, 1e-12, "attention by hand, equal scores");
      near(l2, {std::log(2.0), std::log(2.0)}, 1e-12, "lse by hand, equal scores");
    }
    {
      // Mask draw: at S = 3 row 1 fully masked, row 0 not; S = 1 with N = 7
      // fully masked; some keys dropped.
      HostTensor m3("m", MF_DTYPE_I1, {1, 3, 1, 1, 33});
      drawKeyMask(m3, rng, 33);
      int row0 = 0, row1 = 0;
      for (int j = 0; j < 33; ++j) {
        row0 += m3.get(j) != 0;
        row1 += m3.get(33 + j) != 0;
      }
      check(row1 == 0 && row0 > 0 && row0 < 33, "key mask draw (S = 3)");
      HostTensor m1("m", MF_DTYPE_I1, {1, 1, 1, 1, 7});
      drawKeyMask(m1, rng, 7);
      bool all = true;
      for (int j = 0; j < 7; ++j)
        all = all && m1.get(j) == 0;
      check(all, "key mask draw (S = 1, N = 7 fully masked)");
    }

    // Layer norm: gamma 1, beta 0 gives mean 0 and variance var/(var+eps).
    {
      const int64_t rows = 5, C = 128;
      auto x = randomVector(rng, rows * C, 3.0, 2.0);
      std::vector<double> ones(C, 1.0), zeros(C, 0.0);
      double eps = 1e-3;
      auto y = referenceLayerNorm(x, ones, zeros, rows, C, eps);
      bool ok = true;
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0, xm = 0, xv = 0;
        for (int64_t c = 0; c < C; ++c) {
          mean += y[r * C + c] / C;
          xm += x[r * C + c] / C;
        }
        for (int64_t c = 0; c < C; ++c) {
          var += (y[r * C + c] - mean) * (y[r * C + c] - mean) / C;
          xv += (x[r * C + c] - xm) * (x[r * C + c] - xm) / C;
        }
        ok = ok && std::fabs(mean) < 1e-12 && std::fabs(var - xv / (xv + eps)) < 1e-12;
      }
      check(ok, "layernorm mean 0, variance var/(var+eps)");
      auto g = randomVector(rng, C), b = randomVector(rng, C);
      auto y2 = referenceLayerNorm(x, g, b, rows, C, eps);
      bool affine = true;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < C; ++c)
          affine = affine &&
                   std::fabs(y2[r * C + c] - (y[r * C + c] * g[c] + b[c])) < 1e-12;
      check(affine, "layernorm gamma/beta are affine");
    }

    // Linear: an identity weight gives x + b; a one-hot row picks a column.
    {
      const int64_t rows = 3, K = 6;
      auto x = randomVector(rng, rows * K), b = randomVector(rng, K);
      std::vector<double> eye(K * K, 0.0);
      for (int64_t i = 0; i < K; ++i)
        eye[i * K + i] = 1.0;
      auto y = referenceLinear(x, eye, &b, rows, K, K);
      std::vector<double> want(rows * K);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < K; ++i)
          want[r * K + i] = x[r * K + i] + b[i];
      near(y, want, 0, "linear identity weight = x + b");
      std::vector<double> w = {0, 0, 1, 0, 0, 0, /**/ 1, 2, 0, 0, 0, 0};
      auto y2 = referenceLinear(x, w, nullptr, rows, K, 2);
      std::vector<double> want2;
      for (int64_t r = 0; r < rows; ++r) {
        want2.push_back(x[r * K + 2]);
        want2.push_back(x[r * K] + 2 * x[r * K + 1]);
      }
      near(y2, want2, 1e-15, "linear uses w[out, in] (x w^T)");
    }

    // SwiGLU by hand: the first half is the linear part.
    {
      std::vector<double> x = {2, -1, 3, 0.5}; // F = 2: a = {2, -1}, b = {3, .5}
      auto y = referenceSwiGLU(x, 1, 2);
      near(y, {2 * 3 / (1 + std::exp(-3.0)), -1 * 0.5 / (1 + std::exp(-0.5))},
           1e-15, "swiglu by hand");
    }

    // The fused references against the compositions.
    {
      const int64_t rows = 4, C = 128, Nout = 132, F = 512;
      auto x = randomVector(rng, rows * C, 0.5, 1.5), g = randomVector(rng, C, 1, 0.5),
           b = randomVector(rng, C, 0, 0.5),
           w = randomVector(rng, Nout * C, 0, 1 / std::sqrt(128.0)),
           wb = randomVector(rng, Nout);
      auto fused = referenceLayerNormLinear(x, g, b, w, &wb, rows, C, Nout, 1e-3);
      auto composed = referenceLinear(referenceLayerNorm(x, g, b, rows, C, 1e-3),
                                      w, &wb, rows, C, Nout);
      near(fused, composed, 1e-12, "layernorm_linear = linear(layernorm)");
      auto other = referenceLinear(referenceLayerNorm(x, g, b, rows, C, 1e-5), w,
                                   &wb, rows, C, Nout);
      check(maxAbsDiff(fused, other) > 1e-4,
            "eps 1e-3 vs 1e-5 differs by more than the f32 tolerance");
      auto up = randomVector(rng, 2 * F * C, 0, 1 / std::sqrt(128.0)),
           down = randomVector(rng, C * F, 0, 1 / std::sqrt(512.0));
      auto t = referenceTransition(x, g, b, up, down, rows, C, F, 1e-3);
      auto tc = referenceLinear(
          referenceSwiGLU(referenceLinear(referenceLayerNorm(x, g, b, rows, C, 1e-3),
                                          up, nullptr, rows, C, 2 * F),
                          rows, F),
          down, nullptr, rows, F, C);
      near(t, tc, 1e-12, "transition = linear(swiglu(linear(layernorm)))");
    }

    // The case table is well formed: unique input names, outputs named
    // result0, result1, ..., every symbol of an output used by an input.
    for (const Case &c : buildCases()) {
      bool ok = true;
      std::set<std::string> names;
      std::set<char> inputSymbols;
      for (const ArgDesc &arg : c.inputs) {
        ok = ok && names.insert(arg.name).second;
        for (const DimSpec &dim : arg.shape)
          if (dim.symbol)
            inputSymbols.insert(dim.symbol);
      }
      for (size_t o = 0; o < c.outputs.size(); ++o) {
        ok = ok && c.outputs[o].name == "result" + std::to_string(o);
        for (const DimSpec &dim : c.outputs[o].shape)
          ok = ok && (!dim.symbol || inputSymbols.count(dim.symbol));
      }
      check(ok, "case table " + c.name);
    }
  }
};

//===----------------------------------------------------------------------===//
// main
//===----------------------------------------------------------------------===//

void usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s --artifact PATH [--artifact PATH ...] --dtype f32|bf16\n"
               "          [--seed N] [--only NAME[,NAME...]] [--sizes N,N,...]\n"
               "          [--rtol X] [--atol X] [--timeout SECONDS] [--no-fork]\n"
               "       %s --self-test\n",
               argv0, argv0);
}

std::vector<std::string> splitComma(const std::string &text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start)
      parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool hasValue = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      hasValue = true;
    }
    auto next = [&]() -> bool {
      if (hasValue)
        return true;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", arg.c_str());
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (arg == "--artifact") {
      if (!next())
        return false;
      options.artifacts.push_back(value);
    } else if (arg == "--dtype") {
      if (!next())
        return false;
      if (value == "f32")
        options.dtype = MF_DTYPE_F32;
      else if (value == "bf16")
        options.dtype = MF_DTYPE_BF16;
      else {
        std::fprintf(stderr, "error: --dtype must be f32 or bf16, not '%s'\n",
                     value.c_str());
        return false;
      }
    } else if (arg == "--seed") {
      if (!next())
        return false;
      char *end = nullptr;
      options.seed = std::strtoull(value.c_str(), &end, 0);
      if (value.empty() || *end) {
        std::fprintf(stderr, "error: bad --seed '%s'\n", value.c_str());
        return false;
      }
      options.haveSeed = true;
    } else if (arg == "--only") {
      if (!next())
        return false;
      for (const std::string &name : splitComma(value))
        options.only.push_back(name);
    } else if (arg == "--sizes") {
      if (!next())
        return false;
      options.sizes.clear();
      for (const std::string &n : splitComma(value))
        options.sizes.push_back(std::strtoll(n.c_str(), nullptr, 10));
      if (options.sizes.empty()) {
        std::fprintf(stderr, "error: --sizes is empty\n");
        return false;
      }
    } else if (arg == "--rtol" || arg == "--atol") {
      if (!next())
        return false;
      (arg == "--rtol" ? options.rtol : options.atol) = std::strtod(value.c_str(), nullptr);
    } else if (arg == "--no-fork") {
      options.fork = false;
    } else if (arg == "--timeout") {
      if (!next())
        return false;
      options.timeoutSeconds =
          static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 10));
      if (options.timeoutSeconds == 0) {
        std::fprintf(stderr, "error: bad --timeout '%s'\n", value.c_str());
        return false;
      }
    } else if (arg == "--self-test") {
      options.selfTest = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(argv[0]);
      std::exit(0);
    } else {
      std::fprintf(stderr, "error: unknown argument '%s'\n", argv[i]);
      return false;
    }
  }
  return true;
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    usage(argv[0]);
    return 2;
  }
  if (options.selfTest) {
    SelfTest test;
    test.run();
    std::printf("numerics: %d passed, %d failed\n", test.passed, test.failed);
    return test.failed ? 1 : 0;
  }
  if (options.artifacts.empty() || options.dtype == MF_DTYPE_INVALID) {
    std::fprintf(stderr, "error: need --artifact and --dtype\n");
    usage(argv[0]);
    return 2;
  }
  if (!options.haveSeed)
    options.seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  std::printf("seed=%" PRIu64 "\n", options.seed);
  std::fflush(stdout);

  Result<Runtime> runtime = Runtime::create();
  if (!runtime.ok()) {
    std::printf("FAIL runtime: %s\nnumerics: 0 passed, 1 failed\n",
                runtime.status().toString().c_str());
    return 1;
  }
  std::vector<Artifact> artifacts;
  int loadFailures = 0;
  std::map<std::string, int> labelCount;
  for (const std::string &path : options.artifacts)
    ++labelCount[baseName(path)];
  for (size_t i = 0; i < options.artifacts.size(); ++i) {
    const std::string &path = options.artifacts[i];
    Result<Module> module = runtime->loadFile(path);
    if (!module.ok()) {
      std::printf("FAIL load %s: %s\n", path.c_str(),
                  module.status().toString().c_str());
      ++loadFailures;
      continue;
    }
    std::string label = baseName(path);
    if (labelCount[label] > 1)
      label = std::to_string(i) + ":" + label;
    artifacts.push_back({path, label, std::move(module).value()});
  }

  Harness harness(options, artifacts);
  harness.failed += loadFailures;
  harness.run(buildCases());
  if (harness.passed == 0 && harness.failed == 0)
    harness.fail("nothing was tested");
  std::printf("numerics: %d passed, %d failed\n", harness.passed, harness.failed);
  return harness.failed ? 1 : 0;
}
