//===- runtime.hpp - Header-only C++ wrapper over the C API -----*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// RAII handles over api.h. Nothing here throws: fallible calls return a
// Status or a Result<T>. Runtime and Module are reference-counted handles
// (copying retains); a Function keeps its module alive.
//
//   auto runtime = mf::runtime::Runtime::create();
//   auto module = runtime->loadFile("model.mfa");
//   if (!module.ok()) { puts(module.status().message()); return; }
//   auto add = module->lookup("add");
//   mf::runtime::Status status = add->invoke({a, b, out});
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_RUNTIME_HPP
#define MF_RUNTIME_RUNTIME_HPP

#include "mf/runtime/api.h"

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mf::runtime {

/// Owns an mf_status_t; default-constructed (and moved-from) means OK.
class Status {
public:
  Status() = default;
  /// Takes ownership of `status`.
  explicit Status(mf_status_t status) : status_(status) {}
  Status(Status &&other) noexcept : status_(other.release()) {}
  Status &operator=(Status &&other) noexcept {
    if (this != &other) {
      mf_status_free(status_);
      status_ = other.release();
    }
    return *this;
  }
  Status(const Status &) = delete;
  Status &operator=(const Status &) = delete;
  ~Status() { mf_status_free(status_); }

  bool ok() const { return status_ == nullptr; }
  mf_status_code_t code() const { return mf_status_code(status_); }
  /// The message ("" when OK); valid while this Status lives.
  const char *message() const { return mf_status_message(status_); }
  /// "CODE: message", or "OK".
  std::string toString() const {
    if (ok())
      return "OK";
    return std::string(mf_status_code_name(code())) + ": " + message();
  }
  /// Gives up ownership of the underlying status.
  mf_status_t release() { return std::exchange(status_, nullptr); }

private:
  mf_status_t status_ = nullptr;
};

/// A value or the Status saying why there is none.
template <typename T> class Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  const Status &status() const { return status_; }
  /// Moves the status out (OK if there is a value).
  Status takeStatus() { return std::move(status_); }

  /// The value; only call when ok().
  T &value() & { return *value_; }
  const T &value() const & { return *value_; }
  T &&value() && { return std::move(*value_); }
  T &operator*() & { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }

private:
  Status status_;
  std::optional<T> value_;
};

/// Builds a dense row-major tensor over caller-owned memory.
inline mf_tensor_t makeTensor(void *data, mf_dtype_t dtype,
                              std::initializer_list<int64_t> dims,
                              mf_device_kind_t device = MF_DEVICE_CPU) {
  mf_tensor_t tensor = {};
  tensor.data = data;
  tensor.dtype = dtype;
  tensor.device = device;
  for (int64_t dim : dims)
    if (tensor.rank < MF_MAX_RANK)
      tensor.dims[tensor.rank++] = dim;
  return tensor;
}

/// An entry point; holds a reference to its module.
class Function {
public:
  Function(mf_module_t *module, mf_function_t *function)
      : module_(module), function_(function) {
    mf_module_retain(module_);
  }
  Function(const Function &other) : Function(other.module_, other.function_) {}
  Function &operator=(Function other) {
    std::swap(module_, other.module_);
    std::swap(function_, other.function_);
    return *this;
  }
  ~Function() { mf_module_release(module_); }

  mf_function_t *get() const { return function_; }
  const char *name() const { return mf_function_name(function_); }
  size_t argCount() const { return mf_function_arg_count(function_); }

  /// Describes argument `index`.
  Result<mf_arg_info_t> argInfo(size_t index) const {
    mf_arg_info_t info;
    if (mf_status_t status = mf_function_arg_info(function_, index, &info))
      return Status(status);
    return info;
  }

  /// Runs the function on `args` (inputs then outputs).
  Status invoke(const mf_tensor_t *args, size_t numArgs) const {
    return Status(mf_function_invoke(function_, args, numArgs));
  }
  Status invoke(const std::vector<mf_tensor_t> &args) const {
    return invoke(args.data(), args.size());
  }
  Status invoke(std::initializer_list<mf_tensor_t> args) const {
    return invoke(args.begin(), args.size());
  }

  /// Enqueues the function on `stream` (a CUstream for a cuda module; NULL
  /// for a cpu one, which runs to completion).
  Status invokeAsync(const mf_tensor_t *args, size_t numArgs,
                     void *stream) const {
    return Status(mf_function_invoke_async(function_, args, numArgs, stream));
  }
  Status invokeAsync(const std::vector<mf_tensor_t> &args,
                     void *stream) const {
    return invokeAsync(args.data(), args.size(), stream);
  }
  Status invokeAsync(std::initializer_list<mf_tensor_t> args,
                     void *stream) const {
    return invokeAsync(args.begin(), args.size(), stream);
  }

private:
  mf_module_t *module_;
  mf_function_t *function_;
};

/// A loaded artifact (reference-counted handle).
class Module {
public:
  /// Takes ownership of one reference to `module`.
  explicit Module(mf_module_t *module) : module_(module) {}
  Module(const Module &other) : module_(other.module_) {
    mf_module_retain(module_);
  }
  Module &operator=(Module other) {
    std::swap(module_, other.module_);
    return *this;
  }
  ~Module() { mf_module_release(module_); }

  mf_module_t *get() const { return module_; }
  const char *target() const { return mf_module_target(module_); }
  const char *chip() const { return mf_module_chip(module_); }
  const char *producer() const { return mf_module_producer(module_); }
  size_t entryCount() const { return mf_module_entry_count(module_); }
  const char *entryName(size_t index) const {
    return mf_module_entry_name(module_, index);
  }

  /// Finds the entry point called `name`.
  Result<Function> lookup(const char *name) const {
    mf_function_t *function = nullptr;
    if (mf_status_t status =
            mf_module_lookup_function(module_, name, &function))
      return Status(status);
    return Function(module_, function);
  }
  Result<Function> lookup(const std::string &name) const {
    return lookup(name.c_str());
  }

private:
  mf_module_t *module_;
};

/// The root object (reference-counted handle).
class Runtime {
public:
  /// Takes ownership of one reference to `runtime`.
  explicit Runtime(mf_runtime_t *runtime) : runtime_(runtime) {}
  Runtime(const Runtime &other) : runtime_(other.runtime_) {
    mf_runtime_retain(runtime_);
  }
  Runtime &operator=(Runtime other) {
    std::swap(runtime_, other.runtime_);
    return *this;
  }
  ~Runtime() { mf_runtime_release(runtime_); }

  /// Creates a runtime with every backend built into the library.
  static Result<Runtime> create() {
    mf_runtime_t *runtime = nullptr;
    if (mf_status_t status = mf_runtime_create(&runtime))
      return Status(status);
    return Runtime(runtime);
  }

  mf_runtime_t *get() const { return runtime_; }

  /// Loads the artifact at `path`.
  Result<Module> loadFile(const std::string &path) const {
    mf_module_t *module = nullptr;
    if (mf_status_t status =
            mf_module_load_file(runtime_, path.c_str(), &module))
      return Status(status);
    return Module(module);
  }

  /// Loads an artifact from `size` bytes at `data`.
  Result<Module> loadMemory(const void *data, size_t size) const {
    mf_module_t *module = nullptr;
    if (mf_status_t status =
            mf_module_load_memory(runtime_, data, size, &module))
      return Status(status);
    return Module(module);
  }

  /// Device memory helpers (see mf_device_alloc and friends).
  Result<void *> deviceAlloc(mf_device_kind_t device, size_t size) const {
    void *ptr = nullptr;
    if (mf_status_t status = mf_device_alloc(runtime_, device, size, &ptr))
      return Status(status);
    return ptr;
  }
  Status deviceFree(mf_device_kind_t device, void *ptr) const {
    return Status(mf_device_free(runtime_, device, ptr));
  }
  Status deviceCopy(mf_device_kind_t device, void *dst, const void *src,
                    size_t size, mf_copy_kind_t kind) const {
    return Status(mf_device_copy(runtime_, device, dst, src, size, kind));
  }
  Status deviceSynchronize(mf_device_kind_t device) const {
    return Status(mf_device_synchronize(runtime_, device));
  }

private:
  mf_runtime_t *runtime_;
};

} // namespace mf::runtime

#endif // MF_RUNTIME_RUNTIME_HPP
