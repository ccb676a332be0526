//===- cuda_mgpu.h - The state of compiled code's mgpu* calls ---*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Host code that MLIR's gpu-to-llvm emits calls mgpu* functions (module
// load, kernel launch, streams, memory), defined in cuda_mgpu.cc over the
// driver. They return no errors, so the backend opens a CallScope around
// everything that runs compiled code on a thread (dlopen, which runs the
// module-load constructors; an entry call; dlclose): the first failure is
// kept there, and later calls that would start work are skipped (never a
// launch with a NULL function or pointer); calls that release things still
// run. The scope also names the invocation's stream (see api.h).
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_MGPU_H
#define MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_MGPU_H

#include "cuda_driver.h"

#include "../mgpu.h"

#include <string>

namespace mf::rt::cuda {

/// The active scope of the mgpu* calls on this thread (scopes nest); routes
/// them to this backend while it lasts.
class CallScope {
public:
  /// Outside an invocation: mgpuStreamCreate makes real streams.
  explicit CallScope(const Driver &driver);
  /// An invocation on `stream`: mgpuStreamCreate returns it, and its
  /// synchronization and destruction are no-ops.
  CallScope(const Driver &driver, CUstream stream);
  CallScope(const CallScope &) = delete;
  CallScope &operator=(const CallScope &) = delete;
  ~CallScope();

  /// The scope of this thread, or NULL.
  static CallScope *active();

  /// The first error as a status with `prefix`, or NULL.
  mf_status_t status(const std::string &prefix) const;

  /// Records a failed driver call, unless an error is already recorded.
  void fail(const char *call, CUresult result, std::string detail) noexcept;
  /// Records a failure that is no driver call.
  void fail(const char *call, mf_status_code_t code,
            std::string detail) noexcept;
  bool failed() const { return failedCall != nullptr; }

  const Driver &driver;
  /// Whether this is an invocation, and its stream.
  const bool hasStream;
  const CUstream stream;
  /// The function last looked up and its name (the code looks each kernel
  /// up right before launching it), to name kernels in errors.
  CUfunction lastFunction = nullptr;
  const char *lastFunctionName = nullptr;

private:
  mgpu::DispatchScope dispatch;
  CallScope *previous;
  /// The first error: the call (a string literal), then the driver's
  /// result, or a code without one.
  const char *failedCall = nullptr;
  bool hasResult = false;
  CUresult result = CUDA_SUCCESS;
  mf_status_code_t code = MF_STATUS_OK;
  std::string detail;
};

} // namespace mf::rt::cuda

#endif // MF_RUNTIME_SRC_BACKENDS_CUDA_CUDA_MGPU_H
