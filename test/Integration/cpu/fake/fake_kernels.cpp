//===- fake_kernels.cpp - Stand-in compiled code for mf-numerics -*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The entries of Inputs/ops_{f32,bf16}.mlir written by hand in float32 the
// way compiled code would compute them (flash-style attention with an online
// softmax over key blocks, f32 statistics and accumulation, outputs rounded
// to the element type once; the *_unfused_rounded symbols round every
// intermediate tensor to the element type, as an unfused bf16 program
// does). make_fake_artifact.cpp wraps this shared object into .mfa
// artifacts, so that mf-numerics can be tested without mf-compile.
//
// MF_FAKE_BUG=<name> injects a bug (see bug() below); mf-numerics must then
// fail. Only a test of the test: not part of the product.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

bool bug(const char *name) {
  static const char *env = std::getenv("MF_FAKE_BUG");
  return env && std::strcmp(env, name) == 0;
}

uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
float fromBf16(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

float load(const float *p, int64_t i) { return p[i]; }
float load(const uint16_t *p, int64_t i) { return fromBf16(p[i]); }
void store(float *p, int64_t i, float v) { p[i] = v; }
void store(uint16_t *p, int64_t i, float v) { p[i] = toBf16(v); }
/// Rounds to the element type T (identity for float).
template <typename T> float roundTo(float v) {
  T tmp[1];
  store(tmp, 0, v);
  return load(tmp, 0);
}

/// An argument's memref descriptor {allocated, aligned, offset, sizes,
/// strides}.
struct Arg {
  explicit Arg(void *descriptor) : words(static_cast<int64_t *>(descriptor)) {}
  template <typename T> T *data() const {
    T *aligned;
    std::memcpy(&aligned, &words[1], sizeof(aligned));
    return aligned + words[2];
  }
  int64_t size(int d) const { return words[3 + d]; }
  int64_t *words;
};

float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

/// Flash attention over key blocks of 16 (online softmax).
template <typename T>
void attention(void **args, bool hasMask, bool hasBias, bool hasGate,
               bool hasLse, float scale) {
  int a = 0;
  Arg q(args[a++]), k(args[a++]), v(args[a++]);
  const uint8_t *mask = hasMask ? Arg(args[a++]).data<uint8_t>() : nullptr;
  const T *bias = hasBias ? Arg(args[a++]).data<T>() : nullptr;
  const T *gate = hasGate ? Arg(args[a++]).data<T>() : nullptr;
  T *out = Arg(args[a++]).data<T>();
  float *lse = hasLse ? Arg(args[a++]).data<float>() : nullptr;
  const T *Q = q.data<T>(), *K = k.data<T>(), *V = v.data<T>();
  const int64_t S = q.size(1), N = q.size(2), H = q.size(3), D = q.size(4);
  if (scale <= 0)
    scale = 1.0f / std::sqrt(static_cast<float>(D));
  const float negInf = -std::numeric_limits<float>::infinity();
  const float maskValue = bug("masked-row-uniform") ? -1e30f : negInf;
  std::vector<float> acc(D);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t h = 0; h < H; ++h) {
        float m = negInf, l = 0;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j0 = 0; j0 < N; j0 += 16) {
          int64_t j1 = std::min(N, j0 + 16);
          float scores[16];
          float blockMax = negInf;
          for (int64_t j = j0; j < j1; ++j) {
            float dot = 0;
            for (int64_t d = 0; d < D; ++d)
              dot += load(Q, ((s * N + i) * H + h) * D + d) *
                     load(K, ((s * N + j) * H + h) * D + d);
            float b = 0;
            if (bias)
              b = bug("bias-transposed") ? load(bias, (h * N + j) * N + i)
                                         : load(bias, (h * N + i) * N + j);
            float sc = scale * dot + b;
            if (mask && !mask[s * N + j])
              sc = maskValue;
            scores[j - j0] = sc;
            blockMax = std::max(blockMax, sc);
          }
          float newMax = std::max(m, blockMax);
          if (newMax == negInf)
            continue; // all masked so far
          float correction = std::exp(m - newMax);
          l *= correction;
          for (int64_t d = 0; d < D; ++d)
            acc[d] *= correction;
          for (int64_t j = j0; j < j1; ++j) {
            float p = std::exp(scores[j - j0] - newMax);
            l += p;
            for (int64_t d = 0; d < D; ++d)
              acc[d] += p * load(V, ((s * N + j) * H + h) * D + d);
          }
          m = newMax;
        }
        for (int64_t d = 0; d < D; ++d) {
          int64_t index = ((s * N + i) * H + h) * D + d;
          float o;
          if (l > 0)
            o = acc[d] / l;
          else
            o = bug("masked-row-nan") ? acc[d] / l : 0.0f;
          if (gate && !bug("no-gate"))
            o *= sigmoidf(load(gate, index));
          if (bug("noise"))
            o *= 1.0f + 3e-5f * ((index % 3) - 1.0f);
          store(out, index, o);
        }
        if (lse) {
          float value = l > 0 ? m + std::log(l) : negInf;
          if (bug("lse-log2") && l > 0)
            value = m + std::log2(l);
          lse[(s * H + h) * N + i] = value;
        }
      }
  if (bug("oob-write"))
    store(out, S * N * H * D, 1.0f);
  if (bug("write-input"))
    q.data<T>()[0] = T();
}

/// Layer norm of one row into `n` (f32), two-pass.
template <typename T>
void normalizeRow(const T *x, const T *gamma, const T *beta, int64_t C,
                  float eps, float *n) {
  float mean = 0;
  for (int64_t c = 0; c < C; ++c)
    mean += load(x, c);
  mean /= C;
  float var = 0;
  for (int64_t c = 0; c < C; ++c)
    var += (load(x, c) - mean) * (load(x, c) - mean);
  var /= bug("unbiased-var") ? (C - 1) : C;
  float rstd = 1.0f / std::sqrt(var + eps);
  for (int64_t c = 0; c < C; ++c)
    n[c] = (load(x, c) - mean) * rstd * load(gamma, c) + load(beta, c);
}

template <typename T> void layernorm(void **args) {
  Arg x(args[0]), gamma(args[1]), beta(args[2]), y(args[3]);
  const int64_t rows = x.size(0), C = x.size(1);
  std::vector<float> n(C);
  int64_t lastRow = bug("skip-last-row") ? rows - 1 : rows;
  for (int64_t r = 0; r < lastRow; ++r) {
    normalizeRow(x.data<T>() + r * C, gamma.data<T>(), beta.data<T>(), C,
                 1e-5f, n.data());
    for (int64_t c = 0; c < C; ++c)
      store(y.data<T>(), r * C + c, n[c]);
  }
}

/// y[rows, Nout] = x w^T (+ b), x given in f32.
template <typename T>
void matmulRow(const float *x, const T *w, const T *b, int64_t K, int64_t Nout,
               float *y) {
  for (int64_t o = 0; o < Nout; ++o) {
    float acc = 0;
    for (int64_t kk = 0; kk < K; ++kk)
      acc += x[kk] * load(w, o * K + kk);
    y[o] = acc + (b ? load(b, o) : 0.0f);
  }
}

template <typename T> void linear(void **args, bool hasBias) {
  Arg x(args[0]), w(args[1]);
  const T *b = hasBias ? Arg(args[2]).data<T>() : nullptr;
  Arg y(args[hasBias ? 3 : 2]);
  const int64_t rows = x.size(0), K = x.size(1), Nout = w.size(0);
  std::vector<float> xr(K), yr(Nout);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t kk = 0; kk < K; ++kk)
      xr[kk] = load(x.data<T>(), r * K + kk);
    matmulRow(xr.data(), w.data<T>(), b, K, Nout, yr.data());
    for (int64_t o = 0; o < Nout; ++o)
      store(y.data<T>(), r * Nout + o, yr[o]);
  }
}

/// layernorm_linear; `rounded` rounds the normalized row to T first (the
/// unfused program stores it as a T tensor).
template <typename T> void layernormLinear(void **args, bool rounded) {
  Arg x(args[0]), gamma(args[1]), beta(args[2]), w(args[3]), b(args[4]),
      y(args[5]);
  const int64_t rows = x.size(0), C = x.size(1), Nout = w.size(0);
  std::vector<float> n(C), yr(Nout);
  // eps-default: the fused form forgets its eps (the unfused one keeps it).
  float eps = bug("eps-default") && !rounded ? 1e-5f : 1e-3f;
  for (int64_t r = 0; r < rows; ++r) {
    normalizeRow(x.data<T>() + r * C, gamma.data<T>(), beta.data<T>(), C, eps,
                 n.data());
    if (rounded)
      for (float &value : n)
        value = roundTo<T>(value);
    matmulRow(n.data(), w.data<T>(), b.data<T>(), C, Nout, yr.data());
    for (int64_t o = 0; o < Nout; ++o)
      store(y.data<T>(), r * Nout + o, yr[o]);
  }
}

template <typename T> void swiglu(void **args) {
  Arg x(args[0]), y(args[1]);
  const int64_t rows = x.size(0), F = x.size(1) / 2;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < F; ++f) {
      float a = load(x.data<T>(), r * 2 * F + f),
            b = load(x.data<T>(), r * 2 * F + F + f);
      if (bug("swiglu-swap"))
        std::swap(a, b);
      store(y.data<T>(), r * F + f, a * b * sigmoidf(b));
    }
}

template <typename T> void transition(void **args, bool rounded) {
  Arg x(args[0]), gamma(args[1]), beta(args[2]), up(args[3]), down(args[4]),
      y(args[5]);
  const int64_t rows = x.size(0), C = x.size(1), F = down.size(1);
  std::vector<float> n(C), hidden(2 * F), act(F), yr(C);
  for (int64_t r = 0; r < rows; ++r) {
    normalizeRow(x.data<T>() + r * C, gamma.data<T>(), beta.data<T>(), C,
                 1e-3f, n.data());
    if (rounded)
      for (float &value : n)
        value = roundTo<T>(value);
    matmulRow(n.data(), up.data<T>(), static_cast<const T *>(nullptr), C,
              2 * F, hidden.data());
    if (rounded)
      for (float &value : hidden)
        value = roundTo<T>(value);
    for (int64_t f = 0; f < F; ++f) {
      act[f] = hidden[f] * hidden[F + f] * sigmoidf(hidden[F + f]);
      if (rounded)
        act[f] = roundTo<T>(act[f]);
    }
    matmulRow(act.data(), down.data<T>(), static_cast<const T *>(nullptr), F,
              C, yr.data());
    for (int64_t c = 0; c < C; ++c)
      store(y.data<T>(), r * C + c, yr[c]);
  }
}

} // namespace

#define MF_FAKE_ENTRIES(SUFFIX, T)                                             \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_full_##SUFFIX(void **args) {                              \
    attention<T>(args, true, true, true, false, 0);                            \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_nogate_##SUFFIX(void **args) {                            \
    attention<T>(args, true, true, false, false, 0);                           \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_plain_##SUFFIX(void **args) {                             \
    attention<T>(args, false, false, false, false, 0);                         \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_single_##SUFFIX(void **args) {                            \
    attention<T>(args, true, true, true, false, 0);                            \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_lse_##SUFFIX(void **args) {                               \
    attention<T>(args, true, true, true, true, 0.3f);                          \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_attention_bias_only_##SUFFIX(void **args) {                         \
    attention<T>(args, false, true, false, false, 0);                          \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_layernorm_##SUFFIX(void **args) {                                   \
    layernorm<T>(args);                                                        \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_linear_##SUFFIX(void **args) {                                      \
    linear<T>(args, true);                                                     \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_linear_nobias_##SUFFIX(void **args) {                               \
    linear<T>(args, false);                                                    \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_layernorm_linear_##SUFFIX(void **args) {                            \
    layernormLinear<T>(args, false);                                           \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_ln_linear_unfused_##SUFFIX(void **args) {                           \
    layernormLinear<T>(args, true);                                            \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_swiglu_##SUFFIX(void **args) {                                      \
    swiglu<T>(args);                                                           \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_transition_##SUFFIX(void **args) {                                  \
    transition<T>(args, false);                                                \
  }                                                                            \
  extern "C" __attribute__((visibility("default"))) void                      \
      fake_transition_unfused_##SUFFIX(void **args) {                          \
    transition<T>(args, true);                                                 \
  }

MF_FAKE_ENTRIES(f32, float)
MF_FAKE_ENTRIES(bf16, uint16_t)
