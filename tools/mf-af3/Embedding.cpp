//===- Embedding.cpp - mf-af3's input embedding and reference code --------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Embedding.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <thread>

namespace mf::af3 {

namespace {

/// Runs body(begin, end) over [0, count) split across the cores.
void parallelFor(int64_t count,
                 const std::function<void(int64_t, int64_t)> &body) {
  int64_t threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, count);
  if (threads <= 1) {
    if (count > 0)
      body(0, count);
    return;
  }
  std::vector<std::thread> pool;
  int64_t chunk = (count + threads - 1) / threads;
  for (int64_t begin = 0; begin < count; begin += chunk)
    pool.emplace_back(body, begin, std::min(count, begin + chunk));
  for (auto &thread : pool)
    thread.join();
}

/// Returns w [out, in] transposed to [in, out].
std::vector<float> transpose(const std::vector<float> &w, int64_t out,
                             int64_t in) {
  std::vector<float> t(w.size());
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      t[i * out + o] = w[o * in + i];
  return t;
}

/// y[out] = wT^T x, wT [in, out].
void linearRow(const float *x, const float *wT, int64_t in, int64_t out,
               float *y) {
  std::fill(y, y + out, 0.0f);
  for (int64_t i = 0; i < in; ++i) {
    float xi = x[i];
    if (xi == 0.0f)
      continue;
    const float *row = wT + i * out;
    for (int64_t o = 0; o < out; ++o)
      y[o] += xi * row[o];
  }
}

void layerNormRow(const float *x, const float *gamma, const float *beta,
                  int64_t c, float *y) {
  float mean = 0.0f, var = 0.0f;
  for (int64_t i = 0; i < c; ++i)
    mean += x[i];
  mean /= c;
  for (int64_t i = 0; i < c; ++i)
    var += (x[i] - mean) * (x[i] - mean);
  float inv = 1.0f / std::sqrt(var / c + 1e-5f);
  for (int64_t i = 0; i < c; ++i)
    y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

template <typename T>
bool view(const mf::cache::FeatureCache &cache, const char *name,
          mf_cache_dtype_t dtype, std::vector<int64_t> shape, const T *&out,
          std::string &error, bool optional = false) {
  auto tensor = cache.find(name);
  if (!tensor.ok()) {
    if (optional)
      return true;
    error = std::string(cache.path()) + ": no tensor '" + name +
            "' (is it an mf-cache feature cache?)";
    return false;
  }
  bool shapeOk = tensor->rank == static_cast<int32_t>(shape.size());
  for (size_t d = 0; shapeOk && d < shape.size(); ++d)
    shapeOk = tensor->dims[d] == shape[d];
  if (tensor->dtype != dtype || !shapeOk) {
    std::string expected = "[";
    for (size_t d = 0; d < shape.size(); ++d)
      expected += (d ? ", " : "") + std::to_string(shape[d]);
    error = std::string(cache.path()) + ": tensor '" + name + "' is " +
            mf_cache_dtype_name(tensor->dtype) + " of rank " +
            std::to_string(tensor->rank) + "; expected " +
            mf_cache_dtype_name(dtype) + " " + expected + "]";
    return false;
  }
  out = static_cast<const T *>(tensor->data);
  return true;
}

} // namespace

bool getTokenFeatures(const mf::cache::FeatureCache &cache,
                      TokenFeatures &out, std::string &error) {
  auto aatype = cache.find("aatype");
  if (!aatype.ok()) {
    error = std::string(cache.path()) +
            ": no tensor 'aatype' (is it an mf-cache feature cache?)";
    return false;
  }
  if (aatype->rank != 1 || aatype->dims[0] < 1) {
    error = std::string(cache.path()) + ": tensor 'aatype' must be [N], N > 0";
    return false;
  }
  int64_t n = aatype->dims[0];
  out.numTokens = n;
  const auto I32 = MF_CACHE_DTYPE_I32, BOOL = MF_CACHE_DTYPE_BOOL,
             F32 = MF_CACHE_DTYPE_F32;
  if (!view(cache, "aatype", I32, {n}, out.aatype, error) ||
      !view(cache, "residue_index", I32, {n}, out.residueIndex, error) ||
      !view(cache, "token_index", I32, {n}, out.tokenIndex, error) ||
      !view(cache, "asym_id", I32, {n}, out.asymId, error) ||
      !view(cache, "entity_id", I32, {n}, out.entityId, error) ||
      !view(cache, "sym_id", I32, {n}, out.symId, error) ||
      !view(cache, "seq_mask", BOOL, {n}, out.seqMask, error) ||
      !view(cache, "is_protein", BOOL, {n}, out.isProtein, error) ||
      !view(cache, "is_rna", BOOL, {n}, out.isRna, error) ||
      !view(cache, "is_dna", BOOL, {n}, out.isDna, error) ||
      !view(cache, "is_ligand", BOOL, {n}, out.isLigand, error) ||
      !view(cache, "profile", F32, {n, kNumResidueClasses}, out.profile, error,
            /*optional=*/true) ||
      !view(cache, "deletion_mean", F32, {n}, out.deletionMean, error,
            /*optional=*/true))
    return false;
  for (int64_t i = 0; i < n; ++i)
    if (out.aatype[i] < 0 || out.aatype[i] >= kNumResidueClasses) {
      error = std::string(cache.path()) + ": aatype[" + std::to_string(i) +
              "] = " + std::to_string(out.aatype[i]) + " is not in [0, 31)";
      return false;
    }
  return true;
}

void embed(const TokenFeatures &f, const EmbeddingWeights &w, float *single,
           float *pair) {
  const int64_t n = f.numTokens, cS = w.cS, cZ = w.cZ;
  // s = W_single target_feat.
  std::vector<float> singleT = transpose(w.single, cS, kTargetFeatures);
  std::vector<float> feat(kTargetFeatures);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(feat.begin(), feat.end(), 0.0f);
    feat[f.aatype[i]] = 1.0f;
    if (f.profile)
      for (int c = 0; c < kNumResidueClasses; ++c)
        feat[kNumResidueClasses + c] = f.profile[i * kNumResidueClasses + c];
    int base = 2 * kNumResidueClasses;
    feat[base] = f.deletionMean ? f.deletionMean[i] : 0.0f;
    feat[base + 1] = f.isProtein[i];
    feat[base + 2] = f.isRna[i];
    feat[base + 3] = f.isDna[i];
    feat[base + 4] = f.isLigand[i];
    linearRow(feat.data(), singleT.data(), kTargetFeatures, cS,
              single + i * cS);
  }
  // The outer sum's two projections.
  std::vector<float> leftT = transpose(w.pairLeft, cZ, cS);
  std::vector<float> rightT = transpose(w.pairRight, cZ, cS);
  std::vector<float> left(n * cZ), right(n * cZ);
  for (int64_t i = 0; i < n; ++i) {
    linearRow(single + i * cS, leftT.data(), cS, cZ, &left[i * cZ]);
    linearRow(single + i * cS, rightT.data(), cS, cZ, &right[i * cZ]);
  }
  // The relative position encoding is one-hot, so its projection is a sum
  // of four columns of W_relpos (plus the same-entity column).
  std::vector<float> relT = transpose(w.relpos, cZ, kRelFeatures);
  const int resBase = 0, tokBase = 2 * kRMax + 2, entityCol = 2 * tokBase,
            chainBase = entityCol + 1;
  parallelFor(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j) {
        bool sameChain = f.asymId[i] == f.asymId[j];
        bool sameResidue = f.residueIndex[i] == f.residueIndex[j];
        bool sameEntity = f.entityId[i] == f.entityId[j];
        int dRes = sameChain ? std::clamp(f.residueIndex[i] -
                                              f.residueIndex[j] + kRMax,
                                          0, 2 * kRMax)
                             : 2 * kRMax + 1;
        int dTok = sameChain && sameResidue
                       ? std::clamp(f.tokenIndex[i] - f.tokenIndex[j] + kRMax,
                                    0, 2 * kRMax)
                       : 2 * kRMax + 1;
        int dChain =
            !sameChain
                ? std::clamp(f.symId[i] - f.symId[j] + kSMax, 0, 2 * kSMax)
                : 2 * kSMax + 1;
        const float *a = &relT[(resBase + dRes) * cZ];
        const float *b = &relT[(tokBase + dTok) * cZ];
        const float *c = &relT[(chainBase + dChain) * cZ];
        const float *e = &relT[entityCol * cZ];
        float entity = sameEntity ? 1.0f : 0.0f;
        const float *l = &left[i * cZ], *r = &right[j * cZ];
        float *z = pair + (i * n + j) * cZ;
        for (int64_t k = 0; k < cZ; ++k)
          z[k] = l[k] + r[k] + a[k] + b[k] + c[k] + entity * e[k];
      }
  });
}

void triangleMultiplication(float *z, const uint8_t *pairMask, int64_t n,
                            int cZ, const TriMulWeights &w, bool outgoing) {
  const int64_t c = cZ, rows = n * n;
  std::vector<float> aGateT = transpose(w.aGate, c, c),
                     aT = transpose(w.a, c, c),
                     bGateT = transpose(w.bGate, c, c),
                     bT = transpose(w.b, c, c),
                     gateT = transpose(w.gate, c, c),
                     outT = transpose(w.out, c, c);
  // A[ch][i][k] and Bt[ch][k][j] such that x[i, j, ch] = sum_k A[ch][i][k]
  // Bt[ch][k][j] (outgoing: a[i, k] b[j, k]; incoming: a[k, i] b[k, j]).
  std::vector<float> A(c * rows), Bt(c * rows), G(rows * c);
  parallelFor(n, [&](int64_t begin, int64_t end) {
    std::vector<float> zn(c), t1(c), t2(c);
    for (int64_t p = begin * n; p < end * n; ++p) {
      int64_t r = p / n, s = p % n; // z[r, s]
      layerNormRow(z + p * c, w.lnInGamma.data(), w.lnInBeta.data(), c,
                   zn.data());
      float m = pairMask[p] ? 1.0f : 0.0f;
      linearRow(zn.data(), aGateT.data(), c, c, t1.data());
      linearRow(zn.data(), aT.data(), c, c, t2.data());
      // outgoing: A[ch][i=r][k=s]; incoming: A[ch][i=s][k=r].
      int64_t aIndex = outgoing ? r * n + s : s * n + r;
      for (int64_t ch = 0; ch < c; ++ch)
        A[ch * rows + aIndex] = m * sigmoid(t1[ch]) * t2[ch];
      linearRow(zn.data(), bGateT.data(), c, c, t1.data());
      linearRow(zn.data(), bT.data(), c, c, t2.data());
      // outgoing: b[j=r, k=s] -> Bt[ch][k=s][j=r]; incoming: b[k=r, j=s]
      // -> Bt[ch][k=r][j=s].
      int64_t bIndex = outgoing ? s * n + r : r * n + s;
      for (int64_t ch = 0; ch < c; ++ch)
        Bt[ch * rows + bIndex] = m * sigmoid(t1[ch]) * t2[ch];
      linearRow(zn.data(), gateT.data(), c, c, t1.data());
      for (int64_t ch = 0; ch < c; ++ch)
        G[p * c + ch] = sigmoid(t1[ch]);
    }
  });
  // x[ch] = A[ch] Bt[ch], N x N per channel.
  std::vector<float> X(c * rows);
  parallelFor(c, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      const float *a = &A[ch * rows], *bt = &Bt[ch * rows];
      float *x = &X[ch * rows];
      for (int64_t i = 0; i < n; ++i) {
        float *xi = x + i * n;
        for (int64_t k = 0; k < n; ++k) {
          float aik = a[i * n + k];
          const float *btk = bt + k * n;
          for (int64_t j = 0; j < n; ++j)
            xi[j] += aik * btk[j];
        }
      }
    }
  });
  // z += g * (W_out LayerNorm(x)).
  parallelFor(n, [&](int64_t begin, int64_t end) {
    std::vector<float> x(c), xn(c), y(c);
    for (int64_t p = begin * n; p < end * n; ++p) {
      for (int64_t ch = 0; ch < c; ++ch)
        x[ch] = X[ch * rows + p];
      layerNormRow(x.data(), w.lnOutGamma.data(), w.lnOutBeta.data(), c,
                   xn.data());
      linearRow(xn.data(), outT.data(), c, c, y.data());
      for (int64_t ch = 0; ch < c; ++ch)
        z[p * c + ch] += G[p * c + ch] * y[ch];
    }
  });
}

} // namespace mf::af3
