// Runs the CPU kernels once per Highway target this machine supports (AVX-512 VNNI, AVX-512,
// AVX2, SSE4, ..., scalar), so the paths other machines take are checked here too.
#define HWY_WANT_AVX3_DL
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/kernels/dispatch.h"
#include "core/ops/op_test_util.h"
#include "core/ops/ops.h"
#include "hwy/targets.h"

namespace mofa {
namespace {

double max_rel_err(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = a.data<float>()[i] - b.data<float>()[i];
    num += d * d;
    den += static_cast<double>(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(num / den);
}

Tensor linear_with(const kernels::KernelTable& k, const Tensor& x, const Weight& w,
                   ops::MatmulMode mode) {
  test::UseKernels use(k);
  Tensor y;
  ops::linear(x, w, y, mode);
  return y;
}

TEST(Targets, EveryTargetMatchesReference) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  const Weight q4 = test::random_quant_weight(21, 896, 4, 64, DType::bf16, 1);
  const Weight q8 = test::random_quant_weight(21, 384, 8, 128, DType::f16, 2);
  const Weight q3 = test::random_quant_weight(9, 96, 3, 32, DType::f32, 3);
  // Rows of 800 bytes: decode reads them one at a time (kRowAtATimeBytes).
  const Weight q4_long = test::random_quant_weight(13, 1600, 4, 64, DType::bf16, 9);
  // Long rows in whole chunks: their scales are folded in registers, a vector of groups at a
  // time (4-bit: two groups a chunk; 8-bit with 128-code groups: a chunk within one group).
  const Weight q4_wide = test::random_quant_weight(13, 2560, 4, 64, DType::bf16, 10);
  const Weight q8_wide = test::random_quant_weight(11, 1024, 8, 128, DType::f16, 11);
  const Weight dense =
      weight_dense(test::tensor_of(DType::bf16, test::random_floats(23 * 77, 4), {23, 77}), "d");
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    for (int64_t m : {1, 5}) {
      for (const Weight* w : {&q4, &q8, &q3, &q4_long, &q4_wide, &q8_wide, &dense}) {
        const Tensor x = Tensor::from_f32(test::random_floats(m * w->cols, 5), {m, w->cols});
        const Tensor ref = linear_with(kernels::reference_kernels(), x, *w, ops::MatmulMode::exact);
        EXPECT_LE(
            max_rel_err(linear_with(kernels::cpu_kernels(), x, *w, ops::MatmulMode::exact), ref),
            1e-6)
            << w->name << " m=" << m;
        EXPECT_LE(
            max_rel_err(linear_with(kernels::cpu_kernels(), x, *w, ops::MatmulMode::fast), ref),
            2e-2)
            << w->name << " m=" << m;
      }
    }
    // Attention, norm and softmax on the same target.
    const int64_t m = 6, heads = 4, kv = 2, hd = 48, cap = 20;
    const Tensor q = Tensor::from_f32(test::random_floats(m * heads * hd, 6), {m, heads, hd});
    const Tensor k = Tensor::from_f32(test::random_floats(kv * cap * hd, 7), {kv, cap, hd});
    const Tensor v = Tensor::from_f32(test::random_floats(kv * cap * hd, 8), {kv, cap, hd});
    Tensor ref, out;
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::attention(q, k, v, 9, 0.2f, 5, ref);
    }
    ops::attention(q, k, v, 9, 0.2f, 5, out);
    EXPECT_LE(max_rel_err(out, ref), 1e-5);
    // Decode steps over an f16 and a q8_0 cache (rows read in place), GQA groups of 1, 4 and 7
    // (one, two or four vectors of query blocks on 8 lanes), 71 keys: whole tiles and a partial
    // one.
    for (const DType cache : {DType::f16, DType::q8_0}) {
      for (const int64_t group : {1, 4, 7}) {
        const int64_t dh = 2 * group, dkv = 2, dcap = 80, dhd = cache == DType::q8_0 ? 64 : hd;
        const Tensor dq = Tensor::from_f32(test::random_floats(dh * dhd, 11), {1, dh, dhd});
        const Tensor dk =
            test::tensor_of(cache, test::random_floats(dkv * dcap * dhd, 12), {dkv, dcap, dhd});
        const Tensor dv =
            test::tensor_of(cache, test::random_floats(dkv * dcap * dhd, 13), {dkv, dcap, dhd});
        Tensor d_ref, d_out;
        {
          test::UseKernels use(kernels::reference_kernels());
          ops::attention(dq, dk, dv, 70, 0.2f, 0, d_ref);
        }
        ops::attention(dq, dk, dv, 70, 0.2f, 0, d_out);
        EXPECT_LE(max_rel_err(d_out, d_ref), 1e-5)
            << dtype_name(cache) << " cache, group " << group;
      }
    }
    // Block-sparse attention and its scores (InfLLM-v2): rows at 9..14 in blocks of 4.
    const std::vector<int32_t> blocks = {0, 2, 1, 2,  0, 2,  2, -1, 1, 2, 0, 1,
                                         0, 3, 3, -1, 3, -1, 1, 3,  0, 3, 2, 3};
    Tensor b_ref, b_out, s_ref, s_out;
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::attention_blocks(q, k, v, 9, 0.2f, blocks.data(), 2, 4, b_ref);
      ops::attention_scores(q, k, 17, 0.2f, s_ref);
    }
    ops::attention_blocks(q, k, v, 9, 0.2f, blocks.data(), 2, 4, b_out);
    ops::attention_scores(q, k, 17, 0.2f, s_out);
    EXPECT_LE(max_rel_err(b_out, b_ref), 1e-5);
    EXPECT_LE(max_rel_err(s_out, s_ref), 1e-6);
    Tensor n_ref, n_out, s = Tensor::from_f32(test::random_floats(3 * 50, 9, -5, 5), {3, 50});
    const Tensor nw = test::tensor_of(DType::bf16, test::random_floats(50, 10), {50});
    {
      test::UseKernels use(kernels::reference_kernels());
      ops::rms_norm(s, nw, 1e-5f, n_ref);
    }
    ops::rms_norm(s, nw, 1e-5f, n_out);
    EXPECT_LE(max_rel_err(n_out, n_ref), 1e-6);
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace mofa
