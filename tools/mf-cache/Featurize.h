//===- Featurize.h - AlphaFold3 token and MSA features ----------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Turns an AlphaFold3 input into AlphaFold3's deterministic model features,
// unpadded, with AF3's names and dtypes (alphafold3/model/features.py):
//
//   per token (T tokens):  aatype residue_index token_index asym_id entity_id
//                          sym_id (I32 [T]), seq_mask is_protein is_rna
//                          is_dna is_ligand is_nonstandard_polymer_chain
//                          is_water (BOOL [T]), seq_length (I32 [])
//   MSA (R rows):          msa (I8 [R, T]), msa_mask (BOOL [R, T]),
//                          deletion_matrix (I8 [R, T], counts clipped to
//                          127 as AF3 does), profile (F32 [T, 31]),
//                          deletion_mean (F32 [T]), num_alignments (I32 [])
//   reference atoms        ref_pos (F32 [T, 24, 3]), ref_mask (BOOL [T, 24]),
//   (24 dense slots):      ref_element (I32, atomic number), ref_charge
//                          (F32), ref_atom_name_chars (I32 [T, 24, 4],
//                          ord(c) - 32), ref_space_uid (I32 [T, 24])
//
// Tokenization as AF3: one token per standard residue (20 amino acids,
// A G C U, DA DG DC DT, and the unknowns UNK / N / DN); one per heavy atom
// for ligands and modified residues. Residue types index AF3's
// POLYMER_TYPES_WITH_UNKNOWN_AND_GAP (0-19 amino acids, 20 UNK, 21 gap,
// 22-25 RNA, 26-29 DNA, 30 unknown nucleic).
//
// The MSA follows AF3's data pipeline: for inputs with more than one
// distinct protein chain, a paired block first (row 0 the queries, then
// rows paired by species, read from `OX=<taxid>` or `..._<taxid>/` headers
// of the paired MSAs), then the unpaired MSAs side by side (each chain's rows
// padded with gaps to the longest; rows already in the chain's paired block
// dropped). Otherwise just the unpaired MSAs, query row first. The profile
// and deletion mean come from each chain's unpaired MSA. DNA and ligand
// chains have only their query row (ligands: gaps), as in AF3.
//
// Differences from AF3, by necessity: reference positions are the CCD's
// ideal coordinates (AF3 generates an RDKit conformer and falls back to
// them); hydrogens are dropped and so are the leaving atoms of polymer
// residues (OXT, OP3) in every residue; atoms keep the CCD's order.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_CACHE_FEATURIZE_H
#define MF_TOOLS_MF_CACHE_FEATURIZE_H

#include "Ccd.h"
#include "Input.h"

#include "mf/runtime/feature_cache.hpp"

#include <string>

namespace mf::cache {

/// The version written to every cache; bump it whenever any feature's name,
/// shape, dtype or meaning changes.
inline constexpr uint32_t kFeatureSetVersion = 1;

/// AF3's number of residue classes with unknowns and gap.
inline constexpr int kNumResidueClasses = 31;
/// AF3's dense atom slots per token.
inline constexpr int kAtomsPerToken = 24;

struct FeaturizeOptions {
  /// Most MSA rows kept (AF3's data pipeline crop); at most half paired.
  int maxMsaRows = 16384;
};

enum class Outcome {
  Built,
  /// The input needs something we cannot provide faithfully (a SMILES
  /// ligand, a component the CCD lacks); skipped, not faked.
  NotCovered,
  Error,
};

struct FeaturizeSummary {
  int numTokens = 0;
  int numMsaRows = 0;
  int numChains = 0;
};

/// Featurizes `input` into `writer` (tensors and metadata, feature-set
/// version and input hashes included). On NotCovered / Error, `message`
/// says why; on Built it may hold notes (e.g. chains run MSA-free).
Outcome featurize(const Input &input, Ccd &ccd,
                  const FeaturizeOptions &options, Writer &writer,
                  FeaturizeSummary &summary, std::string &message);

} // namespace mf::cache

#endif // MF_TOOLS_MF_CACHE_FEATURIZE_H
