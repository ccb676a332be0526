//===- mf_cache_test.cpp - mf-cache on the shared data --------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Featurizes the AlphaFold3 inputs of ../shared/data and checks the features
// against the input files (read independently of the featurizer where it
// matters: MSA rows and deletions are counted from the raw a3m text), then
// drives the mf-cache tool: identical bytes on rebuild, shards that
// partition the inputs, refusal of corrupted and truncated files. The
// mmCIF route (gemmi) is checked against the JSON route on the same entries.
//
//===----------------------------------------------------------------------===//

#include "Featurize.h"
#include "Structure.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace mf::cache;

namespace {

const std::string kData = MF_SHARED_DATA_DIR;
const std::string kTool = MF_CACHE_TOOL;

bool haveData() {
  struct stat st;
  return stat((kData + "/af3_inputs").c_str(), &st) == 0;
}

#define REQUIRE_DATA()                                                         \
  if (!haveData())                                                             \
  GTEST_SKIP() << "no shared data at " << kData

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int run(const std::string &command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// A fresh folder under /tmp, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/mf_cache_test_XXXXXX";
    const char *dir = mkdtemp(pattern);
    path = dir ? dir : "";
  }
  ~TempDir() {
    if (!path.empty())
      run("rm -rf '" + path + "'");
  }
};

/// The raw a3m, independently of mf::msa: per row the match-column letters
/// and the lowercase (insertion) count before each.
struct RawA3m {
  std::vector<std::string> rows;
  std::vector<std::vector<int>> deletions;
};
RawA3m readRawA3m(const std::string &path) {
  RawA3m out;
  std::istringstream in(slurp(path));
  std::string line, seq;
  auto flush = [&]() {
    if (seq.empty())
      return;
    std::string row;
    std::vector<int> del;
    int pending = 0;
    for (char c : seq) {
      if (c >= 'a' && c <= 'z') {
        ++pending;
      } else if ((c >= 'A' && c <= 'Z') || c == '-') {
        row += c;
        del.push_back(pending);
        pending = 0;
      }
    }
    out.rows.push_back(row);
    out.deletions.push_back(del);
    seq.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '>')
      flush();
    else
      seq += line;
  }
  flush();
  return out;
}

/// Featurizes an input into an in-memory cache.
struct Built {
  std::string bytes;
  FeatureCache cache{nullptr};
  std::string message;
};
Outcome buildInput(const std::string &json, Built &out,
                   FeaturizeOptions options = {}) {
  Ccd ccd;
  std::string error;
  EXPECT_TRUE(ccd.addPath(kData + "/ccd", error)) << error;
  Input input;
  if (!readInput(json, input, error)) {
    ADD_FAILURE() << error;
    return Outcome::Error;
  }
  Writer writer;
  FeaturizeSummary summary;
  Outcome outcome = featurize(input, ccd, options, writer, summary, out.message);
  if (outcome != Outcome::Built)
    return outcome;
  EXPECT_TRUE(writer.serialize(out.bytes).ok());
  auto cache = FeatureCache::openMemory(out.bytes.data(), out.bytes.size(),
                                        kFeatureSetVersion);
  EXPECT_TRUE(cache.ok()) << cache.status().message();
  if (cache.ok())
    out.cache = *cache;
  return outcome;
}

mf_cache_tensor_t tensor(const FeatureCache &cache, const std::string &name) {
  auto view = cache.find(name);
  EXPECT_TRUE(view.ok()) << name;
  return view.ok() ? *view : mf_cache_tensor_t{};
}

std::vector<int64_t> shapeOf(const mf_cache_tensor_t &t) {
  return std::vector<int64_t>(t.dims, t.dims + t.rank);
}

/// AF3 residue classes back to letters, for protein columns.
char proteinLetter(int cls) {
  static const char kLetters[] = "ARNDCQEGHILKMFPSTWYVX-";
  return cls >= 0 && cls < 22 ? kLetters[cls] : '?';
}

} // namespace

TEST(Ccd, ReadsTheSubset) {
  REQUIRE_DATA();
  Ccd ccd;
  std::string error;
  ASSERT_TRUE(ccd.addPath(kData + "/ccd", error)) << error;
  const CcdComponent *hem = ccd.find("HEM");
  ASSERT_NE(hem, nullptr);
  EXPECT_EQ(hem->atoms.size(), 75u); // 43 heavy + 32 hydrogens
  EXPECT_FALSE(hem->bonds.empty());
  int iron = 0;
  for (const CcdAtom &a : hem->atoms)
    iron += atomicNumber(a.element) == 26;
  EXPECT_EQ(iron, 1);
  const CcdComponent *ala = ccd.find("ALA");
  ASSERT_NE(ala, nullptr);
  EXPECT_EQ(ala->atoms[0].name, "N");
  EXPECT_EQ(ala->type, "L-PEPTIDE LINKING");
  EXPECT_EQ(ccd.find("CA", &error), nullptr);
  EXPECT_NE(error.find("no component"), std::string::npos);
}

TEST(Ccd, ReadsSingleAtomComponentsWithoutLoops) {
  // Ions in components.cif write _chem_comp_atom as plain pairs.
  const char *text = "data_ZN\n_chem_comp.id ZN\n_chem_comp.type NON-POLYMER\n"
                     "_chem_comp.name 'ZINC ION'\n"
                     "_chem_comp_atom.comp_id ZN\n_chem_comp_atom.atom_id ZN\n"
                     "_chem_comp_atom.type_symbol ZN\n_chem_comp_atom.charge 2\n"
                     "_chem_comp_atom.pdbx_model_Cartn_x_ideal 0.000\n"
                     "_chem_comp_atom.pdbx_model_Cartn_y_ideal 0.000\n"
                     "_chem_comp_atom.pdbx_model_Cartn_z_ideal 0.000\n#\n";
  CcdComponent zn;
  std::string error;
  ASSERT_TRUE(parseComponent(text, zn, error)) << error;
  ASSERT_EQ(zn.atoms.size(), 1u);
  EXPECT_EQ(zn.atoms[0].charge, 2);
  EXPECT_EQ(atomicNumber(zn.atoms[0].element), 30);
  EXPECT_FALSE(parseComponent("data_X\nloop_\n_chem_comp_atom.atom_id\n"
                              "_chem_comp_atom.type_symbol\nC1\n",
                              zn, error));
}

TEST(Featurize, MyoglobinHemeShapesDtypesAndMsa) {
  REQUIRE_DATA();
  Built b;
  ASSERT_EQ(buildInput(kData + "/af3_inputs/102m_myoglobin_heme.json", b),
            Outcome::Built)
      << b.message;
  const FeatureCache &c = b.cache;
  RawA3m raw = readRawA3m(kData + "/msa/3/non_pairing.a3m");
  const int64_t L = 154, H = 43, T = L + H, R = raw.rows.size();

  struct Expect {
    const char *name;
    mf_cache_dtype_t dtype;
    std::vector<int64_t> shape;
  };
  const mf_cache_dtype_t I32 = MF_CACHE_DTYPE_I32, B = MF_CACHE_DTYPE_BOOL,
                         F32 = MF_CACHE_DTYPE_F32, I8 = MF_CACHE_DTYPE_I8;
  const Expect expected[] = {
      {"aatype", I32, {T}},       {"residue_index", I32, {T}},
      {"token_index", I32, {T}},  {"asym_id", I32, {T}},
      {"entity_id", I32, {T}},    {"sym_id", I32, {T}},
      {"seq_mask", B, {T}},       {"seq_length", I32, {}},
      {"is_protein", B, {T}},     {"is_rna", B, {T}},
      {"is_dna", B, {T}},         {"is_ligand", B, {T}},
      {"msa", I8, {R, T}},        {"msa_mask", B, {R, T}},
      {"deletion_matrix", I8, {R, T}},
      {"profile", F32, {T, 31}},  {"deletion_mean", F32, {T}},
      {"num_alignments", I32, {}},
      {"ref_pos", F32, {T, 24, 3}}, {"ref_mask", B, {T, 24}},
      {"ref_element", I32, {T, 24}}, {"ref_charge", F32, {T, 24}},
      {"ref_atom_name_chars", I32, {T, 24, 4}},
      {"ref_space_uid", I32, {T, 24}},
  };
  for (const Expect &e : expected) {
    mf_cache_tensor_t t = tensor(c, e.name);
    EXPECT_EQ(t.dtype, e.dtype) << e.name;
    EXPECT_EQ(shapeOf(t), e.shape) << e.name;
  }
  EXPECT_EQ(*static_cast<const int32_t *>(tensor(c, "num_alignments").data), R);

  // The first row is the chain's sequence; every row and deletion count
  // matches the a3m (deletions clipped to int8 as AF3 does).
  std::string sequence = raw.rows[0];
  const int8_t *msa = static_cast<const int8_t *>(tensor(c, "msa").data);
  const int8_t *del = static_cast<const int8_t *>(tensor(c, "deletion_matrix").data);
  for (int64_t i = 0; i < L; ++i)
    ASSERT_EQ(proteinLetter(msa[i]), sequence[i]) << i;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < L; ++i) {
      char letter = raw.rows[r][i];
      char got = proteinLetter(msa[r * T + i]);
      // B/Z/U/J/O map onto other classes, as in AF3.
      if (std::string("ARNDCQEGHILKMFPSTWYV-").find(letter) != std::string::npos)
        ASSERT_EQ(got, letter) << "row " << r << " col " << i;
      ASSERT_EQ(del[r * T + i], std::min(raw.deletions[r][i], 127))
          << "row " << r << " col " << i;
    }
  // Ligand columns are gaps; heme tokens are its 43 heavy atoms.
  const int32_t *aatype = static_cast<const int32_t *>(tensor(c, "aatype").data);
  const uint8_t *isLigand = static_cast<const uint8_t *>(tensor(c, "is_ligand").data);
  const int32_t *asym = static_cast<const int32_t *>(tensor(c, "asym_id").data);
  for (int64_t t = L; t < T; ++t) {
    EXPECT_EQ(msa[t], 21);
    EXPECT_EQ(aatype[t], 20);
    EXPECT_EQ(isLigand[t], 1);
    EXPECT_EQ(asym[t], 2);
  }

  // Profile rows sum to 1; deletion_mean is the column mean.
  const float *profile = static_cast<const float *>(tensor(c, "profile").data);
  const float *delMean = static_cast<const float *>(tensor(c, "deletion_mean").data);
  for (int64_t t = 0; t < T; ++t) {
    double sum = 0;
    for (int k = 0; k < 31; ++k)
      sum += profile[t * 31 + k];
    ASSERT_NEAR(sum, 1.0, 1e-5) << t;
  }
  for (int64_t i = 0; i < L; ++i) {
    double sum = 0;
    for (int64_t r = 0; r < R; ++r)
      sum += raw.deletions[r][i];
    ASSERT_NEAR(delMean[i], sum / R, 1e-4) << i;
  }

  // Reference atoms: ALA-like residues fill their heavy atoms, heme tokens
  // one slot each, iron among them.
  const uint8_t *refMask = static_cast<const uint8_t *>(tensor(c, "ref_mask").data);
  const int32_t *element = static_cast<const int32_t *>(tensor(c, "ref_element").data);
  const int32_t *chars = static_cast<const int32_t *>(tensor(c, "ref_atom_name_chars").data);
  int masked = 0;
  for (int s = 0; s < 24; ++s)
    masked += refMask[s];
  EXPECT_EQ(masked, 8); // Met: N CA C O CB CG SD CE
  EXPECT_EQ(chars[0], 'N' - 32);
  EXPECT_EQ(element[0], 7);
  int iron = 0;
  for (int64_t t = L; t < T; ++t) {
    EXPECT_EQ(refMask[t * 24], 1);
    EXPECT_EQ(refMask[t * 24 + 1], 0);
    iron += element[t * 24] == 26;
  }
  EXPECT_EQ(iron, 1);
}

TEST(Featurize, HomodimerAndDnaIds) {
  REQUIRE_DATA();
  Built b;
  ASSERT_EQ(buildInput(kData + "/af3_inputs/tetr_dimer_dna.json", b),
            Outcome::Built)
      << b.message;
  const FeatureCache &c = b.cache;
  const int64_t T = 218 * 2 + 20 + 20;
  EXPECT_EQ(shapeOf(tensor(c, "aatype")), std::vector<int64_t>{T});
  const int32_t *entity = static_cast<const int32_t *>(tensor(c, "entity_id").data);
  const int32_t *sym = static_cast<const int32_t *>(tensor(c, "sym_id").data);
  const int32_t *asym = static_cast<const int32_t *>(tensor(c, "asym_id").data);
  const int32_t *aatype = static_cast<const int32_t *>(tensor(c, "aatype").data);
  const uint8_t *isDna = static_cast<const uint8_t *>(tensor(c, "is_dna").data);
  EXPECT_EQ(entity[0], 1);
  EXPECT_EQ(entity[218], 1);
  EXPECT_EQ(sym[0], 1);
  EXPECT_EQ(sym[218], 2);
  EXPECT_EQ(asym[218], 2);
  EXPECT_EQ(entity[436], 2);
  EXPECT_EQ(entity[456], 3);
  EXPECT_EQ(isDna[436], 1);
  EXPECT_EQ(aatype[436], 29); // T -> DT
  EXPECT_EQ(aatype[437], 26); // A -> DA
  // No MSAs given: the query row only, which is the sequence.
  EXPECT_EQ(tensor(c, "msa").dims[0], 1);
  EXPECT_NE(b.message.find("no MSA given"), std::string::npos);
}

TEST(Featurize, RnaTokens) {
  REQUIRE_DATA();
  Built b;
  ASSERT_EQ(buildInput(kData + "/af3_inputs/u1a_rna_hairpin.json", b),
            Outcome::Built);
  const int32_t *aatype =
      static_cast<const int32_t *>(tensor(b.cache, "aatype").data);
  const int8_t *msa = static_cast<const int8_t *>(tensor(b.cache, "msa").data);
  // Chain B "AAUCC..." after 101 protein residues.
  EXPECT_EQ(aatype[101], 22);
  EXPECT_EQ(aatype[103], 25);
  EXPECT_EQ(msa[103], 25);
}

TEST(Featurize, NotCoveredInputsAreSkipped) {
  REQUIRE_DATA();
  for (const char *name : {"calmodulin_4calcium", "streptavidin_biotin_smiles",
                           "erk2_phosphorylated", "rnaseb_glycosylated"}) {
    Built b;
    EXPECT_EQ(buildInput(kData + "/af3_inputs/" + name + ".json", b),
              Outcome::NotCovered)
        << name;
    EXPECT_FALSE(b.message.empty());
  }
}

TEST(Featurize, PairsBySpecies) {
  REQUIRE_DATA();
  // Two different proteins with the shared pairing MSAs: CERT (msa/0) and
  // myoglobin (msa/3).
  TempDir temp;
  const std::string &dir = temp.path;
  ASSERT_FALSE(dir.empty());
  std::string seq0 = readRawA3m(kData + "/msa/0/pairing.a3m").rows[0];
  std::string seq3 = readRawA3m(kData + "/msa/3/pairing.a3m").rows[0];
  std::ofstream(dir + "/pair.json")
      << "{\"name\":\"pair\",\"modelSeeds\":[1],\"dialect\":\"alphafold3\","
         "\"version\":2,\"sequences\":["
         "{\"protein\":{\"id\":\"A\",\"sequence\":\"" << seq0
      << "\",\"unpairedMsaPath\":\"" << kData << "/msa/0/non_pairing.a3m\","
      << "\"pairedMsaPath\":\"" << kData << "/msa/0/pairing.a3m\"}},"
      << "{\"protein\":{\"id\":\"B\",\"sequence\":\"" << seq3
      << "\",\"unpairedMsaPath\":\"" << kData << "/msa/3/non_pairing.a3m\","
      << "\"pairedMsaPath\":\"" << kData << "/msa/3/pairing.a3m\"}}]}";
  Built b;
  ASSERT_EQ(buildInput(dir + "/pair.json", b), Outcome::Built) << b.message;
  int paired = std::atoi(b.cache.metadata("mf_num_paired_rows"));
  EXPECT_GT(paired, 1);
  mf_cache_tensor_t msaView = tensor(b.cache, "msa");
  const int64_t R = msaView.dims[0], T = msaView.dims[1];
  ASSERT_EQ(T, static_cast<int64_t>(seq0.size() + seq3.size()));
  const int8_t *msa = static_cast<const int8_t *>(msaView.data);
  for (size_t i = 0; i < seq0.size(); ++i)
    ASSERT_EQ(proteinLetter(msa[i]), seq0[i]);
  for (size_t i = 0; i < seq3.size(); ++i)
    ASSERT_EQ(proteinLetter(msa[seq0.size() + i]), seq3[i]);
  // Species rows pair both chains: neither side is all gaps.
  for (int64_t r = 1; r < paired; ++r) {
    bool a = false, bb = false;
    for (int64_t t = 0; t < T; ++t)
      (t < static_cast<int64_t>(seq0.size()) ? a : bb) |= msa[r * T + t] != 21;
    ASSERT_TRUE(a && bb) << "paired row " << r;
  }
  // The unpaired block follows, without the query rows again.
  RawA3m u0 = readRawA3m(kData + "/msa/0/non_pairing.a3m");
  RawA3m u3 = readRawA3m(kData + "/msa/3/non_pairing.a3m");
  EXPECT_LE(R - paired, static_cast<int64_t>(std::max(u0.rows.size(), u3.rows.size())));
  EXPECT_GT(R - paired, 0);
}

TEST(Tool, BuildsDeterministicallyAndShards) {
  REQUIRE_DATA();
  TempDir temp;
  const std::string &dir = temp.path;
  const std::string inputs = kData + "/af3_inputs";
  ASSERT_EQ(run(kTool + " build " + inputs + " -o " + dir + "/a --jobs 2"), 0);
  ASSERT_EQ(run(kTool + " build " + inputs + " -o " + dir + "/b --jobs 1 --quiet"), 0);
  const char *covered[] = {"102m_myoglobin_heme", "102m_myoglobin_protein_only",
                           "1k1a_bcl3_ankyrin",   "5zyh_cert_start_domain",
                           "7zzx_dhfr",           "barnase_barstar",
                           "tetr_dimer_dna",      "tetr_homodimer",
                           "u1a_rna_hairpin",     "ubiquitin_monomer"};
  for (const char *name : covered) {
    std::string a = slurp(dir + "/a/" + name + ".mfc");
    ASSERT_FALSE(a.empty()) << name;
    EXPECT_EQ(a, slurp(dir + "/b/" + name + ".mfc")) << name;
  }
  struct stat st;
  EXPECT_NE(stat((dir + "/a/calmodulin_4calcium.mfc").c_str(), &st), 0);
  EXPECT_NE(stat((dir + "/a/model_config.mfc").c_str(), &st), 0);

  // Three shards partition the inputs: every covered one exactly once.
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(run(kTool + " build " + inputs + " -o " + dir + "/s" +
                  std::to_string(i) + " --shard " + std::to_string(i) + "/3"),
              0);
  for (const char *name : covered) {
    int found = 0;
    for (int i = 0; i < 3; ++i) {
      std::string bytes =
          slurp(dir + "/s" + std::to_string(i) + "/" + name + ".mfc");
      if (!bytes.empty()) {
        ++found;
        EXPECT_EQ(bytes, slurp(dir + "/a/" + name + ".mfc"));
      }
    }
    EXPECT_EQ(found, 1) << name;
  }
  EXPECT_NE(run(kTool + " build " + inputs + " -o " + dir + "/x --shard 3/3"), 0);
}

TEST(Tool, InfoRefusesCorruptAndTruncatedFiles) {
  REQUIRE_DATA();
  TempDir temp;
  const std::string &dir = temp.path;
  ASSERT_EQ(run(kTool + " build " + kData +
                "/af3_inputs/ubiquitin_monomer.json -o " + dir),
            0);
  std::string good = slurp(dir + "/ubiquitin_monomer.mfc");
  ASSERT_GT(good.size(), 1000u);
  EXPECT_EQ(run(kTool + " info " + dir + "/ubiquitin_monomer.mfc"), 0);

  std::string flipped = good;
  flipped[flipped.size() - 100] ^= 0x01; // a tensor byte: checksum mismatch
  std::ofstream(dir + "/flipped.mfc", std::ios::binary) << flipped;
  EXPECT_EQ(run(kTool + " info " + dir + "/flipped.mfc"), 1);

  std::ofstream(dir + "/short.mfc", std::ios::binary)
      << good.substr(0, good.size() / 2);
  EXPECT_EQ(run(kTool + " info " + dir + "/short.mfc"), 1);

  std::string header = good;
  header[20] = '!'; // inside the JSON header
  std::ofstream(dir + "/header.mfc", std::ios::binary) << header;
  EXPECT_EQ(run(kTool + " info " + dir + "/header.mfc"), 1);
}

namespace {

#define REQUIRE_GEMMI()                                                        \
  if (!haveStructureSupport())                                                 \
  GTEST_SKIP() << "mf-cache built without gemmi"

/// Featurizes a structure into an in-memory cache.
Outcome buildStructure(const std::string &cif, Built &out,
                       const StructureOptions &options = {},
                       Input *inputOut = nullptr) {
  Ccd ccd;
  std::string error;
  EXPECT_TRUE(ccd.addPath(kData + "/ccd", error)) << error;
  Input input;
  Outcome read = readStructure(cif, options, input, out.message);
  if (read != Outcome::Built)
    return read;
  Writer writer;
  FeaturizeSummary summary;
  Outcome outcome = featurize(input, ccd, {}, writer, summary, out.message);
  if (inputOut)
    *inputOut = input;
  if (outcome != Outcome::Built)
    return outcome;
  EXPECT_TRUE(writer.serialize(out.bytes).ok());
  auto cache = FeatureCache::openMemory(out.bytes.data(), out.bytes.size(),
                                        kFeatureSetVersion);
  EXPECT_TRUE(cache.ok()) << cache.status().message();
  if (cache.ok())
    out.cache = *cache;
  return outcome;
}

StructureOptions withMsa(const std::string &chain, const std::string &path) {
  StructureOptions options;
  options.msas.push_back({"", chain, path, false});
  return options;
}

/// Every tensor of `a` has the same dtype, shape and bytes in `b`.
void expectSameTensors(const FeatureCache &a, const FeatureCache &b) {
  ASSERT_EQ(a.tensorCount(), b.tensorCount());
  for (size_t i = 0; i < a.tensorCount(); ++i) {
    auto x = a.tensor(i);
    ASSERT_TRUE(x.ok());
    mf_cache_tensor_t y = tensor(b, x->name);
    EXPECT_EQ(x->dtype, y.dtype) << x->name;
    ASSERT_EQ(shapeOf(*x), shapeOf(y)) << x->name;
    ASSERT_EQ(x->size_bytes, y.size_bytes) << x->name;
    EXPECT_EQ(std::memcmp(x->data, y.data, x->size_bytes), 0) << x->name;
  }
}

} // namespace

TEST(Structure, MyoglobinHemeMatchesTheJsonRoute) {
  REQUIRE_DATA();
  REQUIRE_GEMMI();
  Built cif, json;
  Input input;
  ASSERT_EQ(buildStructure(kData + "/structures/102m.cif", cif,
                           withMsa("A", kData + "/msa/3/non_pairing.a3m"),
                           &input),
            Outcome::Built)
      << cif.message;
  ASSERT_EQ(buildInput(kData + "/af3_inputs/102m_myoglobin_heme.json", json),
            Outcome::Built);
  // The structure: chain A (myoglobin, 154 residues from _entity_poly_seq)
  // and chain C (HEM); SO4 (chain B, a crystallization aid) and the waters
  // (chain D) are dropped.
  ASSERT_EQ(input.entities.size(), 2u);
  EXPECT_EQ(input.entities[0].ids, std::vector<std::string>{"A"});
  EXPECT_EQ(input.entities[0].sequence,
            readRawA3m(kData + "/msa/3/non_pairing.a3m").rows[0]);
  EXPECT_EQ(input.entities[1].ids, std::vector<std::string>{"C"});
  EXPECT_EQ(input.entities[1].ccdCodes, std::vector<std::string>{"HEM"});
  EXPECT_NE(cif.message.find("dropped 155 waters"), std::string::npos);
  EXPECT_NE(cif.message.find("SO4 (chain B)"), std::string::npos);
  EXPECT_TRUE(input.hashes.count("102m.cif"));
  EXPECT_TRUE(input.hashes.count("A:unpairedMsa:non_pairing.a3m"));

  // Tokens: 154 residues + 43 heme atoms; the token features as the JSON's.
  const int64_t T = 154 + 43;
  ASSERT_EQ(shapeOf(tensor(cif.cache, "aatype")), std::vector<int64_t>{T});
  for (const char *name : {"aatype", "residue_index", "asym_id", "entity_id",
                           "sym_id", "token_index"}) {
    const int32_t *x = static_cast<const int32_t *>(tensor(cif.cache, name).data);
    const int32_t *y = static_cast<const int32_t *>(tensor(json.cache, name).data);
    for (int64_t t = 0; t < T; ++t)
      ASSERT_EQ(x[t], y[t]) << name << " token " << t;
  }
  // In fact every tensor is identical: the routes differ only in metadata.
  expectSameTensors(cif.cache, json.cache);
  EXPECT_STREQ(cif.cache.metadata("mf_chains"), "A:protein:154,C:ligand:1");
}

TEST(Structure, FullEntitySequenceAndAuthorChainIds) {
  REQUIRE_DATA();
  REQUIRE_GEMMI();
  // 7zzx: the polymer is label_asym A in author chain B (the JSON's id);
  // 202 of its 204 residues are observed, all 204 are tokens (as in AF3).
  // 1k1a: 228 of 241 observed.
  struct Case {
    const char *cif, *chain, *msa, *json;
    int64_t tokens;
  } cases[] = {{"7zzx", "B", "2", "7zzx_dhfr", 204},
               {"1k1a", "A", "1", "1k1a_bcl3_ankyrin", 241}};
  for (const Case &c : cases) {
    Built cif, json;
    ASSERT_EQ(buildStructure(kData + "/structures/" + c.cif + ".cif", cif,
                             withMsa(c.chain, kData + "/msa/" + c.msa +
                                                  "/non_pairing.a3m")),
              Outcome::Built)
        << cif.message;
    ASSERT_EQ(buildInput(kData + "/af3_inputs/" + c.json + ".json", json),
              Outcome::Built);
    EXPECT_EQ(shapeOf(tensor(cif.cache, "aatype")),
              std::vector<int64_t>{c.tokens});
    expectSameTensors(cif.cache, json.cache);
  }
}

TEST(Structure, QueryOnlyNotCoveredAndErrors) {
  REQUIRE_DATA();
  REQUIRE_GEMMI();
  Built b;
  ASSERT_EQ(buildStructure(kData + "/structures/1k1a.cif", b), Outcome::Built);
  EXPECT_EQ(tensor(b.cache, "msa").dims[0], 1);
  EXPECT_NE(b.message.find("chain A: no MSA given"), std::string::npos);
  // Ligands the CCD subset lacks: skipped, as in the JSON route.
  Built c;
  EXPECT_EQ(buildStructure(kData + "/structures/5zyh.cif", c),
            Outcome::NotCovered);
  EXPECT_NE(c.message.find("'9N0'"), std::string::npos);
  EXPECT_EQ(buildStructure(kData + "/structures/8f9h.cif", c),
            Outcome::NotCovered);
  // Keeping the crystallization aids brings SO4 back, which the subset lacks.
  StructureOptions keep;
  keep.keepCrystallizationAids = true;
  EXPECT_EQ(buildStructure(kData + "/structures/102m.cif", c, keep),
            Outcome::NotCovered);
  EXPECT_NE(c.message.find("'SO4'"), std::string::npos);
  // An MSA for a chain that is not a polymer, or the wrong MSA, is an error.
  Input input;
  std::string message;
  EXPECT_EQ(readStructure(kData + "/structures/102m.cif",
                          withMsa("C", kData + "/msa/3/non_pairing.a3m"), input,
                          message),
            Outcome::Error);
  EXPECT_NE(message.find("no polymer chain 'C'"), std::string::npos);
  EXPECT_EQ(buildStructure(kData + "/structures/102m.cif", c,
                           withMsa("A", kData + "/msa/1/non_pairing.a3m")),
            Outcome::Error);
  EXPECT_NE(c.message.find("first row"), std::string::npos);
  // Not mmCIF.
  EXPECT_EQ(readStructure(kData + "/af3_inputs/input.md", {}, input, message),
            Outcome::Error);
}

TEST(Structure, GzippedAndTool) {
  REQUIRE_DATA();
  REQUIRE_GEMMI();
  TempDir temp;
  const std::string &dir = temp.path;
  ASSERT_EQ(run("cp " + kData + "/structures/102m.cif " + dir +
                "/102m.cif && chmod u+w " + dir + "/102m.cif && gzip " + dir +
                "/102m.cif"),
            0);
  Built plain, gz;
  ASSERT_EQ(buildStructure(kData + "/structures/102m.cif", plain),
            Outcome::Built);
  ASSERT_EQ(buildStructure(dir + "/102m.cif.gz", gz), Outcome::Built)
      << gz.message;
  expectSameTensors(plain.cache, gz.cache);

  // The tool: --msa by chain (and by STEM:CHAIN), identical bytes twice.
  const std::string msa = kData + "/msa/3/non_pairing.a3m";
  ASSERT_EQ(run(kTool + " build " + kData + "/structures/102m.cif --msa A=" +
                msa + " -o " + dir + "/a"),
            0);
  ASSERT_EQ(run(kTool + " build " + kData + "/structures/102m.cif " + kData +
                "/structures/1k1a.cif --msa 102m:A=" + msa + " -o " + dir +
                "/b --jobs 2"),
            0);
  std::string a = slurp(dir + "/a/102m.mfc");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, slurp(dir + "/b/102m.mfc"));
  EXPECT_FALSE(slurp(dir + "/b/1k1a.mfc").empty());
  EXPECT_EQ(run(kTool + " build " + kData + "/structures/102m.cif --msa Z=" +
                msa + " -o " + dir + "/c"),
            1);
  EXPECT_EQ(run(kTool + " build " + kData + "/structures/102m.cif --msa " +
                msa + " -o " + dir + "/c"),
            2);
}
