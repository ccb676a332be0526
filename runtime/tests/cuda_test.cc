//===- cuda_test.cc - Tests of the CUDA backend over a fake driver --------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// No GPU needed: the runtime opens libmf_fake_cuda.so as its driver, and the
// artifact's host code is fake_cuda_module.c.
//
//===----------------------------------------------------------------------===//

#include "cuda_test_artifact.h"

#include "mf/runtime/api.h"
#include "mf/runtime/runtime.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

extern "C" {
void *mgpuStreamCreate(void);
void mgpuStreamDestroy(void *stream);
}

using namespace mf::test;

namespace {

// The runtime opens the driver once per process, on first use.
[[maybe_unused]] const bool kUsesFakeDriver = (useFakeCudaDriver(), true);

/// A caller's stream, as PyTorch would pass it.
void *const kStream = reinterpret_cast<void *>(0x5100);

/// Expects `status` to have `code` and a message containing `text`; frees it.
void expectStatus(mf_status_t status, mf_status_code_t code,
                  const std::string &text) {
  ASSERT_NE(status, nullptr) << "expected " << mf_status_code_name(code);
  EXPECT_EQ(mf_status_code(status), code) << mf_status_message(status);
  EXPECT_NE(std::string(mf_status_message(status)).find(text),
            std::string::npos)
      << "message: " << mf_status_message(status) << "\nwanted: " << text;
  mf_status_free(status);
}

/// Expects success, printing the message otherwise.
void expectOk(mf_status_t status) {
  EXPECT_EQ(status, nullptr) << mf_status_message(status);
  mf_status_free(status);
}

/// A rank-1 f32 CUDA tensor of `n` elements at `data`.
mf_tensor_t cudaVec(void *data, int64_t n) {
  mf_tensor_t tensor = {};
  tensor.data = data;
  tensor.dtype = MF_DTYPE_F32;
  tensor.rank = 1;
  tensor.dims[0] = n;
  tensor.device = MF_DEVICE_CUDA;
  return tensor;
}

uint64_t bits(const void *ptr) { return reinterpret_cast<uintptr_t>(ptr); }

/// A runtime with the fake CUDA artifact loaded, and two device buffers.
class CudaTest : public ::testing::Test {
protected:
  void SetUp() override {
    fake.reset();
    ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
    std::string bytes = makeCudaArtifact();
    mf_status_t status =
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module);
    ASSERT_EQ(status, nullptr) << mf_status_message(status);
    ASSERT_EQ(mf_module_lookup_function(module, "scale", &scale), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "staged", &staged), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "missing", &missing),
              nullptr);
    x = alloc(kN * 4);
    out = alloc(kN * 4);
  }

  void TearDown() override {
    expectOk(mf_device_free(runtime, MF_DEVICE_CUDA, x));
    expectOk(mf_device_free(runtime, MF_DEVICE_CUDA, out));
    mf_module_release(module);
    mf_runtime_release(runtime);
    EXPECT_EQ(fake.liveAllocations(), 0) << "leaked device memory";
  }

  void *alloc(size_t size) {
    void *ptr = nullptr;
    expectOk(mf_device_alloc(runtime, MF_DEVICE_CUDA, size, &ptr));
    return ptr;
  }

  /// The only launch since the reset.
  mf_fake_launch_t onlyLaunch() {
    mf_fake_launch_t launch = {};
    EXPECT_EQ(fake.launchCount(), 1);
    fake.launch(0, &launch);
    return launch;
  }

  static constexpr int64_t kN = 200;
  FakeCuda &fake = fakeCuda();
  mf_runtime_t *runtime = nullptr;
  mf_module_t *module = nullptr;
  mf_function_t *scale = nullptr, *staged = nullptr, *missing = nullptr;
  void *x = nullptr, *out = nullptr;
};

TEST_F(CudaTest, LoadsTheImageAndUnloadsItOnRelease) {
  EXPECT_STREQ(mf_module_target(module), "cuda");
  EXPECT_STREQ(mf_module_chip(module), "sm_90a");
  EXPECT_EQ(fake.count("cuModuleLoadData"), 1);
  EXPECT_EQ(fake.count("cuModuleUnload"), 0);
  mf_module_release(module);
  module = nullptr;
  EXPECT_EQ(fake.count("cuModuleUnload"), 1);
}

TEST_F(CudaTest, InvokeAsyncLaunchesOnTheCallersStream) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
  mf_fake_launch_t launch = onlyLaunch();
  EXPECT_STREQ(launch.kernel, "scale_kernel");
  EXPECT_EQ(launch.grid[0], 2u);
  EXPECT_EQ(launch.grid[1], 1u);
  EXPECT_EQ(launch.grid[2], 1u);
  EXPECT_EQ(launch.block[0], 128u);
  EXPECT_EQ(launch.block[1], 1u);
  EXPECT_EQ(launch.block[2], 1u);
  EXPECT_EQ(launch.shared_bytes, 0u);
  EXPECT_EQ(launch.stream, kStream);
  ASSERT_EQ(launch.num_params, 3);
  EXPECT_EQ(launch.params[0], bits(x));
  EXPECT_EQ(launch.params[1], bits(out));
  EXPECT_EQ(launch.params[2], uint64_t(kN));
  // The code's stream is the caller's: not created, waited for or
  // destroyed.
  EXPECT_EQ(fake.count("cuStreamCreate"), 0);
  EXPECT_EQ(fake.count("cuStreamSynchronize"), 0);
  EXPECT_EQ(fake.count("cuStreamDestroy_v2"), 0);
}

TEST_F(CudaTest, InvokeRunsOnTheDefaultStreamAndWaitsForIt) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectOk(mf_function_invoke(scale, args, 2));
  EXPECT_EQ(onlyLaunch().stream, nullptr);
  EXPECT_EQ(fake.count("cuStreamSynchronize"), 1);
  EXPECT_EQ(fake.lastStream("cuStreamSynchronize"), nullptr);
  std::string calls = fake.calls();
  EXPECT_LT(calls.find("cuLaunchKernel"), calls.find("cuStreamSynchronize"))
      << calls;
}

TEST_F(CudaTest, TheCallersContextIsRestored) {
  int object = 0;
  auto *otherContext = reinterpret_cast<CUctx_st *>(&object);
  ASSERT_EQ(fake.ctxSetCurrent(otherContext), 0);
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  // The fake refuses the launch unless the primary context is current.
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
  CUctx_st *current = nullptr;
  ASSERT_EQ(fake.ctxGetCurrent(&current), 0);
  EXPECT_EQ(current, otherContext);
  ASSERT_EQ(fake.ctxSetCurrent(nullptr), 0);
}

TEST_F(CudaTest, TemporariesAreStreamOrderedAndSharedMemoryOptedIn) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectOk(mf_function_invoke_async(staged, args, 2, kStream));
  for (const char *call :
       {"cuMemAllocAsync", "cuMemsetD32Async", "cuEventRecord",
        "cuStreamWaitEvent", "cuLaunchKernel", "cuMemcpyAsync",
        "cuMemFreeAsync"}) {
    EXPECT_EQ(fake.count(call), 1) << call;
    EXPECT_EQ(fake.lastStream(call), kStream) << call;
  }
  EXPECT_EQ(fake.count("cuEventCreate"), 1);
  EXPECT_EQ(fake.count("cuEventDestroy_v2"), 1);
  EXPECT_EQ(fake.count("cuMemAlloc_v2"), 2); // SetUp's x and out only
  EXPECT_EQ(fake.funcAttribute("staged_kernel", 8), 64 * 1024);
  // Pooled temporaries stay mapped between calls.
  EXPECT_EQ(fake.poolReleaseThreshold(), UINT64_MAX);
  mf_fake_launch_t launch = onlyLaunch();
  EXPECT_EQ(launch.shared_bytes, 64u * 1024);
  EXPECT_EQ(launch.grid[0], uint64_t(kN));
  EXPECT_NE(launch.params[0], 0u);
  EXPECT_EQ(launch.params[1], bits(x));
  // The fake performs memsets and copies: out is the temporary's 1.0f.
  std::vector<float> host(kN, 0.0f);
  expectOk(mf_device_copy(runtime, MF_DEVICE_CUDA, host.data(), out, kN * 4,
                          MF_COPY_DEVICE_TO_HOST));
  for (int64_t i = 0; i < kN; ++i)
    ASSERT_EQ(host[i], 1.0f) << "element " << i;
}

TEST_F(CudaTest, ModuleLoadFailureNamesTheCallAndTheError) {
  fake.fail("cuModuleLoadData", 1);
  mf_status_t status = tryLoad(makeCudaArtifact());
  expectStatus(status, MF_STATUS_UNKNOWN,
               "blob 'host': cuModuleLoadData failed: "
               "CUDA_ERROR_INVALID_VALUE (mgpuModuleLoad of a ");
  // The failed module is not unloaded; the loaded one stays.
  EXPECT_EQ(fake.count("cuModuleUnload"), 0);
}

TEST_F(CudaTest, LaunchFailureNamesTheKernelAndTheLaunch) {
  fake.fail("cuLaunchKernel", 1);
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  mf_status_t status = mf_function_invoke_async(scale, args, 2, kStream);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_UNKNOWN);
  EXPECT_STREQ(mf_status_message(status),
               "entry 'scale': cuLaunchKernel failed: "
               "CUDA_ERROR_INVALID_VALUE (kernel scale_kernel, grid 2x1x1, "
               "block 128x1x1, 0 bytes shared)");
  mf_status_free(status);
  // The error belonged to that invocation only.
  fake.fail("cuLaunchKernel", 0);
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
}

TEST_F(CudaTest, AfterAnErrorWorkIsSkippedButReleasesRun) {
  fake.fail("cuLaunchKernel", 1);
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectStatus(mf_function_invoke_async(staged, args, 2, kStream),
               MF_STATUS_UNKNOWN,
               "entry 'staged': cuLaunchKernel failed: "
               "CUDA_ERROR_INVALID_VALUE (kernel staged_kernel, grid 200x1x1, "
               "block 32x1x1, 65536 bytes shared)");
  EXPECT_EQ(fake.count("cuMemcpyAsync"), 0);
  EXPECT_EQ(fake.count("cuMemFreeAsync"), 1); // TearDown checks for leaks
}

TEST_F(CudaTest, AMissingKernelIsReportedAndNeverLaunched) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectStatus(mf_function_invoke_async(missing, args, 2, kStream),
               MF_STATUS_UNKNOWN,
               "entry 'missing': cuModuleGetFunction failed: "
               "CUDA_ERROR_NOT_FOUND (kernel no_such_kernel)");
  EXPECT_EQ(fake.count("cuLaunchKernel"), 0);
}

TEST_F(CudaTest, WaitingReportsErrorsOfTheWork) {
  fake.fail("cuStreamSynchronize", 700);
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectStatus(mf_function_invoke(scale, args, 2), MF_STATUS_UNKNOWN,
               "entry 'scale': cuStreamSynchronize failed: "
               "CUDA_ERROR_ILLEGAL_ADDRESS");
}

TEST_F(CudaTest, HostTensorsAreRefused) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  args[0].device = MF_DEVICE_CPU;
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'scale': argument 0 'x': device is cpu but this module "
               "runs on cuda");
  alignas(16) static float host[kN];
  args[0].device = MF_DEVICE_CUDA;
  args[1].data = host;
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is not CUDA memory (host memory?); cuda tensors need device "
               "pointers");
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT, "entry 'scale': argument 1 'out': ");
  EXPECT_EQ(fake.launchCount(), 0);
}

TEST_F(CudaTest, MisalignedPointersAreRefused) {
  mf_tensor_t args[] = {cudaVec(static_cast<char *>(x) + 4, kN - 1),
                        cudaVec(out, kN - 1)};
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'scale': argument 0 'x': data pointer ");
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is not aligned to 16 bytes, which cuda tensors need");
  EXPECT_EQ(fake.launchCount(), 0);
}

TEST_F(CudaTest, MemoryOfAnotherDeviceIsRefused) {
  ASSERT_EQ(fake.setPointerDevice(out, 1), 1);
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is memory of CUDA device 1 but the runtime runs on device 0");
}

TEST_F(CudaTest, AStreamIsRefusedByCpuModules) {
  std::string bytes = makeArtifact();
  mf_module_t *cpuModule = nullptr;
  ASSERT_EQ(mf_module_load_memory(runtime, bytes.data(), bytes.size(),
                                  &cpuModule),
            nullptr);
  mf_function_t *add = nullptr;
  ASSERT_EQ(mf_module_lookup_function(cpuModule, "add", &add), nullptr);
  std::vector<float> a(4, 1.0f), b(4, 2.0f), sum(4, 0.0f);
  mf_tensor_t args[3] = {};
  for (int i = 0; i < 3; ++i) {
    args[i].data = (i == 0 ? a : i == 1 ? b : sum).data();
    args[i].dtype = MF_DTYPE_F32;
    args[i].rank = 1;
    args[i].dims[0] = 4;
  }
  expectStatus(mf_function_invoke_async(add, args, 3, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'add': a cpu module runs synchronously and takes no "
               "stream");
  expectOk(mf_function_invoke_async(add, args, 3, nullptr));
  EXPECT_EQ(sum, std::vector<float>(4, 3.0f));
  mf_module_release(cpuModule);
}

TEST_F(CudaTest, DeviceMemoryRoundTrip) {
  std::vector<float> input(kN), output(kN, 0.0f);
  for (int64_t i = 0; i < kN; ++i)
    input[i] = 0.25f * static_cast<float>(i);
  expectOk(mf_device_copy(runtime, MF_DEVICE_CUDA, x, input.data(), kN * 4,
                          MF_COPY_HOST_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_CUDA, out, x, kN * 4,
                          MF_COPY_DEVICE_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_CUDA, output.data(), out,
                          kN * 4, MF_COPY_DEVICE_TO_HOST));
  EXPECT_EQ(output, input);
  expectOk(mf_device_synchronize(runtime, MF_DEVICE_CUDA));
  for (const char *call : {"cuMemcpyHtoD_v2", "cuMemcpyDtoD_v2",
                           "cuMemcpyDtoH_v2", "cuCtxSynchronize"})
    EXPECT_EQ(fake.count(call), 1) << call;

  void *empty = reinterpret_cast<void *>(1);
  expectOk(mf_device_alloc(runtime, MF_DEVICE_CUDA, 0, &empty));
  EXPECT_EQ(empty, nullptr);
  expectOk(mf_device_free(runtime, MF_DEVICE_CUDA, nullptr));
  expectStatus(mf_device_copy(runtime, MF_DEVICE_CUDA, x, out, 4,
                              static_cast<mf_copy_kind_t>(7)),
               MF_STATUS_INVALID_ARGUMENT, "copy kind 7");
  expectStatus(mf_device_alloc(runtime, static_cast<mf_device_kind_t>(9), 16,
                               &empty),
               MF_STATUS_UNIMPLEMENTED, "device unknown (9) is not supported");

  fake.fail("cuMemAlloc_v2", 2);
  void *ptr = nullptr;
  expectStatus(mf_device_alloc(runtime, MF_DEVICE_CUDA, 1024, &ptr),
               MF_STATUS_RESOURCE_EXHAUSTED,
               "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (1024 bytes)");
  EXPECT_EQ(ptr, nullptr);
  fake.fail("cuMemcpyDtoH_v2", 1);
  expectStatus(mf_device_copy(runtime, MF_DEVICE_CUDA, output.data(), out, 8,
                              MF_COPY_DEVICE_TO_HOST),
               MF_STATUS_UNKNOWN,
               "cuMemcpyDtoH failed: CUDA_ERROR_INVALID_VALUE (8 bytes from ");
}

TEST_F(CudaTest, MgpuCallsOutsideAnInvocationMakeRealStreams) {
  void *stream = mgpuStreamCreate();
  EXPECT_NE(stream, nullptr);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(fake.count("cuStreamCreate"), 1);
  EXPECT_EQ(fake.count("cuStreamDestroy_v2"), 1);
  CUctx_st *current = reinterpret_cast<CUctx_st *>(1);
  ASSERT_EQ(fake.ctxGetCurrent(&current), 0);
  EXPECT_EQ(current, nullptr);
}

TEST_F(CudaTest, ThreadsInvokeConcurrently) {
  mf_tensor_t args[] = {cudaVec(x, kN), cudaVec(out, kN)};
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        mf_status_t status = mf_function_invoke_async(staged, args, 2, kStream);
        failures[t] += status != nullptr;
        mf_status_free(status);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
  EXPECT_EQ(fake.launchCount(), 100);
}

TEST_F(CudaTest, CppWrapper) {
  mf_runtime_retain(runtime);
  mf::runtime::Runtime wrapped(runtime);
  mf::runtime::Result<void *> buffer =
      wrapped.deviceAlloc(MF_DEVICE_CUDA, kN * 4);
  ASSERT_TRUE(buffer.ok()) << buffer.status().toString();
  std::string bytes = makeCudaArtifact();
  auto loaded = wrapped.loadMemory(bytes.data(), bytes.size());
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  auto function = loaded->lookup("scale");
  ASSERT_TRUE(function.ok());
  mf::runtime::Status status =
      function->invokeAsync({mf::runtime::makeTensor(*buffer, MF_DTYPE_F32,
                                                     {kN}, MF_DEVICE_CUDA),
                             cudaVec(out, kN)},
                            kStream);
  EXPECT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(onlyLaunch().params[0], bits(*buffer));
  EXPECT_TRUE(wrapped.deviceSynchronize(MF_DEVICE_CUDA).ok());
  EXPECT_TRUE(wrapped.deviceFree(MF_DEVICE_CUDA, *buffer).ok());
}

} // namespace
