//===- status.cc - mf_status_t implementation -----------------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "status.h"

/// The object behind a non-NULL mf_status_t.
struct mf_status_s {
  mf_status_code_t code;
  std::string message;
  const char *file;
  int line;
  /// True for the static out-of-memory status, which is never freed.
  bool isStatic;
};

namespace {
/// Returned when a status itself cannot be allocated.
mf_status_s outOfMemory{MF_STATUS_RESOURCE_EXHAUSTED, "out of memory", __FILE__,
                        __LINE__, true};
} // namespace

mf_status_t mf::rt::outOfMemoryStatus() noexcept { return &outOfMemory; }

mf_status_t mf::rt::makeStatus(mf_status_code_t code, const char *file,
                               int line, std::string message) noexcept {
  auto *status = new (std::nothrow)
      mf_status_s{code, std::move(message), file ? file : "", line, false};
  return status ? status : outOfMemoryStatus();
}

mf_status_t mf::rt::annotateStatus(mf_status_t status,
                                   const std::string &prefix) noexcept {
  if (!status || status->isStatic)
    return status;
  try {
    status->message.insert(0, prefix);
  } catch (...) {
    // Keep the unannotated message.
  }
  return status;
}

extern "C" {

mf_status_code_t mf_status_code(mf_status_t status) {
  return status ? status->code : MF_STATUS_OK;
}

const char *mf_status_message(mf_status_t status) {
  return status ? status->message.c_str() : "";
}

void mf_status_source(mf_status_t status, const char **out_file,
                      int *out_line) {
  if (out_file)
    *out_file = status ? status->file : "";
  if (out_line)
    *out_line = status ? status->line : 0;
}

void mf_status_free(mf_status_t status) {
  if (status && !status->isStatic)
    delete status;
}

const char *mf_status_code_name(mf_status_code_t code) {
  static const char *const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "INCOMPATIBLE"};
  auto index = static_cast<unsigned>(code);
  return index < sizeof(kNames) / sizeof(kNames[0]) ? kNames[index]
                                                    : "UNKNOWN_CODE";
}

} // extern "C"
