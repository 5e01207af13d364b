#include "core/storage.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "core/tensor.h"

namespace mofa {
namespace {

TEST(Storage, HugeAllocationIsZeroedWritableAndAligned) {
  // Over one 2 MiB page and not a multiple of it: the tail page is part of the mapping too.
  const size_t bytes = (size_t{3} << 20) + 123;
  auto s = storage_allocate_huge(bytes);
  ASSERT_EQ(s->size(), bytes);
  ASSERT_NE(s->mutable_data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s->data()) % 64, 0u);
  for (size_t i = 0; i < bytes; i += 4093) EXPECT_EQ(s->data()[i], std::byte{0}) << i;
  EXPECT_EQ(s->data()[bytes - 1], std::byte{0});
  s->mutable_data()[bytes - 1] = std::byte{7};
  EXPECT_EQ(s->data()[bytes - 1], std::byte{7});
  // A tensor over it reads and writes like one from Tensor::zeros.
  Tensor t(s, 0, DType::f32, {16});
  t.data_mut<float>()[3] = 2.5f;
  EXPECT_EQ(t.data<float>()[3], 2.5f);
}

TEST(Storage, EmptyHugeAllocationIsUsable) {
  auto s = storage_allocate_huge(0);
  EXPECT_EQ(s->size(), 0u);
}

}  // namespace
}  // namespace mofa
