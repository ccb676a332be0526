//===- Structure.cpp - mmCIF structures as AlphaFold3 inputs --------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The only file that includes gemmi (header-only in 0.5.x; its CIF grammar
// is PEGTL, from Debian's tao-pegtl-dev), to keep the compile cost in one
// translation unit. Without gemmi (MF_CACHE_HAVE_GEMMI unset) readStructure
// says so.
//
//===----------------------------------------------------------------------===//

#include "Structure.h"

#include "mf/runtime/artifact.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#if MF_CACHE_HAVE_GEMMI
#include <gemmi/cif.hpp>
#include <gemmi/mmcif.hpp>
#include <gemmi/resinfo.hpp>
#include <zlib.h>
#endif

namespace mf::cache {
namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

bool isStructurePath(const std::string &path) {
  std::string p = endsWith(path, ".gz") ? path.substr(0, path.size() - 3) : path;
  return endsWith(p, ".cif") || endsWith(p, ".mmcif");
}

std::string structureStem(const std::string &path) {
  std::string name = baseName(path);
  if (endsWith(name, ".gz"))
    name.resize(name.size() - 3);
  size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

#if !MF_CACHE_HAVE_GEMMI

bool haveStructureSupport() { return false; }

Outcome readStructure(const std::string &path, const StructureOptions &,
                      Input &out, std::string &message) {
  out = Input();
  out.path = path;
  message = path + ": mf-cache was built without gemmi, so it cannot read "
                   "mmCIF (install gemmi-dev and tao-pegtl-dev, reconfigure)";
  return Outcome::Error;
}

#else

bool haveStructureSupport() { return true; }

namespace {

/// Inflates gzip data (concatenated members too).
bool gunzip(const std::string &in, std::string &out, std::string &error) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) {
    error = "zlib init failed";
    return false;
  }
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out.clear();
  char buffer[1 << 16];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef *>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0)
        break;
      inflateReset(&zs); // another gzip member follows
      continue;
    }
    if (rc != Z_OK) {
      inflateEnd(&zs);
      error = rc == Z_BUF_ERROR ? "truncated gzip data" : "corrupt gzip data";
      return false;
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      error = "truncated gzip data";
      return false;
    }
  }
  inflateEnd(&zs);
  return true;
}

// AF3's COMMON_CRYSTALLIZATION_AIDS (constants/chemical_component_sets.py,
// the supplement's Table 9) and mmcif_names.CRYSTALLIZATION_METHODS.
const std::set<std::string> kCrystallizationAids = {
    "SO4", "GOL", "EDO", "PO4", "ACT", "PEG", "DMS", "TRS",
    "PGE", "PG4", "FMT", "EPE", "MPD", "MES", "CD",  "IOD"};
const std::set<std::string> kCrystallizationMethods = {
    "X-RAY DIFFRACTION", "NEUTRON DIFFRACTION", "ELECTRON CRYSTALLOGRAPHY",
    "POWDER CRYSTALLOGRAPHY", "FIBER DIFFRACTION"};

/// The standard one-letter code of a residue name for a chain type, 0 if it
/// is not standard there.
char standardLetter(ChainType type, const std::string &name) {
  static const char *const kProtein[20] = {
      "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
      "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"};
  static const char kProteinLetters[] = "ARNDCQEGHILKMFPSTWYV";
  if (type == ChainType::Protein) {
    for (int i = 0; i < 20; ++i)
      if (name == kProtein[i])
        return kProteinLetters[i];
    return name == "UNK" ? 'X' : 0;
  }
  if (type == ChainType::Rna)
    return name == "A" || name == "C" || name == "G" || name == "U" ? name[0]
           : name == "N"                                         ? 'N'
                                                                 : 0;
  if (name == "DA" || name == "DC" || name == "DG" || name == "DT")
    return name[1];
  return name == "DN" ? 'N' : 0;
}

struct Subchain {
  std::string id;     // label_asym_id
  std::string author; // auth_asym_id
  std::string entityId;
  std::vector<const gemmi::Residue *> residues;
};

std::string stripSpace(const std::string &s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c)))
      out += c;
  return out;
}

} // namespace

Outcome readStructure(const std::string &path, const StructureOptions &options,
                      Input &out, std::string &message) {
  out = Input();
  out.path = path;
  out.name = structureStem(path);
  auto fail = [&](const std::string &why) {
    message = path + ": " + why;
    return Outcome::Error;
  };
  std::string bytes;
  if (!readWholeFile(path, bytes, message))
    return Outcome::Error;
  out.hashes[baseName(path)] =
      mf::artifact::fnv1a64(bytes.data(), bytes.size());
  std::string text;
  if (endsWith(path, ".gz")) {
    std::string error;
    if (!gunzip(bytes, text, error))
      return fail(error);
  } else {
    text = std::move(bytes);
  }

  gemmi::Structure st;
  std::map<std::string, std::string> canonical; // entity -> one-letter codes
  bool crystal = false;
  try {
    gemmi::cif::Document doc =
        gemmi::cif::read_memory(text.data(), text.size(), path.c_str());
    if (doc.blocks.empty())
      return fail("no data block");
    gemmi::cif::Block &block = doc.blocks[0];
    for (auto row : block.find("_entity_poly.",
                               {"entity_id", "?pdbx_seq_one_letter_code_can"}))
      if (row.has2(1))
        canonical[row.str(0)] = stripSpace(row.str(1));
    for (auto row : block.find("_exptl.", {"method"}))
      crystal |= kCrystallizationMethods.count(row.str(0)) > 0;
    st = gemmi::make_structure_from_block(block);
  } catch (const std::exception &e) {
    return fail(std::string("invalid mmCIF: ") + e.what());
  }
  if (st.models.empty())
    return fail("no atoms (_atom_site is empty)");
  if (st.models.size() > 1)
    out.notes += "first model of " + std::to_string(st.models.size()) + "\n";

  // Subchains in _atom_site order; a subchain split over the file is one.
  std::vector<Subchain> subchains;
  std::map<std::string, size_t> indexOf;
  for (const gemmi::Chain &chain : st.models[0].chains)
    for (const gemmi::Residue &res : chain.residues) {
      if (res.subchain.empty())
        return fail("residue " + res.name + " " + res.seqid.str() +
                    " of chain " + chain.name + " has no label_asym_id");
      auto [it, fresh] = indexOf.emplace(res.subchain, subchains.size());
      if (fresh) {
        subchains.emplace_back();
        subchains.back().id = res.subchain;
        subchains.back().author = chain.name;
        subchains.back().entityId = res.entity_id;
      }
      subchains[it->second].residues.push_back(&res);
    }

  int waters = 0, mseToMet = 0;
  std::vector<std::string> aids;
  std::map<std::string, std::string> entityOfChain; // label id -> mmCIF entity
  std::map<std::string, std::vector<std::string>> polymersOfAuthor;
  for (const Subchain &sub : subchains) {
    const gemmi::Entity *ent = st.get_entity(sub.entityId);
    gemmi::EntityType kind =
        ent ? ent->entity_type : sub.residues[0]->entity_type;
    if (kind == gemmi::EntityType::Water) {
      waters += static_cast<int>(sub.residues.size());
      continue;
    }
    Entity entity;
    entity.ids.push_back(sub.id);
    if (kind == gemmi::EntityType::Polymer) {
      switch (ent ? ent->polymer_type : gemmi::PolymerType::Unknown) {
      case gemmi::PolymerType::PeptideL:
      case gemmi::PolymerType::PeptideD:
        entity.type = ChainType::Protein;
        break;
      case gemmi::PolymerType::Rna:
        entity.type = ChainType::Rna;
        break;
      case gemmi::PolymerType::Dna:
        entity.type = ChainType::Dna;
        break;
      default:
        message = "chain " + sub.id + " is a polymer of a type AlphaFold3 "
                  "has no chain type for (not protein, RNA or DNA)";
        return Outcome::NotCovered;
      }
      // The full sequence (AF3 tokenizes unobserved residues too), else
      // the residues present.
      std::vector<std::string> names;
      if (ent && !ent->full_sequence.empty()) {
        for (const std::string &mons : ent->full_sequence)
          names.push_back(gemmi::Entity::first_mon(mons));
      } else {
        std::set<std::string> seen;
        for (const gemmi::Residue *res : sub.residues)
          if (seen.insert(res->seqid.str()).second)
            names.push_back(res->name);
        out.notes += "chain " + sub.id + ": no _entity_poly_seq; sequence "
                     "from the " + std::to_string(names.size()) +
                     " residues present\n";
      }
      auto can = canonical.find(sub.entityId);
      bool useCan = can != canonical.end() && can->second.size() == names.size();
      for (size_t i = 0; i < names.size(); ++i) {
        std::string name = names[i];
        if (name == "MSE" && entity.type == ChainType::Protein) {
          name = "MET"; // AF3's cleaning: selenomethionine as methionine
          ++mseToMet;
        }
        char letter = standardLetter(entity.type, name);
        if (!letter) {
          // Not standard: a modification, tokenized per atom.
          entity.modifications[static_cast<int>(i) + 1] = name;
          if (useCan && std::isupper(static_cast<unsigned char>(can->second[i])))
            letter = can->second[i];
          else if (char c = gemmi::find_tabulated_residue(name).one_letter_code;
                   std::isalpha(static_cast<unsigned char>(c)))
            letter = static_cast<char>(std::toupper(c));
          else
            letter = entity.type == ChainType::Protein ? 'X' : 'N';
        }
        entity.sequence += letter;
      }
      entityOfChain[sub.id] = sub.entityId;
      polymersOfAuthor[sub.author].push_back(sub.id);
    } else if (kind == gemmi::EntityType::NonPolymer ||
               kind == gemmi::EntityType::Branched) {
      entity.type = ChainType::Ligand;
      std::set<std::string> seen; // microheterogeneity: the first residue
      for (const gemmi::Residue *res : sub.residues) {
        if (!seen.insert(res->seqid.str()).second)
          continue;
        if (res->is_water()) {
          ++waters;
          continue;
        }
        if (crystal && !options.keepCrystallizationAids &&
            kCrystallizationAids.count(res->name)) {
          aids.push_back(res->name + " (chain " + sub.id + ")");
          continue;
        }
        entity.ccdCodes.push_back(res->name);
      }
      if (entity.ccdCodes.empty())
        continue;
    } else {
      return fail("chain " + sub.id + " belongs to no entity of known type "
                  "(_entity / _atom_site.label_entity_id)");
    }
    out.entities.push_back(std::move(entity));
  }
  if (out.entities.empty())
    return fail("no polymer or ligand chains");
  if (waters)
    out.notes += "dropped " + std::to_string(waters) + " waters\n";
  if (!aids.empty()) {
    std::string list;
    for (const std::string &a : aids)
      list += (list.empty() ? "" : ", ") + a;
    out.notes += "dropped crystallization aids (AF3, X-ray): " + list + "\n";
  }
  if (mseToMet)
    out.notes += "MSE read as MET (" + std::to_string(mseToMet) + ")\n";

  // MSAs, per chain.
  auto entityFor = [&](const std::string &chain) -> Entity * {
    for (Entity &e : out.entities)
      if (e.ids[0] == chain)
        return &e;
    return nullptr;
  };
  std::set<std::pair<std::string, bool>> given;
  for (const StructureMsa &spec : options.msas) {
    if (!spec.structure.empty() && spec.structure != out.name)
      continue;
    std::string chain;
    if (entityOfChain.count(spec.chain))
      chain = spec.chain;
    else if (auto a = polymersOfAuthor.find(spec.chain);
             a != polymersOfAuthor.end() && a->second.size() == 1)
      chain = a->second[0];
    else
      return fail("--msa " + spec.chain + "=" + spec.path + ": no polymer "
                  "chain '" + spec.chain + "' (a label_asym_id, or an author "
                  "chain id with one polymer)");
    if (!given.insert({chain, spec.paired}).second)
      return fail("two " + std::string(spec.paired ? "paired" : "unpaired") +
                  " MSAs for chain " + chain);
    if (endsWith(spec.path, ".gz") || endsWith(spec.path, ".xz") ||
        endsWith(spec.path, ".zst"))
      return fail(spec.path + ": compressed MSAs are not supported");
    std::string contents;
    if (!readWholeFile(spec.path, contents, message))
      return Outcome::Error;
    out.hashes[chain + (spec.paired ? ":pairedMsa:" : ":unpairedMsa:") +
               baseName(spec.path)] =
        mf::artifact::fnv1a64(contents.data(), contents.size());
    Entity &e = *entityFor(chain);
    (spec.paired ? e.pairedMsa : e.unpairedMsa) = std::move(contents);
    (spec.paired ? e.pairedMsaIsStockholm : e.unpairedMsaIsStockholm) =
        endsWith(spec.path, ".sto");
    (spec.paired ? e.pairedMsaSource : e.unpairedMsaSource) = spec.path;
  }
  // Copies of an entity share the MSA given for one of them.
  for (Entity &e : out.entities) {
    if (e.type == ChainType::Ligand)
      continue;
    for (const Entity &other : out.entities) {
      if (&other == &e || other.type == ChainType::Ligand ||
          entityOfChain[other.ids[0]] != entityOfChain[e.ids[0]])
        continue;
      if (!e.unpairedMsa && other.unpairedMsa &&
          given.count({other.ids[0], false})) {
        e.unpairedMsa = other.unpairedMsa;
        e.unpairedMsaIsStockholm = other.unpairedMsaIsStockholm;
        e.unpairedMsaSource = other.unpairedMsaSource;
        out.notes += "chain " + e.ids[0] + ": unpaired MSA of chain " +
                     other.ids[0] + " (same entity)\n";
      }
      if (!e.pairedMsa && other.pairedMsa && given.count({other.ids[0], true})) {
        e.pairedMsa = other.pairedMsa;
        e.pairedMsaIsStockholm = other.pairedMsaIsStockholm;
        e.pairedMsaSource = other.pairedMsaSource;
      }
    }
  }
  return Outcome::Built;
}

#endif // MF_CACHE_HAVE_GEMMI

} // namespace mf::cache
