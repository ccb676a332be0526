/*===- fake_cuda_driver.h - Inspecting the fake CUDA driver -------*- C -*-===*\
|*                                                                            *|
|* Part of MegaFold-MLIR. libmf_fake_cuda.so implements the driver API calls *|
|* the runtime makes over host memory, records them, and fails the ones a    *|
|* test asks it to. Tests point the runtime at it with                       *|
|* MF_CUDA_DRIVER_LIBRARY and reach these functions through dlopen of the    *|
|* same path (FakeCuda in cuda_test_artifact.h).                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MF_RUNTIME_TESTS_FAKE_CUDA_DRIVER_H
#define MF_RUNTIME_TESTS_FAKE_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The image the fake's cuModuleLoadData accepts: this line, then one line
/// per kernel, "<name> <number of 8-byte parameters>".
#define MF_FAKE_CUBIN_MAGIC "MF-FAKE-CUBIN\n"

/// One recorded cuLaunchKernel.
typedef struct mf_fake_launch_t {
  char kernel[64];
  unsigned grid[3];
  unsigned block[3];
  unsigned shared_bytes;
  void *stream;
  int num_params;
  uint64_t params[8];
} mf_fake_launch_t;

/// Forgets the calls, launches and failures; frees leftover allocations.
/// Keeps what the runtime holds for the process: the initialized driver
/// and its primary context. The environment variable MF_FAKE_CUDA_FAIL
/// ("cuInit=100,cuMemAlloc_v2=2") sets failures at load and at every reset.
void mf_fake_cuda_reset(void);
/// Makes every later call of `call` (its exported name, e.g.
/// "cuMemAlloc_v2") fail with `result` (0: succeed again), until reset.
void mf_fake_cuda_fail(const char *call, int result);
/// The exported names of the calls since the reset, each followed by ' '.
const char *mf_fake_cuda_calls(void);
/// How often `call` was made since the reset.
int mf_fake_cuda_count(const char *call);
/// The number of launches since the reset, and launch `index`.
int mf_fake_cuda_launch_count(void);
int mf_fake_cuda_launch(int index, mf_fake_launch_t *out);
/// The number of live allocations (cuMemAlloc and cuMemAllocAsync).
int mf_fake_cuda_live_allocations(void);
/// The stream passed to the last call of `call` that takes one (NULL if
/// none since the reset).
void *mf_fake_cuda_last_stream(const char *call);
/// Makes cuPointerGetAttribute report the allocation at `ptr` as memory of
/// device `ordinal`; returns 0 if there is no such allocation.
int mf_fake_cuda_set_pointer_device(void *ptr, int ordinal);
/// The value last given to cuFuncSetAttribute(`attribute`) of `kernel`,
/// or -1.
int mf_fake_cuda_func_attribute(const char *kernel, int attribute);
/// The primary context's handle.
void *mf_fake_cuda_primary_context(void);
/// The release threshold of the default memory pool (0 unless set).
uint64_t mf_fake_cuda_pool_release_threshold(void);

#ifdef __cplusplus
} // extern "C"
#endif

#endif /* MF_RUNTIME_TESTS_FAKE_CUDA_DRIVER_H */
