// Causal GQA attention, flash style: each (query row, head) task streams its visible keys in
// tiles of kTile, keeping a running max and sum (online softmax), so no score matrix is stored.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int64_t kTile = 64;

HWY_INLINE float Dot(const float* a, const float* b, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// acc[0..n) = acc * keep + p * v.
HWY_INLINE void ScaleAdd(float* acc, float keep, float p, const float* v, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto vk = hn::Set(d, keep), vp = hn::Set(d, p);
  int64_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::MulAdd(vp, hn::LoadU(d, v + i), hn::Mul(vk, hn::LoadU(d, acc + i))), d, acc + i);
  for (; i < n; ++i) acc[i] = acc[i] * keep + p * v[i];
}

// Tasks [b, e) of m * n_heads; slot s = k * n_heads + head visits rows 0, m-1, 1, m-2, ... so
// that contiguous chunks of causal work cost about the same. acc is head_dim floats of scratch.
void AttendTasks(const AttentionArgs& a, int64_t b, int64_t e, float* acc) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t group = a.n_heads / a.n_kv_heads, hd = a.head_dim;
  HWY_ALIGN float score[kTile];
  for (int64_t slot = b; slot < e; ++slot) {
    const int64_t k_row = slot / a.n_heads, h = slot % a.n_heads;
    const int64_t i = k_row % 2 == 0 ? k_row / 2 : a.m - 1 - k_row / 2;
    const int64_t task = i * a.n_heads + h;
    const int64_t pos = a.n_past + i;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
    const float* q = a.q + task * hd;
    const float* k = a.k + (h / group) * a.capacity * hd;
    const float* v = a.v + (h / group) * a.capacity * hd;
    std::fill(acc, acc + hd, 0.0f);
    float mx = -HUGE_VALF, sum = 0.0f;
    for (int64_t t0 = lo; t0 <= pos; t0 += kTile) {
      const int64_t nt = std::min<int64_t>(kTile, pos + 1 - t0);
      float tmax = -HUGE_VALF;
      for (int64_t t = 0; t < nt; ++t) {
        score[t] = Dot(q, k + (t0 + t) * hd, hd) * a.scale;
        tmax = std::max(tmax, score[t]);
      }
      const float new_mx = std::max(mx, tmax);
      const float keep = std::exp(mx - new_mx);
      mx = new_mx;
      int64_t t = 0;
      const auto vmx = hn::Set(d, mx);
      auto vsum = hn::Zero(d);
      for (; t + N <= nt; t += N) {
        const auto p = hn::Exp(d, hn::Sub(hn::Load(d, score + t), vmx));
        hn::Store(p, d, score + t);
        vsum = hn::Add(vsum, p);
      }
      float tsum = hn::GetLane(hn::SumOfLanes(d, vsum));
      for (; t < nt; ++t) {
        score[t] = std::exp(score[t] - mx);
        tsum += score[t];
      }
      sum = sum * keep + tsum;
      ScaleAdd(acc, keep, score[0], v + t0 * hd, hd);
      for (t = 1; t < nt; ++t) ScaleAdd(acc, 1.0f, score[t], v + (t0 + t) * hd, hd);
    }
    float* o = a.out + task * hd;
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < hd; ++c) o[c] = acc[c] * inv;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(AttendTasks);

void attention(const AttentionArgs& args) {
  thread_pool_global().parallel_for(args.m * args.n_heads, [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> acc;
    if (acc.size() < static_cast<size_t>(args.head_dim)) acc.resize(args.head_dim);
    HWY_DYNAMIC_DISPATCH(AttendTasks)(args, b, e, acc.data());
  });
}

}  // namespace mofa::kernels::cpu
#endif
