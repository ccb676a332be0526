//===- json.h - A small, defensive JSON parser ------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Parses the artifact manifest. Artifacts may be corrupt or hostile, so the
// parser bounds its nesting depth, checks every read, rejects duplicate
// object keys and NUL characters, and never throws except std::bad_alloc.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_JSON_H
#define MF_RUNTIME_SRC_JSON_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::rt::json {

/// The type of a JSON value.
enum class Kind { Null, Bool, Number, String, Array, Object };

/// A parsed JSON value.
struct Value {
  Kind kind = Kind::Null;
  bool boolean = false;
  /// True if the number was written as an integer that fits in int64_t
  /// (only such numbers keep their value; the manifest needs no others).
  bool isInteger = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  /// Returns the member called `key` of an object, or nullptr.
  const Value *get(std::string_view key) const;
};

/// Deepest nesting of arrays and objects that parse accepts.
inline constexpr int kMaxDepth = 64;

/// Parses `text` as one JSON value. On failure returns false and sets
/// `error` to a message with the byte offset.
bool parse(std::string_view text, Value &out, std::string &error);

/// Returns the name of `kind` ("object", "string", ...).
const char *kindName(Kind kind);

} // namespace mf::rt::json

#endif // MF_RUNTIME_SRC_JSON_H
