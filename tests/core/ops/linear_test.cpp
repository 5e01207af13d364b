#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/kernels/cpu/linear_bf16.h"
#include "core/kernels/dispatch.h"
#include "core/kernels/reference/reference_kernels.h"
#include "core/ops/op_test_util.h"
#include "core/ops/ops.h"
#include "core/thread_pool.h"

namespace mofa {
namespace {

using ops::MatmulMode;

// |x|·|w| per output, for the f32 rounding bound of an exact dot product.
std::vector<double> abs_products(const std::vector<float>& x, int64_t m, const Weight& w) {
  std::vector<float> row(w.cols);
  std::vector<double> out(m * w.rows);
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row_f32(w, r, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t c = 0; c < w.cols; ++c) s += std::fabs(x[i * w.cols + c] * row[c]);
      out[i * w.rows + r] = s;
    }
  }
  return out;
}

Tensor run_linear(const kernels::KernelTable& k, const Tensor& x, const Weight& w, MatmulMode mode,
                  const Tensor& bias = Tensor()) {
  test::UseKernels use(k);
  Tensor y;
  ops::linear(x, w, y, mode, bias);
  return y;
}

// Exact mode: within the classic f32 dot-product bound (K+2)·u·Σ|x·w| of the f64 reference.
void expect_exact(const Tensor& y, const Tensor& ref, const std::vector<double>& absp, int64_t k) {
  const double u = std::ldexp(1.0, -24);
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double tol = (k + 2) * u * absp[i] + 1e-6;
    ASSERT_NEAR(y.data<float>()[i], ref.data<float>()[i], tol) << "at " << i;
  }
}

// Fast mode: relative L2 error of each output row against the reference.
void expect_fast(const Tensor& y, const Tensor& ref, int64_t m, double rel) {
  const int64_t n = y.numel() / m;
  for (int64_t i = 0; i < m; ++i) {
    double num = 0, den = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double d = y.data<float>()[i * n + j] - ref.data<float>()[i * n + j];
      num += d * d;
      den += static_cast<double>(ref.data<float>()[i * n + j]) * ref.data<float>()[i * n + j];
    }
    ASSERT_LE(std::sqrt(num / den), rel) << "row " << i;
  }
}

class LinearDense : public ::testing::TestWithParam<std::tuple<DType, int64_t, int64_t, int64_t>> {
};

TEST_P(LinearDense, MatchesReference) {
  const auto [dt, m, rows, cols] = GetParam();
  const Weight w =
      weight_dense(test::tensor_of(dt, test::random_floats(rows * cols, 1), {rows, cols}), "w");
  const auto xv = test::random_floats(m * cols, 2);
  const Tensor x = Tensor::from_f32(xv, {m, cols});
  const Tensor bias = test::tensor_of(DType::bf16, test::random_floats(rows, 3), {rows});
  const Tensor ref = run_linear(kernels::reference_kernels(), x, w, MatmulMode::exact, bias);
  const auto absp = abs_products(xv, m, w);
  for (MatmulMode mode : {MatmulMode::exact, MatmulMode::fast}) {
    const Tensor y = run_linear(kernels::cpu_kernels(), x, w, mode, bias);
    ASSERT_EQ(y.shape(), (Shape{m, rows}));
    if (mode == MatmulMode::fast && dt == DType::bf16 && cols % 2 == 0 &&
        kernels::cpu::bf16_dot_available()) {
      // bf16 dot products: x is rounded to bf16 once, then products and sums are f32 exact.
      std::vector<float> xr(xv.size());
      for (size_t i = 0; i < xv.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(xv[i]));
      const Tensor ref_r = run_linear(kernels::reference_kernels(), Tensor::from_f32(xr, {m, cols}),
                                      w, MatmulMode::exact, bias);
      expect_exact(y, ref_r, abs_products(xr, m, w), cols);
      // Rounding x moves each product by at most 2^-9 of itself.
      for (int64_t i = 0; i < y.numel(); ++i)
        ASSERT_NEAR(y.data<float>()[i], ref.data<float>()[i], std::ldexp(absp[i], -8) + 1e-6);
    } else {
      expect_exact(y, ref, absp, cols);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearDense,
                         ::testing::Combine(::testing::Values(DType::f32, DType::f16, DType::bf16),
                                            // 13 and 29: blocks of 16, 8, 4 and 1 rows of
                                            // x (the bf16 GEMM's tiles)
                                            ::testing::Values<int64_t>(1, 2, 7, 13, 29),
                                            // 37 and 6: the m == 1 path's blocks of rows
                                            // and a remainder; 83: a partial column block.
                                            ::testing::Values<int64_t>(1, 6, 37),
                                            ::testing::Values<int64_t>(1, 83, 256)));

class LinearQuant : public ::testing::TestWithParam<std::tuple<int, int, DType, int64_t, int64_t>> {
};

TEST_P(LinearQuant, MatchesReference) {
  const auto [bits, gs, sdt, m, groups] = GetParam();
  const int64_t rows = 19, cols = gs * groups;
  const Weight w = test::random_quant_weight(rows, cols, bits, gs, sdt, 10 + bits);
  const auto xv = test::random_floats(m * cols, 11);
  const Tensor x = Tensor::from_f32(xv, {m, cols});
  const Tensor ref = run_linear(kernels::reference_kernels(), x, w, MatmulMode::exact);
  expect_exact(run_linear(kernels::cpu_kernels(), x, w, MatmulMode::exact), ref,
               abs_products(xv, m, w), cols);
  // int8 activations: step amax/127 per group; 2% of the output norm bounds it comfortably.
  expect_fast(run_linear(kernels::cpu_kernels(), x, w, MatmulMode::fast), ref, m, 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Formats, LinearQuant,
                         ::testing::Combine(::testing::Values(2, 3, 4, 5, 6, 8),
                                            ::testing::Values(32, 64, 128),
                                            ::testing::Values(DType::f16, DType::bf16, DType::f32),
                                            ::testing::Values<int64_t>(1, 6),
                                            ::testing::Values<int64_t>(3, 7)));

// The fast scheme computed in f64: x quantized to int8 per group (step amax/127, round to
// nearest), y = Σ_g scale_g·step_g·Σ code·q + bias_g·Σx.
std::vector<double> int8_scheme(const std::vector<float>& xv, int64_t m, const Weight& w) {
  const int gs = w.quant.group_size;
  const int64_t groups = w.cols / gs;
  std::vector<float> row(w.cols);
  std::vector<double> y(m * w.rows);
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row_f32(w, r, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double acc = 0;
      for (int64_t g = 0; g < groups; ++g) {
        const float* xg = xv.data() + i * w.cols + g * gs;
        const double s = w.scales.get_f32(r * groups + g), b = w.biases.get_f32(r * groups + g);
        float amax = 0;
        for (int j = 0; j < gs; ++j) amax = std::max(amax, std::fabs(xg[j]));
        const float step = amax / 127.0f;
        double dot = 0, sum = 0;
        for (int j = 0; j < gs; ++j) {
          const double code = std::round((row[g * gs + j] - b) / s);
          dot += code * std::lrintf(xg[j] * (1.0f / step));
          sum += xg[j];
        }
        acc += s * step * dot + b * sum;
      }
      y[i * w.rows + r] = acc;
    }
  }
  return y;
}

TEST(LinearQuant, QwenShapeFastModeIsAccurate) {
  // 896 columns are whole vector chunks on every target, exercising the unrolled int8 loop.
  for (int bits : {4, 8}) {
    const Weight w = test::random_quant_weight(64, 896, bits, 64, DType::bf16, 5);
    const auto xv = test::random_floats(5 * 896, 6);
    const Tensor x = Tensor::from_f32(xv, {5, 896});
    const Tensor ref = run_linear(kernels::reference_kernels(), x, w, MatmulMode::exact);
    const Tensor fast = run_linear(kernels::cpu_kernels(), x, w, MatmulMode::fast);
    expect_fast(fast, ref, 5, 2e-2);
    // The kernel computes exactly the int8 scheme, up to f32 rounding.
    const auto scheme = int8_scheme(xv, 5, w);
    for (int64_t i = 0; i < fast.numel(); ++i)
      ASSERT_NEAR(fast.data<float>()[i], scheme[i], 1e-4 * (1 + std::fabs(scheme[i]))) << i;
    expect_exact(run_linear(kernels::cpu_kernels(), x, w, MatmulMode::exact), ref,
                 abs_products(xv, 5, w), 896);
  }
}

TEST(LinearQuant, DecodeMatvecComputesTheInt8Scheme) {
  // m == 1 takes the matvec kernel; 64, 192 and 1600 columns end inside a vector chunk on AVX2
  // and AVX-512, so the partial last chunk (read whole, against zero x) is exercised next to whole
  // ones. Rows of 768 bytes or more (8-bit 896, both widths at 1600 and 2560) are read one at a
  // time, shorter ones four at once. The matrix's last rows, whose whole-vector reads of codes
  // (partial chunk) or scales (groups not a whole number of vectors) would pass its end, run on a
  // padded copy: one row here at 896 or 1600 columns, several at 64. Group sizes 32-128 put one to
  // four groups in a chunk, or a chunk within one group.
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int64_t cols : {64, 192, 896, 1600, 2560}) {
        if (cols % gs != 0) continue;
        const Weight w = test::random_quant_weight(10, cols, bits, gs, DType::bf16, 7 + bits);
        const auto xv = test::random_floats(cols, 8);
        const Tensor x = Tensor::from_f32(xv, {1, cols});
        const Tensor fast = run_linear(kernels::cpu_kernels(), x, w, MatmulMode::fast);
        const auto scheme = int8_scheme(xv, 1, w);
        for (int64_t i = 0; i < fast.numel(); ++i)
          ASSERT_NEAR(fast.data<float>()[i], scheme[i], 1e-4 * (1 + std::fabs(scheme[i])))
              << "bits " << bits << " gs " << gs << " cols " << cols << " row " << i;
      }
    }
  }
}

TEST(LinearQuant, PrefillGemmComputesTheInt8Scheme) {
  // m > 1 takes the tiled GEMM: 37 rows are whole tiles of 8 or 16 lanes plus a partial one; m
  // of 2, 6 and 13 cover blocks of six rows of x and remainders; every group size.
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int64_t m : {2, 6, 13}) {
        const int64_t cols = 3 * 128;
        const Weight w = test::random_quant_weight(37, cols, bits, gs, DType::f16, 3 + gs);
        const auto xv = test::random_floats(m * cols, 9 + m);
        const Tensor x = Tensor::from_f32(xv, {m, cols});
        const Tensor fast = run_linear(kernels::cpu_kernels(), x, w, MatmulMode::fast);
        const auto scheme = int8_scheme(xv, m, w);
        for (int64_t i = 0; i < fast.numel(); ++i)
          ASSERT_NEAR(fast.data<float>()[i], scheme[i], 1e-4 * (1 + std::fabs(scheme[i])))
              << "bits " << bits << " gs " << gs << " m " << m << " at " << i;
      }
    }
  }
}

// linear_shared gives each product exactly what linear() gives it: quantized alike (one int8
// pass over x), bf16 (one bf16 rounding), mixed formats (the per-product fallback), with biases
// and row counts that are not multiples of the kernels' row blocks.
TEST(LinearShared, EqualsSeparateLinears) {
  const int64_t cols = 256;
  auto quant = [&](int64_t rows, int bits, uint32_t seed) {
    return test::random_quant_weight(rows, cols, bits, 64, DType::bf16, seed);
  };
  auto dense = [&](int64_t rows, DType dt, uint32_t seed) {
    return weight_dense(test::tensor_of(dt, test::random_floats(rows * cols, seed), {rows, cols}),
                        "w");
  };
  const std::vector<std::vector<Weight>> sets = {
      {quant(37, 4, 1), quant(6, 4, 2), quant(16, 4, 3)},
      {quant(9, 8, 4), quant(33, 8, 5)},
      {dense(21, DType::bf16, 6), dense(7, DType::bf16, 7), dense(5, DType::bf16, 8)},
      {quant(10, 4, 9), dense(11, DType::f32, 10), quant(12, 8, 11)}};
  for (const auto& ws : sets) {
    for (int64_t m : {1, 3}) {
      for (MatmulMode mode : {MatmulMode::exact, MatmulMode::fast}) {
        const Tensor x = Tensor::from_f32(test::random_floats(m * cols, 12), {m, cols});
        std::vector<Tensor> bias, ys(ws.size());
        std::vector<ops::LinearTarget> targets;
        for (size_t i = 0; i < ws.size(); ++i)
          bias.push_back(
              test::tensor_of(DType::f32, test::random_floats(ws[i].rows, 20 + i), {ws[i].rows}));
        for (size_t i = 0; i < ws.size(); ++i) targets.push_back({&ws[i], &ys[i], &bias[i]});
        ops::linear_shared(x, targets, mode);
        for (size_t i = 0; i < ws.size(); ++i) {
          Tensor alone;
          ops::linear(x, ws[i], alone, mode, bias[i]);
          ASSERT_EQ(ys[i].shape(), alone.shape());
          for (int64_t j = 0; j < alone.numel(); ++j)
            ASSERT_EQ(ys[i].data<float>()[j], alone.data<float>()[j])
                << "product " << i << " m " << m << " at " << j;
        }
      }
    }
  }
  // A product whose cols differ from x's is refused, naming the weight.
  const Weight odd = dense(4, DType::f32, 30);
  Tensor y0, y1;
  const ops::LinearTarget bad[] = {{&sets[0][0], &y0}, {&odd, &y1}};
  const Weight narrow = weight_dense(Tensor::zeros(DType::f32, {4, 8}), "narrow");
  const ops::LinearTarget mismatched[] = {{&sets[0][0], &y0}, {&narrow, &y1}};
  EXPECT_NO_THROW(ops::linear_shared(Tensor::zeros(DType::f32, {1, cols}), bad, MatmulMode::fast));
  EXPECT_THROW(
      ops::linear_shared(Tensor::zeros(DType::f32, {1, cols}), mismatched, MatmulMode::fast),
      InvalidInput);
}

// Per-thread scratch starts empty on a new thread: a decode matvec there (one pool thread, so
// the caller runs it) must size it for everything the kernel writes. An undersized scratch
// corrupted the heap in exactly this case (`mofa bench -p 0 -t 1`).
TEST(LinearQuant, DecodeOnAFreshThreadSizesItsScratch) {
  const int before = thread_pool_global().size();
  thread_pool_set_threads(1);
  for (int bits : {4, 8}) {
    const Weight w = test::random_quant_weight(9, 4096, bits, 64, DType::bf16, 40 + bits);
    const auto xv = test::random_floats(4096, 41);
    Tensor fast;
    std::thread([&] {
      fast =
          run_linear(kernels::cpu_kernels(), Tensor::from_f32(xv, {1, 4096}), w, MatmulMode::fast);
    }).join();
    const auto scheme = int8_scheme(xv, 1, w);
    for (int64_t i = 0; i < fast.numel(); ++i)
      ASSERT_NEAR(fast.data<float>()[i], scheme[i], 1e-4 * (1 + std::fabs(scheme[i])));
  }
  thread_pool_set_threads(before);
}

TEST(Linear, RejectsMismatchedShapes) {
  const Weight w = weight_dense(Tensor::zeros(DType::f32, {4, 8}), "proj");
  Tensor y;
  EXPECT_THROW(ops::linear(Tensor::zeros(DType::f32, {2, 7}), w, y, MatmulMode::exact),
               InvalidInput);
  Tensor small = Tensor::zeros(DType::f32, {2, 3});
  EXPECT_THROW(ops::linear(Tensor::zeros(DType::f32, {2, 8}), w, small, MatmulMode::exact),
               InvalidInput);
  EXPECT_THROW(ops::linear(Tensor::zeros(DType::f32, {2, 8}), w, y, MatmulMode::exact,
                           Tensor::zeros(DType::f32, {5})),
               InvalidInput);
  Tensor both = Tensor::zeros(DType::f32, {2, 8});
  Tensor alias(both.storage(), 0, DType::f32, {2, 4});
  EXPECT_THROW(ops::linear(both, w, alias, MatmulMode::exact), InvalidInput);
}

TEST(Embedding, MatchesWeightRows) {
  const Weight dense =
      weight_dense(test::tensor_of(DType::bf16, test::random_floats(50 * 24, 7), {50, 24}), "emb");
  const Weight quant = test::random_quant_weight(50, 128, 4, 64, DType::bf16, 8);
  const std::vector<int32_t> ids = {3, 0, 49, 3, 17, 22, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (const Weight* w : {&dense, &quant}) {
    Tensor out;
    ops::embedding(*w, ids.data(), static_cast<int64_t>(ids.size()), out);
    std::vector<float> row(w->cols);
    for (size_t i = 0; i < ids.size(); ++i) {
      weight_row_f32(*w, ids[i], row.data());
      for (int64_t c = 0; c < w->cols; ++c) ASSERT_EQ(out.data<float>()[i * w->cols + c], row[c]);
    }
  }
  Tensor out;
  const int32_t bad = 50;
  EXPECT_THROW(ops::embedding(dense, &bad, 1, out), InvalidInput);
}

}  // namespace
}  // namespace mofa
