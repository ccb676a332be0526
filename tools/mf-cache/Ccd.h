//===- Ccd.h - Chemical Component Dictionary reader -------------*- C++ -*-===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads Chemical Component Dictionary entries (mmCIF, one `data_<ID>` block
// per component) for the reference-atom features: atoms (name, element,
// charge, leaving flag, ideal coordinates) and bonds. The full wwPDB
// components.cif and a folder of one-component files go through the same
// code: files are indexed by block on load and a block is parsed only when
// its component is first asked for (the full CCD has ~45,000 blocks and an
// input needs a handful).
//
// This is a small reader of the mmCIF syntax the CCD uses (data blocks,
// `_cat.item value` pairs, loop_ tables, '…' / "…" / ;-text values, #
// comments), not a general CIF parser. It stays separate from the mmCIF
// route's gemmi (Structure.cpp) because it indexes blocks lazily: gemmi
// would parse all ~45,000 blocks of components.cif to use a handful.
//
//===----------------------------------------------------------------------===//

#ifndef MF_TOOLS_MF_CACHE_CCD_H
#define MF_TOOLS_MF_CACHE_CCD_H

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mf::cache {

struct CcdAtom {
  std::string name;    // _chem_comp_atom.atom_id
  std::string element; // _chem_comp_atom.type_symbol, as written ("FE")
  int charge = 0;
  bool leaving = false; // pdbx_leaving_atom_flag == Y
  float pos[3] = {0, 0, 0};
};

struct CcdComponent {
  std::string id;
  std::string type;   // _chem_comp.type, e.g. "L-PEPTIDE LINKING"
  std::string parent; // mon_nstd_parent_comp_id, "" if none
  std::vector<CcdAtom> atoms;
  std::vector<std::pair<int, int>> bonds; // indices into atoms
  /// FNV-1a 64 of the block's text, recorded as the input hash "ccd:<ID>".
  uint64_t hash = 0;
};

/// Atomic number of an element symbol (case-insensitive), 0 if unknown.
int atomicNumber(std::string_view symbol);

class Ccd {
public:
  /// Indexes `path`: a components.cif-style file, or a folder whose *.cif
  /// files are. Later files override earlier ones for the same component.
  bool addPath(const std::string &path, std::string &error);

  /// The component `id`, or nullptr if no indexed file has it (or its block
  /// is malformed; `error` then says why). Thread-safe; the result lives as
  /// long as the Ccd.
  const CcdComponent *find(const std::string &id, std::string *error = nullptr);

  bool empty() const { return blocks_.empty(); }
  /// The files read so far, in order (their hashes go into the cache).
  const std::vector<std::string> &files() const { return files_; }

private:
  struct Block {
    size_t file;
    size_t begin, end; // byte range of the block in the file's text
  };
  bool addFile(const std::string &path, std::string &error);

  std::vector<std::string> files_;
  std::vector<std::string> texts_;
  std::map<std::string, Block> blocks_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<CcdComponent>> parsed_;
  std::map<std::string, std::string> failed_;
};

/// Parses one component from the text of its data block (exposed for tests).
bool parseComponent(std::string_view block, CcdComponent &out,
                    std::string &error);

} // namespace mf::cache

#endif // MF_TOOLS_MF_CACHE_CCD_H
