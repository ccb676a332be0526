//===- hip_init_test.cc - The HIP backend without a usable runtime --------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//
//
// Built three times (the HIP runtime is set up once per process): with a
// library that does not exist (MF_TEST_NO_LIBRARY), with the default search
// for libamdhip64 (MF_TEST_DEFAULT_SEARCH; skipped where ROCm is installed),
// and with the fake runtime failing hipInit (MF_TEST_NO_INIT).
//
//===----------------------------------------------------------------------===//

#include "hip_test_artifact.h"

#include "mf/runtime/api.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace mf::test;

namespace {

#if defined(MF_TEST_NO_LIBRARY)
#define MF_TEST_LIBRARY "/nonexistent/libamdhip64.so"
#define MF_TEST_FAKE_FAIL ""
#define MF_TEST_EXPECTED_MESSAGE                                               \
  "HIP backend: cannot load the HIP runtime (/nonexistent/libamdhip64.so: "
#elif defined(MF_TEST_DEFAULT_SEARCH)
#define MF_TEST_LIBRARY nullptr
#define MF_TEST_FAKE_FAIL ""
#define MF_TEST_EXPECTED_MESSAGE                                               \
  "HIP backend: cannot load the HIP runtime (libamdhip64.so: "
#elif defined(MF_TEST_NO_INIT)
#define MF_TEST_LIBRARY MF_FAKE_HIP_RUNTIME_PATH
#define MF_TEST_FAKE_FAIL "hipInit=100"
#define MF_TEST_EXPECTED_MESSAGE "HIP backend: hipInit failed: hipErrorNoDevice"
#else
#error "define MF_TEST_NO_LIBRARY, MF_TEST_DEFAULT_SEARCH or MF_TEST_NO_INIT"
#endif

[[maybe_unused]] const bool kEnvironment = [] {
  if (const char *library = MF_TEST_LIBRARY)
    setenv("MF_HIP_RUNTIME_LIBRARY", library, 1);
  else
    unsetenv("MF_HIP_RUNTIME_LIBRARY");
  setenv("MF_FAKE_HIP_FAIL", MF_TEST_FAKE_FAIL, 1);
  return true;
}();

/// Whether a real HIP runtime is installed (the default search finds it).
[[maybe_unused]] bool haveSystemHip() {
  for (const char *name :
       {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"})
    if (void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      dlclose(library);
      return true;
    }
  return false;
}

/// Expects `status` to be UNAVAILABLE and to contain `texts`; frees it.
void expectUnavailable(mf_status_t status,
                       std::initializer_list<std::string> texts) {
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(mf_status_code(status), MF_STATUS_UNAVAILABLE)
      << mf_status_message(status);
  std::string message = mf_status_message(status);
  for (const std::string &text : texts)
    EXPECT_NE(message.find(text), std::string::npos)
        << "message: " << message << "\nwanted: " << text;
  mf_status_free(status);
}

TEST(HipInitTest, LoadingARocmArtifactIsUnavailable) {
#ifdef MF_TEST_DEFAULT_SEARCH
  if (haveSystemHip())
    GTEST_SKIP() << "a HIP runtime is installed";
#endif
  // Twice: the outcome of the first attempt is kept.
  for (int attempt = 0; attempt < 2; ++attempt)
    expectUnavailable(tryLoad(makeRocmArtifact()),
                      {MF_TEST_EXPECTED_MESSAGE,
                       "; this artifact targets rocm/gfx942 and needs an AMD "
                       "GPU with ROCm"});
}

TEST(HipInitTest, DeviceMemoryIsUnavailableButCpuWorks) {
#ifdef MF_TEST_DEFAULT_SEARCH
  if (haveSystemHip())
    GTEST_SKIP() << "a HIP runtime is installed";
#endif
  mf_runtime_t *runtime = nullptr;
  ASSERT_EQ(mf_runtime_create(&runtime), nullptr);
  void *ptr = nullptr;
  expectUnavailable(mf_device_alloc(runtime, MF_DEVICE_HIP, 64, &ptr),
                    {MF_TEST_EXPECTED_MESSAGE});
  expectUnavailable(mf_device_synchronize(runtime, MF_DEVICE_HIP),
                    {MF_TEST_EXPECTED_MESSAGE});
  EXPECT_EQ(mf_device_alloc(runtime, MF_DEVICE_CPU, 64, &ptr), nullptr);
  EXPECT_EQ(mf_device_free(runtime, MF_DEVICE_CPU, ptr), nullptr);
  EXPECT_EQ(tryLoad(makeArtifact()), nullptr);
  mf_runtime_release(runtime);
}

} // namespace
