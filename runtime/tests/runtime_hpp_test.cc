//===- runtime_hpp_test.cc - Tests of the C++ wrapper ---------------------===//
//
// Part of MegaFold-MLIR.
//
//===----------------------------------------------------------------------===//

#include "test_artifact.h"

#include "mf/runtime/runtime.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <vector>

using namespace mf::runtime;

namespace {

TEST(RuntimeHppTest, LoadLookupInvoke) {
  Result<Runtime> runtime = Runtime::create();
  ASSERT_TRUE(runtime.ok()) << runtime.status().toString();
  std::string bytes = mf::test::makeArtifact();
  Result<Module> module = runtime->loadMemory(bytes.data(), bytes.size());
  ASSERT_TRUE(module.ok()) << module.status().toString();
  EXPECT_STREQ(module->target(), "cpu");
  EXPECT_EQ(module->entryCount(), 2u);
  EXPECT_STREQ(module->entryName(1), "scale");

  Result<Function> add = module->lookup("add");
  ASSERT_TRUE(add.ok()) << add.status().toString();
  EXPECT_EQ(add->argCount(), 3u);
  Result<mf_arg_info_t> info = add->argInfo(2);
  ASSERT_TRUE(info.ok());
  EXPECT_STREQ(info->name, "out");
  EXPECT_FALSE(add->argInfo(7).ok());
  EXPECT_EQ(add->argInfo(7).status().code(), MF_STATUS_OUT_OF_RANGE);

  std::vector<float> a = {1, 2, 3}, b = {10, 20, 30}, out(3, NAN);
  Status status = add->invoke({makeTensor(a.data(), MF_DTYPE_F32, {3}),
                               makeTensor(b.data(), MF_DTYPE_F32, {3}),
                               makeTensor(out.data(), MF_DTYPE_F32, {3})});
  ASSERT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(out, (std::vector<float>{11, 22, 33}));

  Status bad = add->invoke({makeTensor(a.data(), MF_DTYPE_F32, {3}),
                            makeTensor(b.data(), MF_DTYPE_I32, {3}),
                            makeTensor(out.data(), MF_DTYPE_F32, {3})});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), MF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(bad.toString(),
            "INVALID_ARGUMENT: entry 'add': argument 1 'b': dtype is i32 but "
            "the manifest says f32");

  Result<Function> missing = module->lookup(std::string("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), MF_STATUS_NOT_FOUND);
}

TEST(RuntimeHppTest, HandlesKeepWhatTheyNeedAlive) {
  std::optional<Function> add;
  {
    Result<Runtime> runtime = Runtime::create();
    ASSERT_TRUE(runtime.ok());
    std::string bytes = mf::test::makeArtifact();
    Result<Module> module = runtime->loadMemory(bytes.data(), bytes.size());
    ASSERT_TRUE(module.ok());
    Module copy = *module;
    Result<Function> found = copy.lookup("add");
    ASSERT_TRUE(found.ok());
    add.emplace(*found);
  } // Runtime and Module handles are gone; the Function still works.
  std::vector<float> a = {1}, b = {2}, out = {NAN};
  Status status = add->invoke({makeTensor(a.data(), MF_DTYPE_F32, {1}),
                               makeTensor(b.data(), MF_DTYPE_F32, {1}),
                               makeTensor(out.data(), MF_DTYPE_F32, {1})});
  EXPECT_TRUE(status.ok()) << status.toString();
  EXPECT_EQ(out[0], 3.0f);
}

TEST(RuntimeHppTest, LoadErrorsAreStatuses) {
  Result<Runtime> runtime = Runtime::create();
  ASSERT_TRUE(runtime.ok());
  Result<Module> module = runtime->loadFile("/nonexistent.mfa");
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.status().code(), MF_STATUS_NOT_FOUND);
  Status taken = module.takeStatus();
  EXPECT_EQ(taken.code(), MF_STATUS_NOT_FOUND);
  Status moved = std::move(taken);
  EXPECT_TRUE(taken.ok());
  EXPECT_FALSE(moved.ok());
  Result<Module> garbage = runtime->loadMemory("garbage!", 8);
  EXPECT_EQ(garbage.status().code(), MF_STATUS_INVALID_ARGUMENT);
}

} // namespace
