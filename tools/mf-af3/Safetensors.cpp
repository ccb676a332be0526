//===- Safetensors.cpp - A reader of plain safetensors files --------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Safetensors.h"

#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::af3 {

namespace {

/// Bytes per element of a safetensors dtype; 0 if unknown.
size_t dtypeSize(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64")
    return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32")
    return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16")
    return 2;
  if (dtype == "BOOL" || dtype == "I8" || dtype == "U8" ||
      dtype == "F8_E4M3" || dtype == "F8_E5M2")
    return 1;
  return 0;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

float halfToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f,
           mantissa = h & 0x3ff;
  float value;
  if (exponent == 0)
    value = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(static_cast<float>(mantissa | 0x400),
                       static_cast<int>(exponent) - 25);
  return sign ? -value : value;
}

} // namespace

SafetensorsFile::~SafetensorsFile() {
  if (map_)
    munmap(map_, mapSize_);
}

bool SafetensorsFile::open(const std::string &path, std::string &error) {
  path_ = path;
  auto fail = [&](const std::string &message) {
    error = path + ": " + message;
    return false;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return fail("too short for a safetensors file (" + std::to_string(size) +
                " bytes)");
  }
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    return fail(std::string("cannot map: ") + std::strerror(errno));
  map_ = map;
  mapSize_ = size;
  const unsigned char *bytes = static_cast<const unsigned char *>(map);

  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | bytes[i];
  if (headerSize > size - 8 || headerSize > 100000000)
    return fail("header length " + std::to_string(headerSize) +
                " runs past the end of the file (" + std::to_string(size) +
                " bytes): truncated or not safetensors");
  std::string_view text(reinterpret_cast<const char *>(bytes + 8),
                        headerSize);
  mf::rt::json::Value root;
  std::string jsonError;
  if (!mf::rt::json::parse(text, root, jsonError))
    return fail("header: " + jsonError);
  if (root.kind != mf::rt::json::Kind::Object)
    return fail("header is not a JSON object");
  const unsigned char *dataBegin = bytes + 8 + headerSize;
  uint64_t dataSize = size - 8 - headerSize;
  for (const auto &member : root.object) {
    const std::string &name = member.first;
    const mf::rt::json::Value &value = member.second;
    if (name == "__metadata__")
      continue;
    auto bad = [&](const std::string &what) {
      return fail("tensor '" + name + "': " + what);
    };
    if (value.kind != mf::rt::json::Kind::Object)
      return bad("entry is not an object");
    const auto *dtype = value.get("dtype");
    const auto *shape = value.get("shape");
    const auto *offsets = value.get("data_offsets");
    if (!dtype || dtype->kind != mf::rt::json::Kind::String)
      return bad("no string \"dtype\"");
    if (!shape || shape->kind != mf::rt::json::Kind::Array)
      return bad("no array \"shape\"");
    if (!offsets || offsets->kind != mf::rt::json::Kind::Array ||
        offsets->array.size() != 2 || !offsets->array[0].isInteger ||
        !offsets->array[1].isInteger)
      return bad("\"data_offsets\" is not two integers");
    size_t elementSize = dtypeSize(dtype->string);
    if (!elementSize)
      return bad("unknown dtype '" + dtype->string + "'");
    SafeTensor tensor;
    tensor.dtype = dtype->string;
    uint64_t count = 1;
    for (const auto &dim : shape->array) {
      if (!dim.isInteger || dim.integer < 0)
        return bad("shape has a dim that is not a non-negative integer");
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim.integer),
                                 &count))
        return bad("shape overflows");
      tensor.shape.push_back(dim.integer);
    }
    int64_t begin = offsets->array[0].integer, end = offsets->array[1].integer;
    uint64_t bytesNeeded;
    if (__builtin_mul_overflow(count, elementSize, &bytesNeeded))
      return bad("shape overflows");
    if (begin < 0 || end < begin || static_cast<uint64_t>(end) > dataSize)
      return bad("data_offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + ") lie outside the data (" +
                 std::to_string(dataSize) + " bytes): truncated?");
    if (static_cast<uint64_t>(end - begin) != bytesNeeded)
      return bad("data_offsets hold " + std::to_string(end - begin) +
                 " bytes but shape " + shapeString(tensor.shape) + " of " +
                 tensor.dtype + " needs " + std::to_string(bytesNeeded));
    tensor.data = dataBegin + begin;
    tensor.sizeBytes = bytesNeeded;
    tensors_[name] = std::move(tensor);
  }
  return true;
}

const SafeTensor *SafetensorsFile::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

bool SafetensorsFile::readF32(const std::string &name,
                              const std::vector<int64_t> &shape, float *out,
                              std::string &error) const {
  const SafeTensor *tensor = find(name);
  if (!tensor) {
    error = path_ + ": no tensor '" + name + "' (expected " +
            shapeString(shape) + ")";
    return false;
  }
  if (tensor->shape != shape) {
    error = path_ + ": tensor '" + name + "' has shape " +
            shapeString(tensor->shape) + " but the model needs " +
            shapeString(shape);
    return false;
  }
  size_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<size_t>(dim);
  const unsigned char *p = tensor->data;
  if (tensor->dtype == "F32") {
    std::memcpy(out, p, count * 4);
  } else if (tensor->dtype == "BF16") {
    for (size_t i = 0; i < count; ++i) {
      uint32_t bits = static_cast<uint32_t>(p[2 * i] | (p[2 * i + 1] << 8))
                      << 16;
      std::memcpy(&out[i], &bits, 4);
    }
  } else if (tensor->dtype == "F16") {
    for (size_t i = 0; i < count; ++i)
      out[i] = halfToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  } else {
    error = path_ + ": tensor '" + name + "' is " + tensor->dtype +
            "; weights must be F32, BF16 or F16";
    return false;
  }
  return true;
}

} // namespace mf::af3
