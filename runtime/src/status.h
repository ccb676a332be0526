//===- status.h - Making mf_status_t values ---------------------*- C++ -*-===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Internal helpers to build statuses with formatted messages, and the guard
// every extern "C" entry point wraps its body in.
//
//===----------------------------------------------------------------------===//

#ifndef MF_RUNTIME_SRC_STATUS_H
#define MF_RUNTIME_SRC_STATUS_H

#include "mf/runtime/api.h"

#include <new>
#include <sstream>
#include <string>

namespace mf::rt {

/// Allocates a status; never throws (falls back to a static out-of-memory
/// status that mf_status_free ignores).
mf_status_t makeStatus(mf_status_code_t code, const char *file, int line,
                       std::string message) noexcept;

/// Prepends `prefix` to the message of `status` (NULL stays NULL).
mf_status_t annotateStatus(mf_status_t status,
                           const std::string &prefix) noexcept;

/// Returns the static out-of-memory status.
mf_status_t outOfMemoryStatus() noexcept;

/// Concatenates the streamed form of every argument.
template <typename... Args> std::string concat(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

} // namespace mf::rt

/// Makes a status with code MF_STATUS_<CODE> and the concatenated message.
#define MF_MAKE_STATUS(CODE, ...)                                              \
  ::mf::rt::makeStatus(MF_STATUS_##CODE, __FILE__, __LINE__,                   \
                       ::mf::rt::concat(__VA_ARGS__))

/// Opens the body of an extern "C" function returning mf_status_t.
#define MF_API_BEGIN try {
/// Closes it: any exception becomes a status, never escaping to C.
#define MF_API_END                                                             \
  }                                                                            \
  catch (const std::bad_alloc &) {                                             \
    return ::mf::rt::outOfMemoryStatus();                                      \
  }                                                                            \
  catch (const std::exception &e) {                                            \
    return MF_MAKE_STATUS(INTERNAL, "unexpected exception: ", e.what());       \
  }                                                                            \
  catch (...) {                                                                \
    return MF_MAKE_STATUS(INTERNAL, "unexpected unknown exception");           \
  }

#endif // MF_RUNTIME_SRC_STATUS_H
