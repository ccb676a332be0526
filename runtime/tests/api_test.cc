//===- api_test.cc - Tests of the C API: load, query, check, invoke -------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "test_artifact.h"

#include "mf/runtime/api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using mf::test::makeArtifact;

namespace {

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

/// A rank-1 f32 CPU tensor over `data`.
mf_tensor_t vec(std::vector<float> &data) {
  mf_tensor_t tensor = {};
  tensor.data = data.data();
  tensor.dtype = MF_DTYPE_F32;
  tensor.rank = 1;
  tensor.dims[0] = static_cast<int64_t>(data.size());
  tensor.device = MF_DEVICE_CPU;
  return tensor;
}

/// A runtime with the default artifact loaded and its two functions.
class ApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
    std::string bytes = makeArtifact();
    mf_status_t status =
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module);
    ASSERT_EQ(status, nullptr) << mf_status_message(status);
    ASSERT_EQ(mf_module_lookup_function(module, "add", &add), nullptr);
    ASSERT_EQ(mf_module_lookup_function(module, "scale", &scale), nullptr);
  }
  void TearDown() override {
    mf_module_release(module);
    mf_runtime_release(runtime);
  }

  /// Invokes add on vectors of length n and checks every element.
  void checkAdd(int64_t n) {
    std::vector<float> a(n), b(n), out(n, NAN);
    for (int64_t i = 0; i < n; ++i) {
      a[i] = 0.5f * static_cast<float>(i);
      b[i] = 1000.0f - static_cast<float>(i * i);
    }
    mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
    expectOk(mf_function_invoke(add, args, 3));
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], a[i] + b[i]) << "element " << i << " of " << n;
  }

  mf_runtime_t *runtime = nullptr;
  mf_module_t *module = nullptr;
  mf_function_t *add = nullptr;
  mf_function_t *scale = nullptr;
};

TEST_F(ApiTest, ReportsTheManifest) {
  EXPECT_STREQ(mf_module_target(module), "cpu");
  EXPECT_STREQ(mf_module_chip(module), "x86-64");
  EXPECT_STREQ(mf_module_producer(module), "mf-runtime-tests");
  ASSERT_EQ(mf_module_entry_count(module), 2u);
  EXPECT_STREQ(mf_module_entry_name(module, 0), "add");
  EXPECT_STREQ(mf_module_entry_name(module, 1), "scale");
  EXPECT_EQ(mf_module_entry_name(module, 2), nullptr);
  EXPECT_STREQ(mf_function_name(scale), "scale");
}

TEST_F(ApiTest, LookupOfAMissingEntryListsTheAvailableOnes) {
  mf_function_t *function = nullptr;
  mf_status_t status =
      mf_module_lookup_function(module, "attention", &function);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_NOT_FOUND);
  std::string message = mf_status_message(status);
  EXPECT_NE(message.find("'attention'"), std::string::npos) << message;
  EXPECT_NE(message.find("'add', 'scale'"), std::string::npos) << message;
  mf_status_free(status);
  EXPECT_EQ(function, nullptr);
}

TEST_F(ApiTest, SignatureQueries) {
  ASSERT_EQ(mf_function_arg_count(add), 3u);
  mf_arg_info_t info;
  expectOk(mf_function_arg_info(add, 0, &info));
  EXPECT_STREQ(info.name, "a");
  EXPECT_EQ(info.is_output, 0);
  EXPECT_EQ(info.dtype, MF_DTYPE_F32);
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_STREQ(info.dim_symbols[0], "N");
  expectOk(mf_function_arg_info(add, 2, &info));
  EXPECT_STREQ(info.name, "out");
  EXPECT_EQ(info.is_output, 1);

  expectOk(mf_function_arg_info(scale, 0, &info));
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.dims[0], 2);
  EXPECT_EQ(info.dims[1], -1);
  EXPECT_EQ(info.dims[2], 3);
  EXPECT_EQ(info.dim_symbols[0], nullptr);
  EXPECT_STREQ(info.dim_symbols[1], "S");
  EXPECT_EQ(info.dim_symbols[2], nullptr);
  expectOk(mf_function_arg_info(scale, 1, &info));
  EXPECT_STREQ(info.name, "alpha");
  EXPECT_EQ(info.dtype, MF_DTYPE_F64);
  EXPECT_EQ(info.rank, 0);
  expectStatus(mf_function_arg_info(scale, 3, &info), MF_STATUS_OUT_OF_RANGE,
               "argument index 3");
}

TEST_F(ApiTest, AddComputesEveryElement) {
  for (int64_t n : {0, 1, 7, 64, 1000, 100003})
    checkAdd(n);
}

TEST_F(ApiTest, ScaleHandlesStaticDynamicAndRank0) {
  for (int64_t s : {1, 5}) {
    std::vector<float> x(2 * s * 3), out(x.size(), NAN);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = static_cast<float>(i) - 3.0f;
    double alpha = 2.5;
    mf_tensor_t args[3] = {};
    args[0] = {x.data(), MF_DTYPE_F32, 3, {2, s, 3}, {}, MF_DEVICE_CPU};
    args[1] = {&alpha, MF_DTYPE_F64, 0, {}, {}, MF_DEVICE_CPU};
    args[2] = {out.data(), MF_DTYPE_F32, 3, {2, s, 3}, {}, MF_DEVICE_CPU};
    // Explicit dense strides are accepted too; size-1 dims may have any.
    args[2].strides[0] = s * 3;
    args[2].strides[1] = s == 1 ? 77 : 3;
    args[2].strides[2] = 1;
    expectOk(mf_function_invoke(scale, args, 3));
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(out[i], x[i] * 2.5f) << "element " << i;
  }
}

TEST_F(ApiTest, ArgumentErrorsNameTheArgument) {
  std::vector<float> a(5, 1.0f), b(5, 2.0f), out(5, NAN), shortOut(4, NAN);
  auto expectError = [&](std::vector<mf_tensor_t> args,
                         const std::string &text) {
    expectStatus(mf_function_invoke(add, args.data(), args.size()),
                 MF_STATUS_INVALID_ARGUMENT, text);
  };
  expectError({vec(a), vec(b)}, "entry 'add': expected 3 arguments (2 inputs "
                                "then 1 outputs: a, b, out) but got 2");
  expectError({vec(a), vec(b), vec(out), vec(out)}, "but got 4");

  mf_tensor_t wrongDtype = vec(b);
  wrongDtype.dtype = MF_DTYPE_F64;
  expectError({vec(a), wrongDtype, vec(out)},
              "entry 'add': argument 1 'b': dtype is f64 but the manifest "
              "says f32");
  int32_t invalidDtype = 99; // as a C caller might store it
  std::memcpy(&wrongDtype.dtype, &invalidDtype, sizeof(invalidDtype));
  expectError({vec(a), wrongDtype, vec(out)}, "'b': dtype is invalid (99)");

  mf_tensor_t wrongRank = vec(a);
  wrongRank.rank = 2;
  wrongRank.dims[1] = 1;
  expectError({wrongRank, vec(b), vec(out)},
              "argument 0 'a': rank is 2 but the manifest says 1");

  expectError({vec(a), vec(b), vec(shortOut)},
              "entry 'add': argument 2 'out': dim 0 is 4 but symbol N was "
              "bound to 5 by argument 0 'a' dim 0");

  mf_tensor_t negative = vec(a);
  negative.dims[0] = -5;
  expectError({negative, vec(b), vec(out)},
              "argument 0 'a': dim 0 is -5; dims must be non-negative");

  mf_tensor_t strided = vec(b);
  strided.dims[0] = 5;
  strided.strides[0] = 2;
  expectError({vec(a), strided, vec(out)},
              "argument 1 'b': strides [2] are not dense row-major");

  mf_tensor_t null = vec(out);
  null.data = nullptr;
  expectError({vec(a), vec(b), null},
              "argument 2 'out': data is NULL but the tensor has 5 elements");

  mf_tensor_t misaligned = vec(a);
  misaligned.data = reinterpret_cast<char *>(a.data()) + 1;
  expectError({misaligned, vec(b), vec(out)}, "argument 0 'a': data pointer");

  mf_tensor_t device = vec(a);
  device.device = MF_DEVICE_CUDA;
  expectError({device, vec(b), vec(out)},
              "argument 0 'a': device is cuda but this module runs on cpu");

  expectStatus(mf_function_invoke(add, nullptr, 3), MF_STATUS_INVALID_ARGUMENT,
               "args is NULL");
  expectStatus(mf_function_invoke(nullptr, nullptr, 0),
               MF_STATUS_INVALID_ARGUMENT, "function is NULL");

  // Nothing ran: the outputs still hold their poison.
  for (float value : out)
    EXPECT_TRUE(std::isnan(value));

  // Empty tensors may have NULL data.
  mf_tensor_t empty[3] = {};
  for (mf_tensor_t &tensor : empty)
    tensor = {nullptr, MF_DTYPE_F32, 1, {0}, {}, MF_DEVICE_CPU};
  expectOk(mf_function_invoke(add, empty, 3));
}

TEST_F(ApiTest, StaticDimAndLayoutErrorsOnRank3) {
  std::vector<float> x(3 * 4 * 3), out(x.size());
  double alpha = 1.0;
  mf_tensor_t args[3] = {};
  args[0] = {x.data(), MF_DTYPE_F32, 3, {3, 4, 3}, {}, MF_DEVICE_CPU};
  args[1] = {&alpha, MF_DTYPE_F64, 0, {}, {}, MF_DEVICE_CPU};
  args[2] = {out.data(), MF_DTYPE_F32, 3, {2, 4, 3}, {}, MF_DEVICE_CPU};
  expectStatus(mf_function_invoke(scale, args, 3), MF_STATUS_INVALID_ARGUMENT,
               "entry 'scale': argument 0 'x': dim 0 is 3 but the manifest "
               "says 2");
  args[0].dims[0] = 2;
  args[2].dims[1] = 5;
  expectStatus(mf_function_invoke(scale, args, 3), MF_STATUS_INVALID_ARGUMENT,
               "argument 2 'out': dim 1 is 5 but symbol S was bound to 4 by "
               "argument 0 'x' dim 1");
  args[2].dims[1] = 4;
  // A transposed view: column-major strides.
  args[0].strides[0] = 1;
  args[0].strides[1] = 2;
  args[0].strides[2] = 8;
  expectStatus(mf_function_invoke(scale, args, 3), MF_STATUS_INVALID_ARGUMENT,
               "argument 0 'x': strides [1, 2, 8] are not dense row-major for "
               "dims [2, 4, 3] (expected [12, 3, 1] or all zeros)");
  args[0].strides[0] = 0;
  args[0].strides[1] = 0;
  args[0].strides[2] = 0;
  args[1].dtype = MF_DTYPE_F32;
  expectStatus(mf_function_invoke(scale, args, 3), MF_STATUS_INVALID_ARGUMENT,
               "argument 1 'alpha': dtype is f32 but the manifest says f64");
  args[1].dtype = MF_DTYPE_F64;
  args[1].data = nullptr;
  expectStatus(mf_function_invoke(scale, args, 3), MF_STATUS_INVALID_ARGUMENT,
               "argument 1 'alpha': data is NULL but the tensor has 1 "
               "elements");
}

TEST_F(ApiTest, ConcurrentInvocationsFrom8Threads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      int64_t n = 100 + 37 * t;
      std::vector<float> a(n), b(n), out(n);
      for (int iteration = 0; iteration < 300; ++iteration) {
        for (int64_t i = 0; i < n; ++i) {
          a[i] = static_cast<float>(t * 1000 + i);
          b[i] = static_cast<float>(iteration);
          out[i] = NAN;
        }
        mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
        mf_status_t status = mf_function_invoke(add, args, 3);
        if (status) {
          mf_status_free(status);
          ++failures[t];
          continue;
        }
        for (int64_t i = 0; i < n; ++i)
          if (out[i] != a[i] + b[i]) {
            ++failures[t];
            break;
          }
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 8; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST_F(ApiTest, ConcurrentLoads) {
  std::string bytes = makeArtifact();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int iteration = 0; iteration < 10; ++iteration) {
        mf_module_t *other = nullptr;
        mf_function_t *function = nullptr;
        mf_status_t status =
            mf_module_load_memory(runtime, bytes.data(), bytes.size(), &other);
        if (!status)
          status = mf_module_lookup_function(other, "add", &function);
        std::vector<float> a(9, 1.0f), b(9, float(t)), out(9, NAN);
        mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
        if (!status)
          status = mf_function_invoke(function, args, 3);
        if (status || out[8] != 1.0f + float(t))
          ++failures[t];
        mf_status_free(status);
        mf_module_release(other);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
  checkAdd(10);
}

TEST_F(ApiTest, DifferentModulesNeverShadowEachOther) {
  // Load and release modules with different code in turn, and keep two
  // alive at once: each must run its own code (dlopen matches by name).
  std::string plain = makeArtifact();
  std::string biased = makeArtifact(nullptr, mf::test::biasedFakeModuleBytes());
  auto run = [&](mf_module_t *loaded) {
    mf_function_t *function = nullptr;
    expectOk(mf_module_lookup_function(loaded, "add", &function));
    std::vector<float> a = {1}, b = {2}, out = {NAN};
    mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
    expectOk(mf_function_invoke(function, args, 3));
    return out[0];
  };
  for (int round = 0; round < 4; ++round) {
    const std::string &bytes = round % 2 ? biased : plain;
    mf_module_t *loaded = nullptr;
    expectOk(
        mf_module_load_memory(runtime, bytes.data(), bytes.size(), &loaded));
    EXPECT_EQ(run(loaded), round % 2 ? 103.0f : 3.0f) << "round " << round;
    EXPECT_EQ(run(module), 3.0f);
    mf_module_release(loaded);
  }
}

TEST_F(ApiTest, ModulesOutliveTheirRuntimeHandle) {
  mf_runtime_release(runtime);
  runtime = nullptr;
  checkAdd(33);
}

TEST_F(ApiTest, InvokeAsyncOnACpuModuleRunsToCompletionWithoutAStream) {
  std::vector<float> a = {1, 2}, b = {10, 20}, out(2, NAN);
  mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
  expectOk(mf_function_invoke_async(add, args, 3, nullptr));
  EXPECT_EQ(out, (std::vector<float>{11, 22}));
  int stream = 0;
  expectStatus(mf_function_invoke_async(add, args, 3, &stream),
               MF_STATUS_INVALID_ARGUMENT,
               "entry 'add': a cpu module runs synchronously and takes no "
               "stream");
  // The same argument checks as mf_function_invoke.
  expectStatus(mf_function_invoke_async(add, args, 2, nullptr),
               MF_STATUS_INVALID_ARGUMENT, "but got 2");
}

TEST_F(ApiTest, CpuDeviceMemoryRoundTrip) {
  std::vector<float> input = {1.5f, -2.0f, 3.25f, 8.0f}, output(4, NAN);
  void *a = nullptr, *b = nullptr;
  expectOk(mf_device_alloc(runtime, MF_DEVICE_CPU, 16, &a));
  expectOk(mf_device_alloc(runtime, MF_DEVICE_CPU, 16, &b));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  expectOk(mf_device_copy(runtime, MF_DEVICE_CPU, a, input.data(), 16,
                          MF_COPY_HOST_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_CPU, b, a, 16,
                          MF_COPY_DEVICE_TO_DEVICE));
  expectOk(mf_device_copy(runtime, MF_DEVICE_CPU, output.data(), b, 16,
                          MF_COPY_DEVICE_TO_HOST));
  EXPECT_EQ(output, input);
  expectOk(mf_device_synchronize(runtime, MF_DEVICE_CPU));
  expectOk(mf_device_free(runtime, MF_DEVICE_CPU, a));
  expectOk(mf_device_free(runtime, MF_DEVICE_CPU, b));
  expectOk(mf_device_free(runtime, MF_DEVICE_CPU, nullptr));

  void *empty = &output;
  expectOk(mf_device_alloc(runtime, MF_DEVICE_CPU, 0, &empty));
  EXPECT_EQ(empty, nullptr);
  expectStatus(mf_device_copy(runtime, MF_DEVICE_CPU, nullptr, input.data(),
                              4, MF_COPY_HOST_TO_DEVICE),
               MF_STATUS_INVALID_ARGUMENT, "with a NULL dst");
  expectStatus(mf_device_copy(runtime, MF_DEVICE_CPU, output.data(),
                              input.data(), 4, MF_COPY_MAX_ENUM),
               MF_STATUS_INVALID_ARGUMENT, "is not an mf_copy_kind_t");
  expectStatus(mf_device_alloc(nullptr, MF_DEVICE_CPU, 4, &empty),
               MF_STATUS_INVALID_ARGUMENT, "runtime is NULL");
  expectStatus(mf_device_alloc(runtime, static_cast<mf_device_kind_t>(9), 4,
                               &empty),
               MF_STATUS_UNIMPLEMENTED, "device unknown (9)");
}

TEST(ApiFileTest, LoadsThroughATemporaryFileWithoutMemfd) {
  ASSERT_EQ(::setenv("MF_RUNTIME_DISABLE_MEMFD", "1", 1), 0);
  mf_runtime_t *runtime = nullptr;
  ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
  std::string bytes = makeArtifact();
  mf_module_t *module = nullptr;
  expectOk(mf_module_load_memory(runtime, bytes.data(), bytes.size(), &module));
  mf_function_t *add = nullptr;
  expectOk(mf_module_lookup_function(module, "add", &add));
  std::vector<float> a = {1, 2}, b = {3, 4}, out = {NAN, NAN};
  mf_tensor_t args[] = {vec(a), vec(b), vec(out)};
  expectOk(mf_function_invoke(add, args, 3));
  EXPECT_EQ(out, (std::vector<float>{4, 6}));
  mf_module_release(module);
  mf_runtime_release(runtime);
  ::unsetenv("MF_RUNTIME_DISABLE_MEMFD");
}

TEST(ApiFileTest, LoadsFromAFileAndReportsAMissingOne) {
  mf_runtime_t *runtime = nullptr;
  ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
  std::string path = ::testing::TempDir() + "mf_api_test_XXXXXX";
  int fd = ::mkstemp(&path[0]);
  ASSERT_GE(fd, 0);
  std::string bytes = makeArtifact();
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  mf_module_t *module = nullptr;
  expectOk(mf_module_load_file(runtime, path.c_str(), &module));
  EXPECT_EQ(mf_module_entry_count(module), 2u);
  mf_module_release(module);

  // A damaged file: the message names the path.
  bytes[40] ^= 0x20;
  std::FILE *file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), file);
  std::fclose(file);
  expectStatus(mf_module_load_file(runtime, path.c_str(), &module),
               MF_STATUS_DATA_LOSS,
               "'" + path + "': artifact: manifest checksum");
  ::unlink(path.c_str());

  expectStatus(mf_module_load_file(runtime, "/nonexistent/model.mfa", &module),
               MF_STATUS_NOT_FOUND, "cannot open '/nonexistent/model.mfa'");
  expectStatus(mf_module_load_file(runtime, nullptr, &module),
               MF_STATUS_INVALID_ARGUMENT, "path is NULL");
  mf_runtime_release(runtime);
}

TEST(StatusTest, AccessorsAndNames) {
  EXPECT_EQ(mf_status_code(nullptr), MF_STATUS_OK);
  EXPECT_STREQ(mf_status_message(nullptr), "");
  EXPECT_STREQ(mf_status_code_name(MF_STATUS_INVALID_ARGUMENT),
               "INVALID_ARGUMENT");
  EXPECT_STREQ(mf_status_code_name(MF_STATUS_INCOMPATIBLE), "INCOMPATIBLE");
  mf_status_free(nullptr);

  mf_status_t status = mf_runtime_create(nullptr);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_INVALID_ARGUMENT);
  const char *file = nullptr;
  int line = 0;
  mf_status_source(status, &file, &line);
  EXPECT_NE(std::string(file).find("runtime.cc"), std::string::npos);
  EXPECT_GT(line, 0);
  mf_status_free(status);
}

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_F32), 4u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_F64), 8u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_F16), 2u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_BF16), 2u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_I1), 1u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_I8), 1u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_I32), 4u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_I64), 8u);
  EXPECT_EQ(mf_dtype_size(MF_DTYPE_INVALID), 0u);
  EXPECT_STREQ(mf_dtype_name(MF_DTYPE_BF16), "bf16");
  EXPECT_STREQ(mf_dtype_name(MF_DTYPE_I1), "i1");
  EXPECT_STREQ(mf_dtype_name(static_cast<mf_dtype_t>(42)), "invalid");
}

} // namespace
