//===- hip_test.cc - Tests of the HIP backend over a fake HIP runtime -----===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// No GPU needed: the runtime opens libmf_fake_amdhip64.so as its HIP
// runtime, and the artifact's host code is fake_rocm_module.c.
//
//===----------------------------------------------------------------------===//

#include "hip_test_artifact.h"

#include "mf/runtime/api.h"
#include "mf/runtime/runtime.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using namespace mf::test;

namespace {

// The runtime opens the HIP runtime once per process, on first use.
[[maybe_unused]] const bool kUsesFakeHip = (useFakeHipRuntime(), true);

/// A caller's stream, as PyTorch would pass it.
void *const kStream = reinterpret_cast<void *>(0x5200);

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

/// A HIP tensor of `dtype` with `dims` at `data`.
mf_tensor_t hipTensor(void *data, mf_dtype_t dtype,
                      std::initializer_list<int64_t> dims) {
  mf_tensor_t tensor = {};
  tensor.data = data;
  tensor.dtype = dtype;
  tensor.rank = static_cast<int32_t>(dims.size());
  int d = 0;
  for (int64_t dim : dims)
    tensor.dims[d++] = dim;
  tensor.device = MF_DEVICE_HIP;
  return tensor;
}

/// A rank-1 f32 HIP tensor of `n` elements at `data`.
mf_tensor_t hipVec(void *data, int64_t n) {
  return hipTensor(data, MF_DTYPE_F32, {n});
}

uint64_t bits(const void *ptr) { return reinterpret_cast<uintptr_t>(ptr); }

/// A runtime with the fake rocm artifact loaded, and two device buffers.
class HipTest : public ::testing::Test {
protected:
  void SetUp() override {
    fake.reset();
    ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
    std::string bytes = makeRocmArtifact();
    mf_status_t status =
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module);
    ASSERT_EQ(status, nullptr) << mf_status_message(status);
    ASSERT_EQ(mf_module_lookup_function(module, "scale", &scale), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "staged", &staged), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "missing", &missing), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "marshal", &marshal), nullptr);
    x = alloc(kN * 4);
    out = alloc(kN * 4);
  }

  void TearDown() override {
    for (void *ptr : {x, out})
      expectOk(mf_device_free(runtime, MF_DEVICE_HIP, ptr));
    mf_module_release(module);
    mf_runtime_release(runtime);
    EXPECT_EQ(fake.liveAllocations(), 0) << "leaked device memory";
  }

  void *alloc(size_t size) {
    void *ptr = nullptr;
    expectOk(mf_device_alloc(runtime, MF_DEVICE_HIP, size, &ptr));
    return ptr;
  }

  /// The only launch since the reset.
  mf_fake_hip_launch_t onlyLaunch() {
    mf_fake_hip_launch_t launch = {};
    EXPECT_EQ(fake.launchCount(), 1);
    fake.launch(0, &launch);
    return launch;
  }

  static constexpr int64_t kN = 200;
  FakeHip &fake = fakeHip();
  mf_runtime_t *runtime = nullptr;
  mf_module_t *module = nullptr;
  mf_function_t *scale = nullptr, *staged = nullptr, *missing = nullptr,
                *marshal = nullptr;
  void *x = nullptr, *out = nullptr;
};

TEST_F(HipTest, LoadsTheCodeObjectAndUnloadsItOnRelease) {
  EXPECT_STREQ(mf_module_target(module), "rocm");
  EXPECT_STREQ(mf_module_chip(module), "gfx942");
  EXPECT_EQ(fake.count("hipModuleLoadData"), 1);
  EXPECT_EQ(fake.liveModules(), 1);
  mf_module_release(module);
  module = nullptr;
  EXPECT_EQ(fake.count("hipModuleUnload"), 1);
  EXPECT_EQ(fake.liveModules(), 0);
}

TEST_F(HipTest, OtherChipsLoadToo) {
  for (const char *chip : {"gfx90a", "gfx1100"}) {
    std::string bytes = makeRocmArtifact(chip);
    mf_module_t *other = nullptr;
    expectOk(
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &other));
    EXPECT_STREQ(mf_module_chip(other), chip);
    mf_module_release(other);
  }
}

TEST_F(HipTest, InvokeAsyncLaunchesOnTheCallersStream) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
  mf_fake_hip_launch_t launch = onlyLaunch();
  EXPECT_STREQ(launch.kernel, "scale_kernel");
  EXPECT_EQ(launch.grid[0], 1u);
  EXPECT_EQ(launch.grid[1], 1u);
  EXPECT_EQ(launch.grid[2], 1u);
  EXPECT_EQ(launch.block[0], 256u);
  EXPECT_EQ(launch.block[1], 1u);
  EXPECT_EQ(launch.block[2], 1u);
  EXPECT_EQ(launch.shared_bytes, 0u);
  EXPECT_EQ(launch.stream, kStream);
  EXPECT_EQ(launch.device, 0);
  ASSERT_EQ(launch.num_params, 3);
  EXPECT_EQ(launch.params[0], bits(x));
  EXPECT_EQ(launch.params[1], bits(out));
  EXPECT_EQ(launch.params[2], uint64_t(kN));
  // The code's stream is the caller's: not created, waited for or
  // destroyed.
  EXPECT_EQ(fake.count("hipStreamCreateWithFlags"), 0);
  EXPECT_EQ(fake.count("hipStreamSynchronize"), 0);
  EXPECT_EQ(fake.count("hipStreamDestroy"), 0);
}

TEST_F(HipTest, InvokeRunsOnTheNullStreamAndWaitsForIt) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectOk(mf_function_invoke(scale, args, 2));
  EXPECT_EQ(onlyLaunch().stream, nullptr);
  EXPECT_EQ(fake.count("hipStreamSynchronize"), 1);
  EXPECT_EQ(fake.lastStream("hipStreamSynchronize"), nullptr);
  std::string calls = fake.calls();
  EXPECT_LT(calls.find("hipModuleLaunchKernel"),
            calls.find("hipStreamSynchronize"))
      << calls;
}

TEST_F(HipTest, TheCallersDeviceIsRestored) {
  ASSERT_EQ(fake.setDevice(1), 0);
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  // The fake refuses the launch unless the module's device is current.
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
  EXPECT_EQ(onlyLaunch().device, 0);
  int current = -1;
  ASSERT_EQ(fake.getDevice(&current), 0);
  EXPECT_EQ(current, 1);
  ASSERT_EQ(fake.setDevice(0), 0);
}

TEST_F(HipTest, TemporariesAreStreamOrdered) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectOk(mf_function_invoke_async(staged, args, 2, kStream));
  for (const char *call :
       {"hipMallocAsync", "hipMemsetD32Async", "hipEventRecord",
        "hipStreamWaitEvent", "hipModuleLaunchKernel", "hipMemcpyAsync",
        "hipFreeAsync"}) {
    EXPECT_EQ(fake.count(call), 1) << call;
    EXPECT_EQ(fake.lastStream(call), kStream) << call;
  }
  EXPECT_EQ(fake.count("hipEventCreateWithFlags"), 1);
  EXPECT_EQ(fake.count("hipEventDestroy"), 1);
  EXPECT_EQ(fake.count("hipMalloc"), 2); // SetUp's x and out only
  mf_fake_hip_launch_t launch = onlyLaunch();
  EXPECT_EQ(launch.shared_bytes, 32u * 1024);
  EXPECT_EQ(launch.grid[0], uint64_t(kN));
  EXPECT_NE(launch.params[0], 0u);
  EXPECT_EQ(launch.params[1], bits(x));
  // The fake performs memsets and copies: out is the temporary's 1.0f.
  std::vector<float> host(kN, 0.0f);
  expectOk(mf_device_copy(runtime, MF_DEVICE_HIP, host.data(), out, kN * 4,
                          MF_COPY_DEVICE_TO_HOST));
  for (int64_t i = 0; i < kN; ++i)
    ASSERT_EQ(host[i], 1.0f) << "element " << i;
}

TEST_F(HipTest, ModuleLoadFailureNamesTheCallAndTheError) {
  fake.fail("hipModuleLoadData", 200);
  expectStatus(tryLoad(makeRocmArtifact()), MF_STATUS_UNKNOWN,
               "blob 'host': hipModuleLoadData failed: "
               "hipErrorInvalidImage (mgpuModuleLoad of a ");
  // The failed module is not unloaded; the loaded one stays.
  EXPECT_EQ(fake.count("hipModuleUnload"), 0);
  EXPECT_EQ(fake.liveModules(), 1);
}

TEST_F(HipTest, LaunchFailureNamesTheKernelAndTheLaunch) {
  fake.fail("hipModuleLaunchKernel", 719);
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  mf_status_t status = mf_function_invoke_async(scale, args, 2, kStream);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_UNKNOWN);
  EXPECT_STREQ(mf_status_message(status),
               "entry 'scale': hipModuleLaunchKernel failed: "
               "hipErrorLaunchFailure (kernel scale_kernel, grid 1x1x1, "
               "block 256x1x1, 0 bytes shared)");
  mf_status_free(status);
  // The error belonged to that invocation only.
  fake.fail("hipModuleLaunchKernel", 0);
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
}

TEST_F(HipTest, AfterAnErrorWorkIsSkippedButReleasesRun) {
  fake.fail("hipModuleLaunchKernel", 1);
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectStatus(mf_function_invoke_async(staged, args, 2, kStream),
               MF_STATUS_UNKNOWN,
               "entry 'staged': hipModuleLaunchKernel failed: "
               "hipErrorInvalidValue (kernel staged_kernel, grid 200x1x1, "
               "block 64x1x1, 32768 bytes shared)");
  EXPECT_EQ(fake.count("hipMemcpyAsync"), 0);
  EXPECT_EQ(fake.count("hipFreeAsync"), 1); // TearDown checks for leaks
}

TEST_F(HipTest, AMissingKernelIsReportedAndNeverLaunched) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectStatus(mf_function_invoke_async(missing, args, 2, kStream),
               MF_STATUS_UNKNOWN,
               "entry 'missing': hipModuleGetFunction failed: "
               "hipErrorNotFound (kernel no_such_kernel)");
  EXPECT_EQ(fake.count("hipModuleLaunchKernel"), 0);
}

TEST_F(HipTest, WaitingReportsErrorsOfTheWork) {
  fake.fail("hipStreamSynchronize", 700);
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectStatus(mf_function_invoke(scale, args, 2), MF_STATUS_UNKNOWN,
               "entry 'scale': hipStreamSynchronize failed: "
               "hipErrorIllegalAddress");
}

TEST_F(HipTest, HostTensorsAreRefused) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  args[0].device = MF_DEVICE_CPU;
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'scale': argument 0 'x': device is cpu but this module "
               "runs on hip");
  alignas(16) static float host[kN];
  args[0].device = MF_DEVICE_HIP;
  args[1].data = host;
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is not HIP memory (host memory?); rocm tensors need device "
               "pointers");
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT, "entry 'scale': argument 1 'out': ");
  // Pinned host memory (hipMemoryTypeHost) is no device memory either.
  args[1].data = out;
  ASSERT_EQ(fake.setPointer(out, 1, 0), 1);
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is pinned host memory; rocm tensors need device pointers");
  EXPECT_EQ(fake.launchCount(), 0);
}

TEST_F(HipTest, MisalignedPointersAreRefused) {
  mf_tensor_t args[] = {hipVec(static_cast<char *>(x) + 4, kN - 1),
                        hipVec(out, kN - 1)};
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'scale': argument 0 'x': data pointer ");
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is not aligned to 16 bytes, which hip tensors need");
  EXPECT_EQ(fake.launchCount(), 0);
}

TEST_F(HipTest, MemoryOfAnotherDeviceIsRefused) {
  ASSERT_EQ(fake.setPointer(out, 2, 1), 1);
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectStatus(mf_function_invoke_async(scale, args, 2, kStream),
               MF_STATUS_INVALID_ARGUMENT,
               "is memory of HIP device 1 but the runtime runs on device 0");
  // Managed memory may be used from any device.
  ASSERT_EQ(fake.setPointer(out, 3, 1), 1);
  expectOk(mf_function_invoke_async(scale, args, 2, kStream));
}

/// Argument marshalling: the kernel sees, for every argument, the memref
/// descriptor {allocated, aligned, offset, sizes, strides} of the tensor
/// (dense row-major strides, whatever valid strides the caller gave).
TEST_F(HipTest, KernelsSeeTheDescriptorOfEveryArgument) {
  constexpr int64_t S = 5, N = 7;
  void *a = alloc(2 * S * 3 * 4), *b = alloc(8), *c = alloc(N * 4),
       *o = alloc(S * N * 4);
  mf_tensor_t args[] = {
      hipTensor(a, MF_DTYPE_F32, {2, S, 3}), hipTensor(b, MF_DTYPE_F64, {}),
      hipTensor(c, MF_DTYPE_I32, {N}), hipTensor(o, MF_DTYPE_F32, {S, N})};
  // Explicit dense strides are passed as the same descriptor as none.
  args[3].strides[0] = N;
  args[3].strides[1] = 1;
  expectOk(mf_function_invoke_async(marshal, args, 4, kStream));
  mf_fake_hip_launch_t launch = onlyLaunch();
  EXPECT_STREQ(launch.kernel, "marshal_kernel");
  ASSERT_EQ(launch.num_params, 24);
  std::vector<uint64_t> params(launch.params, launch.params + 24);
  std::vector<uint64_t> expected = {
      bits(a), bits(a), 0, 2, S, 3, S * 3, 3, 1, // a: rank 3
      bits(b), bits(b), 0,                       // b: rank 0
      bits(c), bits(c), 0, N, 1,                 // c: rank 1
      bits(o), bits(o), 0, S, N, N, 1,           // out: rank 2
  };
  EXPECT_EQ(params, expected);

  // Empty tensors: NULL data, and the strides of the dense layout.
  mf_tensor_t empty[] = {hipTensor(a, MF_DTYPE_F32, {2, S, 3}),
                         hipTensor(b, MF_DTYPE_F64, {}),
                         hipTensor(nullptr, MF_DTYPE_I32, {0}),
                         hipTensor(nullptr, MF_DTYPE_F32, {S, 0})};
  expectOk(mf_function_invoke_async(marshal, empty, 4, kStream));
  ASSERT_EQ(fake.launchCount(), 2);
  ASSERT_EQ(fake.launch(1, &launch), 1);
  params.assign(launch.params, launch.params + 24);
  expected = {
      bits(a), bits(a), 0, 2, S, 3, S * 3, 3, 1, //
      bits(b), bits(b), 0,                       //
      0,       0,       0, 0, 1,                 //
      0,       0,       0, S, 0, 0, 1,           //
  };
  EXPECT_EQ(params, expected);
  for (void *ptr : {a, b, c, o})
    expectOk(mf_device_free(runtime, MF_DEVICE_HIP, ptr));
}

TEST_F(HipTest, DeviceMemoryRoundTrip) {
  std::vector<float> input(kN), output(kN, 0.0f);
  for (int64_t i = 0; i < kN; ++i)
    input[i] = 0.25f * static_cast<float>(i);
  expectOk(mf_device_copy(runtime, MF_DEVICE_HIP, x, input.data(), kN * 4,
                          MF_COPY_HOST_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_HIP, out, x, kN * 4,
                          MF_COPY_DEVICE_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_HIP, output.data(), out, kN * 4,
                          MF_COPY_DEVICE_TO_HOST));
  EXPECT_EQ(output, input);
  expectOk(mf_device_synchronize(runtime, MF_DEVICE_HIP));
  EXPECT_EQ(fake.count("hipMemcpy"), 3);
  EXPECT_EQ(fake.count("hipDeviceSynchronize"), 1);

  void *empty = reinterpret_cast<void *>(1);
  expectOk(mf_device_alloc(runtime, MF_DEVICE_HIP, 0, &empty));
  EXPECT_EQ(empty, nullptr);
  expectOk(mf_device_free(runtime, MF_DEVICE_HIP, nullptr));
  expectStatus(mf_device_copy(runtime, MF_DEVICE_HIP, x, out, 4,
                              static_cast<mf_copy_kind_t>(7)),
               MF_STATUS_INVALID_ARGUMENT, "copy kind 7");

  fake.fail("hipMalloc", 2);
  void *ptr = nullptr;
  expectStatus(mf_device_alloc(runtime, MF_DEVICE_HIP, 1024, &ptr),
               MF_STATUS_RESOURCE_EXHAUSTED,
               "hipMalloc failed: hipErrorOutOfMemory (1024 bytes)");
  EXPECT_EQ(ptr, nullptr);
  fake.fail("hipMemcpy", 1);
  expectStatus(mf_device_copy(runtime, MF_DEVICE_HIP, output.data(), out, 8,
                              MF_COPY_DEVICE_TO_HOST),
               MF_STATUS_UNKNOWN,
               "hipMemcpy failed: hipErrorInvalidValue (device to host, 8 "
               "bytes from ");
  fake.fail("hipDeviceSynchronize", 700);
  expectStatus(mf_device_synchronize(runtime, MF_DEVICE_HIP), MF_STATUS_UNKNOWN,
               "hipDeviceSynchronize failed: hipErrorIllegalAddress");
}

TEST_F(HipTest, ThreadsInvokeConcurrently) {
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
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

TEST_F(HipTest, CppWrapper) {
  mf_runtime_retain(runtime);
  mf::runtime::Runtime wrapped(runtime);
  mf::runtime::Result<void *> buffer =
      wrapped.deviceAlloc(MF_DEVICE_HIP, kN * 4);
  ASSERT_TRUE(buffer.ok()) << buffer.status().toString();
  std::string bytes = makeRocmArtifact();
  auto loaded = wrapped.loadMemory(bytes.data(), bytes.size());
  ASSERT_TRUE(loaded.ok()) << loaded.status().toString();
  auto function = loaded->lookup("scale");
  ASSERT_TRUE(function.ok());
  mf::runtime::Status status = function->invokeAsync(
      {mf::runtime::makeTensor(*buffer, MF_DTYPE_F32, {kN}, MF_DEVICE_HIP),
       hipVec(out, kN)},
      kStream);
  EXPECT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(onlyLaunch().params[0], bits(*buffer));
  EXPECT_TRUE(wrapped.deviceSynchronize(MF_DEVICE_HIP).ok());
  EXPECT_TRUE(wrapped.deviceFree(MF_DEVICE_HIP, *buffer).ok());
}

// Last: the fallback lasts for the process.
TEST_F(HipTest, WithoutMemoryPoolsTemporariesUseHipMalloc) {
  fake.fail("hipMallocAsync", 801); // hipErrorNotSupported
  mf_tensor_t args[] = {hipVec(x, kN), hipVec(out, kN)};
  expectOk(mf_function_invoke_async(staged, args, 2, kStream));
  expectOk(mf_function_invoke_async(staged, args, 2, kStream));
  EXPECT_EQ(fake.count("hipMallocAsync"), 1); // Tried once only.
  EXPECT_EQ(fake.count("hipMalloc"), 2 + 2);  // SetUp's, then one per call
  EXPECT_EQ(fake.count("hipFree"), 2);
  EXPECT_EQ(fake.count("hipFreeAsync"), 0);
  EXPECT_EQ(fake.launchCount(), 2);
}

} // namespace
