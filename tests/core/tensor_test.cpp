#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace mofa {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001)), 0x3f81);  // above half
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(INFINITY))));
  // The smallest f32 subnormal survives as a bf16 subnormal.
  EXPECT_EQ(bits_of(bf16_to_f32(f32_to_bf16(from_bits(0x00010000)))), 0x00010000u);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      ASSERT_EQ(f32_to_bf16(f), h);
    }
  }
}

TEST(DType, F16RoundTripsAndRounds) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
    } else {
      ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
    }
  }
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));         // smallest subnormal
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00);               // overflow to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);  // below half the smallest subnormal
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_f32({0, 1, 2, 3, 4, 5}, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  Tensor r = t.row(1);
  EXPECT_EQ(r.shape(), (Shape{3}));
  EXPECT_EQ(r.data<float>()[0], 3.0f);
  r.data_mut<float>()[0] = 9.0f;
  EXPECT_EQ(t.data<float>()[3], 9.0f);
  Tensor col = t.slice(1, 1, 2);
  EXPECT_FALSE(col.is_contiguous());
  EXPECT_THROW(col.reshape({2}), InternalError);
  EXPECT_EQ(t.reshape({3, 2}).dim(-1), 2);
  EXPECT_EQ(shape_str(t.shape()), "[2, 3]");
  EXPECT_THROW(t.reshape({4}), InternalError);
}

TEST(Tensor, WidensHalfFloats) {
  Tensor h = Tensor::zeros(DType::bf16, {2});
  h.data_mut<uint16_t>()[0] = f32_to_bf16(1.5f);
  h.data_mut<uint16_t>()[1] = f32_to_bf16(-2.0f);
  Tensor f = h.to_f32();
  EXPECT_EQ(f.dtype(), DType::f32);
  EXPECT_EQ(f.data<float>()[0], 1.5f);
  EXPECT_EQ(f.data<float>()[1], -2.0f);
}

TEST(Arena, AlignsResetsAndDetectsExhaustion) {
  Arena a(1024);
  Tensor x = a.alloc(DType::f32, {3});
  Tensor y = a.alloc(DType::f32, {5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(y.raw()) % 64, 0u);
  EXPECT_NE(x.raw(), y.raw());
  EXPECT_EQ(a.used(), 64u + 20u);
  a.reset();
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.high_water(), 84u);
  EXPECT_THROW(a.alloc(DType::f32, {1000}), InternalError);
  try {
    a.alloc(DType::f32, {1000});
    FAIL() << "no throw";
  } catch (const InternalError& e) {
    EXPECT_STREQ(e.what(), "[arena] need 4000 bytes, capacity 1024");
  }
}

TEST(CheckInternal, BuildsItsMessageOnlyWhenTheCheckFails) {
  int built = 0;
  auto describe = [&] {
    ++built;
    return std::string("shape ") + std::to_string(7);
  };
  check_internal(true, "op", describe);
  EXPECT_EQ(built, 0);
  try {
    check_internal(false, "op", describe);
    FAIL() << "no throw";
  } catch (const InternalError& e) {
    EXPECT_STREQ(e.what(), "[op] shape 7");
  }
  EXPECT_EQ(built, 1);
  EXPECT_NO_THROW(check_internal(true, "op", "literal"));
  EXPECT_THROW(check_internal(false, "op", "literal"), InternalError);
  EXPECT_THROW(check_internal(false, "op", std::string("built")), InternalError);
}

TEST(Tensor, ContiguityFollowsTheStrides) {
  const Tensor t = Tensor::zeros(DType::f32, {2, 3, 4});
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.slice(0, 1, 2).is_contiguous());
  EXPECT_FALSE(t.slice(1, 0, 2).is_contiguous());
  EXPECT_FALSE(t.slice(2, 1, 3).is_contiguous());
  EXPECT_TRUE(t.reshape({6, 4}).is_contiguous());
  EXPECT_TRUE(Tensor::zeros(DType::f32, {5}).is_contiguous());
}

}  // namespace
}  // namespace mofa
