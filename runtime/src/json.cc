//===- json.cc - A small, defensive JSON parser ---------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "json.h"

#include <algorithm>

namespace mf::rt::json {

const Value *Value::get(std::string_view key) const {
  for (const auto &member : object)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "bool";
  case Kind::Number:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "?";
}

namespace {

/// Recursive-descent parser; recursion depth is bounded by kMaxDepth.
class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  bool parseDocument(Value &out) {
    if (!parseValue(out, 0))
      return false;
    skipSpace();
    if (pos != text.size())
      return fail("unexpected trailing characters");
    return true;
  }

  std::string error;

private:
  bool fail(const char *message) {
    error = "at byte " + std::to_string(pos) + ": " + message;
    return false;
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool consume(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    pos += word.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    skipSpace();
    if (pos >= text.size())
      return fail("unexpected end of input");
    char c = text[pos];
    if (c == '{' || c == '[') {
      if (depth >= kMaxDepth)
        return fail("nesting is deeper than 64 levels");
      return c == '{' ? parseObject(out, depth + 1)
                      : parseArray(out, depth + 1);
    }
    if (c == '"') {
      out.kind = Kind::String;
      return parseString(out.string);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber(out);
    if (consume("true") || consume("false")) {
      out.kind = Kind::Bool;
      out.boolean = c == 't';
      return true;
    }
    if (consume("null")) {
      out.kind = Kind::Null;
      return true;
    }
    return fail("unexpected character");
  }

  bool parseArray(Value &out, int depth) {
    out.kind = Kind::Array;
    ++pos; // '['
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return true;
    }
    for (;;) {
      out.array.emplace_back();
      if (!parseValue(out.array.back(), depth))
        return false;
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated array");
      if (text[pos++] == ']')
        return true;
      if (text[pos - 1] != ',')
        return fail("expected ',' or ']' in array");
    }
  }

  bool parseObject(Value &out, int depth) {
    out.kind = Kind::Object;
    ++pos; // '{'
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    for (;;) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key in object");
      std::string key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':' after object key");
      ++pos;
      out.object.emplace_back(std::move(key), Value());
      if (!parseValue(out.object.back().second, depth))
        return false;
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated object");
      if (text[pos++] == '}')
        return checkUniqueKeys(out);
      if (text[pos - 1] != ',')
        return fail("expected ',' or '}' in object");
    }
  }

  /// Rejects duplicate keys in O(n log n), so huge objects stay cheap.
  bool checkUniqueKeys(const Value &object) {
    std::vector<std::string_view> keys;
    keys.reserve(object.object.size());
    for (const auto &member : object.object)
      keys.push_back(member.first);
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
      return fail("duplicate object key");
    return true;
  }

  bool parseHex4(uint32_t &out) {
    if (text.size() - pos < 4)
      return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0)
        return fail("bad hex digit in \\u escape");
      out = out << 4 | static_cast<uint32_t>(digit);
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool parseString(std::string &out) {
    ++pos; // '"'
    for (;;) {
      if (pos >= text.size())
        return fail("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size())
        return fail("unterminated string");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
          return fail("unpaired low surrogate in \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low;
          if (!consume("\\u") || !parseHex4(low) || low < 0xdc00 ||
              low > 0xdfff)
            return fail("unpaired high surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        if (cp == 0)
          return fail("\\u0000 is not allowed in strings");
        appendUtf8(out, cp);
        break;
      }
      default:
        return fail("invalid escape in string");
      }
    }
  }

  bool parseNumber(Value &out) {
    auto digits = [&] {
      size_t first = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      return pos - first;
    };
    bool negative = pos < text.size() && text[pos] == '-';
    if (negative)
      ++pos;
    size_t intStart = pos;
    size_t intDigits = digits();
    if (intDigits == 0)
      return fail("expected digits in number");
    if (intDigits > 1 && text[intStart] == '0')
      return fail("leading zero in number");
    bool integral = true;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      integral = false;
      if (digits() == 0)
        return fail("expected digits after '.' in number");
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      ++pos;
      integral = false;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (digits() == 0)
        return fail("expected digits in exponent");
    }
    out.kind = Kind::Number;
    out.isInteger = false;
    if (integral) {
      // Accumulate as a negative number so INT64_MIN fits.
      int64_t value = 0;
      bool fits = true;
      for (size_t i = intStart; i < intStart + intDigits && fits; ++i)
        fits = !__builtin_mul_overflow(value, 10, &value) &&
               !__builtin_sub_overflow(value, text[i] - '0', &value);
      if (fits && !negative)
        fits = !__builtin_mul_overflow(value, -1, &value);
      out.isInteger = fits;
      out.integer = fits ? value : 0;
    }
    return true;
  }

  std::string_view text;
  size_t pos = 0;
};

} // namespace

bool parse(std::string_view text, Value &out, std::string &error) {
  Parser parser(text);
  out = Value();
  if (parser.parseDocument(out))
    return true;
  error = parser.error;
  return false;
}

} // namespace mf::rt::json
