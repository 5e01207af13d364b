#include <string>

#include "core/kernels/dispatch.h"
#include "core/kv_rows.h"
#include "core/ops/check.h"
#include "core/ops/ops.h"
#include "core/profile.h"

namespace mofa::ops {
namespace {

// A KV cache tensor: defined and contiguous, f32, f16 or q8_0 (core/kv_rows.h).
void check_cache(const char* op, const char* arg, const Tensor& t) {
  if (t.defined() && (t.dtype() == DType::f16 || t.dtype() == DType::q8_0)) {
    if (!t.is_contiguous()) detail::fail(op, std::string(arg) + " must be contiguous");
    return;
  }
  detail::check_f32(op, arg, t);
}

// The checks both attention ops share; returns the kernel arguments (no blocks).
kernels::AttentionArgs attention_args(const char* op, const Tensor& q, const Tensor& k,
                                      const Tensor& v, int64_t n_past, float scale, Tensor& out) {
  detail::check_f32(op, "q", q);
  check_cache(op, "k", k);
  check_cache(op, "v", v);
  if (q.ndim() != 3)
    detail::fail(op, "q " + shape_str(q.shape()) + " must be [m, n_heads, head_dim]");
  if (k.ndim() != 3 || v.ndim() != 3 || k.dim(0) != v.dim(0) || k.dim(1) != v.dim(1))
    detail::fail(op, "k " + shape_str(k.shape()) + " and v " + shape_str(v.shape()) +
                         " must both be [n_kv_heads, capacity, head_dim]");
  const int64_t m = q.dim(0), n_heads = q.dim(1), head_dim = q.dim(2);
  const int64_t n_kv = k.dim(0), capacity = k.dim(1);
  for (const Tensor* t : {&k, &v}) {
    if (!kv_row_fits(t->dtype(), head_dim) || t->dim(2) != kv_row_units(t->dtype(), head_dim))
      detail::fail(op, std::string(t == &k ? "k" : "v") + " " + shape_str(t->shape()) + " of " +
                           std::string(dtype_name(t->dtype())) + " does not hold rows of q's " +
                           std::to_string(head_dim) + " values");
  }
  if (n_kv <= 0 || n_heads % n_kv != 0)
    detail::fail(op, "n_heads " + std::to_string(n_heads) + " is not a multiple of n_kv_heads " +
                         std::to_string(n_kv));
  if (n_past < 0 || n_past + m > capacity)
    detail::fail(op, "n_past " + std::to_string(n_past) + " + m " + std::to_string(m) +
                         " exceeds cache capacity " + std::to_string(capacity));
  detail::prepare_output(op, "out", out, q.shape());
  kernels::AttentionArgs a;
  a.q = q.data<float>();
  a.k = k.raw();
  a.v = v.raw();
  a.k_type = k.dtype();
  a.v_type = v.dtype();
  a.out = out.data_mut<float>();
  a.m = m;
  a.n_heads = n_heads;
  a.n_kv_heads = n_kv;
  a.head_dim = head_dim;
  a.capacity = capacity;
  a.n_past = n_past;
  a.scale = scale;
  return a;
}

}  // namespace

void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past, float scale,
               int64_t window, Tensor& out) {
  constexpr const char* op = "attention";
  if (window < 0) detail::fail(op, "negative window " + std::to_string(window));
  kernels::AttentionArgs a = attention_args(op, q, k, v, n_past, scale, out);
  if (a.m == 0) return;
  a.window = window;
  profile::timed(profile::Kind::attention, [&] { kernels::active_kernels().attention(a); });
}

void attention_blocks(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past,
                      float scale, const int32_t* blocks, int64_t n_sel, int64_t block_size,
                      Tensor& out) {
  constexpr const char* op = "attention_blocks";
  if (blocks == nullptr || n_sel < 1 || block_size < 1)
    detail::fail(op, "needs a block list with n_sel " + std::to_string(n_sel) +
                         " >= 1 and block_size " + std::to_string(block_size) + " >= 1");
  kernels::AttentionArgs a = attention_args(op, q, k, v, n_past, scale, out);
  // A row's list: ascending blocks that start at or before the row's position, then -1s.
  for (int64_t i = 0; i < a.m; ++i) {
    const int64_t last = (n_past + i) / block_size;
    for (int64_t g = 0; g < a.n_kv_heads; ++g) {
      const int32_t* b = blocks + (i * a.n_kv_heads + g) * n_sel;
      int64_t prev = -1;
      for (int64_t s = 0; s < n_sel; ++s) {
        const bool pad = b[s] == -1;
        const bool ok = pad ? s > 0 : b[s] > prev && b[s] <= last && (s == 0 || b[s - 1] != -1);
        if (!ok)
          detail::fail(op, "row " + std::to_string(i) + " kv head " + std::to_string(g) +
                               ": block " + std::to_string(b[s]) + " at slot " + std::to_string(s) +
                               " (blocks must ascend within [0, " + std::to_string(last) +
                               "], then -1 padding, at least one block)");
        if (!pad) prev = b[s];
      }
    }
  }
  if (a.m == 0) return;
  a.blocks = blocks;
  a.n_sel = n_sel;
  a.block_size = block_size;
  profile::timed(profile::Kind::attention, [&] { kernels::active_kernels().attention(a); });
}

void attention_scores(const Tensor& q, const Tensor& k, int64_t n_keys, float scale, Tensor& out) {
  constexpr const char* op = "attention_scores";
  detail::check_f32(op, "q", q);
  detail::check_f32(op, "k", k);
  if (q.ndim() != 3 || k.ndim() != 3 || k.dim(2) != q.dim(2))
    detail::fail(op, "q " + shape_str(q.shape()) + " and k " + shape_str(k.shape()) +
                         " must be [m, n_heads, head_dim] and [n_kv_heads, capacity, head_dim]");
  const int64_t n_kv = k.dim(0);
  if (n_kv <= 0 || q.dim(1) % n_kv != 0)
    detail::fail(op, "n_heads " + std::to_string(q.dim(1)) + " is not a multiple of n_kv_heads " +
                         std::to_string(n_kv));
  if (n_keys < 0 || n_keys > k.dim(1))
    detail::fail(op, "n_keys " + std::to_string(n_keys) + " outside the cache's " +
                         std::to_string(k.dim(1)) + " positions");
  detail::prepare_output(op, "out", out, {q.dim(0), q.dim(1), n_keys});
  if (q.dim(0) == 0 || n_keys == 0) return;
  kernels::AttentionArgs a;
  a.q = q.data<float>();
  a.k = k.data<float>();
  a.out = out.data_mut<float>();
  a.m = q.dim(0);
  a.n_heads = q.dim(1);
  a.n_kv_heads = n_kv;
  a.head_dim = q.dim(2);
  a.capacity = k.dim(1);
  a.n_keys = n_keys;
  a.scale = scale;
  profile::timed(profile::Kind::attention, [&] { kernels::active_kernels().attention_scores(a); });
}

}  // namespace mofa::ops
