#include <cmath>
#include <string>

#include "core/kernels/dispatch.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {

Rope rope_default(int head_dim, int rotary_dim, double theta) {
  if (head_dim <= 0 || rotary_dim <= 0 || rotary_dim > head_dim || rotary_dim % 2 != 0 ||
      !(theta > 0))
    detail::fail("rope", "head_dim " + std::to_string(head_dim) + ", rotary_dim " +
                             std::to_string(rotary_dim) + ", theta " + std::to_string(theta) +
                             " (need even 0 < rotary_dim <= head_dim, theta > 0)");
  Rope r;
  r.head_dim = head_dim;
  r.rotary_dim = rotary_dim;
  r.inv_freq.resize(static_cast<size_t>(rotary_dim / 2));
  for (int i = 0; i < rotary_dim / 2; ++i)
    r.inv_freq[i] = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / rotary_dim));
  return r;
}

void rope_apply(Tensor& x, const int32_t* positions, const Rope& rope) {
  constexpr const char* op = "rope";
  detail::check_f32(op, "x", x);
  if (rope.head_dim <= 0 || rope.rotary_dim <= 0 || rope.rotary_dim > rope.head_dim ||
      rope.rotary_dim % 2 != 0 || static_cast<int>(rope.inv_freq.size()) != rope.rotary_dim / 2)
    detail::fail(op, "bad table: head_dim " + std::to_string(rope.head_dim) + ", rotary_dim " +
                         std::to_string(rope.rotary_dim) + ", inv_freq " +
                         std::to_string(rope.inv_freq.size()));
  // [m, n_heads, head_dim] or [m, n_heads * head_dim]: dim 0 indexes positions.
  if (x.ndim() < 2 || x.dim(0) == 0 || (x.numel() / x.dim(0)) % rope.head_dim != 0)
    detail::fail(op, "x " + shape_str(x.shape()) + " must be [m, n_heads, " +
                         std::to_string(rope.head_dim) + "]");
  if (!x.writable()) detail::fail(op, "x is read-only");
  const int64_t m = x.dim(0);
  const int64_t n_heads = x.numel() / (m * rope.head_dim);
  if (n_heads == 0) return;
  profile::timed(profile::Kind::rope, [&] {
    kernels::active_kernels().rope_apply(x.data_mut<float>(), m, n_heads, positions, rope);
  });
}

}  // namespace mofa::ops
