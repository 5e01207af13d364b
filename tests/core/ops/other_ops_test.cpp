#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/kernels/dispatch.h"
#include "core/kv_rows.h"
#include "core/ops/op_test_util.h"
#include "core/ops/ops.h"

namespace mofa {
namespace {

TEST(RmsNorm, MatchesFormulaForEveryWeightDtype) {
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    for (int64_t d : {37, 896}) {
      const int64_t m = 9;
      const auto xv = test::random_floats(m * d, 1, -3, 3);
      const auto wv = test::random_floats(d, 2);
      const Tensor w = test::tensor_of(dt, wv, {d});
      Tensor y;
      ops::rms_norm(Tensor::from_f32(xv, {m, d}), w, 1e-6f, y);
      for (int64_t i = 0; i < m; ++i) {
        double ss = 0;
        for (int64_t c = 0; c < d; ++c) ss += xv[i * d + c] * static_cast<double>(xv[i * d + c]);
        const double inv = 1 / std::sqrt(ss / d + 1e-6);
        for (int64_t c = 0; c < d; ++c) {
          const double want = xv[i * d + c] * inv * w.get_f32(c);
          ASSERT_NEAR(y.data<float>()[i * d + c], want, 1e-5 * (1 + std::fabs(want)));
        }
      }
    }
  }
}

TEST(RmsNorm, WorksInPlace) {
  Tensor x = Tensor::from_f32({3, 4}, {1, 2});
  ops::rms_norm(x, Tensor::from_f32({1, 1}, {2}), 0.0f, x);
  EXPECT_NEAR(x.data<float>()[0], 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x.data<float>()[1], 4 / std::sqrt(12.5), 1e-6);
}

// Rotates one vector with the textbook formula in f64.
void rope_expect(const std::vector<float>& before, const Tensor& after, int64_t m, int64_t heads,
                 const std::vector<int32_t>& pos, const ops::Rope& r) {
  const int half = r.rotary_dim / 2;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = (i * heads + h) * r.head_dim;
      std::vector<double> want(before.begin() + base, before.begin() + base + r.head_dim);
      for (int j = 0; j < half; ++j) {
        const double freq = std::pow(10000.0, -2.0 * j / r.rotary_dim);
        const double a = pos[i] * freq;
        const int i0 = r.interleaved ? 2 * j : j, i1 = r.interleaved ? 2 * j + 1 : j + half;
        want[i0] = before[base + i0] * std::cos(a) - before[base + i1] * std::sin(a);
        want[i1] = before[base + i1] * std::cos(a) + before[base + i0] * std::sin(a);
      }
      for (int64_t c = 0; c < r.head_dim; ++c) {
        // f32 angles lose pos·2⁻²⁴ radians, as transformers' do.
        const double tol = 1e-5 + 2e-7 * pos[i];
        ASSERT_NEAR(after.data<float>()[base + c], want[c], tol) << "row " << i << " col " << c;
      }
    }
}

TEST(Rope, MatchesDirectFormula) {
  const std::vector<int32_t> pos = {0, 1, 7, 100, 4095, 30000};
  const int64_t m = static_cast<int64_t>(pos.size()), heads = 3;
  for (bool interleaved : {false, true})
    for (auto [hd, rd] : {std::pair{64, 64}, std::pair{128, 64}, std::pair{40, 20}}) {
      ops::Rope r = ops::rope_default(hd, rd, 10000.0);
      r.interleaved = interleaved;
      const auto xv = test::random_floats(m * heads * hd, 3);
      Tensor x = Tensor::from_f32(xv, {m, heads, hd});
      ops::rope_apply(x, pos.data(), r);
      rope_expect(xv, x, m, heads, pos, r);
    }
}

TEST(Rope, DefaultTableMatchesTheta) {
  const ops::Rope r = ops::rope_default(64, 64, 1e6);
  ASSERT_EQ(r.inv_freq.size(), 32u);
  EXPECT_FLOAT_EQ(r.inv_freq[0], 1.0f);
  EXPECT_NEAR(r.inv_freq[16], std::pow(1e6, -0.5), 1e-9);
  EXPECT_THROW(ops::rope_default(64, 63, 1e4), InvalidInput);
}

TEST(Softmax, RowsSumToOneAndMatchFormula) {
  for (int64_t n : {1, 5, 100, 1000}) {
    const auto xv = test::random_floats(3 * n, 4, -20, 20);
    Tensor x = Tensor::from_f32(xv, {3, n});
    ops::softmax(x);
    for (int64_t i = 0; i < 3; ++i) {
      const float mx = *std::max_element(xv.begin() + i * n, xv.begin() + (i + 1) * n);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(double(xv[i * n + j]) - mx);
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::exp(double(xv[i * n + j]) - mx) / sum;
        ASSERT_NEAR(x.data<float>()[i * n + j], want, 1e-6 + 1e-5 * want);
      }
    }
  }
}

TEST(Elementwise, SiluMulAndAddMatchFormula) {
  for (int64_t n : {3, 17, 100000}) {
    const auto g = test::random_floats(n, 5, -10, 10), u = test::random_floats(n, 6);
    Tensor out, sum;
    ops::silu_mul(Tensor::from_f32(g, {n}), Tensor::from_f32(u, {n}), out);
    ops::add(Tensor::from_f32(g, {n}), Tensor::from_f32(u, {n}), sum);
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1 + std::exp(-double(g[i]))) * u[i];
      ASSERT_NEAR(out.data<float>()[i], want, 1e-5 * (1 + std::fabs(want)));
      ASSERT_EQ(sum.data<float>()[i], g[i] + u[i]);
    }
  }
  Tensor out;
  EXPECT_THROW(ops::add(Tensor::zeros(DType::f32, {3}), Tensor::zeros(DType::f32, {4}), out),
               InvalidInput);
}

struct AttnCase {
  int64_t m, n_past, n_heads, n_kv, head_dim, window;
};

class Attention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(Attention, MatchesReference) {
  const AttnCase c = GetParam();
  const int64_t cap = c.n_past + c.m + 3;
  const auto qv = test::random_floats(c.m * c.n_heads * c.head_dim, 7, -2, 2);
  const auto kv = test::random_floats(c.n_kv * cap * c.head_dim, 8, -2, 2);
  const auto vv = test::random_floats(c.n_kv * cap * c.head_dim, 9);
  const Tensor q = Tensor::from_f32(qv, {c.m, c.n_heads, c.head_dim});
  const Tensor k = Tensor::from_f32(kv, {c.n_kv, cap, c.head_dim});
  const Tensor v = Tensor::from_f32(vv, {c.n_kv, cap, c.head_dim});
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  Tensor ref, out;
  {
    test::UseKernels use(kernels::reference_kernels());
    ops::attention(q, k, v, c.n_past, scale, c.window, ref);
  }
  ops::attention(q, k, v, c.n_past, scale, c.window, out);
  for (int64_t i = 0; i < out.numel(); ++i)
    ASSERT_NEAR(out.data<float>()[i], ref.data<float>()[i], 2e-5) << "at " << i;
  // Row 0 with n_past 0 and no window sees only itself: the output is v at position 0.
  if (c.n_past == 0) {
    for (int64_t d = 0; d < c.head_dim; ++d) ASSERT_NEAR(out.data<float>()[d], vv[d], 1e-6);
  }
}

// An f16 cache (--cache-type-k/v f16) is read as exactly its widened values: the results equal
// those of an f32 cache holding the same rounded numbers, on both backends and in any mix.
TEST_P(Attention, F16CacheEqualsItsWidenedValues) {
  const AttnCase c = GetParam();
  const int64_t cap = c.n_past + c.m + 3;
  const auto qv = test::random_floats(c.m * c.n_heads * c.head_dim, 7, -2, 2);
  const Shape cache_shape = {c.n_kv, cap, c.head_dim};
  const Tensor k16 = test::tensor_of(
      DType::f16, test::random_floats(c.n_kv * cap * c.head_dim, 8, -2, 2), cache_shape);
  const Tensor v16 =
      test::tensor_of(DType::f16, test::random_floats(c.n_kv * cap * c.head_dim, 9), cache_shape);
  auto widened = [&](const Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.get_f32(i);
    return Tensor::from_f32(out, cache_shape);
  };
  const Tensor k32 = widened(k16), v32 = widened(v16);
  const Tensor q = Tensor::from_f32(qv, {c.m, c.n_heads, c.head_dim});
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  Tensor want;
  ops::attention(q, k32, v32, c.n_past, scale, c.window, want);
  for (const auto& [k, v] : {std::pair{&k16, &v16}, std::pair{&k16, &v32}, std::pair{&k32, &v16}}) {
    Tensor ref, out;
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::attention(q, *k, *v, c.n_past, scale, c.window, ref);
    }
    ops::attention(q, *k, *v, c.n_past, scale, c.window, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      ASSERT_NEAR(out.data<float>()[i], want.data<float>()[i], 1e-6) << "at " << i;
      ASSERT_NEAR(ref.data<float>()[i], want.data<float>()[i], 2e-5) << "at " << i;
    }
  }
}

// A q8_0 cache (--cache-type-k/v q8_0) is read as exactly its dequantized values, on both
// backends and mixed with f32 or f16: the results equal those of an f32 cache holding them.
TEST_P(Attention, Q8CacheEqualsItsDequantizedValues) {
  const AttnCase c = GetParam();
  if (c.head_dim % kQ8Block != 0) GTEST_SKIP() << "q8_0 rows are whole blocks of 32";
  const int64_t cap = c.n_past + c.m + 3, rows = c.n_kv * cap;
  const size_t row_bytes = kv_row_bytes(DType::q8_0, c.head_dim);
  // A q8_0 cache of random rows, and an f32 cache of its dequantized values.
  auto caches = [&](uint64_t seed) {
    const auto values = test::random_floats(rows * c.head_dim, seed, -2, 2);
    Tensor q8 = test::tensor_of(DType::q8_0, values, {c.n_kv, cap, c.head_dim});
    std::vector<float> back(values.size());
    for (int64_t r = 0; r < rows; ++r)
      kv_load_row(static_cast<const char*>(q8.raw()) + static_cast<size_t>(r) * row_bytes,
                  c.head_dim, DType::q8_0, back.data() + r * c.head_dim);
    return std::pair{q8, Tensor::from_f32(back, {c.n_kv, cap, c.head_dim})};
  };
  const auto [k8, k32] = caches(8);
  const auto [v8, v32] = caches(9);
  // An f16 cache of V's values beside it, and those values widened again.
  const float* v_values = v32.data<float>();
  const Tensor v16 = test::tensor_of(
      DType::f16, std::vector<float>(v_values, v_values + v32.numel()), v32.shape());
  std::vector<float> v16_values(static_cast<size_t>(v16.numel()));
  for (int64_t i = 0; i < v16.numel(); ++i) v16_values[static_cast<size_t>(i)] = v16.get_f32(i);
  const Tensor v16_32 = Tensor::from_f32(v16_values, v16.shape());
  const Tensor q = Tensor::from_f32(test::random_floats(c.m * c.n_heads * c.head_dim, 7, -2, 2),
                                    {c.m, c.n_heads, c.head_dim});
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  struct Mix {
    const Tensor *k, *v, *k_values, *v_values;
  };
  for (const Mix& mix : {Mix{&k8, &v8, &k32, &v32}, Mix{&k8, &v32, &k32, &v32},
                         Mix{&k32, &v8, &k32, &v32}, Mix{&k8, &v16, &k32, &v16_32}}) {
    Tensor want, ref, out;
    ops::attention(q, *mix.k_values, *mix.v_values, c.n_past, scale, c.window, want);
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::attention(q, *mix.k, *mix.v, c.n_past, scale, c.window, ref);
    }
    ops::attention(q, *mix.k, *mix.v, c.n_past, scale, c.window, out);
    for (int64_t i = 0; i < out.numel(); ++i) {
      ASSERT_NEAR(out.data<float>()[i], want.data<float>()[i], 1e-6) << "at " << i;
      ASSERT_NEAR(ref.data<float>()[i], want.data<float>()[i], 2e-5) << "at " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Attention,
    ::testing::Values(AttnCase{1, 37, 6, 2, 64, 0}, AttnCase{9, 0, 4, 4, 40, 0},
                      AttnCase{70, 100, 6, 2, 64, 16}, AttnCase{130, 0, 2, 1, 128, 0},
                      AttnCase{1, 300, 14, 2, 64, 32}, AttnCase{5, 3, 8, 1, 17, 4},
                      // Decode and prefill over a cache, group sizes 1, 2 and 7, head_dim 64,
                      // 128 and odd ones, windows, key counts off the kernel's tiles of keys.
                      AttnCase{1, 200, 7, 1, 64, 0}, AttnCase{1, 129, 4, 2, 128, 0},
                      AttnCase{1, 90, 3, 3, 33, 0}, AttnCase{33, 70, 3, 3, 64, 0},
                      AttnCase{20, 150, 14, 2, 128, 0}, AttnCase{17, 65, 8, 4, 17, 0},
                      AttnCase{11, 90, 7, 1, 33, 20}, AttnCase{3, 1000, 14, 2, 64, 100},
                      AttnCase{40, 7, 14, 2, 64, 300}, AttnCase{1, 77, 8, 2, 64, 0}));

TEST(AttentionOp, RejectsBadShapes) {
  Tensor out;
  const Tensor k = Tensor::zeros(DType::f32, {2, 8, 16});
  EXPECT_THROW(ops::attention(Tensor::zeros(DType::f32, {1, 3, 16}), k, k, 0, 1, 0, out),
               InvalidInput);  // 3 heads over 2 kv heads
  EXPECT_THROW(ops::attention(Tensor::zeros(DType::f32, {4, 4, 16}), k, k, 5, 1, 0, out),
               InvalidInput);  // past capacity
  const Tensor kb = Tensor::zeros(DType::bf16, {2, 8, 16});
  EXPECT_THROW(ops::attention(Tensor::zeros(DType::f32, {1, 4, 16}), kb, kb, 0, 1, 0, out),
               InvalidInput);  // a cache is f32, f16 or q8_0
  // q8_0 rows are whole blocks of 32 values: 34 bytes per block.
  const Tensor q64 = Tensor::zeros(DType::f32, {1, 4, 64});
  const Tensor k8 = Tensor::zeros(DType::q8_0, {2, 8, 68});
  EXPECT_NO_THROW(ops::attention(q64, k8, k8, 0, 1, 0, out));
  EXPECT_THROW(ops::attention(q64, Tensor::zeros(DType::q8_0, {2, 8, 64}), k8, 0, 1, 0, out),
               InvalidInput);  // 64 bytes are not whole blocks of 64 values
  const Tensor k8_16 = Tensor::zeros(DType::q8_0, {2, 8, 16});
  EXPECT_THROW(ops::attention(Tensor::zeros(DType::f32, {1, 4, 16}), k8_16, k8_16, 0, 1, 0, out),
               InvalidInput);  // 16 values are not a block
}

struct BlockAttnCase {
  int64_t m, n_past, n_heads, n_kv, head_dim, block_size, n_sel;
};

class AttentionBlocks : public ::testing::TestWithParam<BlockAttnCase> {};

// Each row and KV head gets its own ascending blocks: always the row's own block, others drawn
// at random from the earlier ones, and -1 padding when fewer exist than slots.
std::vector<int32_t> random_blocks(const BlockAttnCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < c.m; ++i) {
    const int64_t own = (c.n_past + i) / c.block_size;
    for (int64_t g = 0; g < c.n_kv; ++g) {
      std::vector<int32_t> pick = {static_cast<int32_t>(own)};
      std::vector<int32_t> rest;
      for (int32_t b = 0; b < own; ++b) rest.push_back(b);
      std::shuffle(rest.begin(), rest.end(), rng);
      for (int32_t b : rest)
        if (static_cast<int64_t>(pick.size()) < c.n_sel) pick.push_back(b);
      std::sort(pick.begin(), pick.end());
      pick.resize(static_cast<size_t>(c.n_sel), -1);
      out.insert(out.end(), pick.begin(), pick.end());
    }
  }
  return out;
}

TEST_P(AttentionBlocks, MatchesReference) {
  const BlockAttnCase c = GetParam();
  const int64_t cap = c.n_past + c.m + 5;
  const auto qv = test::random_floats(c.m * c.n_heads * c.head_dim, 17, -2, 2);
  const auto kv = test::random_floats(c.n_kv * cap * c.head_dim, 18, -2, 2);
  const auto vv = test::random_floats(c.n_kv * cap * c.head_dim, 19);
  const Tensor q = Tensor::from_f32(qv, {c.m, c.n_heads, c.head_dim});
  const Tensor k = Tensor::from_f32(kv, {c.n_kv, cap, c.head_dim});
  const Tensor v = Tensor::from_f32(vv, {c.n_kv, cap, c.head_dim});
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const std::vector<int32_t> blocks = random_blocks(c, 5);
  Tensor ref, out;
  {
    test::UseKernels use(kernels::reference_kernels());
    ops::attention_blocks(q, k, v, c.n_past, scale, blocks.data(), c.n_sel, c.block_size, ref);
  }
  ops::attention_blocks(q, k, v, c.n_past, scale, blocks.data(), c.n_sel, c.block_size, out);
  for (int64_t i = 0; i < out.numel(); ++i)
    ASSERT_NEAR(out.data<float>()[i], ref.data<float>()[i], 2e-5) << "at " << i;

  // The same blocks over an f16 cache against the reference over the same f16 cache.
  const Tensor k16 = test::tensor_of(DType::f16, kv, k.shape());
  const Tensor v16 = test::tensor_of(DType::f16, vv, v.shape());
  Tensor ref16, out16;
  {
    test::UseKernels use(kernels::reference_kernels());
    ops::attention_blocks(q, k16, v16, c.n_past, scale, blocks.data(), c.n_sel, c.block_size,
                          ref16);
  }
  ops::attention_blocks(q, k16, v16, c.n_past, scale, blocks.data(), c.n_sel, c.block_size, out16);
  for (int64_t i = 0; i < out16.numel(); ++i)
    ASSERT_NEAR(out16.data<float>()[i], ref16.data<float>()[i], 2e-5) << "at " << i;

  // Every block of every row chosen: plain causal attention.
  const int64_t all = (c.n_past + c.m + c.block_size - 1) / c.block_size;
  std::vector<int32_t> every;
  for (int64_t i = 0; i < c.m; ++i) {
    const int64_t own = (c.n_past + i) / c.block_size;
    for (int64_t g = 0; g < c.n_kv; ++g)
      for (int64_t b = 0; b < all; ++b) every.push_back(b <= own ? static_cast<int32_t>(b) : -1);
  }
  Tensor dense, sparse_all;
  ops::attention(q, k, v, c.n_past, scale, 0, dense);
  ops::attention_blocks(q, k, v, c.n_past, scale, every.data(), all, c.block_size, sparse_all);
  for (int64_t i = 0; i < dense.numel(); ++i)
    ASSERT_NEAR(sparse_all.data<float>()[i], dense.data<float>()[i], 2e-5) << "at " << i;
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionBlocks,
                         // Decode and prefill rows, groups 1 to 16, blocks smaller and larger than
                         // the kernel's tiles of keys, fewer blocks than slots (padding) and more.
                         ::testing::Values(BlockAttnCase{1, 300, 32, 2, 64, 16, 6},
                                           BlockAttnCase{1, 700, 8, 2, 128, 64, 5},
                                           BlockAttnCase{9, 40, 4, 2, 16, 8, 3},
                                           BlockAttnCase{30, 200, 6, 3, 33, 100, 2},
                                           BlockAttnCase{5, 0, 2, 2, 8, 4, 8},
                                           BlockAttnCase{1, 95, 7, 1, 17, 3, 40}));

TEST(AttentionScores, MatchReferenceForEveryGroupShape) {
  struct Case {
    int64_t m, n_heads, n_kv, head_dim, n_keys, capacity;
  };
  // Decode and prefill rows, groups 1 to 32, key counts off the tiles and the 1024-key chunks.
  for (const Case c :
       {Case{1, 32, 2, 128, 2500, 2600}, Case{7, 4, 2, 16, 33, 40}, Case{3, 6, 3, 17, 1, 5},
        Case{40, 16, 1, 64, 1100, 1100}, Case{2, 32, 1, 8, 65, 70}}) {
    SCOPED_TRACE(c.n_keys);
    const Tensor q = Tensor::from_f32(test::random_floats(c.m * c.n_heads * c.head_dim, 21, -2, 2),
                                      {c.m, c.n_heads, c.head_dim});
    const Tensor k = Tensor::from_f32(test::random_floats(c.n_kv * c.capacity * c.head_dim, 22),
                                      {c.n_kv, c.capacity, c.head_dim});
    Tensor ref, out;
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::attention_scores(q, k, c.n_keys, 0.3f, ref);
    }
    ops::attention_scores(q, k, c.n_keys, 0.3f, out);
    ASSERT_EQ(out.shape(), (Shape{c.m, c.n_heads, c.n_keys}));
    for (int64_t i = 0; i < out.numel(); ++i)
      ASSERT_NEAR(out.data<float>()[i], ref.data<float>()[i], 1e-4) << "at " << i;
    // Entry (row 0, head 0, key 0) by hand.
    double dot = 0;
    for (int64_t x = 0; x < c.head_dim; ++x) dot += double(q.data<float>()[x]) * k.data<float>()[x];
    ASSERT_NEAR(out.data<float>()[0], 0.3 * dot, 1e-4);
  }
  Tensor out;
  const Tensor k = Tensor::zeros(DType::f32, {2, 8, 16});
  EXPECT_THROW(ops::attention_scores(Tensor::zeros(DType::f32, {1, 4, 16}), k, 9, 1, out),
               InvalidInput);  // more keys than the cache holds
  EXPECT_THROW(ops::attention_scores(Tensor::zeros(DType::f32, {1, 3, 16}), k, 4, 1, out),
               InvalidInput);  // 3 heads over 2 kv heads
}

TEST(AttentionBlocksOp, RejectsBadBlockLists) {
  Tensor out;
  const Tensor q = Tensor::zeros(DType::f32, {2, 4, 8});
  const Tensor k = Tensor::zeros(DType::f32, {2, 32, 8});
  // Rows at positions 20 and 21 with block_size 8: blocks 0..2 exist for both.
  auto run = [&](std::vector<int32_t> b) {
    ops::attention_blocks(q, k, k, 20, 1.0f, b.data(), 2, 8, out);
  };
  EXPECT_NO_THROW(run({0, 2, 1, 2, 2, -1, 0, 1}));
  EXPECT_THROW(run({0, 3, 1, 2, 2, -1, 0, 1}), InvalidInput);   // block 3 starts after 20
  EXPECT_THROW(run({2, 0, 1, 2, 2, -1, 0, 1}), InvalidInput);   // not ascending
  EXPECT_THROW(run({-1, 2, 1, 2, 2, -1, 0, 1}), InvalidInput);  // no block before padding
  EXPECT_THROW(ops::attention_blocks(q, k, k, 20, 1.0f, nullptr, 2, 8, out), InvalidInput);
}

}  // namespace
}  // namespace mofa
