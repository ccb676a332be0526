//===- runtime.cc - The C API: runtimes, modules, functions ---------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// The objects behind the opaque C handles, and every extern "C" entry point
// except the status ones (status.cc). Each entry point that can fail wraps
// its body in MF_API_BEGIN/MF_API_END so no exception reaches C.
//
//===----------------------------------------------------------------------===//

#include "backend.h"
#include "status.h"

#include "mf/runtime/artifact.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

using namespace mf::rt;

static_assert(std::size(mf::artifact::kDTypeNames) ==
                  MF_DTYPE_I64 - MF_DTYPE_F32 + 1,
              "artifact.h's dtype names must match mf_dtype_t");
static_assert(mf::artifact::kMaxRank == MF_MAX_RANK,
              "artifact.h and api.h must agree on the maximum rank");

/// The root object: the backends compiled into this library.
struct mf_runtime_s {
  std::atomic<int> refs{1};
  std::vector<std::unique_ptr<Backend>> backends;
};

/// An entry point; owned by its module.
struct mf_function_s {
  const mf_module_s *module;
  size_t index;
  const EntrySpec *entry;
};

/// A loaded artifact. Immutable after loading.
struct mf_module_s {
  std::atomic<int> refs{1};
  mf_runtime_s *runtime = nullptr;
  Manifest manifest;
  const Backend *backend = nullptr;
  std::unique_ptr<Executable> executable;
  std::vector<mf_function_s> functions;
};

namespace {

/// Parses, validates and loads the artifact bytes into a new module.
mf_status_t loadModule(mf_runtime_t *runtime, const unsigned char *data,
                       size_t size, mf_module_t **out_module) {
  if (!runtime)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "runtime is NULL");
  if (!out_module)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_module is NULL");
  auto module = std::make_unique<mf_module_s>();
  MF_RETURN_IF_ERROR(parseArtifact(data, size, module->manifest));
  const std::string &target = module->manifest.target;
  for (const auto &backend : runtime->backends)
    if (target == backend->target())
      module->backend = backend.get();
  if (!module->backend) {
    std::string available;
    for (const auto &backend : runtime->backends)
      available +=
          (available.empty() ? "" : ", ") + std::string(backend->target());
    return MF_MAKE_STATUS(
        UNIMPLEMENTED, "artifact target '", target,
        "' is not supported by this runtime (available: ", available, ")");
  }
  MF_RETURN_IF_ERROR(
      module->backend->load(module->manifest, data, size, module->executable));
  const auto &entries = module->manifest.entries;
  for (size_t i = 0; i < entries.size(); ++i)
    module->functions.push_back({module.get(), i, &entries[i]});
  mf_runtime_retain(runtime);
  module->runtime = runtime;
  *out_module = module.release();
  return nullptr;
}

/// Checks the arguments, then runs or enqueues the function on `stream`.
mf_status_t invokeFunction(const mf_function_t *function,
                           const mf_tensor_t *args, size_t num_args,
                           void *stream, bool wait) {
  if (!function)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "function is NULL");
  const mf_module_s &module = *function->module;
  MF_RETURN_IF_ERROR(checkArguments(
      *function->entry, module.backend->deviceKind(), args, num_args));
  return module.executable->invoke(function->index, args, num_args, stream,
                                   wait);
}

/// Finds the backend whose tensors live on `device`.
mf_status_t findDeviceBackend(const mf_runtime_t *runtime,
                              mf_device_kind_t device,
                              const Backend *&out) {
  if (!runtime)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "runtime is NULL");
  int32_t raw;
  std::memcpy(&raw, &device, sizeof(raw));
  for (const auto &backend : runtime->backends)
    if (backend->deviceKind() == raw) {
      out = backend.get();
      return nullptr;
    }
  return MF_MAKE_STATUS(UNIMPLEMENTED, "device ",
                        raw < 0 ? "unknown"
                                : deviceKindName(
                                      static_cast<mf_device_kind_t>(raw)),
                        " (", raw, ") is not supported by this runtime");
}

} // namespace

extern "C" {

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

size_t mf_dtype_size(mf_dtype_t dtype) {
  switch (dtype) {
  case MF_DTYPE_F64:
  case MF_DTYPE_I64:
    return 8;
  case MF_DTYPE_F32:
  case MF_DTYPE_I32:
    return 4;
  case MF_DTYPE_F16:
  case MF_DTYPE_BF16:
    return 2;
  case MF_DTYPE_I1:
  case MF_DTYPE_I8:
    return 1;
  default:
    break;
  }
  return 0;
}

const char *mf_dtype_name(mf_dtype_t dtype) {
  if (mf_dtype_size(dtype) == 0)
    return "invalid";
  return mf::artifact::kDTypeNames[dtype - MF_DTYPE_F32];
}

//===----------------------------------------------------------------------===//
// Runtime
//===----------------------------------------------------------------------===//

mf_status_t mf_runtime_create(mf_runtime_t **out_runtime) {
  MF_API_BEGIN
  if (!out_runtime)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_runtime is NULL");
  auto runtime = std::make_unique<mf_runtime_s>();
  runtime->backends.push_back(createCpuBackend());
#ifdef MF_RUNTIME_HAVE_CUDA
  runtime->backends.push_back(createCudaBackend());
#endif
#ifdef MF_RUNTIME_HAVE_HIP
  runtime->backends.push_back(createHipBackend());
#endif
  *out_runtime = runtime.release();
  return nullptr;
  MF_API_END
}

void mf_runtime_retain(mf_runtime_t *runtime) {
  if (runtime)
    runtime->refs.fetch_add(1, std::memory_order_relaxed);
}

void mf_runtime_release(mf_runtime_t *runtime) {
  if (runtime && runtime->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    delete runtime;
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

mf_status_t mf_module_load_memory(mf_runtime_t *runtime, const void *data,
                                  size_t size, mf_module_t **out_module) {
  MF_API_BEGIN
  return loadModule(runtime, static_cast<const unsigned char *>(data), size,
                    out_module);
  MF_API_END
}

mf_status_t mf_module_load_file(mf_runtime_t *runtime, const char *path,
                                mf_module_t **out_module) {
  MF_API_BEGIN
  if (!path)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "path is NULL");
  std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path, "rb"),
                                              &std::fclose);
  if (!file) {
    int error = errno;
    return makeStatus(
        error == ENOENT   ? MF_STATUS_NOT_FOUND
        : error == EACCES ? MF_STATUS_PERMISSION_DENIED
                          : MF_STATUS_INVALID_ARGUMENT,
        __FILE__, __LINE__,
        concat("cannot open '", path, "': ", std::strerror(error)));
  }
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  size_t count;
  while ((count = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0)
    bytes.insert(bytes.end(), chunk, chunk + count);
  if (std::ferror(file.get()))
    return MF_MAKE_STATUS(DATA_LOSS, "cannot read '", path, "'");
  return annotateStatus(
      loadModule(runtime, bytes.data(), bytes.size(), out_module),
      concat("'", path, "': "));
  MF_API_END
}

void mf_module_retain(mf_module_t *module) {
  if (module)
    module->refs.fetch_add(1, std::memory_order_relaxed);
}

void mf_module_release(mf_module_t *module) {
  if (!module || module->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
    return;
  mf_runtime_t *runtime = module->runtime;
  delete module;
  mf_runtime_release(runtime);
}

const char *mf_module_target(const mf_module_t *module) {
  return module ? module->manifest.target.c_str() : "";
}

const char *mf_module_chip(const mf_module_t *module) {
  return module ? module->manifest.chip.c_str() : "";
}

const char *mf_module_producer(const mf_module_t *module) {
  return module ? module->manifest.producer.c_str() : "";
}

size_t mf_module_entry_count(const mf_module_t *module) {
  return module ? module->functions.size() : 0;
}

const char *mf_module_entry_name(const mf_module_t *module, size_t index) {
  if (!module || index >= module->functions.size())
    return nullptr;
  return module->functions[index].entry->name.c_str();
}

mf_status_t mf_module_lookup_function(mf_module_t *module, const char *name,
                                      mf_function_t **out_function) {
  MF_API_BEGIN
  if (!module || !name || !out_function)
    return MF_MAKE_STATUS(INVALID_ARGUMENT,
                          "module, name and out_function must not be NULL");
  for (mf_function_s &function : module->functions)
    if (function.entry->name == name) {
      *out_function = &function;
      return nullptr;
    }
  std::string available;
  for (const mf_function_s &function : module->functions)
    available += (available.empty() ? "'" : ", '") + function.entry->name + "'";
  return MF_MAKE_STATUS(NOT_FOUND, "no entry point named '", name,
                        "' in the module (available: ",
                        available.empty() ? "none" : available, ")");
  MF_API_END
}

//===----------------------------------------------------------------------===//
// Functions
//===----------------------------------------------------------------------===//

const char *mf_function_name(const mf_function_t *function) {
  return function ? function->entry->name.c_str() : "";
}

size_t mf_function_arg_count(const mf_function_t *function) {
  return function ? function->entry->args.size() : 0;
}

mf_status_t mf_function_arg_info(const mf_function_t *function, size_t index,
                                 mf_arg_info_t *out_info) {
  MF_API_BEGIN
  if (!function || !out_info)
    return MF_MAKE_STATUS(INVALID_ARGUMENT,
                          "function and out_info must not be NULL");
  const EntrySpec &entry = *function->entry;
  if (index >= entry.args.size())
    return MF_MAKE_STATUS(OUT_OF_RANGE, "entry '", entry.name,
                          "': argument index ", index, " is out of range (",
                          entry.args.size(), " arguments)");
  const ArgSpec &arg = entry.args[index];
  mf_arg_info_t info = {};
  info.name = arg.name.c_str();
  info.is_output = arg.isOutput ? 1 : 0;
  info.dtype = arg.dtype;
  info.rank = static_cast<int32_t>(arg.dims.size());
  for (size_t d = 0; d < arg.dims.size(); ++d) {
    info.dims[d] = arg.dims[d];
    info.dim_symbols[d] = arg.dims[d] < 0 ? arg.symbols[d].c_str() : nullptr;
  }
  *out_info = info;
  return nullptr;
  MF_API_END
}

mf_status_t mf_function_invoke(const mf_function_t *function,
                               const mf_tensor_t *args, size_t num_args) {
  MF_API_BEGIN
  return invokeFunction(function, args, num_args, nullptr, /*wait=*/true);
  MF_API_END
}

mf_status_t mf_function_invoke_async(const mf_function_t *function,
                                     const mf_tensor_t *args, size_t num_args,
                                     void *stream) {
  MF_API_BEGIN
  return invokeFunction(function, args, num_args, stream, /*wait=*/false);
  MF_API_END
}

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//

mf_status_t mf_device_alloc(mf_runtime_t *runtime, mf_device_kind_t device,
                            size_t size, void **out_ptr) {
  MF_API_BEGIN
  if (!out_ptr)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "out_ptr is NULL");
  const Backend *backend = nullptr;
  MF_RETURN_IF_ERROR(findDeviceBackend(runtime, device, backend));
  void *ptr = nullptr;
  if (size > 0)
    MF_RETURN_IF_ERROR(backend->allocate(size, &ptr));
  *out_ptr = ptr;
  return nullptr;
  MF_API_END
}

mf_status_t mf_device_free(mf_runtime_t *runtime, mf_device_kind_t device,
                           void *ptr) {
  MF_API_BEGIN
  const Backend *backend = nullptr;
  MF_RETURN_IF_ERROR(findDeviceBackend(runtime, device, backend));
  return ptr ? backend->deallocate(ptr) : nullptr;
  MF_API_END
}

mf_status_t mf_device_copy(mf_runtime_t *runtime, mf_device_kind_t device,
                           void *dst, const void *src, size_t size,
                           mf_copy_kind_t kind) {
  MF_API_BEGIN
  const Backend *backend = nullptr;
  MF_RETURN_IF_ERROR(findDeviceBackend(runtime, device, backend));
  int32_t rawKind;
  std::memcpy(&rawKind, &kind, sizeof(rawKind));
  if (rawKind < MF_COPY_HOST_TO_DEVICE || rawKind > MF_COPY_DEVICE_TO_DEVICE)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "copy kind ", rawKind,
                          " is not an mf_copy_kind_t");
  if (size == 0)
    return nullptr;
  if (!dst || !src)
    return MF_MAKE_STATUS(INVALID_ARGUMENT, "copy of ", size,
                          " bytes with a NULL ", dst ? "src" : "dst");
  return backend->copy(dst, src, size, kind);
  MF_API_END
}

mf_status_t mf_device_synchronize(mf_runtime_t *runtime,
                                  mf_device_kind_t device) {
  MF_API_BEGIN
  const Backend *backend = nullptr;
  MF_RETURN_IF_ERROR(findDeviceBackend(runtime, device, backend));
  return backend->synchronize();
  MF_API_END
}

} // extern "C"
