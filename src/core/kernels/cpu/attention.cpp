// Causal GQA attention, flash style. One task serves every query that shares a KV head: a block
// of query rows times the heads of one GQA group (or a slice of it when there are more threads
// than groups). Each K/V row is read once per task instead of once per query head, and scores are
// computed with queries across SIMD lanes (q transposed into [head_dim, queries]), so a key costs
// head_dim broadcast FMAs and no horizontal reduction. Keys stream in tiles of kTile with a
// running max and sum per query (online softmax), so no score matrix is stored. Block-sparse
// attention (InfLLM-v2) runs the same tiles over a row's chosen blocks only, one row per task.
// An f16 or q8_0 cache is widened one tile at a time into per-thread scratch, so it is read from
// memory at half (f16) or about a quarter (q8_0) of f32's bytes, and every score and sum is still
// computed in f32.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/kernels/cpu/cpu_kernels.h"
#include "core/kv_rows.h"
#include "core/thread_pool.h"

// foreach_target re-includes this file once per target; these types are defined once.
#ifndef MOFA_CPU_ATTENTION_SHARED
#define MOFA_CPU_ATTENTION_SHARED
namespace mofa::kernels::cpu {

constexpr int64_t kTile = 64;  // keys per online-softmax step

// How the work is cut into tasks; shared by every SIMD target.
struct AttentionPlan {
  int64_t group = 1;     // query heads per KV head
  int64_t heads = 1;     // query heads per task (a slice of the group)
  int64_t n_slices = 1;  // ceil(group / heads)
  int64_t rows = 1;      // query rows per task
  int64_t n_blocks = 1;  // ceil(m / rows)
  int64_t n_tasks = 1;   // n_kv_heads * n_slices * n_blocks
  int64_t q_stride = 8;  // queries per task rounded up to a whole number of vectors (>= 8)
};

// Per-thread scratch, grown on first use and kept.
struct AttentionScratch {
  std::vector<float> qt, score, acc, stats, kv;  // kv: one f32 tile of keys, then of values
  std::vector<float> qd;                         // decode queries, [head_dim / 4, lanes]
};

}  // namespace mofa::kernels::cpu
#endif  // MOFA_CPU_ATTENTION_SHARED

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int64_t kKeys = 8;     // keys scored together (independent FMA chains)
constexpr int64_t kQueries = 8;  // queries accumulated together into V

int64_t Lanes() {
  return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
}

// Rows [row0, row0 + n) of a KV cache of rows of hd values, as f32: the cache itself when it is
// f32, else widened from f16 or dequantized from q8_0 into buf (n * hd floats).
HWY_INLINE const float* CacheRows(const void* cache, DType type, int64_t hd, int64_t row0,
                                  int64_t n, float* HWY_RESTRICT buf) {
  if (type == DType::f32) return static_cast<const float*>(cache) + row0 * hd;
  const hn::ScalableTag<float> df;
  const int64_t N = Lanes();
  if (type == DType::q8_0) {
    // A head's rows are consecutive whole blocks; kQ8Block is a multiple of every lane count.
    const hn::Rebind<int8_t, decltype(df)> d8;
    const hn::Rebind<int32_t, decltype(df)> di;
    const uint8_t* block = static_cast<const uint8_t*>(cache) + row0 * kv_row_bytes(type, hd);
    const int64_t blocks = n * hd / kQ8Block;
    for (int64_t b = 0; b < blocks; ++b, block += kQ8BlockBytes) {
      uint16_t scale;
      std::memcpy(&scale, block, sizeof(scale));
      const auto step = hn::Set(df, f16_to_f32(scale));
      const int8_t* codes = reinterpret_cast<const int8_t*>(block + 2);
      float* out = buf + b * kQ8Block;
      for (int64_t c = 0; c < kQ8Block; c += N) {
        const auto v = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, codes + c)));
        hn::StoreU(hn::Mul(step, v), df, out + c);
      }
    }
    return buf;
  }
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t offset = row0 * hd, count = n * hd;
  const auto* src = static_cast<const hwy::float16_t*>(cache) + offset;
  int64_t i = 0;
  for (; i + N <= count; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, src + i)), df, buf + i);
  const auto* bits = static_cast<const uint16_t*>(cache) + offset;
  for (; i < count; ++i) buf[i] = f16_to_f32(bits[i]);
  return buf;
}

// score[t * qs + j] for keys t of the tile and the query vector at column j0 (Lanes(d)):
// sum over c of k[t][c] * qt[c][j]. qt is [hd, qs], already scaled.
template <class D>
HWY_INLINE void ScoreTile(D d, const float* HWY_RESTRICT k, int64_t nt, int64_t hd,
                          const float* HWY_RESTRICT qt, int64_t qs, int64_t j0,
                          float* HWY_RESTRICT score) {
  int64_t t = 0;
  for (; t + kKeys <= nt; t += kKeys) {
    const float* kr = k + t * hd;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    auto s4 = hn::Zero(d), s5 = hn::Zero(d), s6 = hn::Zero(d), s7 = hn::Zero(d);
    for (int64_t c = 0; c < hd; ++c) {
      const auto q = hn::LoadU(d, qt + c * qs + j0);
      s0 = hn::MulAdd(hn::Set(d, kr[c]), q, s0);
      s1 = hn::MulAdd(hn::Set(d, kr[hd + c]), q, s1);
      s2 = hn::MulAdd(hn::Set(d, kr[2 * hd + c]), q, s2);
      s3 = hn::MulAdd(hn::Set(d, kr[3 * hd + c]), q, s3);
      s4 = hn::MulAdd(hn::Set(d, kr[4 * hd + c]), q, s4);
      s5 = hn::MulAdd(hn::Set(d, kr[5 * hd + c]), q, s5);
      s6 = hn::MulAdd(hn::Set(d, kr[6 * hd + c]), q, s6);
      s7 = hn::MulAdd(hn::Set(d, kr[7 * hd + c]), q, s7);
    }
    float* s = score + t * qs + j0;
    hn::StoreU(s0, d, s);
    hn::StoreU(s1, d, s + qs);
    hn::StoreU(s2, d, s + 2 * qs);
    hn::StoreU(s3, d, s + 3 * qs);
    hn::StoreU(s4, d, s + 4 * qs);
    hn::StoreU(s5, d, s + 5 * qs);
    hn::StoreU(s6, d, s + 6 * qs);
    hn::StoreU(s7, d, s + 7 * qs);
  }
  for (; t < nt; ++t) {
    const float* kr = k + t * hd;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d);
    int64_t c = 0;
    for (; c + 2 <= hd; c += 2) {
      s0 = hn::MulAdd(hn::Set(d, kr[c]), hn::LoadU(d, qt + c * qs + j0), s0);
      s1 = hn::MulAdd(hn::Set(d, kr[c + 1]), hn::LoadU(d, qt + (c + 1) * qs + j0), s1);
    }
    if (c < hd) s0 = hn::MulAdd(hn::Set(d, kr[c]), hn::LoadU(d, qt + c * qs + j0), s0);
    hn::StoreU(hn::Add(s0, s1), d, score + t * qs + j0);
  }
}

#if HWY_TARGET != HWY_SCALAR
// Decode scores when the task's nq queries fit one vector at four lanes each (4 * nq <= lanes)
// and head_dim is a multiple of 4. Block b of a vector holds query b's partial sums over four
// dims, and a key's four consecutive dims are broadcast to every block (LoadDup128), so a key
// costs head_dim / 4 FMAs where ScoreTile, with queries across lanes, spends head_dim on a group
// of at most 8 queries. qd is [hd / 4, lanes]: lane 4b + i of row r is query b's dim 4r + i,
// scaled; lanes of missing queries are zero. Writes score[t * qs + j] for j < 8 (0 past nq).
HWY_INLINE void ScoreTileDecode(const float* HWY_RESTRICT k, int64_t nt, int64_t hd,
                                const float* HWY_RESTRICT qd, int64_t nq, int64_t qs,
                                float* HWY_RESTRICT score) {
  const hn::ScalableTag<float> d;
  const int64_t N = Lanes();
  alignas(64) float sums[HWY_MAX_BYTES / sizeof(float)];
  // Every lane of block b ends with block b's sum; lane 4b is read out per query.
  auto store = [&](decltype(hn::Zero(d)) s, int64_t t) {
    s = hn::Add(s, hn::Shuffle2301(s));
    s = hn::Add(s, hn::Shuffle1032(s));
    hn::StoreU(s, d, sums);
    float* out = score + t * qs;
    for (int64_t j = 0; j < 8; ++j) out[j] = j < nq ? sums[4 * j] : 0.0f;
  };
  int64_t t = 0;
  for (; t + 4 <= nt; t += 4) {
    const float* kr = k + t * hd;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    for (int64_t c = 0; c < hd; c += 4) {
      const auto q = hn::LoadU(d, qd + c / 4 * N);
      s0 = hn::MulAdd(hn::LoadDup128(d, kr + c), q, s0);
      s1 = hn::MulAdd(hn::LoadDup128(d, kr + hd + c), q, s1);
      s2 = hn::MulAdd(hn::LoadDup128(d, kr + 2 * hd + c), q, s2);
      s3 = hn::MulAdd(hn::LoadDup128(d, kr + 3 * hd + c), q, s3);
    }
    store(s0, t);
    store(s1, t + 1);
    store(s2, t + 2);
    store(s3, t + 3);
  }
  for (; t < nt; ++t) {
    const float* kr = k + t * hd;
    auto s0 = hn::Zero(d);
    for (int64_t c = 0; c < hd; c += 4)
      s0 = hn::MulAdd(hn::LoadDup128(d, kr + c), hn::LoadU(d, qd + c / 4 * N), s0);
    store(s0, t);
  }
}
#endif

// acc[j][c] += sum over t of p[t][j] * v[t][c] for the kQ queries from column j0 (kQ is 1, 2, 4
// or 8, so a decode step of one or two heads per KV head does not pay for eight).
template <int kQ>
HWY_INLINE void AccumulateTile(const float* HWY_RESTRICT v, int64_t nt, int64_t hd,
                               const float* HWY_RESTRICT p, int64_t qs, int64_t j0,
                               float* HWY_RESTRICT acc) {
  static_assert(kQ == 1 || kQ == 2 || kQ == 4 || kQ == 8);
  const hn::ScalableTag<float> d;
  const int64_t N = Lanes();
  float* a = acc + j0 * hd;
  const float* pj = p + j0;
  int64_t c = 0;
  for (; c + N <= hd; c += N) {
    auto a0 = hn::LoadU(d, a + c), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    if constexpr (kQ >= 2) a1 = hn::LoadU(d, a + hd + c);
    if constexpr (kQ >= 4) {
      a2 = hn::LoadU(d, a + 2 * hd + c);
      a3 = hn::LoadU(d, a + 3 * hd + c);
    }
    if constexpr (kQ >= 8) {
      a4 = hn::LoadU(d, a + 4 * hd + c);
      a5 = hn::LoadU(d, a + 5 * hd + c);
      a6 = hn::LoadU(d, a + 6 * hd + c);
      a7 = hn::LoadU(d, a + 7 * hd + c);
    }
    for (int64_t t = 0; t < nt; ++t) {
      const auto x = hn::LoadU(d, v + t * hd + c);
      const float* pt = pj + t * qs;
      a0 = hn::MulAdd(hn::Set(d, pt[0]), x, a0);
      if constexpr (kQ >= 2) a1 = hn::MulAdd(hn::Set(d, pt[1]), x, a1);
      if constexpr (kQ >= 4) {
        a2 = hn::MulAdd(hn::Set(d, pt[2]), x, a2);
        a3 = hn::MulAdd(hn::Set(d, pt[3]), x, a3);
      }
      if constexpr (kQ >= 8) {
        a4 = hn::MulAdd(hn::Set(d, pt[4]), x, a4);
        a5 = hn::MulAdd(hn::Set(d, pt[5]), x, a5);
        a6 = hn::MulAdd(hn::Set(d, pt[6]), x, a6);
        a7 = hn::MulAdd(hn::Set(d, pt[7]), x, a7);
      }
    }
    hn::StoreU(a0, d, a + c);
    if constexpr (kQ >= 2) hn::StoreU(a1, d, a + hd + c);
    if constexpr (kQ >= 4) {
      hn::StoreU(a2, d, a + 2 * hd + c);
      hn::StoreU(a3, d, a + 3 * hd + c);
    }
    if constexpr (kQ >= 8) {
      hn::StoreU(a4, d, a + 4 * hd + c);
      hn::StoreU(a5, d, a + 5 * hd + c);
      hn::StoreU(a6, d, a + 6 * hd + c);
      hn::StoreU(a7, d, a + 7 * hd + c);
    }
  }
  for (; c < hd; ++c) {  // head_dim not a multiple of the vector length
    for (int64_t j = 0; j < kQ; ++j) {
      float s = a[j * hd + c];
      for (int64_t t = 0; t < nt; ++t) s += pj[t * qs + j] * v[t * hd + c];
      a[j * hd + c] = s;
    }
  }
}

// Masks, exponentiates and sums one tile of scores for the queries in columns [j0, j0 +
// Lanes(d)), updating their running max and sum; keep gets the factor that rescales their sums.
template <class D>
HWY_INLINE void SoftmaxStep(D d, int64_t nt, int64_t t0, bool masked, int64_t qs, int64_t j0,
                            const float* lo_f, const float* hi_f, float* HWY_RESTRICT score,
                            float* mx, float* sum, float* keep) {
  const auto lo_v = hn::LoadU(d, lo_f + j0), hi_v = hn::LoadU(d, hi_f + j0);
  auto tmax = hn::Set(d, -HUGE_VALF);
  for (int64_t t = 0; t < nt; ++t) {
    auto x = hn::LoadU(d, score + t * qs + j0);
    if (masked) {
      const auto tv = hn::Set(d, static_cast<float>(t0 + t));
      x = hn::IfThenElse(hn::And(hn::Ge(tv, lo_v), hn::Le(tv, hi_v)), x, hn::Set(d, -HUGE_VALF));
      hn::StoreU(x, d, score + t * qs + j0);
    }
    tmax = hn::Max(tmax, x);
  }
  const auto old_mx = hn::LoadU(d, mx + j0);
  const auto new_mx = hn::Max(old_mx, tmax);
  // A query with no visible key yet keeps max -inf; subtract 0 then so exp gives 0, not NaN.
  const auto base = hn::IfThenZeroElse(hn::Eq(new_mx, hn::Set(d, -HUGE_VALF)), new_mx);
  const auto kp = hn::Exp(d, hn::Sub(old_mx, base));
  auto tsum = hn::Zero(d);
  for (int64_t t = 0; t < nt; ++t) {
    const auto p = hn::Exp(d, hn::Sub(hn::LoadU(d, score + t * qs + j0), base));
    hn::StoreU(p, d, score + t * qs + j0);
    tsum = hn::Add(tsum, p);
  }
  hn::StoreU(new_mx, d, mx + j0);
  hn::StoreU(hn::MulAdd(hn::LoadU(d, sum + j0), kp, tsum), d, sum + j0);
  hn::StoreU(kp, d, keep + j0);
}

// Runs tasks [b, e) of the plan. Task s -> (kv head, slice, block); blocks are visited 0, last,
// 1, last-1, ... so that contiguous chunks of causal work cost about the same.
void AttendTasks(const AttentionArgs& a, const AttentionPlan& plan, int64_t b, int64_t e,
                 AttentionScratch* scratch) {
  const hn::ScalableTag<float> d;
  const int64_t N = Lanes();
  const int64_t hd = a.head_dim, qs = plan.q_stride;
  float* qt = scratch->qt.data();        // [hd, qs]
  float* score = scratch->score.data();  // [kTile, qs]
  float* acc = scratch->acc.data();      // [qs, hd]
  float* mx = scratch->stats.data();     // [qs] running max
  float* sum = mx + qs;                  // [qs] running sum
  float* keep = sum + qs;                // [qs] rescale of this tile
  float* lo_f = keep + qs;               // [qs] first visible key (floats: exact below 2^24)
  float* hi_f = lo_f + qs;               // [qs] last visible key
  for (int64_t s = b; s < e; ++s) {
    const int64_t kvh = s / (plan.n_slices * plan.n_blocks);
    const int64_t rest = s % (plan.n_slices * plan.n_blocks);
    const int64_t slice = rest / plan.n_blocks, zig = rest % plan.n_blocks;
    const int64_t blk = zig % 2 == 0 ? zig / 2 : plan.n_blocks - 1 - zig / 2;
    const int64_t r0 = blk * plan.rows, nr = std::min(plan.rows, a.m - r0);
    const int64_t h0 = kvh * plan.group + slice * plan.heads;
    const int64_t nh = std::min(plan.heads, (kvh + 1) * plan.group - h0);
    const int64_t nq = nr * nh;
    // Queries are accumulated into V q_chunk at a time (the last chunk may hold padding columns).
    const int64_t q_chunk = nq <= 1 ? 1 : nq <= 2 ? 2 : nq <= 4 ? 4 : kQueries;
    const int64_t nq8 = (nq + q_chunk - 1) / q_chunk * q_chunk;
    // Query j = r * nh + g is row r0 + r, head h0 + g. Padding columns are zero queries that see
    // every key: finite, and never written out.
    std::fill(qt, qt + hd * qs, 0.0f);
    for (int64_t r = 0; r < nr; ++r) {
      for (int64_t g = 0; g < nh; ++g) {
        const int64_t j = r * nh + g;
        const float* q = a.q + ((r0 + r) * a.n_heads + h0 + g) * hd;
        for (int64_t c = 0; c < hd; ++c) qt[c * qs + j] = q[c] * a.scale;
      }
    }
    for (int64_t j = 0; j < qs; ++j) {
      const int64_t pos = a.n_past + r0 + std::min(j / nh, nr - 1);
      const bool real = j < nq;
      lo_f[j] = real && a.window > 0 ? static_cast<float>(std::max<int64_t>(0, pos - a.window + 1))
                                     : 0.0f;
      hi_f[j] = real ? static_cast<float>(pos) : HUGE_VALF;
      mx[j] = -HUGE_VALF;
      sum[j] = 0.0f;
    }
    std::fill(acc, acc + qs * hd, 0.0f);
#if HWY_TARGET != HWY_SCALAR
    const bool decode_scores = N > 8 && 4 * nq <= N && hd % 4 == 0;
    if (decode_scores) {
      float* qd = scratch->qd.data();
      std::fill(qd, qd + hd / 4 * N, 0.0f);
      for (int64_t j = 0; j < nq; ++j)
        for (int64_t c = 0; c < hd; ++c) qd[c / 4 * N + 4 * j + c % 4] = qt[c * qs + j];
    }
#endif
    const int64_t pos_lo = a.n_past + r0, pos_hi = a.n_past + r0 + nr - 1;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos_lo - a.window + 1) : 0;
    const int64_t head_row = kvh * a.capacity;  // this KV head's first row
    // One tile of keys [t0, t0 + nt) for every query of the task.
    auto tile = [&](int64_t t0, int64_t nt, bool masked) {
      const float* kt = CacheRows(a.k, a.k_type, hd, head_row + t0, nt, scratch->kv.data());
      if (nq <= 8 && N > 8) {
        // Decode of one GQA group: 8 lanes cost half as much as 16 on CPUs that split wide ops.
        const hn::CappedTag<float, 8> d8;
#if HWY_TARGET != HWY_SCALAR
        if (decode_scores) {
          ScoreTileDecode(kt, nt, hd, scratch->qd.data(), nq, qs, score);
        } else {
          ScoreTile(d8, kt, nt, hd, qt, qs, 0, score);
        }
#else
        ScoreTile(d8, kt, nt, hd, qt, qs, 0, score);
#endif
        SoftmaxStep(d8, nt, t0, masked, qs, 0, lo_f, hi_f, score, mx, sum, keep);
      } else {
        for (int64_t j0 = 0; j0 < qs; j0 += N) {
          ScoreTile(d, kt, nt, hd, qt, qs, j0, score);
          SoftmaxStep(d, nt, t0, masked, qs, j0, lo_f, hi_f, score, mx, sum, keep);
        }
      }
      for (int64_t j = 0; j < nq8; ++j) {
        if (keep[j] == 1.0f) continue;
        const auto kv = hn::Set(d, keep[j]);
        float* aj = acc + j * hd;
        int64_t c = 0;
        for (; c + N <= hd; c += N) hn::StoreU(hn::Mul(kv, hn::LoadU(d, aj + c)), d, aj + c);
        for (; c < hd; ++c) aj[c] *= keep[j];
      }
      const float* vt =
          CacheRows(a.v, a.v_type, hd, head_row + t0, nt, scratch->kv.data() + kTile * hd);
      for (int64_t j0 = 0; j0 < nq8; j0 += q_chunk) {
        if (q_chunk == 1) {
          AccumulateTile<1>(vt, nt, hd, score, qs, j0, acc);
        } else if (q_chunk == 2) {
          AccumulateTile<2>(vt, nt, hd, score, qs, j0, acc);
        } else if (q_chunk == 4) {
          AccumulateTile<4>(vt, nt, hd, score, qs, j0, acc);
        } else {
          AccumulateTile<kQueries>(vt, nt, hd, score, qs, j0, acc);
        }
      }
    };
    auto prefetch_rows = [&](const void* cache, DType type, int64_t t0, int64_t nt) {
      if (nt <= 0) return;
      const size_t row_bytes = kv_row_bytes(type, hd);
      const char* p = static_cast<const char*>(cache) + (head_row + t0) * row_bytes;
      for (size_t off = 0; off < static_cast<size_t>(nt) * row_bytes; off += 64)
        __builtin_prefetch(p + off);
    };
    auto prefetch = [&](int64_t t0, int64_t nt) {
      prefetch_rows(a.k, a.k_type, t0, nt);
      prefetch_rows(a.v, a.v_type, t0, nt);
    };
    if (a.blocks != nullptr) {
      // One row per task (the plan's rows is 1): its blocks, cut at its position, need no mask.
      const int32_t* blocks = a.blocks + (r0 * a.n_kv_heads + kvh) * a.n_sel;
      int64_t n_blk = 0;
      while (n_blk < a.n_sel && blocks[n_blk] >= 0) ++n_blk;
      for (int64_t s = 0; s < n_blk; ++s) {
        const int64_t b0 = blocks[s] * a.block_size;
        const int64_t b1 = std::min(b0 + a.block_size, pos_hi + 1);
        if (s + 1 < n_blk) {  // the next block is read from memory while this one is computed
          const int64_t n0 = blocks[s + 1] * a.block_size;
          prefetch(n0, std::min({kTile, a.block_size, pos_hi + 1 - n0}));
        }
        for (int64_t t0 = b0; t0 < b1; t0 += kTile) tile(t0, std::min(kTile, b1 - t0), false);
      }
    } else {
      for (int64_t t0 = lo; t0 <= pos_hi; t0 += kTile) {
        const int64_t nt = std::min<int64_t>(kTile, pos_hi + 1 - t0);
        // Long caches are read from memory: ask for the tile after next while this one is computed.
        const int64_t ahead = t0 + nt + kTile;
        prefetch(ahead, std::min<int64_t>(kTile, pos_hi + 1 - ahead));
        // Keys outside a query's window only occur near the diagonal or the window's edge.
        const bool masked = t0 + nt - 1 > pos_lo || (a.window > 0 && t0 < pos_hi - a.window + 1);
        tile(t0, nt, masked);
      }
    }
    for (int64_t r = 0; r < nr; ++r) {
      for (int64_t g = 0; g < nh; ++g) {
        const int64_t j = r * nh + g;
        float* o = a.out + ((r0 + r) * a.n_heads + h0 + g) * hd;
        const float inv = 1.0f / sum[j];
        for (int64_t c = 0; c < hd; ++c) o[c] = acc[j * hd + c] * inv;
      }
    }
  }
}

// Runs tasks [b, e) of attention_scores: task s -> (kv head, block of rows, chunk of keys).
// Scores are computed as in AttendTasks (queries across lanes) and written out per query row.
void ScoreTasks(const AttentionArgs& a, const AttentionPlan& plan, int64_t chunk_keys, int64_t b,
                int64_t e, AttentionScratch* scratch) {
  const hn::ScalableTag<float> d;
  const int64_t N = Lanes();
  const int64_t hd = a.head_dim, qs = plan.q_stride;
  const int64_t n_chunks = (a.n_keys + chunk_keys - 1) / chunk_keys;
  float* qt = scratch->qt.data();        // [hd, qs]
  float* score = scratch->score.data();  // [kTile, qs]
  for (int64_t s = b; s < e; ++s) {
    const int64_t kvh = s / (plan.n_blocks * n_chunks);
    const int64_t rest = s % (plan.n_blocks * n_chunks);
    const int64_t blk = rest / n_chunks, chunk = rest % n_chunks;
    const int64_t r0 = blk * plan.rows, nr = std::min(plan.rows, a.m - r0);
    const int64_t h0 = kvh * plan.group, nh = plan.group, nq = nr * nh;
    std::fill(qt, qt + hd * qs, 0.0f);
    for (int64_t r = 0; r < nr; ++r) {
      for (int64_t g = 0; g < nh; ++g) {
        const float* q = a.q + ((r0 + r) * a.n_heads + h0 + g) * hd;
        for (int64_t c = 0; c < hd; ++c) qt[c * qs + r * nh + g] = q[c] * a.scale;
      }
    }
    const float* k = static_cast<const float*>(a.k) + kvh * a.capacity * hd;
    const int64_t t_end = std::min(a.n_keys, (chunk + 1) * chunk_keys);
    for (int64_t t0 = chunk * chunk_keys; t0 < t_end; t0 += kTile) {
      const int64_t nt = std::min(kTile, t_end - t0);
      if (nq <= 8 && N > 8) {
        ScoreTile(hn::CappedTag<float, 8>(), k + t0 * hd, nt, hd, qt, qs, 0, score);
      } else {
        for (int64_t j0 = 0; j0 < qs; j0 += N) ScoreTile(d, k + t0 * hd, nt, hd, qt, qs, j0, score);
      }
      for (int64_t j = 0; j < nq; ++j) {
        float* o = a.out + ((r0 + j / nh) * a.n_heads + h0 + j % nh) * a.n_keys + t0;
        for (int64_t t = 0; t < nt; ++t) o[t] = score[t * qs + j];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(AttendTasks);
HWY_EXPORT(ScoreTasks);
HWY_EXPORT(Lanes);

namespace {

// About 32 queries per task fill several vectors and let each K/V row serve them all; with fewer
// tasks than threads (decode over few KV heads) the group is sliced instead.
AttentionPlan make_plan(const AttentionArgs& a, int64_t lanes, int64_t threads) {
  AttentionPlan p;
  p.group = a.n_heads / a.n_kv_heads;
  p.heads = p.group;
  // Rows of a block-sparse attention each have their own blocks: one row per task.
  // An f16 or q8_0 cache is widened once per task and tile: twice the queries halve that work.
  const int64_t queries = a.k_type != DType::f32 || a.v_type != DType::f32 ? 64 : 32;
  p.rows =
      a.blocks != nullptr ? 1 : std::max<int64_t>(1, std::min<int64_t>(a.m, queries / p.group));
  p.n_blocks = (a.m + p.rows - 1) / p.rows;
  const int64_t whole = a.n_kv_heads * p.n_blocks;
  if (whole < threads) {
    const int64_t want = std::min(p.group, (threads + whole - 1) / whole);
    p.heads = (p.group + want - 1) / want;
  }
  p.n_slices = (p.group + p.heads - 1) / p.heads;
  p.n_tasks = a.n_kv_heads * p.n_slices * p.n_blocks;
  const int64_t step = std::max<int64_t>(lanes, 8);
  p.q_stride = (p.rows * p.heads + step - 1) / step * step;
  return p;
}

}  // namespace

void attention(const AttentionArgs& args) {
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(Lanes)();
  const AttentionPlan plan = make_plan(args, lanes, thread_pool_global().size());
  const size_t qs = static_cast<size_t>(plan.q_stride), hd = static_cast<size_t>(args.head_dim);
  thread_pool_global().parallel_for(plan.n_tasks, [&](int64_t b, int64_t e, int) {
    thread_local AttentionScratch scratch;
    if (scratch.qt.size() < hd * qs) scratch.qt.resize(hd * qs);
    if (scratch.acc.size() < hd * qs) scratch.acc.resize(hd * qs);
    if (scratch.score.size() < size_t{kTile} * qs) scratch.score.resize(size_t{kTile} * qs);
    if (scratch.stats.size() < 5 * qs) scratch.stats.resize(5 * qs);
    if (scratch.kv.size() < 2 * kTile * hd) scratch.kv.resize(2 * kTile * hd);
    const size_t qd_size = hd * static_cast<size_t>(lanes);
    if (scratch.qd.size() < qd_size) scratch.qd.resize(qd_size);
    HWY_DYNAMIC_DISPATCH(AttendTasks)(args, plan, b, e, &scratch);
  });
}

void attention_scores(const AttentionArgs& args) {
  const int64_t lanes = HWY_DYNAMIC_DISPATCH(Lanes)();
  // Whole GQA groups, rows as attention() takes them, keys in chunks so that a decode step over
  // few KV heads still splits across the threads.
  constexpr int64_t kChunkKeys = 1024;
  AttentionPlan plan;
  plan.group = plan.heads = args.n_heads / args.n_kv_heads;
  plan.rows = std::max<int64_t>(1, std::min<int64_t>(args.m, 32 / plan.group));
  plan.n_blocks = (args.m + plan.rows - 1) / plan.rows;
  const int64_t step = std::max<int64_t>(lanes, 8);
  plan.q_stride = (plan.rows * plan.group + step - 1) / step * step;
  const int64_t n_chunks = (args.n_keys + kChunkKeys - 1) / kChunkKeys;
  const size_t qs = static_cast<size_t>(plan.q_stride), hd = static_cast<size_t>(args.head_dim);
  thread_pool_global().parallel_for(
      args.n_kv_heads * plan.n_blocks * n_chunks, [&](int64_t b, int64_t e, int) {
        thread_local AttentionScratch scratch;
        if (scratch.qt.size() < hd * qs) scratch.qt.resize(hd * qs);
        if (scratch.score.size() < size_t{kTile} * qs) scratch.score.resize(size_t{kTile} * qs);
        HWY_DYNAMIC_DISPATCH(ScoreTasks)(args, plan, kChunkKeys, b, e, &scratch);
      });
}

}  // namespace mofa::kernels::cpu
#endif
