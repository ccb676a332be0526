//===- Featurize.cpp - AlphaFold3 token and MSA features ------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Featurize.h"

#include "mf/runtime/msa.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

namespace mf::cache {
namespace {

// AF3's PROTEIN_TYPES order (residue_names.py); index = aatype.
const char *const kProteinNames[20] = {
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"};
const char kProteinLetters[] = "ARNDCQEGHILKMFPSTWYV";
constexpr int kUnkProtein = 20, kGap = 21, kUnkNucleic = 30;

/// aatype of a standard residue name of `type`, or -1.
int standardAatype(ChainType type, const std::string &name) {
  if (type == ChainType::Protein) {
    for (int i = 0; i < 20; ++i)
      if (name == kProteinNames[i])
        return i;
    return name == "UNK" ? kUnkProtein : -1;
  }
  static const char *const kRna[] = {"A", "G", "C", "U"};
  static const char *const kDna[] = {"DA", "DG", "DC", "DT"};
  for (int i = 0; i < 4; ++i) {
    if (type == ChainType::Rna && name == kRna[i])
      return 22 + i;
    if (type == ChainType::Dna && name == kDna[i])
      return 26 + i;
  }
  if ((type == ChainType::Rna && name == "N") ||
      (type == ChainType::Dna && name == "DN"))
    return kUnkNucleic;
  return -1;
}

/// The residue name AF3 gives a one-letter code of a polymer sequence.
std::string residueName(ChainType type, char letter) {
  if (type == ChainType::Protein) {
    if (const char *p = std::strchr(kProteinLetters, letter); p && letter)
      return kProteinNames[p - kProteinLetters];
    if (letter == 'U')
      return "SEC"; // selenocysteine: not standard, so tokenized per atom
    if (letter == 'O')
      return "PYL";
    return "UNK";
  }
  if (type == ChainType::Rna)
    return std::strchr("AGCU", letter) ? std::string(1, letter) : "N";
  return std::strchr("AGCT", letter) ? "D" + std::string(1, letter) : "DN";
}

/// AF3's MSA letter -> residue class maps (data/msa_features.py).
int msaClass(ChainType type, char c) {
  if (c == '-')
    return kGap;
  if (type == ChainType::Protein) {
    static const int kMap[26] = {
        /*A*/ 0,  /*B*/ 3,  /*C*/ 4,  /*D*/ 3,  /*E*/ 6,  /*F*/ 13, /*G*/ 7,
        /*H*/ 8,  /*I*/ 9,  /*J*/ 20, /*K*/ 11, /*L*/ 10, /*M*/ 12, /*N*/ 2,
        /*O*/ 20, /*P*/ 14, /*Q*/ 5,  /*R*/ 1,  /*S*/ 15, /*T*/ 16, /*U*/ 4,
        /*V*/ 19, /*W*/ 17, /*X*/ 20, /*Y*/ 18, /*Z*/ 6};
    return c >= 'A' && c <= 'Z' ? kMap[c - 'A'] : kUnkProtein;
  }
  const char *order = type == ChainType::Rna ? "AGCU" : "AGCT";
  const char *p = c ? std::strchr(order, c) : nullptr;
  if (!p)
    return kUnkNucleic;
  return (type == ChainType::Rna ? 22 : 26) + static_cast<int>(p - order);
}

/// The species of an MSA row from its header: UniProt's "OX=<taxid>", or the
/// "<db>_<accession>_<taxid>/..." form of the shared data's pairing MSAs.
/// "" when there is none (such rows are never paired).
std::string speciesOf(const std::string &description) {
  auto digitsAt = [&](size_t pos) {
    size_t end = pos;
    while (end < description.size() && std::isdigit(static_cast<unsigned char>(description[end])))
      ++end;
    return description.substr(pos, end - pos);
  };
  if (size_t ox = description.find("OX="); ox != std::string::npos)
    return digitsAt(ox + 3);
  std::string word = description.substr(0, description.find_first_of(" \t/"));
  size_t underscore = word.rfind('_');
  if (underscore == std::string::npos || underscore + 1 == word.size())
    return "";
  for (size_t i = underscore + 1; i < word.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(word[i])))
      return "";
  return word.substr(underscore + 1);
}

struct Residue {
  std::string name;
  char letter = 'X'; // the MSA column's letter (polymers)
  int aatype = kUnkProtein;
  bool perAtom = false;
  const CcdComponent *component = nullptr; // null: no atoms (e.g. UNK)
  std::vector<int> atoms;                  // kept atoms of the component
};

struct Chain {
  const Entity *entity = nullptr;
  ChainType type = ChainType::Protein;
  std::string id;
  int asymId = 0, entityId = 0, symId = 0;
  std::vector<Residue> residues;
  /// The chain's MSA columns: one per residue for polymers, one per token
  /// for ligands (AF3 gives a ligand one gap column per atom).
  int numColumns = 0;
  /// Residue-level alignments; rows are strings of numColumns letters.
  mf::msa::Msa unpaired, paired;
  /// Per column: the profile and deletion mean of the unpaired MSA.
  std::vector<float> profile, deletionMean;
};

struct Token {
  int chain, residue, column;
  int atom; // -1: the residue's token; else its atom index
};

/// A merged MSA row: per chain, a row index into that chain's msa, or -1
/// for gaps.
using MergedRow = std::vector<int>;

bool isHydrogen(const CcdAtom &atom) {
  return atom.element == "H" || atom.element == "D" || atom.element == "T";
}

/// Parses an MSA field; an empty or unset one is just the query row.
bool loadMsa(const std::optional<std::string> &text, bool isStockholm,
             const std::string &source, const std::string &query,
             mf::msa::Msa &out, std::string &error) {
  out = mf::msa::Msa();
  if (text && !text->empty()) {
    mf::runtime::Status status =
        isStockholm ? mf::msa::parseStockholm(*text, source, out)
                    : mf::msa::parseA3m(*text, source, out);
    if (!status.ok()) {
      error = status.message();
      return false;
    }
    if (out.numRows() == 0 || out.sequences[0] != query) {
      error = source + ": the first row is not the chain's sequence";
      return false;
    }
    return true;
  }
  out.sequences.push_back(query);
  out.deletions.push_back(std::vector<int32_t>(query.size(), 0));
  out.descriptions.push_back("query");
  return true;
}

/// Builds the chains and their residues; NotCovered when a component is
/// missing from the CCD or a ligand is a SMILES string.
Outcome buildChains(const Input &input, Ccd &ccd, std::vector<Chain> &chains,
                    std::string &message) {
  std::map<std::string, int> entityIds; // AF3: same residues, same entity
  std::map<int, int> copies;
  for (const Entity &entity : input.entities) {
    if (!entity.smiles.empty()) {
      message = "ligand " + entity.ids[0] +
                " is given by SMILES (needs a conformer generator, not "
                "supported)";
      return Outcome::NotCovered;
    }
    std::vector<Residue> residues;
    if (entity.type == ChainType::Ligand) {
      for (const std::string &code : entity.ccdCodes) {
        Residue r;
        r.name = code;
        r.perAtom = true;
        residues.push_back(r);
      }
    } else {
      for (size_t i = 0; i < entity.sequence.size(); ++i) {
        Residue r;
        r.letter = entity.sequence[i];
        auto mod = entity.modifications.find(static_cast<int>(i) + 1);
        r.name = mod != entity.modifications.end()
                     ? mod->second
                     : residueName(entity.type, r.letter);
        r.aatype = standardAatype(entity.type, r.name);
        r.perAtom = r.aatype < 0;
        residues.push_back(r);
      }
    }
    for (Residue &r : residues) {
      std::string error;
      r.component = ccd.find(r.name, &error);
      bool unknown = r.name == "UNK" || r.name == "N" || r.name == "DN";
      if (!r.component && !unknown) {
        message = error.find("no component") != std::string::npos
                      ? "the CCD has no component '" + r.name + "'"
                      : error;
        return error.find("no component") != std::string::npos
                   ? Outcome::NotCovered
                   : Outcome::Error;
      }
      if (!r.component)
        continue;
      for (size_t a = 0; a < r.component->atoms.size(); ++a) {
        const CcdAtom &atom = r.component->atoms[a];
        // Polymer residues lose their leaving atoms in the chain; a free
        // ligand keeps all of its heavy atoms.
        if (isHydrogen(atom) || (entity.type != ChainType::Ligand && atom.leaving))
          continue;
        r.atoms.push_back(static_cast<int>(a));
      }
      if (!r.perAtom && r.atoms.size() > static_cast<size_t>(kAtomsPerToken)) {
        message = "component " + r.name + " has more than 24 heavy atoms";
        return Outcome::Error;
      }
      if (r.perAtom) {
        if (r.atoms.empty()) {
          message = "component " + r.name + " has no heavy atoms";
          return Outcome::NotCovered;
        }
        // A modified residue counts as its parent (AF3's
        // fix_non_standard_polymer_res); ligands are UNK.
        if (entity.type == ChainType::Ligand) {
          r.aatype = kUnkProtein;
        } else {
          int parent = standardAatype(entity.type,
                                      r.component->parent.substr(
                                          0, r.component->parent.find(',')));
          r.aatype = parent >= 0 ? parent
                     : entity.type == ChainType::Protein ? kUnkProtein
                                                          : kUnkNucleic;
        }
      }
    }
    std::string key = chainTypeName(entity.type);
    for (const Residue &r : residues)
      key += "," + r.name;
    int entityId = entityIds.emplace(key, static_cast<int>(entityIds.size()) + 1)
                       .first->second;
    for (const std::string &id : entity.ids) {
      Chain chain;
      chain.entity = &entity;
      chain.type = entity.type;
      chain.id = id;
      chain.asymId = static_cast<int>(chains.size()) + 1;
      chain.entityId = entityId;
      chain.symId = ++copies[entityId];
      chain.residues = residues;
      chains.push_back(std::move(chain));
    }
  }
  return Outcome::Built;
}

/// Loads each chain's MSAs and computes its profile and deletion mean.
bool buildChainMsas(std::vector<Chain> &chains, bool pairing,
                    std::string &notes, std::string &error) {
  for (Chain &chain : chains) {
    const Entity &e = *chain.entity;
    if (chain.type == ChainType::Ligand) {
      for (const Residue &r : chain.residues)
        chain.numColumns += static_cast<int>(r.atoms.size());
      std::string gaps(chain.numColumns, '-');
      loadMsa(std::nullopt, false, "", gaps, chain.unpaired, error);
      loadMsa(std::nullopt, false, "", gaps, chain.paired, error);
    } else {
      chain.numColumns = static_cast<int>(e.sequence.size());
      // AF3 searches no MSA for DNA or for polymers of <= 4 residues.
      bool skip = chain.type == ChainType::Dna || e.sequence.size() <= 4;
      if (!skip && !e.unpairedMsa &&
          (chain.type == ChainType::Protein || chain.type == ChainType::Rna))
        notes += "chain " + chain.id +
                 ": no MSA given (AlphaFold3 would search for one); "
                 "query row only\n";
      static const std::optional<std::string> kNone;
      if (!loadMsa(skip ? kNone : e.unpairedMsa, e.unpairedMsaIsStockholm,
                   e.unpairedMsaSource, e.sequence, chain.unpaired, error) ||
          !loadMsa(skip || !pairing || chain.type != ChainType::Protein
                       ? kNone
                       : e.pairedMsa,
                   e.pairedMsaIsStockholm, e.pairedMsaSource, e.sequence,
                   chain.paired, error))
        return false;
    }
    // AF3's data3.get_profile_features, over the whole unpaired MSA.
    size_t rows = chain.unpaired.numRows();
    chain.profile.assign(chain.numColumns * kNumResidueClasses, 0.0f);
    chain.deletionMean.assign(chain.numColumns, 0.0f);
    std::vector<double> counts(kNumResidueClasses);
    for (int c = 0; c < chain.numColumns; ++c) {
      std::fill(counts.begin(), counts.end(), 0.0);
      double deletions = 0;
      for (size_t r = 0; r < rows; ++r) {
        counts[msaClass(chain.type, chain.unpaired.sequences[r][c])] += 1;
        deletions += chain.unpaired.deletions[r][c];
      }
      for (int k = 0; k < kNumResidueClasses; ++k)
        chain.profile[c * kNumResidueClasses + k] =
            static_cast<float>(counts[k] / rows);
      chain.deletionMean[c] = static_cast<float>(deletions / rows);
    }
  }
  return true;
}

/// AF3's msa_pairing.create_paired_features, simplified: the query rows,
/// then for every species found in the paired MSAs of at least two chains
/// (species in more chains first, then by first appearance), as many rows
/// as the chain with the fewest hits of it has (at most 600); chains
/// without the species get gaps.
std::vector<MergedRow> pairRows(const std::vector<Chain> &chains,
                                size_t maxRows) {
  std::vector<MergedRow> rows;
  rows.push_back(MergedRow(chains.size(), 0));
  struct Species {
    std::vector<std::vector<int>> rowsPerChain;
    int numChains = 0;
    size_t firstSeen = 0;
  };
  std::map<std::string, Species> species;
  size_t order = 0;
  for (size_t c = 0; c < chains.size(); ++c) {
    const mf::msa::Msa &msa = chains[c].paired;
    for (size_t r = 1; r < msa.numRows(); ++r) {
      std::string s = speciesOf(msa.descriptions[r]);
      if (s.empty())
        continue;
      Species &sp = species[s];
      if (sp.rowsPerChain.empty()) {
        sp.rowsPerChain.resize(chains.size());
        sp.firstSeen = order++;
      }
      if (sp.rowsPerChain[c].empty())
        ++sp.numChains;
      sp.rowsPerChain[c].push_back(static_cast<int>(r));
    }
  }
  std::vector<const Species *> ranked;
  for (const auto &entry : species)
    if (entry.second.numChains >= 2)
      ranked.push_back(&entry.second);
  std::sort(ranked.begin(), ranked.end(), [](const Species *a, const Species *b) {
    if (a->numChains != b->numChains)
      return a->numChains > b->numChains;
    return a->firstSeen < b->firstSeen;
  });
  for (const Species *sp : ranked) {
    size_t k = 600;
    for (const std::vector<int> &r : sp->rowsPerChain)
      if (!r.empty())
        k = std::min(k, r.size());
    for (size_t i = 0; i < k && rows.size() < maxRows; ++i) {
      MergedRow row(chains.size(), -1);
      for (size_t c = 0; c < chains.size(); ++c)
        if (!sp->rowsPerChain[c].empty())
          row[c] = sp->rowsPerChain[c][i];
      rows.push_back(row);
    }
  }
  return rows;
}

template <typename T>
Status addTensor(Writer &writer, const std::string &name,
                 mf_cache_dtype_t dtype, std::vector<int64_t> shape,
                 const std::vector<T> &values) {
  return writer.add(name, dtype, shape, values);
}

} // namespace

Outcome featurize(const Input &input, Ccd &ccd,
                  const FeaturizeOptions &options, Writer &writer,
                  FeaturizeSummary &summary, std::string &message) {
  std::vector<Chain> chains;
  Outcome outcome = buildChains(input, ccd, chains, message);
  if (outcome != Outcome::Built)
    return outcome;

  // AF3 pairs when there is more than one distinct protein chain.
  std::set<std::string> proteinSequences;
  for (const Chain &chain : chains)
    if (chain.type == ChainType::Protein)
      proteinSequences.insert(chain.entity->sequence);
  bool pairing = proteinSequences.size() > 1;
  std::string notes = input.notes, error;
  if (!buildChainMsas(chains, pairing, notes, error)) {
    message = error;
    return Outcome::Error;
  }

  // Tokens, in chain order.
  std::vector<Token> tokens;
  for (size_t c = 0; c < chains.size(); ++c) {
    int column = 0;
    for (size_t r = 0; r < chains[c].residues.size(); ++r) {
      const Residue &res = chains[c].residues[r];
      bool ligand = chains[c].type == ChainType::Ligand;
      if (!res.perAtom) {
        tokens.push_back({int(c), int(r), column++, -1});
        continue;
      }
      for (int a : res.atoms)
        tokens.push_back({int(c), int(r), ligand ? column++ : column, a});
      if (!ligand)
        ++column; // a modified residue repeats its one column
    }
  }
  const int64_t T = static_cast<int64_t>(tokens.size());

  // Token features.
  std::vector<int32_t> aatype(T), residueIndex(T), tokenIndex(T), asymId(T),
      entityId(T), symId(T);
  std::vector<uint8_t> seqMask(T, 1), isProtein(T), isRna(T), isDna(T),
      isLigand(T), isNonstandard(T, 0), isWater(T, 0);
  for (int64_t t = 0; t < T; ++t) {
    const Token &tok = tokens[t];
    const Chain &chain = chains[tok.chain];
    aatype[t] = chain.residues[tok.residue].aatype;
    residueIndex[t] = tok.residue + 1;
    tokenIndex[t] = static_cast<int32_t>(t + 1);
    asymId[t] = chain.asymId;
    entityId[t] = chain.entityId;
    symId[t] = chain.symId;
    isProtein[t] = chain.type == ChainType::Protein;
    isRna[t] = chain.type == ChainType::Rna;
    isDna[t] = chain.type == ChainType::Dna;
    isLigand[t] = chain.type == ChainType::Ligand;
  }

  // Reference atoms, AF3's dense [T, 24] layout.
  const int64_t S = kAtomsPerToken;
  std::vector<float> refPos(T * S * 3, 0.0f), refCharge(T * S, 0.0f);
  std::vector<uint8_t> refMask(T * S, 0);
  std::vector<int32_t> refElement(T * S, 0), refNameChars(T * S * 4, 0),
      refSpaceUid(T * S, 0);
  std::map<std::pair<int, int>, int> spaceUids; // (chain, residue) -> uid
  for (int64_t t = 0; t < T; ++t) {
    const Token &tok = tokens[t];
    const Residue &res = chains[tok.chain].residues[tok.residue];
    int uid = spaceUids
                  .emplace(std::make_pair(tok.chain, tok.residue),
                           static_cast<int>(spaceUids.size()))
                  .first->second;
    std::vector<int> slots;
    if (tok.atom >= 0)
      slots.push_back(tok.atom);
    else
      slots = res.atoms;
    for (size_t s = 0; s < slots.size(); ++s) {
      const CcdAtom &atom = res.component->atoms[slots[s]];
      int64_t i = t * S + static_cast<int64_t>(s);
      refMask[i] = 1;
      refElement[i] = atomicNumber(atom.element);
      refCharge[i] = static_cast<float>(atom.charge);
      for (int k = 0; k < 3; ++k)
        refPos[i * 3 + k] = atom.pos[k];
      for (size_t k = 0; k < 4 && k < atom.name.size(); ++k)
        refNameChars[i * 4 + k] = static_cast<unsigned char>(atom.name[k]) - 32;
      refSpaceUid[i] = uid;
    }
  }

  // MSA rows: paired block, then unpaired (deduplicated against the pairs).
  size_t maxRows = static_cast<size_t>(std::max(options.maxMsaRows, 1));
  std::vector<MergedRow> rows;
  if (pairing)
    rows = pairRows(chains, std::max<size_t>(1, maxRows / 2));
  size_t numPaired = rows.size();
  std::vector<std::vector<int>> unpairedRows(chains.size());
  size_t longest = 0;
  for (size_t c = 0; c < chains.size(); ++c) {
    std::set<std::string> pairedSeqs;
    for (size_t r = 0; r < numPaired; ++r)
      if (rows[r][c] >= 0)
        pairedSeqs.insert(chains[c].paired.sequences[rows[r][c]]);
    for (size_t r = 0; r < chains[c].unpaired.numRows(); ++r)
      if (!pairedSeqs.count(chains[c].unpaired.sequences[r]))
        unpairedRows[c].push_back(static_cast<int>(r));
    longest = std::max(longest, unpairedRows[c].size());
  }
  longest = std::min(longest, maxRows - numPaired);
  for (size_t i = 0; i < longest; ++i) {
    MergedRow row(chains.size(), -1);
    for (size_t c = 0; c < chains.size(); ++c)
      if (i < unpairedRows[c].size())
        row[c] = unpairedRows[c][i];
    rows.push_back(row);
  }
  const int64_t R = static_cast<int64_t>(rows.size());
  std::vector<int8_t> msa(R * T), deletionMatrix(R * T);
  for (int64_t r = 0; r < R; ++r) {
    bool isPaired = static_cast<size_t>(r) < numPaired;
    for (int64_t t = 0; t < T; ++t) {
      const Token &tok = tokens[t];
      const Chain &chain = chains[tok.chain];
      int source = rows[r][tok.chain];
      const mf::msa::Msa &m = isPaired ? chain.paired : chain.unpaired;
      int cls = kGap, del = 0;
      if (source >= 0) {
        cls = msaClass(chain.type, m.sequences[source][tok.column]);
        del = std::min(m.deletions[source][tok.column], 127);
      }
      msa[r * T + t] = static_cast<int8_t>(cls);
      deletionMatrix[r * T + t] = static_cast<int8_t>(del);
    }
  }
  std::vector<uint8_t> msaMask(R * T, 1);
  std::vector<float> profile(T * kNumResidueClasses), deletionMean(T);
  for (int64_t t = 0; t < T; ++t) {
    const Chain &chain = chains[tokens[t].chain];
    int col = tokens[t].column;
    std::copy_n(chain.profile.begin() + col * kNumResidueClasses,
                kNumResidueClasses, profile.begin() + t * kNumResidueClasses);
    deletionMean[t] = chain.deletionMean[col];
  }

  // Write.
  const mf_cache_dtype_t I32 = MF_CACHE_DTYPE_I32, B = MF_CACHE_DTYPE_BOOL,
                         F32 = MF_CACHE_DTYPE_F32, I8 = MF_CACHE_DTYPE_I8;
  std::vector<int32_t> seqLength{static_cast<int32_t>(T)},
      numAlignments{static_cast<int32_t>(R)};
  Status statuses[] = {
      addTensor(writer, "aatype", I32, {T}, aatype),
      addTensor(writer, "residue_index", I32, {T}, residueIndex),
      addTensor(writer, "token_index", I32, {T}, tokenIndex),
      addTensor(writer, "asym_id", I32, {T}, asymId),
      addTensor(writer, "entity_id", I32, {T}, entityId),
      addTensor(writer, "sym_id", I32, {T}, symId),
      addTensor(writer, "seq_mask", B, {T}, seqMask),
      addTensor(writer, "seq_length", I32, {}, seqLength),
      addTensor(writer, "is_protein", B, {T}, isProtein),
      addTensor(writer, "is_rna", B, {T}, isRna),
      addTensor(writer, "is_dna", B, {T}, isDna),
      addTensor(writer, "is_ligand", B, {T}, isLigand),
      addTensor(writer, "is_nonstandard_polymer_chain", B, {T}, isNonstandard),
      addTensor(writer, "is_water", B, {T}, isWater),
      addTensor(writer, "msa", I8, {R, T}, msa),
      addTensor(writer, "msa_mask", B, {R, T}, msaMask),
      addTensor(writer, "deletion_matrix", I8, {R, T}, deletionMatrix),
      addTensor(writer, "profile", F32, {T, kNumResidueClasses}, profile),
      addTensor(writer, "deletion_mean", F32, {T}, deletionMean),
      addTensor(writer, "num_alignments", I32, {}, numAlignments),
      addTensor(writer, "ref_pos", F32, {T, S, 3}, refPos),
      addTensor(writer, "ref_mask", B, {T, S}, refMask),
      addTensor(writer, "ref_element", I32, {T, S}, refElement),
      addTensor(writer, "ref_charge", F32, {T, S}, refCharge),
      addTensor(writer, "ref_atom_name_chars", I32, {T, S, 4}, refNameChars),
      addTensor(writer, "ref_space_uid", I32, {T, S}, refSpaceUid),
      writer.setFeatureSetVersion(kFeatureSetVersion),
  };
  for (Status &status : statuses)
    if (!status.ok()) {
      message = status.message();
      return Outcome::Error;
    }

  std::map<std::string, uint64_t> hashes = input.hashes;
  std::string chainList;
  for (const Chain &chain : chains) {
    for (const Residue &r : chain.residues)
      if (r.component)
        hashes["ccd:" + r.name] = r.component->hash;
    if (!chainList.empty())
      chainList += ",";
    chainList += chain.id + ":" + chainTypeName(chain.type) + ":" +
                 std::to_string(chain.residues.size());
  }
  Status meta[] = {
      writer.setInputHashes(hashes),
      writer.setMetadata("mf_generator", "mf-cache"),
      writer.setMetadata("mf_name", input.name),
      writer.setMetadata("mf_chains", chainList),
      writer.setMetadata("mf_num_paired_rows", std::to_string(numPaired)),
      writer.setMetadata("mf_notes", notes.empty() ? "-" : notes),
  };
  for (Status &status : meta)
    if (!status.ok()) {
      message = status.message();
      return Outcome::Error;
    }
  summary.numTokens = static_cast<int>(T);
  summary.numMsaRows = static_cast<int>(R);
  summary.numChains = static_cast<int>(chains.size());
  message = notes;
  return Outcome::Built;
}

} // namespace mf::cache
