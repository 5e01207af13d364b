#include "core/profile.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/ops/ops.h"
#include "core/weight.h"

namespace mofa {
namespace {

using profile::Kind;

uint64_t calls_of(const profile::Counters& c, Kind k) {
  return c.calls[static_cast<size_t>(k)];
}

// Leaves the process-wide profiler off and zeroed whatever the test did.
class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    profile::set_enabled(false);
    profile::reset();
  }
  void TearDown() override {
    profile::set_enabled(false);
    profile::reset();
  }
};

TEST_F(ProfileTest, ClassifiesLinearWeightsByProjection) {
  EXPECT_EQ(profile::linear_kind("model.layers.3.self_attn.q_proj.weight"), Kind::linear_qkv);
  EXPECT_EQ(profile::linear_kind("model.layers.3.self_attn.k_proj.weight"), Kind::linear_qkv);
  EXPECT_EQ(profile::linear_kind("model.layers.3.self_attn.v_proj.weight"), Kind::linear_qkv);
  EXPECT_EQ(profile::linear_kind("transformer.encoder.layers.0.self_attention.query_key_value"),
            Kind::linear_qkv);
  EXPECT_EQ(profile::linear_kind("model.layers.3.self_attn.o_proj.weight"), Kind::linear_o);
  EXPECT_EQ(profile::linear_kind("transformer.encoder.layers.0.self_attention.dense.weight"),
            Kind::linear_o);
  EXPECT_EQ(profile::linear_kind("model.layers.3.mlp.gate_proj.weight"), Kind::linear_mlp);
  EXPECT_EQ(profile::linear_kind("model.layers.3.mlp.down_proj.weight"), Kind::linear_mlp);
  EXPECT_EQ(profile::linear_kind("model.layers.1.mlp.gate.weight"), Kind::linear_mlp);  // router
  EXPECT_EQ(profile::linear_kind("model.layers.1.block_sparse_moe.experts.7.w2.weight"),
            Kind::linear_mlp);
  EXPECT_EQ(profile::linear_kind("transformer.encoder.layers.0.mlp.dense_4h_to_h.weight"),
            Kind::linear_mlp);
  EXPECT_EQ(profile::linear_kind("lm_head.weight"), Kind::linear_head);
  EXPECT_EQ(profile::linear_kind("model.embed_tokens.weight"), Kind::linear_head);  // tied head
  EXPECT_EQ(profile::linear_kind("vision.patch_embed.proj.weight"), Kind::linear_other);
  EXPECT_EQ(profile::linear_kind(""), Kind::linear_other);
}

TEST_F(ProfileTest, OpsRecordNothingWhileOff) {
  Tensor x = Tensor::from_f32({1, 2, 3, 4}, {1, 4});
  Tensor y;
  ops::rms_norm(x, Tensor::from_f32({1, 1, 1, 1}, {4}), 1e-6f, y);
  ops::add(x, x, y);
  const auto c = profile::snapshot();
  EXPECT_EQ(c.total_ns(), 0u);
  for (int i = 0; i < profile::kKindCount; ++i) EXPECT_EQ(c.calls[i], 0u) << i;
}

TEST_F(ProfileTest, EachOpIsChargedToItsKind) {
  profile::set_enabled(true);
  const int64_t d = 8;
  std::vector<float> xv(2 * d), wv(3 * d * d);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = 0.1f * static_cast<float>(i);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = 0.01f * static_cast<float>(i % 17);
  const Tensor x = Tensor::from_f32(xv, {2, d});
  const Weight wq =
      weight_dense(Tensor::from_f32(wv, {3 * d, d}), "model.layers.0.self_attn.q_proj.weight");
  const Weight wd =
      weight_dense(Tensor::from_f32(std::vector<float>(wv.begin(), wv.begin() + d * d), {d, d}),
                   "model.layers.0.mlp.down_proj.weight");
  Tensor q, h, n;
  ops::linear(x, wq, q, ops::MatmulMode::exact);
  ops::linear(x, wd, h, ops::MatmulMode::exact);
  ops::linear(x, wd, h, ops::MatmulMode::exact);
  ops::rms_norm(x, Tensor::from_f32(std::vector<float>(d, 1.0f), {d}), 1e-6f, n);
  ops::silu_mul(h, h, h);
  const int32_t ids[1] = {2};
  Tensor e;
  ops::embedding(wd, ids, 1, e);
  profile::set_enabled(false);
  ops::add(n, n, n);  // after switching off: not counted

  const auto c = profile::snapshot();
  EXPECT_EQ(calls_of(c, Kind::linear_qkv), 1u);
  EXPECT_EQ(calls_of(c, Kind::linear_mlp), 2u);
  EXPECT_EQ(calls_of(c, Kind::norm), 1u);
  EXPECT_EQ(calls_of(c, Kind::elementwise), 1u);
  EXPECT_EQ(calls_of(c, Kind::embedding), 1u);
  EXPECT_EQ(calls_of(c, Kind::attention), 0u);
  EXPECT_EQ(calls_of(c, Kind::linear_head), 0u);

  profile::reset();
  const auto z = profile::snapshot();
  EXPECT_EQ(z.total_ns(), 0u);
  EXPECT_EQ(calls_of(z, Kind::linear_mlp), 0u);
}

TEST_F(ProfileTest, RowsListUsedKindsThenTheRemainderAsOther) {
  profile::Counters c;
  c.ns[static_cast<size_t>(Kind::linear_mlp)] = 6'000'000;
  c.calls[static_cast<size_t>(Kind::linear_mlp)] = 72;
  c.ns[static_cast<size_t>(Kind::attention)] = 2'000'000;
  c.calls[static_cast<size_t>(Kind::attention)] = 24;
  const auto rows = profile::rows(c, 10'000'000);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].name, "linear_mlp");
  EXPECT_DOUBLE_EQ(rows[0].ms, 6.0);
  EXPECT_DOUBLE_EQ(rows[0].share, 0.6);
  EXPECT_EQ(rows[0].calls, 72u);
  EXPECT_EQ(rows[1].name, "attention");
  EXPECT_EQ(rows[2].name, "other");
  EXPECT_DOUBLE_EQ(rows[2].ms, 2.0);
  EXPECT_DOUBLE_EQ(rows[2].share, 0.2);
  // Op time above the wall time (clock granularity) never yields a negative remainder.
  const auto over = profile::rows(c, 5'000'000);
  EXPECT_DOUBLE_EQ(over.back().ms, 0.0);
}

}  // namespace
}  // namespace mofa
