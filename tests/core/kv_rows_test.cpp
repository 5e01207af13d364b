#include "core/kv_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace mofa {
namespace {

TEST(KvRows, SizesOfEachType) {
  EXPECT_EQ(kv_row_units(DType::f32, 128), 128);
  EXPECT_EQ(kv_row_bytes(DType::f32, 128), 512u);
  EXPECT_EQ(kv_row_bytes(DType::f16, 128), 256u);
  // llama.cpp's q8_0: 34 bytes (an f16 scale and 32 codes) per 32 values.
  EXPECT_EQ(kv_row_units(DType::q8_0, 128), 136);
  EXPECT_EQ(kv_row_bytes(DType::q8_0, 128), 136u);
  EXPECT_EQ(kv_row_values(DType::q8_0, 136), 128);
  EXPECT_EQ(kv_row_values(DType::f16, 80), 80);
  EXPECT_TRUE(kv_row_fits(DType::q8_0, 64));
  EXPECT_FALSE(kv_row_fits(DType::q8_0, 80));
  EXPECT_TRUE(kv_row_fits(DType::f16, 80));
  EXPECT_FALSE(kv_row_fits(DType::bf16, 64));
}

// Each block keeps its largest magnitude as ±127 codes of step max|x| / 127 (rounded to f16),
// so every value comes back within half a step, and a block of zeros stays zero.
TEST(KvRows, Q8RowRoundTripsWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(128);
  for (float& v : x) v = normal(rng);
  for (int c = 64; c < 96; ++c) x[c] = 0.0f;  // the third block is all zero
  x[5] = -9.5f;                               // a large value sets its block's step
  std::vector<uint8_t> row(kv_row_bytes(DType::q8_0, 128));
  std::vector<float> back(128);
  kv_store_row(x.data(), 128, DType::q8_0, row.data());
  kv_load_row(row.data(), 128, DType::q8_0, back.data());
  for (int b = 0; b < 4; ++b) {
    float amax = 0.0f;
    for (int c = 0; c < 32; ++c) amax = std::max(amax, std::fabs(x[b * 32 + c]));
    const float step = f16_to_f32(f32_to_f16(amax / 127.0f));
    for (int c = 0; c < 32; ++c)
      ASSERT_NEAR(back[b * 32 + c], x[b * 32 + c], 0.5f * step + 1e-7f) << "block " << b;
  }
  EXPECT_EQ(static_cast<int8_t>(row[2 + 5]), -127);  // codes follow the block's f16 scale
  for (int c = 64; c < 96; ++c) EXPECT_EQ(back[c], 0.0f);
}

TEST(KvRows, F16AndF32RowsRoundTrip) {
  const std::vector<float> x = {1.0f, -2.5f, 0.1f, 65504.0f};
  std::vector<uint16_t> half(4);
  std::vector<float> back(4), copy(4);
  kv_store_row(x.data(), 4, DType::f16, half.data());
  kv_load_row(half.data(), 4, DType::f16, back.data());
  for (int c = 0; c < 4; ++c) EXPECT_EQ(back[c], f16_to_f32(f32_to_f16(x[c])));
  kv_store_row(x.data(), 4, DType::f32, copy.data());
  kv_load_row(copy.data(), 4, DType::f32, back.data());
  EXPECT_EQ(back, x);
}

}  // namespace
}  // namespace mofa
