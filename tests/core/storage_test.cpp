#include "core/storage.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

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

// Read into memory, the file's byte `aligned_at` lands on a 64-byte boundary, whatever its
// offset, and every byte reads back as written.
TEST(Storage, FileReadIntoMemoryAlignsTheRequestedByte) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "mofa_storage_align_test.bin").string();
  std::string bytes(5000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
  std::ofstream(path, std::ios::binary) << bytes;
  for (size_t at : {size_t{0}, size_t{1}, size_t{32}, size_t{63}, size_t{64}, size_t{4099}}) {
    auto s = storage_open_file(path, FileResidency::memory, at);
    ASSERT_EQ(s->size(), bytes.size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s->data() + at) % 64, 0u) << at;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(s->data()), s->size()), bytes) << at;
    EXPECT_EQ(s->mutable_data(), nullptr);  // read-only, like a mapping
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mofa
