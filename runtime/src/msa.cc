//===- msa.cc - Reading multiple sequence alignments ----------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "mf/runtime/msa.h"

#include "status.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <utility>

using mf::rt::makeStatus;

namespace mf::msa {
namespace {

/// Runs `body` (returning mf_status_t) with no exception escaping; clears
/// `out` on error.
template <typename Body> Status guarded(Msa &out, Body body) {
  auto run = [&]() -> mf_status_t {
    MF_API_BEGIN
    return body();
    MF_API_END
  };
  mf_status_t status = run();
  if (status) {
    out.sequences.clear();
    out.deletions.clear();
    out.descriptions.clear();
  }
  return Status(status);
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
char toUpper(char c) { return isLower(c) ? char(c - 'a' + 'A') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

/// Splits `text` into lines (without '\n'), calling `fn(line, lineNo)`
/// with 1-based numbers until it returns non-null.
template <typename Fn> mf_status_t forEachLine(std::string_view text, Fn fn) {
  size_t lineNo = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++lineNo;
    if (mf_status_t status = fn(line, lineNo))
      return status;
  }
  return nullptr;
}

/// A character that is not a residue, gap or '.' for error messages.
std::string describeChar(char c) {
  if (c >= 0x20 && c < 0x7f)
    return std::string("'") + c + "'";
  std::ostringstream os;
  os << "byte 0x" << std::hex << (unsigned(c) & 0xff);
  return os.str();
}

} // namespace

Status parseA3m(std::string_view text, std::string_view sourceName,
                Msa &out) {
  return guarded(out, [&]() -> mf_status_t {
    out = Msa();
    std::vector<size_t> headerLines; // per row
    int32_t pending = 0;             // insertions since the last column

    // Closes the current row: checks its length against the query's.
    auto finishRow = [&]() -> mf_status_t {
      if (out.sequences.empty())
        return nullptr;
      size_t row = out.sequences.size() - 1;
      size_t length = out.sequences[row].size();
      if (row == 0 && length == 0)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":",
                              headerLines[0],
                              ": the query (row 0) has no match columns");
      size_t queryLength = out.sequences[0].size();
      if (length != queryLength)
        return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":",
                              headerLines[row], ": row ", row, " ('",
                              out.descriptions[row], "') has ", length,
                              " match columns, the query (row 0) has ",
                              queryLength);
      return nullptr;
    };

    mf_status_t status =
        forEachLine(text, [&](std::string_view line,
                              size_t lineNo) -> mf_status_t {
          if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
          if (!line.empty() && line.front() == '>') {
            if (mf_status_t s = finishRow())
              return s;
            out.descriptions.emplace_back(trim(line.substr(1)));
            out.sequences.emplace_back();
            out.deletions.emplace_back();
            headerLines.push_back(lineNo);
            pending = 0;
            return nullptr;
          }
          if (trim(line).empty())
            return nullptr;
          if (out.sequences.empty()) {
            if (line.front() == '#')
              return nullptr; // "#A3M#" or hhblits' cardinality line
            return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", lineNo,
                                  ": sequence data before the first '>' "
                                  "header");
          }
          std::string &seq = out.sequences.back();
          std::vector<int32_t> &del = out.deletions.back();
          for (size_t i = 0; i < line.size(); ++i) {
            char c = line[i];
            if (isUpper(c) || c == '-') {
              seq.push_back(c);
              del.push_back(pending);
              pending = 0;
            } else if (isLower(c)) {
              ++pending;
            } else if (c == '.' || isSpace(c)) {
              // An insertion gap; nothing to count.
            } else {
              return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", lineNo,
                                    ": unexpected ", describeChar(c),
                                    " at column ", i + 1,
                                    " of a sequence line");
            }
          }
          return nullptr;
        });
    if (status)
      return status;
    if (out.sequences.empty())
      return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName,
                            ":1: no sequences (no '>' header) in the a3m "
                            "input");
    return finishRow();
  });
}

Status parseStockholm(std::string_view text, std::string_view sourceName,
                      Msa &out) {
  return guarded(out, [&]() -> mf_status_t {
    out = Msa();
    std::vector<std::string> names;
    std::vector<std::string> raw;
    std::vector<size_t> firstLines;
    std::unordered_map<std::string, size_t> index;
    bool sawHeader = false;
    bool sawEnd = false;

    mf_status_t status = forEachLine(
        text, [&](std::string_view line, size_t lineNo) -> mf_status_t {
          if (sawEnd)
            return nullptr;
          std::string_view t = trim(line);
          if (!sawHeader) {
            if (t.empty())
              return nullptr;
            if (t != "# STOCKHOLM 1.0")
              return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", lineNo,
                                    ": expected the '# STOCKHOLM 1.0' header");
            sawHeader = true;
            return nullptr;
          }
          if (t.empty() || t.front() == '#')
            return nullptr; // #=GF, #=GS, #=GC, #=GR, comments
          if (t == "//") {
            sawEnd = true;
            return nullptr;
          }
          size_t nameEnd = 0;
          while (nameEnd < t.size() && !isSpace(t[nameEnd]))
            ++nameEnd;
          std::string_view name = t.substr(0, nameEnd);
          std::string_view seq = trim(t.substr(nameEnd));
          if (seq.empty())
            return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", lineNo,
                                  ": expected 'name sequence', found only '",
                                  name, "'");
          for (size_t i = 0; i < seq.size(); ++i) {
            char c = seq[i];
            if (!(isUpper(c) || isLower(c) || c == '-' || c == '.'))
              return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", lineNo,
                                    ": unexpected ", describeChar(c),
                                    " in the sequence of '", name, "'");
          }
          auto [it, inserted] =
              index.emplace(std::string(name), names.size());
          if (inserted) {
            names.emplace_back(name);
            raw.emplace_back();
            firstLines.push_back(lineNo);
          }
          raw[it->second].append(seq);
          return nullptr;
        });
    if (status)
      return status;
    if (!sawHeader)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName,
                            ":1: expected the '# STOCKHOLM 1.0' header "
                            "(empty input)");
    if (names.empty())
      return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName,
                            ": no sequences in the Stockholm input");
    if (!sawEnd)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName,
                            ": missing the '//' terminator (truncated?)");

    const std::string &query = raw[0];
    for (size_t row = 1; row < raw.size(); ++row)
      if (raw[row].size() != query.size())
        return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":",
                              firstLines[row], ": row ", row, " ('",
                              names[row], "') has ", raw[row].size(),
                              " columns, the query (row 0) has ",
                              query.size());

    std::vector<bool> keep(query.size());
    size_t numKept = 0;
    for (size_t i = 0; i < query.size(); ++i)
      numKept += keep[i] = query[i] != '-' && query[i] != '.';
    if (numKept == 0)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, sourceName, ":", firstLines[0],
                            ": the query ('", names[0],
                            "') has no residues");

    out.sequences.reserve(raw.size());
    out.deletions.reserve(raw.size());
    for (size_t row = 0; row < raw.size(); ++row) {
      std::string seq;
      std::vector<int32_t> del;
      seq.reserve(numKept);
      del.reserve(numKept);
      int32_t pending = 0;
      for (size_t i = 0; i < query.size(); ++i) {
        char c = raw[row][i];
        bool gap = c == '-' || c == '.';
        if (!keep[i]) {
          pending += !gap; // a residue in an insert column of the query
          continue;
        }
        seq.push_back(gap ? '-' : toUpper(c));
        del.push_back(pending);
        pending = 0;
      }
      out.sequences.push_back(std::move(seq));
      out.deletions.push_back(std::move(del));
    }
    out.descriptions = std::move(names);
    return nullptr;
  });
}

Status readMsaFile(const std::string &path, Msa &out) {
  auto endsWith = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           std::string_view(path).substr(path.size() - suffix.size()) ==
               suffix;
  };
  bool a3m = endsWith(".a3m");
  bool sto = endsWith(".sto");
  std::string text;
  Status status = guarded(out, [&]() -> mf_status_t {
    if (!a3m && !sto)
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "'", path,
                            "': unknown MSA format (expected a .a3m or .sto "
                            "file)");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      int error = errno;
      return makeStatus(error == ENOENT ? MF_STATUS_NOT_FOUND
                                        : MF_STATUS_UNAVAILABLE,
                        __FILE__, __LINE__,
                        mf::rt::concat("cannot open '", path,
                                       "': ", std::strerror(error)));
    }
    std::ostringstream contents;
    contents << in.rdbuf();
    if (in.bad())
      return MF_MAKE_STATUS(DATA_LOSS, "error reading '", path, "'");
    text = std::move(contents).str();
    return nullptr;
  });
  if (!status.ok())
    return status;
  return a3m ? parseA3m(text, path, out) : parseStockholm(text, path, out);
}

} // namespace mf::msa
