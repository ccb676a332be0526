//===- arg_check.cc - Checking call arguments against the manifest --------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Every invocation runs these checks before any compiled code sees a
// pointer. A dynamic dim's symbol binds at its first occurrence, scanning the
// arguments in order (inputs first), and every later occurrence must match.
// The compiled code assumes dense row-major (identity layout) memrefs, so
// any other strides are refused rather than passed along.
//
//===----------------------------------------------------------------------===//

#include "backend.h"
#include "status.h"

#include <cstdint>
#include <cstring>
#include <memory>

using namespace mf::rt;

const char *mf::rt::deviceKindName(mf_device_kind_t kind) {
  switch (kind) {
  case MF_DEVICE_CPU:
    return "cpu";
  case MF_DEVICE_CUDA:
    return "cuda";
  case MF_DEVICE_HIP:
    return "hip";
  default:
    break;
  }
  return "unknown";
}

namespace {

/// The alignment GPU tensors need.
constexpr uintptr_t kDeviceAlignment = 16;

/// Where a dim symbol got its value.
struct Binding {
  int64_t value = 0;
  int64_t arg = -1; // -1: not bound yet
  int64_t dim = 0;
};

/// Formats `count` integers as "[a, b, c]".
std::string formatList(const int64_t *values, int64_t count) {
  std::string text = "[";
  for (int64_t i = 0; i < count; ++i)
    text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

/// Formats a dtype, including values outside the enum.
std::string formatDType(mf_dtype_t dtype) {
  if (mf_dtype_size(dtype) == 0)
    return "invalid (" + std::to_string(static_cast<int64_t>(dtype)) + ")";
  return mf_dtype_name(dtype);
}

/// Reads an enum field of a caller's struct as the raw int the C caller
/// stored, so that any value (even outside the enum) is well-defined here.
template <typename Enum> int32_t rawValue(const Enum &field) {
  static_assert(sizeof(Enum) == sizeof(int32_t), "C enums are int-sized");
  int32_t raw;
  std::memcpy(&raw, &field, sizeof(raw));
  return raw;
}

} // namespace

mf_status_t mf::rt::checkArguments(const EntrySpec &entry,
                                   mf_device_kind_t device,
                                   const mf_tensor_t *args, size_t numArgs) {
  if (numArgs != entry.args.size()) {
    std::string names;
    for (const ArgSpec &arg : entry.args)
      names += (names.empty() ? "" : ", ") + arg.name;
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "entry '", entry.name,
                          "': expected ", entry.args.size(), " arguments (",
                          entry.numInputs, " inputs then ",
                          entry.args.size() - entry.numInputs,
                          " outputs: ", names, ") but got ", numArgs);
  }
  if (!args && numArgs > 0)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "entry '", entry.name,
                          "': args is NULL but num_args is ", numArgs);

  // Symbol bindings: on the stack for the usual handful of symbols.
  Binding inlineBindings[16];
  std::unique_ptr<Binding[]> heapBindings;
  Binding *bindings = inlineBindings;
  if (entry.symbolNames.size() > 16) {
    heapBindings.reset(new Binding[entry.symbolNames.size()]);
    bindings = heapBindings.get();
  }

  for (size_t i = 0; i < numArgs; ++i) {
    const ArgSpec &spec = entry.args[i];
    const mf_tensor_t &tensor = args[i];
    auto fail = [&](const auto &...parts) {
      return MF_MAKE_STATUS(INVALID_ARGUMENT, "entry '", entry.name,
                            "': argument ", i, " '", spec.name,
                            "': ", parts...);
    };
    int32_t dtype = rawValue(tensor.dtype),
            deviceKind = rawValue(tensor.device);
    if (dtype != spec.dtype)
      return fail("dtype is ",
                  dtype < 0 ? "invalid (" + std::to_string(dtype) + ")"
                            : formatDType(static_cast<mf_dtype_t>(dtype)),
                  " but the manifest says ", mf_dtype_name(spec.dtype));
    if (deviceKind != device)
      return fail("device is ",
                  deviceKind < 0 ? "unknown"
                                 : deviceKindName(static_cast<mf_device_kind_t>(
                                       deviceKind)),
                  " but this module runs on ", deviceKindName(device));
    const auto rank = static_cast<int64_t>(spec.dims.size());
    if (tensor.rank != rank)
      return fail("rank is ", tensor.rank, " but the manifest says ", rank);

    int64_t numel = 1;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t size = tensor.dims[d];
      if (size < 0)
        return fail("dim ", d, " is ", size, "; dims must be non-negative");
      if (spec.dims[d] >= 0) {
        if (size != spec.dims[d])
          return fail("dim ", d, " is ", size, " but the manifest says ",
                      spec.dims[d]);
      } else {
        Binding &binding = bindings[spec.symbolIds[d]];
        if (binding.arg < 0) {
          binding = {size, static_cast<int64_t>(i), d};
        } else if (binding.value != size) {
          const ArgSpec &other = entry.args[binding.arg];
          return fail("dim ", d, " is ", size, " but symbol ", spec.symbols[d],
                      " was bound to ", binding.value, " by argument ",
                      binding.arg, " '", other.name, "' dim ", binding.dim);
        }
      }
      if (__builtin_mul_overflow(numel, size, &numel))
        return fail("shape ", formatList(tensor.dims, rank),
                    " has more elements than fit in int64");
    }

    if (numel > 0 && !tensor.data)
      return fail("data is NULL but the tensor has ", numel, " elements");
    size_t elementSize = mf_dtype_size(spec.dtype);
    if (reinterpret_cast<uintptr_t>(tensor.data) % elementSize != 0)
      return fail("data pointer ", tensor.data, " is not aligned to ",
                  elementSize, " bytes (", mf_dtype_name(spec.dtype), ")");
    // GPU kernels use 16-byte vector loads and stores (allocators such as
    // PyTorch's give at least 256-byte alignment; views may not keep it).
    if (device != MF_DEVICE_CPU && tensor.data &&
        reinterpret_cast<uintptr_t>(tensor.data) % kDeviceAlignment != 0)
      return fail("data pointer ", tensor.data, " is not aligned to ",
                  kDeviceAlignment, " bytes, which ", deviceKindName(device),
                  " tensors need");

    // Layout: all-zero strides mean dense row-major; otherwise they must be
    // the row-major strides (ignoring size-1 dims and empty tensors).
    bool allZero = true;
    for (int64_t d = 0; d < rank; ++d)
      allZero = allZero && tensor.strides[d] == 0;
    if (allZero || numel == 0)
      continue;
    int64_t expected[MF_MAX_RANK];
    int64_t stride = 1;
    bool dense = true;
    for (int64_t d = rank - 1; d >= 0; --d) {
      expected[d] = stride;
      dense = dense && (tensor.dims[d] == 1 || tensor.strides[d] == stride);
      stride *= tensor.dims[d];
    }
    if (!dense)
      return fail("strides ", formatList(tensor.strides, rank),
                  " are not dense row-major for dims ",
                  formatList(tensor.dims, rank), " (expected ",
                  formatList(expected, rank),
                  " or all zeros); compiled code needs contiguous tensors");
  }
  return nullptr;
}
