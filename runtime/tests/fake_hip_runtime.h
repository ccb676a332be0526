/*===- fake_hip_runtime.h - Inspecting the fake HIP runtime -------*- C -*-===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. libmf_fake_amdhip64.so implements the HIP runtime  *|
|* calls the runtime makes over host memory, records them, and fails the     *|
|* ones a test asks it to. Tests point the runtime at it with                *|
|* MF_HIP_RUNTIME_LIBRARY and reach these functions through dlopen of the    *|
|* same path (FakeHip in hip_test_artifact.h).                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MF_RUNTIME_TESTS_FAKE_HIP_RUNTIME_H
#define MF_RUNTIME_TESTS_FAKE_HIP_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The code object the fake's hipModuleLoadData accepts: this line, then
/// one line per kernel, "<name> <number of 8-byte parameters>".
#define MF_FAKE_HSACO_MAGIC "MF-FAKE-HSACO\n"

/// The most kernel parameters a launch records.
#define MF_FAKE_HIP_MAX_PARAMS 32

/// One recorded hipModuleLaunchKernel.
typedef struct mf_fake_hip_launch_t {
  char kernel[64];
  unsigned grid[3];
  unsigned block[3];
  unsigned shared_bytes;
  void *stream;
  /// The thread's current device at the launch.
  int device;
  int num_params;
  uint64_t params[MF_FAKE_HIP_MAX_PARAMS];
} mf_fake_hip_launch_t;

/// Forgets the calls, launches and failures; frees leftover allocations.
/// Keeps the initialization. The environment variable MF_FAKE_HIP_FAIL
/// ("hipInit=100,hipMalloc=2") sets failures at load and at every reset;
/// MF_FAKE_HIP_VERSION sets what hipRuntimeGetVersion reports (default
/// 60200000, ROCm 6.2).
void mf_fake_hip_reset(void);
/// Makes every later call of `call` (e.g. "hipMalloc") fail with `error`
/// (0: succeed again), until reset.
void mf_fake_hip_fail(const char *call, int error);
/// The names of the calls since the reset, each followed by ' '.
const char *mf_fake_hip_calls(void);
/// How often `call` was made since the reset.
int mf_fake_hip_count(const char *call);
/// The number of launches since the reset, and launch `index`.
int mf_fake_hip_launch_count(void);
int mf_fake_hip_launch(int index, mf_fake_hip_launch_t *out);
/// The number of live allocations (hipMalloc and hipMallocAsync).
int mf_fake_hip_live_allocations(void);
/// The stream passed to the last call of `call` that takes one (NULL if
/// none since the reset).
void *mf_fake_hip_last_stream(const char *call);
/// Makes hipPointerGetAttributes report the allocation at `ptr` as memory
/// of `type` (hipMemoryType of ROCm 6) on device `device`; returns 0 if
/// there is no such allocation.
int mf_fake_hip_set_pointer(void *ptr, int type, int device);
/// The number of modules loaded and not unloaded.
int mf_fake_hip_live_modules(void);

#ifdef __cplusplus
} // extern "C"
#endif

#endif /* MF_RUNTIME_TESTS_FAKE_HIP_RUNTIME_H */
