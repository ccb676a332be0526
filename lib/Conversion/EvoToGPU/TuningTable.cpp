//===- TuningTable.cpp - Tile sizes per chip and shape --------------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "TuningTable.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mf::gpu_kernels;
using llvm::StringRef;

namespace {
const char *const kBuiltinTable =
#include "TuningTable.json.inc"
    ;

llvm::Error fail(StringRef source, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "tuning table " + source + ": " + what);
}
} // namespace

llvm::Expected<TuningTable> TuningTable::parse(StringRef text,
                                               StringRef source) {
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  if (!json)
    return fail(source, llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail(source, "expected a JSON object");
  if (root->getInteger("version") != 1)
    return fail(source, "expected \"version\": 1");
  const llvm::json::Array *list = root->getArray("entries");
  if (!list)
    return fail(source, "expected an \"entries\" array");
  TuningTable table;
  for (auto [i, value] : llvm::enumerate(*list)) {
    std::string where = "entry " + std::to_string(i);
    const llvm::json::Object *obj = value.getAsObject();
    if (!obj)
      return fail(source, where + " is not an object");
    Entry e;
    auto str = [&](StringRef key) -> std::optional<StringRef> {
      return obj->getString(key);
    };
    if (!str("kernel") || !str("chip"))
      return fail(source, where + " needs \"kernel\" and \"chip\" strings");
    e.kernel = str("kernel")->str();
    e.chip = str("chip")->str();
    e.headDim = obj->getInteger("head_dim");
    e.maxOut = obj->getInteger("max_out");
    auto positive = [&](StringRef key, int64_t multiple,
                        int64_t &out) -> llvm::Error {
      std::optional<int64_t> v = obj->getInteger(key);
      if (!v || *v <= 0 || *v % multiple != 0 || *v > 512)
        return fail(source, where + " (" + e.kernel + "): \"" + key +
                                "\" must be a positive multiple of " +
                                std::to_string(multiple) + ", at most 512");
      out = *v;
      return llvm::Error::success();
    };
    if (e.kernel == "attention") {
      if (auto err = positive("block_q", 16, e.blockQ))
        return std::move(err);
      if (auto err = positive("block_k", 16, e.blockK))
        return std::move(err);
      if (auto err = positive("s_group", 1, e.sGroup))
        return std::move(err);
      if (e.blockQ > 256 || e.sGroup > 8)
        return fail(source, where + ": block_q <= 256 and s_group <= 8");
    } else if (e.kernel == "layernorm_linear" || e.kernel == "transition") {
      if (auto err = positive("block_m", 16, e.blockM))
        return std::move(err);
      if (auto err = positive("block_n", 16, e.blockN))
        return std::move(err);
      if (e.blockM > 256)
        return fail(source, where + ": block_m <= 256 (16 rows per warp)");
    } else {
      return fail(source, where + ": unknown kernel \"" + e.kernel +
                              "\" (attention, layernorm_linear, transition)");
    }
    table.entries.push_back(std::move(e));
  }
  return table;
}

llvm::Expected<TuningTable> TuningTable::builtin() {
  return parse(kBuiltinTable, "(built in)");
}

llvm::Expected<TuningTable> TuningTable::load(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail(path, "cannot read: " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

const TuningTable::Entry *
TuningTable::find(StringRef kernel, StringRef chip,
                  std::optional<int64_t> headDim,
                  std::optional<int64_t> outChannels) const {
  for (const Entry &e : entries) {
    if (e.kernel != kernel || (e.chip != "*" && e.chip != chip))
      continue;
    if (e.headDim && (!headDim || *e.headDim != *headDim))
      continue;
    if (e.maxOut && (!outChannels || *outChannels > *e.maxOut))
      continue;
    return &e;
  }
  return nullptr;
}

std::optional<AttentionTiles> TuningTable::attention(StringRef chip,
                                                     int64_t headDim) const {
  if (const Entry *e = find("attention", chip, headDim, std::nullopt))
    return AttentionTiles{e->blockQ, e->blockK, e->sGroup};
  return std::nullopt;
}

std::optional<GemmTiles> TuningTable::layerNormLinear(StringRef chip,
                                                      int64_t nOut) const {
  if (const Entry *e = find("layernorm_linear", chip, std::nullopt, nOut))
    return GemmTiles{e->blockM, e->blockN};
  return std::nullopt;
}

std::optional<GemmTiles> TuningTable::transition(StringRef chip) const {
  if (const Entry *e = find("transition", chip, std::nullopt, std::nullopt))
    return GemmTiles{e->blockM, e->blockN};
  return std::nullopt;
}
