//===- hip_mgpu.h - The state of compiled code's mgpu* calls ----*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// As for CUDA (../cuda/cuda_mgpu.h): the mgpu* functions of rocm host code
// return no errors, so the backend opens a CallScope around everything that
// runs compiled code on a thread (dlopen, which runs the module-load
// constructors; an entry call; dlclose). The first failure is kept there,
// later calls that would start work are skipped, calls that release things
// still run, and the scope names the invocation's stream. While it lasts,
// the thread's mgpu* calls go to this backend (../mgpu.h).
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_HIP_HIP_MGPU_H
#define MF_RUNTIME_SRC_BACKENDS_HIP_HIP_MGPU_H

#include "hip_runtime.h"

#include "../mgpu.h"

#include <string>

namespace mf::rt::hip {

/// The active HIP scope of the mgpu* calls on this thread (scopes nest).
class CallScope {
public:
  /// Outside an invocation: mgpuStreamCreate makes real streams.
  explicit CallScope(const Runtime &runtime);
  /// An invocation on `stream`: mgpuStreamCreate returns it, and its
  /// synchronization and destruction are no-ops.
  CallScope(const Runtime &runtime, hipStream_t stream);
  CallScope(const CallScope &) = delete;
  CallScope &operator=(const CallScope &) = delete;
  ~CallScope();

  /// The first error as a status with `prefix`, or NULL.
  mf_status_t status(const std::string &prefix) const;

  /// Records a failed HIP call, unless an error is already recorded.
  void fail(const char *call, hipError_t error, std::string detail) noexcept;
  /// Records a failure that is no HIP call.
  void fail(const char *call, mf_status_code_t code,
            std::string detail) noexcept;
  bool failed() const { return failedCall != nullptr; }

  const Runtime &runtime;
  /// Whether this is an invocation, and its stream.
  const bool hasStream;
  const hipStream_t stream;
  /// The function last looked up and its name (the code looks each kernel
  /// up right before launching it; HIP cannot name a function), to name
  /// kernels in errors.
  hipFunction_t lastFunction = nullptr;
  const char *lastFunctionName = nullptr;

private:
  mgpu::DispatchScope dispatch;
  CallScope *previous;
  /// The first error: the call (a string literal), then HIP's error, or a
  /// code without one.
  const char *failedCall = nullptr;
  bool hasError = false;
  hipError_t error = hipSuccess;
  mf_status_code_t code = MF_STATUS_OK;
  std::string detail;
};

} // namespace mf::rt::hip

#endif // MF_RUNTIME_SRC_BACKENDS_HIP_HIP_MGPU_H
