//===- Embedding.h - mf-af3's input embedding and reference code -*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The plain C++ parts of the trunk: the input embedding (token features of a
// feature cache -> the single and pair representations) and a reference
// implementation of AF3's triangle multiplicative updates (which have no evo
// op yet).
//
// Input embedding (a simplification of AF3's InputFeatureEmbedder, Algorithm
// 2, and of the trunk's initialisation, Algorithm 1 lines 1-5):
//
//   target_feat[i] = onehot(aatype[i], 31) ++ profile[i] (31)
//                    ++ deletion_mean[i] ++ (is_protein, is_rna, is_dna,
//                    is_ligand)[i]                          (67 features)
//   s[i]    = W_single target_feat[i]                       (c_s)
//   z[i, j] = W_left s[i] + W_right s[j] + W_relpos rel[i, j]   (c_z)
//
// rel[i, j] is AF3's RelativePositionEncoding (Algorithm 3, r_max 32,
// s_max 2), 139 features:
//   same_chain = asym_id[i] == asym_id[j], same_residue (residue_index),
//   same_entity (entity_id);
//   onehot(same_chain ? clip(residue_index[i] - residue_index[j] + 32,
//          0, 64) : 65, 66)
//   onehot(same_chain && same_residue ? clip(token_index[i] -
//          token_index[j] + 32, 0, 64) : 65, 66)
//   same_entity (1)
//   onehot(!same_chain ? clip(sym_id[i] - sym_id[j] + 2, 0, 4) : 5, 6)
//
// Left out of AF3's embedder: the atom-attention encoder's per-token output
// (384 of AF3's 449 target features), the token-bond term of z, the MSA
// module and the template embedder, and recycling. All linears have no
// bias (LinearNoBias as in AF3).
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_AF3_EMBEDDING_H
#define MF_TOOLS_MF_AF3_EMBEDDING_H

#include "mf/runtime/feature_cache.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mf::af3 {

/// AF3's residue classes (POLYMER_TYPES_NUM_WITH_UNKNOWN_AND_GAP).
inline constexpr int kNumResidueClasses = 31;
/// Width of target_feat above.
inline constexpr int kTargetFeatures = kNumResidueClasses * 2 + 1 + 4;
/// AF3's relative position encoding: r_max and s_max.
inline constexpr int kRMax = 32, kSMax = 2;
/// Width of rel above: 2 * (2 r_max + 2) + 1 + (2 s_max + 2).
inline constexpr int kRelFeatures = 2 * (2 * kRMax + 2) + 1 + (2 * kSMax + 2);

/// Zero-copy views of one example's token features (pointers into the
/// mapped cache, which must outlive this).
struct TokenFeatures {
  int64_t numTokens = 0;
  const int32_t *aatype = nullptr, *residueIndex = nullptr,
                *tokenIndex = nullptr, *asymId = nullptr, *entityId = nullptr,
                *symId = nullptr;
  /// BOOL [N] (one byte each).
  const uint8_t *seqMask = nullptr, *isProtein = nullptr, *isRna = nullptr,
                *isDna = nullptr, *isLigand = nullptr;
  /// F32 [N, 31] and [N].
  const float *profile = nullptr, *deletionMean = nullptr;
};

/// Finds the features in `cache`, checking names, dtypes and shapes; false
/// with `error` (naming the file and the tensor) otherwise.
bool getTokenFeatures(const mf::cache::FeatureCache &cache,
                      TokenFeatures &out, std::string &error);

/// The embedder's weights, PyTorch [out, in] layout.
struct EmbeddingWeights {
  int cS = 0, cZ = 0;
  std::vector<float> single;    // [c_s, kTargetFeatures]
  std::vector<float> pairLeft;  // [c_z, c_s]
  std::vector<float> pairRight; // [c_z, c_s]
  std::vector<float> relpos;    // [c_z, kRelFeatures]
};

/// Writes s [N, c_s] and z [N, N, c_z] (row-major) for `features`.
void embed(const TokenFeatures &features, const EmbeddingWeights &weights,
           float *single, float *pair);

/// The weights of one triangle multiplicative update (AF3 Algorithms 12
/// and 13, c = c_z hidden channels), [out, in] layout, no biases.
struct TriMulWeights {
  std::vector<float> lnInGamma, lnInBeta;     // [c_z]
  std::vector<float> aGate, a, bGate, b;      // [c_z, c_z]
  std::vector<float> gate;                    // [c_z, c_z]
  std::vector<float> lnOutGamma, lnOutBeta;   // [c_z]
  std::vector<float> out;                     // [c_z, c_z]
};

/// z[i, j] += the update (outgoing: sum_k a[i, k] b[j, k]; incoming:
/// sum_k a[k, i] b[k, j]) over z [N, N, c_z], in place; pairMask [N, N]
/// (one byte each) masks a and b. Plain C++ on the host, on all cores.
void triangleMultiplication(float *z, const uint8_t *pairMask, int64_t n,
                            int cZ, const TriMulWeights &weights,
                            bool outgoing);

} // namespace mf::af3

#endif // MF_TOOLS_MF_AF3_EMBEDDING_H
