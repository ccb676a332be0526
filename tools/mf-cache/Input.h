//===- Input.h - AlphaFold3 input JSON ---------------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads one input of AlphaFold3's own JSON format (`"dialect": "alphafold3"`,
// versions 1-4; see ../shared/data/af3_inputs/input.md): protein, RNA, DNA
// and ligand entities with their ids (a list of ids makes copies),
// sequences, modifications, inline or path MSAs (paths relative to the JSON
// file) and CCD codes or SMILES. Templates, bonds and seeds do not enter
// the token and MSA features and are ignored; a user CCD is refused (not
// yet supported) rather than ignored, since it would change the atoms.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_CACHE_INPUT_H
#define MF_TOOLS_MF_CACHE_INPUT_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mf::cache {

enum class ChainType { Protein, Rna, Dna, Ligand };
const char *chainTypeName(ChainType type);

struct Entity {
  ChainType type = ChainType::Protein;
  /// One chain per id; more than one makes a homomer.
  std::vector<std::string> ids;
  /// One letter per residue (polymers).
  std::string sequence;
  /// 1-based residue position -> CCD code replacing that residue.
  std::map<int, std::string> modifications;
  /// Ligands: one residue per code; or a SMILES string.
  std::vector<std::string> ccdCodes;
  std::string smiles;
  /// MSA text (a3m, or Stockholm if `*MsaIsStockholm`); nullopt when unset
  /// (AlphaFold3 would search for one; we run MSA-free), "" when explicitly
  /// empty.
  std::optional<std::string> unpairedMsa, pairedMsa;
  bool unpairedMsaIsStockholm = false, pairedMsaIsStockholm = false;
  /// Where the MSAs came from, for messages ("inline" or the path).
  std::string unpairedMsaSource, pairedMsaSource;
};

struct Input {
  std::string path; // the JSON file
  std::string name; // its "name"
  std::vector<Entity> entities;
  /// FNV-1a 64 of every file read, keyed by the JSON's file name and by the
  /// paths as the JSON spells them (so the hashes do not depend on where
  /// the data lives).
  std::map<std::string, uint64_t> hashes;
  /// Set when the file is JSON but not an input at all (no "dialect" and no
  /// "sequences", e.g. AF3's model_config.json next to the inputs).
  bool notAnInput = false;
  /// What the reader changed or dropped, one line each (the mmCIF route:
  /// waters, crystallization aids, ...); featurize() passes them on as
  /// notes. Empty for JSON inputs.
  std::string notes;
};

/// Reads and validates the input at `path` (MSA files included). On failure
/// returns false with `error` naming the file and the field at fault.
bool readInput(const std::string &path, Input &out, std::string &error);

/// Reads a whole file.
bool readWholeFile(const std::string &path, std::string &out,
                   std::string &error);

} // namespace mf::cache

#endif // MF_TOOLS_MF_CACHE_INPUT_H
