//===- Ccd.cpp - Chemical Component Dictionary reader ---------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Ccd.h"

#include "mf/runtime/artifact.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace mf::cache {
namespace {

const char *const kElements[] = {
    "",   "H",  "HE", "LI", "BE", "B",  "C",  "N",  "O",  "F",  "NE", "NA",
    "MG", "AL", "SI", "P",  "S",  "CL", "AR", "K",  "CA", "SC", "TI", "V",
    "CR", "MN", "FE", "CO", "NI", "CU", "ZN", "GA", "GE", "AS", "SE", "BR",
    "KR", "RB", "SR", "Y",  "ZR", "NB", "MO", "TC", "RU", "RH", "PD", "AG",
    "CD", "IN", "SN", "SB", "TE", "I",  "XE", "CS", "BA", "LA", "CE", "PR",
    "ND", "PM", "SM", "EU", "GD", "TB", "DY", "HO", "ER", "TM", "YB", "LU",
    "HF", "TA", "W",  "RE", "OS", "IR", "PT", "AU", "HG", "TL", "PB", "BI",
    "PO", "AT", "RN", "FR", "RA", "AC", "TH", "PA", "U",  "NP", "PU", "AM",
    "CM", "BK", "CF", "ES", "FM", "MD", "NO", "LR", "RF", "DB", "SG", "BH",
    "HS", "MT", "DS", "RG", "CN", "NH", "FL", "MC", "LV", "TS", "OG"};

bool readFile(const std::string &path, std::string &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// A CIF category as a table: single `_cat.item value` pairs make one row.
struct Table {
  std::vector<std::string> items;
  std::vector<std::string_view> values; // row-major
  size_t rows() const { return items.empty() ? 0 : values.size() / items.size(); }
  int column(std::string_view item) const {
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i] == item)
        return static_cast<int>(i);
    return -1;
  }
  /// Value at (row, column); "" where the column is absent or the value is
  /// CIF's unknown '?' / inapplicable '.'.
  std::string_view get(size_t row, int col) const {
    if (col < 0)
      return {};
    std::string_view v = values[row * items.size() + col];
    return v == "?" || v == "." ? std::string_view() : v;
  }
};

struct Token {
  std::string_view text;
  bool quoted;
};

/// Splits mmCIF text into tokens: bare words, '…' / "…" strings (closed by a
/// quote followed by whitespace, as CIF 1.1 says), ;-delimited text fields
/// and # comments (dropped).
bool tokenize(std::string_view s, std::vector<Token> &out, std::string &error) {
  size_t i = 0, n = s.size();
  while (i < n) {
    char c = s[i];
    if (isSpace(c)) {
      ++i;
      continue;
    }
    bool lineStart = i == 0 || s[i - 1] == '\n';
    if (c == ';' && lineStart) {
      size_t end = s.find("\n;", i);
      if (end == std::string_view::npos) {
        error = "unterminated ';' text field";
        return false;
      }
      out.push_back({s.substr(i + 1, end - i - 1), true});
      i = end + 2;
      continue;
    }
    if (c == '#') {
      while (i < n && s[i] != '\n')
        ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < n && !(s[j] == c && (j + 1 == n || isSpace(s[j + 1]))))
        ++j;
      if (j >= n) {
        error = "unterminated quoted string";
        return false;
      }
      out.push_back({s.substr(i + 1, j - i - 1), true});
      i = j + 1;
      continue;
    }
    size_t j = i;
    while (j < n && !isSpace(s[j]))
      ++j;
    out.push_back({s.substr(i, j - i), false});
    i = j;
  }
  return true;
}

bool isTag(const Token &t) {
  return !t.quoted && !t.text.empty() && t.text[0] == '_';
}
bool isKeyword(const Token &t, std::string_view word) {
  if (t.quoted || t.text.size() < word.size())
    return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(t.text[i])) != word[i])
      return false;
  return true;
}

/// Splits "_cat.item" into category and item.
void splitTag(std::string_view tag, std::string &cat, std::string &item) {
  size_t dot = tag.find('.');
  cat = std::string(tag.substr(0, dot));
  item = dot == std::string_view::npos ? "" : std::string(tag.substr(dot + 1));
}

bool parseTables(std::string_view block, std::map<std::string, Table> &tables,
                 std::string &error) {
  std::vector<Token> tokens;
  if (!tokenize(block, tokens, error))
    return false;
  size_t i = 0;
  if (i < tokens.size() && isKeyword(tokens[i], "data_"))
    ++i;
  std::string cat, item;
  while (i < tokens.size()) {
    if (isKeyword(tokens[i], "loop_") && tokens[i].text.size() == 5) {
      ++i;
      std::string loopCat;
      std::vector<std::string> items;
      while (i < tokens.size() && isTag(tokens[i])) {
        splitTag(tokens[i].text, cat, item);
        if (!loopCat.empty() && cat != loopCat) {
          error = "loop_ mixes categories " + loopCat + " and " + cat;
          return false;
        }
        loopCat = cat;
        items.push_back(item);
        ++i;
      }
      if (items.empty()) {
        error = "loop_ without tags";
        return false;
      }
      Table &table = tables[loopCat];
      table.items = items;
      table.values.clear();
      while (i < tokens.size() && !isTag(tokens[i]) &&
             !(isKeyword(tokens[i], "loop_") && tokens[i].text.size() == 5) &&
             !isKeyword(tokens[i], "data_"))
        table.values.push_back(tokens[i++].text);
      if (table.values.size() % items.size()) {
        error = "loop_ of " + loopCat + " has " +
                std::to_string(table.values.size()) +
                " values, not a multiple of its " +
                std::to_string(items.size()) + " columns";
        return false;
      }
      continue;
    }
    if (!isTag(tokens[i])) {
      error = "unexpected value '" + std::string(tokens[i].text) + "'";
      return false;
    }
    if (i + 1 >= tokens.size() || isTag(tokens[i + 1])) {
      error = "tag " + std::string(tokens[i].text) + " has no value";
      return false;
    }
    splitTag(tokens[i].text, cat, item);
    Table &table = tables[cat];
    table.items.push_back(item);
    table.values.push_back(tokens[i + 1].text);
    i += 2;
  }
  return true;
}

bool toFloat(std::string_view text, float &out) {
  std::string copy(text);
  char *end = nullptr;
  out = std::strtof(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

} // namespace

int atomicNumber(std::string_view symbol) {
  std::string upper;
  for (char c : symbol)
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "D" || upper == "T") // deuterium, tritium
    return 1;
  for (size_t z = 1; z < sizeof(kElements) / sizeof(kElements[0]); ++z)
    if (upper == kElements[z])
      return static_cast<int>(z);
  return 0;
}

bool parseComponent(std::string_view block, CcdComponent &out,
                    std::string &error) {
  std::map<std::string, Table> tables;
  if (!parseTables(block, tables, error))
    return false;
  const Table &comp = tables["_chem_comp"];
  if (comp.rows() != 1 || comp.get(0, comp.column("id")).empty()) {
    error = "no _chem_comp.id";
    return false;
  }
  out.id = std::string(comp.get(0, comp.column("id")));
  out.type = std::string(comp.get(0, comp.column("type")));
  out.parent = std::string(comp.get(0, comp.column("mon_nstd_parent_comp_id")));

  // Single-atom components (ions) write _chem_comp_atom as plain pairs; the
  // table form covers both.
  const Table &atoms = tables["_chem_comp_atom"];
  int name = atoms.column("atom_id"), element = atoms.column("type_symbol"),
      charge = atoms.column("charge"),
      leaving = atoms.column("pdbx_leaving_atom_flag");
  int ideal[3] = {atoms.column("pdbx_model_Cartn_x_ideal"),
                  atoms.column("pdbx_model_Cartn_y_ideal"),
                  atoms.column("pdbx_model_Cartn_z_ideal")};
  int model[3] = {atoms.column("model_Cartn_x"), atoms.column("model_Cartn_y"),
                  atoms.column("model_Cartn_z")};
  if (atoms.rows() == 0 || name < 0 || element < 0) {
    error = "component " + out.id + " has no _chem_comp_atom atoms";
    return false;
  }
  std::map<std::string_view, int> index;
  for (size_t r = 0; r < atoms.rows(); ++r) {
    CcdAtom atom;
    atom.name = std::string(atoms.get(r, name));
    atom.element = std::string(atoms.get(r, element));
    std::string_view q = atoms.get(r, charge);
    atom.charge = q.empty() ? 0 : std::atoi(std::string(q).c_str());
    atom.leaving = atoms.get(r, leaving) == "Y";
    // Ideal coordinates, else the model ones (a few CCD entries lack ideal
    // coordinates), else zeros.
    bool haveIdeal = true;
    for (int k = 0; k < 3; ++k)
      haveIdeal &= toFloat(atoms.get(r, ideal[k]), atom.pos[k]);
    if (!haveIdeal)
      for (int k = 0; k < 3; ++k)
        if (!toFloat(atoms.get(r, model[k]), atom.pos[k]))
          atom.pos[k] = 0;
    index[atoms.values[r * atoms.items.size() + name]] =
        static_cast<int>(out.atoms.size());
    out.atoms.push_back(std::move(atom));
  }
  const Table &bonds = tables["_chem_comp_bond"];
  int a1 = bonds.column("atom_id_1"), a2 = bonds.column("atom_id_2");
  for (size_t r = 0; r < bonds.rows(); ++r) {
    auto i1 = index.find(bonds.get(r, a1)), i2 = index.find(bonds.get(r, a2));
    if (i1 == index.end() || i2 == index.end()) {
      error = "component " + out.id + ": bond names an unknown atom";
      return false;
    }
    out.bonds.push_back({i1->second, i2->second});
  }
  out.hash = mf::artifact::fnv1a64(block.data(), block.size());
  return true;
}

bool Ccd::addPath(const std::string &path, std::string &error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    error = "cannot open CCD '" + path + "'";
    return false;
  }
  if (!S_ISDIR(st.st_mode))
    return addFile(path, error);
  DIR *dir = opendir(path.c_str());
  if (!dir) {
    error = "cannot read CCD folder '" + path + "'";
    return false;
  }
  std::vector<std::string> names;
  while (dirent *entry = readdir(dir)) {
    std::string file = entry->d_name;
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".cif") == 0)
      names.push_back(file);
  }
  closedir(dir);
  std::sort(names.begin(), names.end()); // deterministic override order
  for (const std::string &file : names)
    if (!addFile(path + "/" + file, error))
      return false;
  return true;
}

bool Ccd::addFile(const std::string &path, std::string &error) {
  std::string text;
  if (!readFile(path, text, error))
    return false;
  size_t fileIndex = texts_.size();
  // Index the blocks: a block runs from a line starting "data_" to the next.
  std::vector<std::pair<std::string, size_t>> starts;
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, 5, "data_") == 0) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos)
        eol = text.size();
      std::string id = text.substr(pos + 5, eol - pos - 5);
      while (!id.empty() && isSpace(id.back()))
        id.pop_back();
      starts.push_back({id, pos});
    }
    size_t next = text.find('\n', pos);
    pos = next == std::string::npos ? text.size() : next + 1;
  }
  if (starts.empty()) {
    error = "'" + path + "' has no data_ blocks";
    return false;
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1].second : text.size();
    blocks_[starts[i].first] = {fileIndex, starts[i].second, end};
    parsed_.erase(starts[i].first);
    failed_.erase(starts[i].first);
  }
  files_.push_back(path);
  texts_.push_back(std::move(text));
  return true;
}

const CcdComponent *Ccd::find(const std::string &id, std::string *error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = parsed_.find(id); it != parsed_.end())
    return it->second.get();
  if (auto it = failed_.find(id); it != failed_.end()) {
    if (error)
      *error = it->second;
    return nullptr;
  }
  auto block = blocks_.find(id);
  if (block == blocks_.end()) {
    if (error)
      *error = "CCD has no component '" + id + "'";
    return nullptr;
  }
  const Block &b = block->second;
  std::string_view text(texts_[b.file]);
  auto component = std::make_unique<CcdComponent>();
  std::string message;
  if (!parseComponent(text.substr(b.begin, b.end - b.begin), *component,
                      message)) {
    message = files_[b.file] + ": data_" + id + ": " + message;
    failed_[id] = message;
    if (error)
      *error = message;
    return nullptr;
  }
  return (parsed_[id] = std::move(component)).get();
}

} // namespace mf::cache
