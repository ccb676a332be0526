//===- msa_test.cc - Tests of the a3m and Stockholm readers ---------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/msa.h"

#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using mf::msa::Msa;
using mf::msa::parseA3m;
using mf::msa::parseStockholm;
using mf::msa::readMsaFile;

namespace {

const std::string kData = MF_SHARED_DATA_DIR;

bool readText(const std::string &path, std::string &text) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream os;
  os << in.rdbuf();
  text = os.str();
  return true;
}

#define READ_OR_SKIP(path, text)                                               \
  std::string text;                                                            \
  if (!readText(path, text))                                                   \
    GTEST_SKIP() << "no data at " << path;

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    out.push_back(line);
  }
  return out;
}

/// The sequence of a one-record fasta file.
std::string fastaSequence(const std::string &text) {
  std::string seq;
  for (const std::string &line : lines(text))
    if (!line.empty() && line[0] != '>')
      seq += line;
  return seq;
}

int32_t rowSum(const std::vector<int32_t> &v) {
  return std::accumulate(v.begin(), v.end(), int32_t(0));
}

void expectWellFormed(const Msa &msa, size_t numColumns) {
  ASSERT_EQ(msa.deletions.size(), msa.sequences.size());
  ASSERT_EQ(msa.descriptions.size(), msa.sequences.size());
  for (size_t row = 0; row < msa.sequences.size(); ++row) {
    ASSERT_EQ(msa.sequences[row].size(), numColumns) << "row " << row;
    ASSERT_EQ(msa.deletions[row].size(), numColumns) << "row " << row;
    for (char c : msa.sequences[row])
      ASSERT_TRUE((c >= 'A' && c <= 'Z') || c == '-') << "row " << row;
    for (int32_t d : msa.deletions[row])
      ASSERT_GE(d, 0);
  }
}

/// Distinct sequence names of a Stockholm file, by a plain scan.
size_t stockholmNames(const std::string &text) {
  std::set<std::string> names;
  for (const std::string &line : lines(text)) {
    if (line.empty() || line[0] == '#' || line.rfind("//", 0) == 0)
      continue;
    std::istringstream in(line);
    std::string name;
    if (in >> name)
      names.insert(name);
  }
  return names.size();
}

} // namespace

//===----------------------------------------------------------------------===//
// Small inputs with known answers
//===----------------------------------------------------------------------===//

TEST(MsaA3m, LowercaseBecomesDeletions) {
  Msa msa;
  auto status = parseA3m(">q desc\nACDE\n>s\nAab\nC-d.E\n>t\n--DEgg\n", "t.a3m",
                         msa);
  ASSERT_TRUE(status.ok()) << status.toString();
  ASSERT_EQ(msa.numRows(), 3u);
  EXPECT_EQ(msa.descriptions[0], "q desc");
  EXPECT_EQ(msa.sequences[0], "ACDE");
  EXPECT_EQ(msa.sequences[1], "AC-E");
  EXPECT_EQ(msa.deletions[1], (std::vector<int32_t>{0, 2, 0, 1}));
  // Trailing insertions have no column to go to and are dropped.
  EXPECT_EQ(msa.sequences[2], "--DE");
  EXPECT_EQ(msa.deletions[2], (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(MsaA3m, EmptyInputIsAnError) {
  Msa msa;
  auto status = parseA3m("", "empty.a3m", msa);
  EXPECT_EQ(status.code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("empty.a3m"),
            std::string::npos);
  EXPECT_FALSE(parseA3m("\n\n", "x.a3m", msa).ok());
  EXPECT_FALSE(parseA3m(">q\n", "x.a3m", msa).ok());
}

TEST(MsaA3m, WrongRowLengthNamesRowAndLengths) {
  Msa msa;
  auto status = parseA3m(">q\nACDE\n>a\nACDE\n>b\nACxD\n", "bad.a3m", msa);
  ASSERT_EQ(status.code(), MF_STATUS_INVALID_ARGUMENT);
  std::string message = status.message();
  EXPECT_NE(message.find("bad.a3m:5"), std::string::npos) << message;
  EXPECT_NE(message.find("row 2"), std::string::npos) << message;
  EXPECT_NE(message.find(" 3 "), std::string::npos) << message;
  EXPECT_NE(message.find(" 4"), std::string::npos) << message;
  EXPECT_EQ(msa.numRows(), 0u); // cleared on error
}

TEST(MsaA3m, BadCharacterNamesLine) {
  Msa msa;
  auto status = parseA3m(">q\nAC\n>s\nA*\n", "bad.a3m", msa);
  ASSERT_EQ(status.code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("bad.a3m:4"),
            std::string::npos)
      << status.message();
}

TEST(MsaStockholm, QueryGapColumnsAreDropped) {
  Msa msa;
  const char *text = "# STOCKHOLM 1.0\n"
                     "#=GF ID test\n"
                     "#=GS s DE something\n"
                     "q  AC..\n"
                     "s  ACgh\n"
                     "#=GR q PP 99..\n"
                     "\n"
                     "q  DE-\n"
                     "s  -Ek\n"
                     "#=GC RF xx..xx.\n"
                     "//\n";
  auto status = parseStockholm(text, "t.sto", msa);
  ASSERT_TRUE(status.ok()) << status.toString();
  ASSERT_EQ(msa.numRows(), 2u);
  EXPECT_EQ(msa.descriptions[0], "q");
  EXPECT_EQ(msa.descriptions[1], "s");
  EXPECT_EQ(msa.sequences[0], "ACDE");
  EXPECT_EQ(msa.sequences[1], "AC-E");
  EXPECT_EQ(msa.deletions[0], (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(msa.deletions[1], (std::vector<int32_t>{0, 0, 2, 0}));
}

TEST(MsaStockholm, MissingHeaderIsAnError) {
  Msa msa;
  auto status = parseStockholm("q ACDE\n//\n", "nohead.sto", msa);
  ASSERT_EQ(status.code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message()).find("nohead.sto:1"),
            std::string::npos)
      << status.message();
  EXPECT_FALSE(parseStockholm("", "empty.sto", msa).ok());
  EXPECT_FALSE(parseStockholm("# STOCKHOLM 1.0\n//\n", "x.sto", msa).ok());
  EXPECT_FALSE(parseStockholm("# STOCKHOLM 1.0\nq AC\n", "x.sto", msa).ok());
}

TEST(MsaStockholm, WrongRowLengthNamesRowAndLengths) {
  Msa msa;
  auto status =
      parseStockholm("# STOCKHOLM 1.0\nq ACDE\ns AC\n//\n", "bad.sto", msa);
  ASSERT_EQ(status.code(), MF_STATUS_INVALID_ARGUMENT);
  std::string message = status.message();
  EXPECT_NE(message.find("bad.sto:3"), std::string::npos) << message;
  EXPECT_NE(message.find("row 1"), std::string::npos) << message;
  EXPECT_NE(message.find(" 2 "), std::string::npos) << message;
  EXPECT_NE(message.find(" 4"), std::string::npos) << message;
}

TEST(MsaFile, UnknownExtensionAndMissingFile) {
  Msa msa;
  EXPECT_EQ(readMsaFile("x.fasta", msa).code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(readMsaFile("/nonexistent/x.a3m", msa).code(),
            MF_STATUS_NOT_FOUND);
}

//===----------------------------------------------------------------------===//
// The project's data
//===----------------------------------------------------------------------===//

TEST(MsaData, ShortA3m) {
  const std::string path = kData + "/alignments_short/bfd_uniclust_hits.a3m";
  READ_OR_SKIP(path, text);
  READ_OR_SKIP(kData + "/alignments_short/short.fasta", fasta);
  std::string query = fastaSequence(fasta);
  ASSERT_EQ(query.size(), 73u);

  Msa msa;
  auto status = readMsaFile(path, msa);
  ASSERT_TRUE(status.ok()) << status.toString();
  expectWellFormed(msa, 73);
  EXPECT_EQ(msa.sequences[0], query);

  // One row per header; total deletions per row == lowercase letters.
  std::vector<int32_t> lowercase;
  for (const std::string &line : lines(text)) {
    if (!line.empty() && line[0] == '>') {
      lowercase.push_back(0);
      continue;
    }
    for (char c : line)
      lowercase.back() += c >= 'a' && c <= 'z';
  }
  ASSERT_EQ(msa.numRows(), lowercase.size());
  size_t rowsWithDeletions = 0;
  for (size_t row = 0; row < msa.numRows(); ++row) {
    // The data has no lowercase after a row's last match column (which would
    // be dropped), so every lowercase letter is counted.
    int32_t sum = rowSum(msa.deletions[row]);
    EXPECT_EQ(sum, lowercase[row]) << "row " << row;
    rowsWithDeletions += sum > 0;
  }
  EXPECT_GT(rowsWithDeletions, 0u);
}

TEST(MsaData, ShortA3mDeletionsMatchLowercaseBeforeLastColumn) {
  const std::string path = kData + "/alignments_short/bfd_uniclust_hits.a3m";
  READ_OR_SKIP(path, text);
  Msa msa;
  ASSERT_TRUE(readMsaFile(path, msa).ok());
  // Per row, recount lowercase letters that precede some match column.
  std::vector<std::string> raw;
  for (const std::string &line : lines(text)) {
    if (!line.empty() && line[0] == '>')
      raw.emplace_back();
    else
      raw.back() += line;
  }
  ASSERT_EQ(raw.size(), msa.numRows());
  for (size_t row = 0; row < raw.size(); ++row) {
    int32_t count = 0, pending = 0;
    for (char c : raw[row]) {
      if (c >= 'a' && c <= 'z')
        ++pending;
      else if ((c >= 'A' && c <= 'Z') || c == '-')
        count += pending, pending = 0;
    }
    EXPECT_EQ(rowSum(msa.deletions[row]), count) << "row " << row;
  }
}

TEST(MsaData, ShortStockholm) {
  READ_OR_SKIP(kData + "/alignments_short/short.fasta", fasta);
  std::string query = fastaSequence(fasta);
  for (const char *name : {"uniref90_hits.sto", "mgnify_hits.sto"}) {
    SCOPED_TRACE(name);
    const std::string path = kData + "/alignments_short/" + name;
    READ_OR_SKIP(path, text);
    Msa msa;
    auto status = readMsaFile(path, msa);
    ASSERT_TRUE(status.ok()) << status.toString();
    expectWellFormed(msa, 73);
    EXPECT_EQ(msa.sequences[0], query);
    EXPECT_EQ(msa.descriptions[0], "query");
    EXPECT_EQ(msa.numRows(), stockholmNames(text));
    EXPECT_EQ(rowSum(msa.deletions[0]), 0);
    size_t rowsWithDeletions = 0;
    for (const auto &row : msa.deletions)
      rowsWithDeletions += rowSum(row) > 0;
    EXPECT_GT(rowsWithDeletions, 0u);
  }
}

TEST(MsaData, Protenix5zyhNonPairing) {
  const std::string path = kData + "/msa/0/non_pairing.a3m";
  READ_OR_SKIP(path, text);
  READ_OR_SKIP(kData + "/msa/pdb_index_to_seq.json", json);
  // "0": "SEQUENCE" — a plain string search suffices for this flat map.
  size_t key = json.find("\"0\"");
  ASSERT_NE(key, std::string::npos);
  size_t open = json.find('"', json.find(':', key) + 1);
  size_t close = json.find('"', open + 1);
  ASSERT_NE(close, std::string::npos);
  std::string query = json.substr(open + 1, close - open - 1);
  ASSERT_EQ(query.size(), 237u);

  Msa msa;
  auto status = readMsaFile(path, msa);
  ASSERT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(msa.numRows(), 323u);
  expectWellFormed(msa, 237);
  EXPECT_EQ(msa.sequences[0], query);
}
