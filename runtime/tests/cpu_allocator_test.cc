//===- cpu_allocator_test.cc - the heap of compiled CPU code ---------------===//
//
// Part of MegaFold-MLIR, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

extern "C" {
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size);
void _mlir_memref_to_llvm_free(void *ptr);
}

namespace {

TEST(CpuAllocatorTest, BlocksAreAlignedAndWritable) {
  for (uint64_t size : {uint64_t(1), uint64_t(100), uint64_t(4096),
                        uint64_t(3) << 20}) {
    auto *p = static_cast<unsigned char *>(_mlir_memref_to_llvm_alloc(size));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << size;
    std::memset(p, 0xab, size);
    EXPECT_EQ(p[size - 1], 0xab);
    _mlir_memref_to_llvm_free(p);
  }
  void *q = _mlir_memref_to_llvm_aligned_alloc(32, 1000);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 32, 0u);
  _mlir_memref_to_llvm_free(q);
  // Alignments beyond the header's are refused, not silently misaligned.
  EXPECT_EQ(_mlir_memref_to_llvm_aligned_alloc(4096, 1000), nullptr);
  _mlir_memref_to_llvm_free(nullptr);
}

TEST(CpuAllocatorTest, LargeBlocksAreReusedForTheSameSize) {
  const uint64_t size = (uint64_t(5) << 20) + 12345;
  void *first = _mlir_memref_to_llvm_alloc(size);
  ASSERT_NE(first, nullptr);
  _mlir_memref_to_llvm_free(first);
  void *second = _mlir_memref_to_llvm_alloc(size);
  EXPECT_EQ(first, second);
  // A different size gets a different block while the first is live.
  void *other = _mlir_memref_to_llvm_alloc(size + 64);
  EXPECT_NE(other, second);
  _mlir_memref_to_llvm_free(other);
  _mlir_memref_to_llvm_free(second);
}

TEST(CpuAllocatorTest, ConcurrentUseKeepsBlocksApart) {
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 200; ++i) {
        uint64_t size = (i % 2) ? (uint64_t(2) << 20) : 256;
        auto *p = static_cast<unsigned char *>(_mlir_memref_to_llvm_alloc(size));
        std::memset(p, t, size);
        for (uint64_t j = 0; j < size; j += 4093)
          failures[t] += p[j] != t;
        _mlir_memref_to_llvm_free(p);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 8; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
}

} // namespace
