// InfLLM-v2 sparse attention on its own: sparse_config parsing, the compressed keys kept
// incrementally, and the blocks each query keeps (forced ones, the count, decode equal to
// prefill, every block kept equal to dense attention). Its semantics against the PyTorch
// reference are checked end to end by tests/reference/minicpm_reference.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/error.h"
#include "core/kv_rows.h"
#include "core/ops/ops.h"
#include "models/layers/infllm_v2_attention.h"

namespace mofa::models {
namespace {

Tensor random_tensor(Shape shape, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::f32, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  float* d = t.data_mut<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng);
  return t;
}

std::string config_error(const nlohmann::json& sc) {
  try {
    infllm_v2_config(sc, "config.json in x: ");
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

TEST(InfLlmV2Config, TakesTheReferenceDefaultsAndNamesBadValues) {
  const InfLlmV2Config d = infllm_v2_config(nlohmann::json::object(), "");
  EXPECT_EQ(d.block_size, 64);
  EXPECT_EQ(d.dense_len, 8192);
  EXPECT_EQ(d.n_select(), 64 + 2048 / 64);
  const InfLlmV2Config c = infllm_v2_config({{"block_size", 8},
                                             {"dense_len", 24},
                                             {"init_blocks", 0},
                                             {"kernel_size", 4},
                                             {"kernel_stride", 2},
                                             {"topk", 4},
                                             {"window_size", 16},
                                             {"use_nope", true}},
                                            "");
  EXPECT_EQ(c.local_blocks(), 2);
  EXPECT_EQ(c.n_select(), 6);
  EXPECT_TRUE(c.use_nope);

  EXPECT_NE(
      config_error({{"block_size", 0}}).find("sparse_config.block_size must be an integer >= 1"),
      std::string::npos);
  EXPECT_NE(config_error({{"topk", 2.5}}).find("sparse_config.topk"), std::string::npos);
  EXPECT_NE(config_error({{"window_size", -1}}).find("window_size"), std::string::npos);
  EXPECT_NE(config_error({{"use_nope", 1}}).find("use_nope must be true or false"),
            std::string::npos);
  EXPECT_NE(config_error({{"block_size", 60}}).find("must be a multiple of kernel_stride 16"),
            std::string::npos);
  EXPECT_NE(config_error({{"topk", 1}}).find("topk 1 must exceed init_blocks 1"),
            std::string::npos);
  EXPECT_NE(config_error(nlohmann::json::array()).find("must be an object"), std::string::npos);
}

InfLlmV2Config small_config() {
  InfLlmV2Config c;
  c.block_size = 8;
  c.dense_len = 1;
  c.init_blocks = 1;
  c.kernel_size = 4;
  c.kernel_stride = 2;
  c.topk = 3;
  c.window_size = 16;
  return c;
}

TEST(InfLlmV2Keys, GrowOneKeyAtATimeAsTheyWouldAllAtOnce) {
  const InfLlmV2Config cfg = small_config();
  const int64_t n_kv = 2, cap = 300, d = 8, n = 290;
  const Tensor k = random_tensor({n_kv, cap, d}, 1);
  InfLlmV2Keys whole, stepwise;
  whole.update(k, 0, n, cfg);
  for (int64_t t = 1; t <= n; ++t) stepwise.update(k, t - 1, t, cfg);
  ASSERT_EQ(whole.n1(), (n - 4) / 2 + 1);
  ASSERT_EQ(whole.n2(), (n - 16) / 8 + 1);
  ASSERT_EQ(stepwise.n1(), whole.n1());
  ASSERT_EQ(stepwise.n2(), whole.n2());
  // k1 entry j of head g is the mean of positions [2j, 2j + 4).
  for (int64_t g = 0; g < n_kv; ++g) {
    for (int64_t j = 0; j < whole.n1(); ++j) {
      for (int64_t c = 0; c < d; ++c) {
        double want = 0;
        for (int64_t r = 0; r < 4; ++r) want += k.data<float>()[(g * cap + 2 * j + r) * d + c];
        want /= 4;
        const float a = whole.k1().data<float>()[(g * whole.k1().dim(1) + j) * d + c];
        const float b = stepwise.k1().data<float>()[(g * stepwise.k1().dim(1) + j) * d + c];
        ASSERT_NEAR(a, want, 1e-5);
        ASSERT_EQ(a, b);
      }
    }
  }
  // Rewound to 100 positions whose later keys changed: entries past 100 are recomputed.
  Tensor k2 = k.to_f32();
  for (int64_t g = 0; g < n_kv; ++g)
    for (int64_t i = 100 * d; i < cap * d; ++i) k2.data_mut<float>()[g * cap * d + i] += 1.0f;
  InfLlmV2Keys fresh;
  fresh.update(k2, 0, 200, cfg);
  whole.update(k2, 100, 200, cfg);
  ASSERT_EQ(whole.n1(), fresh.n1());
  for (int64_t j = 0; j < fresh.n1(); ++j)
    ASSERT_EQ(whole.k1().data<float>()[j * d], fresh.k1().data<float>()[j * d]) << j;
  EXPECT_GE(whole.bytes(), static_cast<size_t>(n_kv * (whole.n1() + whole.n2()) * d) * 4);
}

// The keys are pooled from an f16 or q8_0 cache (--cache-type-k) as from an f32 cache holding
// the same values widened.
TEST(InfLlmV2Keys, PoolAHalfOrQ8CacheAsItsWidenedValues) {
  const InfLlmV2Config cfg = small_config();
  const int64_t n_kv = 2, cap = 80, d = 64, n = 70;
  const Tensor k = random_tensor({n_kv, cap, d}, 2);
  for (DType type : {DType::f16, DType::q8_0}) {
    SCOPED_TRACE(dtype_name(type).data());
    const size_t row_bytes = kv_row_bytes(type, d);
    Tensor cache = Tensor::zeros(type, {n_kv, cap, kv_row_units(type, d)});
    Tensor widened = Tensor::zeros(DType::f32, {n_kv, cap, d});
    for (int64_t r = 0; r < n_kv * cap; ++r) {
      char* row = static_cast<char*>(cache.raw_mut()) + static_cast<size_t>(r) * row_bytes;
      kv_store_row(k.data<float>() + r * d, d, type, row);
      kv_load_row(row, d, type, widened.data_mut<float>() + r * d);
    }
    InfLlmV2Keys from_cache, from_f32;
    from_cache.update(cache, 0, n, cfg);
    from_f32.update(widened, 0, n, cfg);
    ASSERT_EQ(from_cache.n1(), from_f32.n1());
    ASSERT_EQ(from_cache.n2(), from_f32.n2());
    for (const auto& [a, b] : {std::pair{&from_cache.k1(), &from_f32.k1()},
                               std::pair{&from_cache.k2(), &from_f32.k2()}}) {
      ASSERT_EQ(a->shape(), b->shape());
      for (int64_t i = 0; i < a->numel(); ++i)
        ASSERT_EQ(a->data<float>()[i], b->data<float>()[i]) << i;
    }
  }
}

struct SparseRun {
  Tensor out;
  std::vector<int32_t> blocks;
  int64_t n_kept = 0;
};

// Prefill of m rows after n_past keys, all through the sparse path.
SparseRun run_sparse(const InfLlmV2Config& cfg, const Tensor& q, const Tensor& k, const Tensor& v,
                     int64_t n_past, int64_t heads, int64_t n_kv, int64_t d) {
  InfLlmV2Attention attn(cfg, heads, n_kv, d);
  InfLlmV2Keys keys;
  SparseRun r;
  attn.forward(q, k, v, n_past, n_past, 1.0f / std::sqrt(static_cast<float>(d)), keys, r.out);
  r.blocks = attn.blocks();
  r.n_kept = attn.n_kept();
  return r;
}

TEST(InfLlmV2Attention, KeepsItsForcedBlocksAndTheBestOthers) {
  const InfLlmV2Config cfg = small_config();  // 8-position blocks, 3 + 2 kept
  const int64_t heads = 4, n_kv = 2, d = 16, m = 120, cap = 128;
  const Tensor q = random_tensor({m, heads, d}, 2);
  const Tensor k = random_tensor({n_kv, cap, d}, 3);
  const Tensor v = random_tensor({n_kv, cap, d}, 4);
  const SparseRun r = run_sparse(cfg, q, k, v, 0, heads, n_kv, d);
  ASSERT_EQ(r.n_kept, 5);
  std::set<int32_t> chosen_elsewhere;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t own = i / 8;
    for (int64_t g = 0; g < n_kv; ++g) {
      std::set<int32_t> kept;
      for (int64_t s = 0; s < r.n_kept; ++s)
        if (int32_t b = r.blocks[(i * n_kv + g) * r.n_kept + s]; b >= 0) kept.insert(b);
      // Every block while they fit, then exactly 5: block 0, the own block and the 2 before it,
      // and one more by score.
      ASSERT_EQ(static_cast<int64_t>(kept.size()), std::min<int64_t>(own + 1, 5)) << i;
      for (int64_t b = std::max<int64_t>(0, own - 2); b <= own; ++b) ASSERT_TRUE(kept.count(b));
      ASSERT_TRUE(kept.count(0));
      if (own >= 5)
        for (int32_t b : kept)
          if (b != 0 && b < own - 2) chosen_elsewhere.insert(b);
    }
  }
  // The free slot goes to different blocks for different queries.
  EXPECT_GT(chosen_elsewhere.size(), 3u);

  // The same rows against plain causal attention: equal while every block is kept (rows < 40).
  Tensor dense;
  ops::attention(q, k, v, 0, 1.0f / std::sqrt(static_cast<float>(d)), 0, dense);
  const int64_t per_row = heads * d;
  double early = 0, late = 0;
  for (int64_t i = 0; i < m * per_row; ++i) {
    const double diff = std::fabs(r.out.data<float>()[i] - dense.data<float>()[i]);
    double& worst = i < 40 * per_row ? early : late;
    worst = std::max(worst, diff);
  }
  EXPECT_LT(early, 1e-5);
  EXPECT_GT(late, 1e-2);
}

TEST(InfLlmV2Attention, KeepsEveryBlockWhenTopkCoversThemAll) {
  InfLlmV2Config cfg = small_config();
  cfg.topk = 100;
  const int64_t heads = 6, n_kv = 3, d = 8, m = 90, cap = 96;
  const Tensor q = random_tensor({m, heads, d}, 5);
  const Tensor k = random_tensor({n_kv, cap, d}, 6);
  const Tensor v = random_tensor({n_kv, cap, d}, 7);
  const SparseRun r = run_sparse(cfg, q, k, v, 0, heads, n_kv, d);
  Tensor dense;
  ops::attention(q, k, v, 0, 1.0f / std::sqrt(static_cast<float>(d)), 0, dense);
  for (int64_t i = 0; i < dense.numel(); ++i)
    ASSERT_NEAR(r.out.data<float>()[i], dense.data<float>()[i], 1e-5) << i;
}

TEST(InfLlmV2Attention, ADecodeStepEqualsThePrefillRowAtItsPosition) {
  const InfLlmV2Config cfg = small_config();
  const int64_t heads = 4, n_kv = 2, d = 16, n = 101, cap = 128;
  const Tensor q = random_tensor({n, heads, d}, 8);
  const Tensor k = random_tensor({n_kv, cap, d}, 9);
  const Tensor v = random_tensor({n_kv, cap, d}, 10);
  const SparseRun prefill = run_sparse(cfg, q, k, v, 0, heads, n_kv, d);
  // The last row again as a decode step over the same cache (its compressed keys kept from a
  // forward of the first n - 1 rows, as a sequence would have them).
  InfLlmV2Attention attn(cfg, heads, n_kv, d);
  InfLlmV2Keys keys;
  Tensor first, step;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  attn.forward(q.slice(0, 0, n - 1), k, v, 0, 0, scale, keys, first);
  attn.forward(q.slice(0, n - 1, n), k, v, n - 1, n - 1, scale, keys, step);
  for (int64_t s = 0; s < attn.n_kept() * n_kv; ++s)
    ASSERT_EQ(attn.blocks()[s], prefill.blocks[(n - 1) * n_kv * prefill.n_kept + s]);
  for (int64_t i = 0; i < heads * d; ++i)
    ASSERT_NEAR(step.data<float>()[i], prefill.out.data<float>()[(n - 1) * heads * d + i], 1e-6);
}

}  // namespace
}  // namespace mofa::models
