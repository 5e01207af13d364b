#include <string>

#include "core/kernels/dispatch.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past, float scale,
               int64_t window, Tensor& out) {
  constexpr const char* op = "attention";
  detail::check_f32(op, "q", q);
  detail::check_f32(op, "k", k);
  detail::check_f32(op, "v", v);
  if (q.ndim() != 3)
    detail::fail(op, "q " + shape_str(q.shape()) + " must be [m, n_heads, head_dim]");
  if (k.ndim() != 3 || k.shape() != v.shape())
    detail::fail(op, "k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
                         " must both be [n_kv_heads, capacity, head_dim]");
  const int64_t m = q.dim(0), n_heads = q.dim(1), head_dim = q.dim(2);
  const int64_t n_kv = k.dim(0), capacity = k.dim(1);
  if (k.dim(2) != head_dim)
    detail::fail(op, "k head_dim " + std::to_string(k.dim(2)) + " != q head_dim " +
                         std::to_string(head_dim));
  if (n_kv <= 0 || n_heads % n_kv != 0)
    detail::fail(op, "n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " +
                         std::to_string(n_kv));
  if (n_past < 0 || n_past + m > capacity)
    detail::fail(op, "n_past " + std::to_string(n_past) + " + m " + std::to_string(m) +
                         " exceeds cache capacity " + std::to_string(capacity));
  if (window < 0) detail::fail(op, "negative window " + std::to_string(window));
  detail::prepare_output(op, "out", out, q.shape());
  if (m == 0) return;
  kernels::AttentionArgs a;
  a.q = q.data<float>();
  a.k = k.data<float>();
  a.v = v.data<float>();
  a.out = out.data_mut<float>();
  a.m = m;
  a.n_heads = n_heads;
  a.n_kv_heads = n_kv;
  a.head_dim = head_dim;
  a.capacity = capacity;
  a.n_past = n_past;
  a.window = window;
  a.scale = scale;
  profile::timed(profile::Kind::attention, [&] { kernels::active_kernels().attention(a); });
}

}  // namespace mofa::ops
