//===- Input.cpp - AlphaFold3 input JSON ----------------------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Input.h"

#include "json.h" // the runtime's defensive JSON parser (runtime/src)
#include "mf/runtime/artifact.h"

#include <fstream>
#include <set>
#include <sstream>

namespace mf::cache {

namespace json = mf::rt::json;

const char *chainTypeName(ChainType type) {
  switch (type) {
  case ChainType::Protein:
    return "protein";
  case ChainType::Rna:
    return "rna";
  case ChainType::Dna:
    return "dna";
  case ChainType::Ligand:
    return "ligand";
  }
  return "?";
}

bool readWholeFile(const std::string &path, std::string &out,
                   std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open '" + path + "'";
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = "cannot read '" + path + "'";
    return false;
  }
  out = buffer.str();
  return true;
}

namespace {

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Reads an entity's string member; absent or null leaves `out` unset.
bool optionalString(const json::Value &entity, const char *key,
                    std::optional<std::string> &out, std::string &error) {
  const json::Value *v = entity.get(key);
  if (!v || v->kind == json::Kind::Null)
    return true;
  if (v->kind != json::Kind::String) {
    error = std::string("'") + key + "' must be a string";
    return false;
  }
  out = v->string;
  return true;
}

/// Resolves `<kind>Msa` / `<kind>MsaPath` (mutually exclusive, as AF3 says).
bool readMsaField(const json::Value &entity, const std::string &kind,
                  const std::string &jsonDir, Input &input,
                  std::optional<std::string> &text, bool &isStockholm,
                  std::string &source, std::string &error) {
  std::optional<std::string> inlineText, path;
  if (!optionalString(entity, (kind + "Msa").c_str(), inlineText, error) ||
      !optionalString(entity, (kind + "MsaPath").c_str(), path, error))
    return false;
  if (inlineText && path) {
    error = kind + "Msa and " + kind + "MsaPath are mutually exclusive";
    return false;
  }
  if (inlineText) {
    text = *inlineText;
    source = "inline " + kind + "Msa";
    return true;
  }
  if (!path)
    return true;
  if (endsWith(*path, ".gz") || endsWith(*path, ".xz") ||
      endsWith(*path, ".zst")) {
    error = kind + "MsaPath '" + *path + "': compressed MSAs are not supported";
    return false;
  }
  std::string full = !path->empty() && (*path)[0] == '/'
                         ? *path
                         : jsonDir + "/" + *path;
  std::string contents;
  if (!readWholeFile(full, contents, error))
    return false;
  input.hashes[*path] = mf::artifact::fnv1a64(contents.data(), contents.size());
  text = std::move(contents);
  isStockholm = endsWith(*path, ".sto");
  source = full;
  return true;
}

bool readIds(const json::Value &entity, std::vector<std::string> &ids,
             std::string &error) {
  const json::Value *id = entity.get("id");
  if (id && id->kind == json::Kind::String) {
    ids.push_back(id->string);
  } else if (id && id->kind == json::Kind::Array && !id->array.empty()) {
    for (const json::Value &v : id->array) {
      if (v.kind != json::Kind::String) {
        error = "'id' list must hold strings";
        return false;
      }
      ids.push_back(v.string);
    }
  } else {
    error = "'id' must be a string or a non-empty list of strings";
    return false;
  }
  for (const std::string &s : ids)
    if (s.empty()) {
      error = "empty chain id";
      return false;
    }
  return true;
}

bool readModifications(const json::Value &entity, ChainType type,
                       Entity &out, std::string &error) {
  const json::Value *mods = entity.get("modifications");
  if (!mods || mods->kind == json::Kind::Null)
    return true;
  if (mods->kind != json::Kind::Array) {
    error = "'modifications' must be a list";
    return false;
  }
  const char *codeKey =
      type == ChainType::Protein ? "ptmType" : "modificationType";
  const char *posKey = type == ChainType::Protein ? "ptmPosition" : "basePosition";
  for (const json::Value &m : mods->array) {
    const json::Value *code = m.kind == json::Kind::Object ? m.get(codeKey) : nullptr;
    const json::Value *pos = m.kind == json::Kind::Object ? m.get(posKey) : nullptr;
    if (!code || code->kind != json::Kind::String || code->string.empty() ||
        !pos || !pos->isInteger || pos->integer < 1 ||
        pos->integer > static_cast<int64_t>(out.sequence.size())) {
      error = std::string("a modification needs '") + codeKey +
              "' (a CCD code) and '" + posKey +
              "' (a 1-based position within the sequence)";
      return false;
    }
    int position = static_cast<int>(pos->integer);
    if (!out.modifications.emplace(position, code->string).second) {
      error = "two modifications at position " + std::to_string(position);
      return false;
    }
  }
  return true;
}

bool readEntity(const std::string &kindName, const json::Value &entity,
                const std::string &jsonDir, Input &input, Entity &out,
                std::string &error) {
  if (entity.kind != json::Kind::Object) {
    error = "'" + kindName + "' must be an object";
    return false;
  }
  if (kindName == "protein")
    out.type = ChainType::Protein;
  else if (kindName == "rna")
    out.type = ChainType::Rna;
  else if (kindName == "dna")
    out.type = ChainType::Dna;
  else if (kindName == "ligand")
    out.type = ChainType::Ligand;
  else {
    error = "unknown entity type '" + kindName + "'";
    return false;
  }
  if (!readIds(entity, out.ids, error))
    return false;

  if (out.type == ChainType::Ligand) {
    const json::Value *codes = entity.get("ccdCodes");
    const json::Value *smiles = entity.get("smiles");
    if ((codes != nullptr) == (smiles != nullptr)) {
      error = "a ligand needs exactly one of 'ccdCodes' and 'smiles'";
      return false;
    }
    if (codes) {
      if (codes->kind != json::Kind::Array || codes->array.empty()) {
        error = "'ccdCodes' must be a non-empty list";
        return false;
      }
      for (const json::Value &c : codes->array) {
        if (c.kind != json::Kind::String || c.string.empty()) {
          error = "'ccdCodes' must hold non-empty strings";
          return false;
        }
        out.ccdCodes.push_back(c.string);
      }
    } else {
      if (smiles->kind != json::Kind::String || smiles->string.empty()) {
        error = "'smiles' must be a non-empty string";
        return false;
      }
      out.smiles = smiles->string;
    }
    return true;
  }

  const json::Value *seq = entity.get("sequence");
  if (!seq || seq->kind != json::Kind::String || seq->string.empty()) {
    error = "'sequence' must be a non-empty string";
    return false;
  }
  for (char c : seq->string)
    if (c < 'A' || c > 'Z') {
      error = std::string("'sequence' holds '") + c +
              "', not an uppercase one-letter code";
      return false;
    }
  out.sequence = seq->string;
  if (!readModifications(entity, out.type, out, error))
    return false;
  // DNA has no MSAs in AlphaFold3; RNA only an unpaired one.
  if (out.type == ChainType::Dna)
    return true;
  if (!readMsaField(entity, "unpaired", jsonDir, input, out.unpairedMsa,
                    out.unpairedMsaIsStockholm, out.unpairedMsaSource, error))
    return false;
  if (out.type == ChainType::Protein &&
      !readMsaField(entity, "paired", jsonDir, input, out.pairedMsa,
                    out.pairedMsaIsStockholm, out.pairedMsaSource, error))
    return false;
  return true;
}

} // namespace

bool readInput(const std::string &path, Input &out, std::string &error) {
  out = Input();
  out.path = path;
  std::string text;
  if (!readWholeFile(path, text, error))
    return false;
  out.hashes[baseName(path)] = mf::artifact::fnv1a64(text.data(), text.size());
  auto fail = [&](const std::string &message) {
    error = path + ": " + message;
    return false;
  };
  json::Value root;
  std::string parseError;
  if (!json::parse(text, root, parseError))
    return fail("invalid JSON: " + parseError);
  if (root.kind == json::Kind::Array)
    return fail("an AlphaFold Server (alphafoldserver dialect) input; only "
                "the alphafold3 dialect is supported");
  if (root.kind != json::Kind::Object)
    return fail("the top level must be an object");
  if (!root.get("dialect") && !root.get("sequences")) {
    out.notAnInput = true;
    return fail("not an AlphaFold3 input (no \"dialect\", no \"sequences\")");
  }
  const json::Value *dialect = root.get("dialect");
  if (!dialect || dialect->kind != json::Kind::String ||
      dialect->string != "alphafold3")
    return fail("\"dialect\" must be \"alphafold3\"");
  const json::Value *version = root.get("version");
  if (!version || !version->isInteger || version->integer < 1 ||
      version->integer > 4)
    return fail("\"version\" must be an integer from 1 to 4");
  if (const json::Value *name = root.get("name");
      name && name->kind == json::Kind::String)
    out.name = name->string;
  if (root.get("userCCD") || root.get("userCCDPath"))
    return fail("userCCD / userCCDPath are not supported yet");
  const json::Value *sequences = root.get("sequences");
  if (!sequences || sequences->kind != json::Kind::Array ||
      sequences->array.empty())
    return fail("\"sequences\" must be a non-empty list");

  std::string jsonDir = directoryOf(path);
  std::set<std::string> seenIds;
  for (size_t i = 0; i < sequences->array.size(); ++i) {
    const json::Value &item = sequences->array[i];
    if (item.kind != json::Kind::Object || item.object.size() != 1)
      return fail("sequences[" + std::to_string(i) +
                  "] must be an object with one key (protein, rna, dna or "
                  "ligand)");
    Entity entity;
    if (!readEntity(item.object[0].first, item.object[0].second, jsonDir, out,
                    entity, error))
      return fail("sequences[" + std::to_string(i) + "]: " + error);
    for (const std::string &id : entity.ids)
      if (!seenIds.insert(id).second)
        return fail("chain id '" + id + "' is used twice");
    out.entities.push_back(std::move(entity));
  }
  return true;
}

} // namespace mf::cache
