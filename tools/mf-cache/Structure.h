//===- Structure.h - mmCIF structures as AlphaFold3 inputs -------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads a PDBx/mmCIF file (plain or gzipped) with gemmi and turns it into the
// same `Input` the JSON route produces, so every feature is computed by the
// same code (Featurize.cpp). What enters, as AlphaFold3's mmCIF pipeline
// does it (first model only):
//
//  * Chains are label_asym_id (mmCIF's own chain ids, as AF3 uses), in the
//    order of _atom_site. One Input entity per chain; chains of the same
//    mmCIF entity get the same entity_id and consecutive sym_ids because the
//    featurizer keys entities by their residues, as AF3 does.
//  * Polymers (protein L/D, RNA, DNA): the full entity sequence from
//    _entity_poly_seq (missing residues included: AF3 tokenizes them too;
//    microheterogeneity: the first residue), falling back to the residues
//    present when the file has no _entity_poly_seq. One-letter codes from
//    _entity_poly.pdbx_seq_one_letter_code_can (what the MSAs are built on);
//    a residue that is not one of the standard ones becomes a modification
//    (tokenized per atom from the CCD), MSE becomes MET as in AF3's cleaning.
//  * Ligands: every non-polymer / branched chain, one CCD code per residue.
//    Waters are dropped, and so are AF3's common crystallization aids
//    (SO4 GOL EDO PO4 ACT PEG DMS TRS PGE PG4 FMT EPE MPD MES CD IOD) in
//    X-ray structures unless `keepCrystallizationAids`.
//  * MSAs come from the caller per chain (`--msa CHAIN=PATH`): CHAIN is a
//    label_asym_id, or an author chain id holding exactly one polymer.
//    Chains of the same entity without their own MSA share it.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_CACHE_STRUCTURE_H
#define MF_TOOLS_MF_CACHE_STRUCTURE_H

#include "Featurize.h"

#include <string>
#include <vector>

namespace mf::cache {

struct StructureMsa {
  /// Restricts the MSA to the structure of this file stem ("" = any).
  std::string structure;
  std::string chain;
  std::string path; // .a3m or .sto
  bool paired = false;
};

struct StructureOptions {
  std::vector<StructureMsa> msas;
  bool keepCrystallizationAids = false;
};

/// True for the file names read as structures: *.cif, *.mmcif, and the same
/// with .gz.
bool isStructurePath(const std::string &path);

/// The name a structure's cache is written under: the file name without
/// .gz and without the extension ("102m" for 102m.cif.gz).
std::string structureStem(const std::string &path);

/// Whether this build reads mmCIF (it needs gemmi at compile time).
bool haveStructureSupport();

/// Reads the structure at `path` into `out` (its entities, MSAs, input hashes
/// and notes). Built on success; NotCovered for what AF3 features cannot
/// express here (e.g. a DNA/RNA hybrid polymer); Error for unreadable files
/// and MSAs that name no chain. `message` says why.
Outcome readStructure(const std::string &path, const StructureOptions &options,
                      Input &out, std::string &message);

} // namespace mf::cache

#endif // MF_TOOLS_MF_CACHE_STRUCTURE_H
