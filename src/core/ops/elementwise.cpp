#include <string>

#include "core/kernels/dispatch.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {

void softmax(Tensor& x) {
  detail::check_f32("softmax", "x", x);
  if (x.ndim() < 1) detail::fail("softmax", "x must have at least one dim");
  if (!x.writable()) detail::fail("softmax", "x is read-only");
  const int64_t n = x.dim(-1);
  if (x.numel() == 0) return;
  profile::timed(profile::Kind::elementwise,
                 [&] { kernels::active_kernels().softmax(x.data_mut<float>(), x.numel() / n, n); });
}

static void check_same(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_f32(op, "a", a);
  detail::check_f32(op, "b", b);
  if (a.numel() != b.numel())
    detail::fail(
        op, "shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " differ in size");
}

void silu_mul(const Tensor& gate, const Tensor& up, Tensor& out) {
  check_same("silu_mul", gate, up);
  detail::prepare_output("silu_mul", "out", out, gate.shape());
  if (gate.numel() == 0) return;
  profile::timed(profile::Kind::elementwise, [&] {
    kernels::active_kernels().silu_mul(gate.data<float>(), up.data<float>(), out.data_mut<float>(),
                                       gate.numel());
  });
}

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  check_same("add", a, b);
  detail::prepare_output("add", "out", out, a.shape());
  if (a.numel() == 0) return;
  profile::timed(profile::Kind::elementwise, [&] {
    kernels::active_kernels().add(a.data<float>(), b.data<float>(), out.data_mut<float>(),
                                  a.numel());
  });
}

}  // namespace mofa::ops
