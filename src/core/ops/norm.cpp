#include <string>

#include "core/kernels/dispatch.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {

void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y) {
  constexpr const char* op = "rms_norm";
  detail::check_f32(op, "x", x);
  if (x.ndim() < 1) detail::fail(op, "x must have at least one dim");
  const int64_t d = x.dim(-1);
  if (!weight.defined() || !dtype_is_float(weight.dtype()) || !weight.is_contiguous() ||
      weight.numel() != d)
    detail::fail(op, "weight " + shape_str(weight.shape()) +
                         " must be a contiguous float vector of " + std::to_string(d));
  detail::prepare_output(op, "y", y, x.shape());
  if (x.numel() == 0) return;
  profile::timed(profile::Kind::norm, [&] {
    kernels::active_kernels().rms_norm(x.data<float>(), x.numel() / d, d, weight.raw(),
                                       weight.dtype(), eps, y.data_mut<float>());
  });
}

}  // namespace mofa::ops
