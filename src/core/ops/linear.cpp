#include <array>
#include <string>

#include "core/kernels/dispatch.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {

using detail::fail;

static void check_weight(const char* op, const Weight& w) {
  if (!w.w.defined()) fail(op, "weight '" + w.name + "' is undefined");
  if (!w.w.is_contiguous() ||
      (w.quantized() && (!w.scales.is_contiguous() || !w.biases.is_contiguous())))
    fail(op, "weight '" + w.name + "' is not contiguous");
  if (!w.quantized() && !dtype_is_float(w.w.dtype()))
    fail(op, "weight '" + w.name + "' has dtype " + std::string(dtype_name(w.w.dtype())) +
                 " but no quantization");
}

// Validates one product (allocating y if undefined) and returns m, the rows of x.
static int64_t prepare_linear(const char* op, const Tensor& x, const Weight& w, Tensor& y,
                              const Tensor& bias) {
  detail::check_f32(op, "x", x);
  check_weight(op, w);
  if (x.ndim() < 1 || x.dim(-1) != w.cols)
    fail(op, "x " + shape_str(x.shape()) + " last dim must equal cols " + std::to_string(w.cols) +
                 " of weight '" + w.name + "'");
  const int64_t m = x.numel() / w.cols;
  Shape out_shape = x.shape();
  out_shape.back() = w.rows;
  detail::prepare_output(op, "y", y, out_shape);
  const char* xb = static_cast<const char*>(x.raw());
  const char* yb = static_cast<const char*>(y.raw());
  if (xb < yb + y.nbytes() && yb < xb + x.nbytes())
    fail(op, "y must not overlap x (weight '" + w.name + "')");
  if (bias.defined()) {
    if (!dtype_is_float(bias.dtype()) || !bias.is_contiguous() || bias.numel() != w.rows)
      fail(op, "bias " + std::string(dtype_name(bias.dtype())) + " " + shape_str(bias.shape()) +
                   " must be a contiguous float vector of " + std::to_string(w.rows) +
                   " for weight '" + w.name + "'");
  }
  return m;
}

void linear(const Tensor& x, const Weight& w, Tensor& y, MatmulMode mode, const Tensor& bias) {
  const int64_t m = prepare_linear("linear", x, w, y, bias);
  if (m == 0 || w.rows == 0) return;
  profile::timed_by([&] { return profile::linear_kind(w.name); },
                    [&] {
                      kernels::active_kernels().linear(x.data<float>(), m, kernels::weight_view(w),
                                                       bias.defined() ? bias.raw() : nullptr,
                                                       bias.defined() ? bias.dtype() : DType::f32,
                                                       y.data_mut<float>(), mode);
                    });
}

void linear_shared(const Tensor& x, std::span<const LinearTarget> targets, MatmulMode mode) {
  constexpr const char* op = "linear_shared";
  constexpr size_t kMax = 32;
  if (targets.empty() || targets.size() > kMax)
    fail(op, std::to_string(targets.size()) + " products (1 to " + std::to_string(kMax) + ")");
  std::array<kernels::LinearOut, kMax> outs{};
  int64_t m = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const LinearTarget& t = targets[i];
    if (!t.w || !t.y) fail(op, "product " + std::to_string(i) + " has no weight or output");
    const Tensor none;
    const Tensor& bias = t.bias ? *t.bias : none;
    m = prepare_linear(op, x, *t.w, *t.y, bias);
    outs[i] =
        kernels::LinearOut{kernels::weight_view(*t.w), bias.defined() ? bias.raw() : nullptr,
                           bias.defined() ? bias.dtype() : DType::f32, t.y->data_mut<float>()};
    if (t.w->rows == 0) fail(op, "weight '" + t.w->name + "' has no rows");
  }
  if (m == 0) return;
  profile::timed_by([&] { return profile::linear_kind(targets[0].w->name); },
                    [&] {
                      kernels::active_kernels().linear_shared(
                          x.data<float>(), m, outs.data(), static_cast<int>(targets.size()), mode);
                    });
}

void embedding(const Weight& table, const int32_t* ids, int64_t n, Tensor& out) {
  constexpr const char* op = "embedding";
  check_weight(op, table);
  if (n < 0) fail(op, "negative id count " + std::to_string(n));
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= table.rows)
      fail(op, "id " + std::to_string(ids[i]) + " at " + std::to_string(i) + " outside [0, " +
                   std::to_string(table.rows) + ") of '" + table.name + "'");
  detail::prepare_output(op, "out", out, Shape{n, table.cols});
  if (n == 0) return;
  profile::timed(profile::Kind::embedding, [&] {
    kernels::active_kernels().embedding(kernels::weight_view(table), ids, n, out.data_mut<float>());
  });
}

}  // namespace mofa::ops
