// Causal GQA attention, flash style. One task serves every query that shares a KV head: a block
// of query rows times the heads of one GQA group (or a slice of it when there are more threads
// than groups). Each K/V row is read once per task instead of once per query head, and scores are
// computed with queries across SIMD lanes (q transposed into [head_dim, queries]), so a key costs
// head_dim broadcast FMAs and no horizontal reduction. Keys stream in tiles of kTile with a
// running max and sum per query (online softmax), so no score matrix is stored. Block-sparse
// attention (InfLLM-v2) runs the same tiles over a row's chosen blocks only, one row per task.
// An f16 cache is read at half of f32's bytes and a q8_0 one at about a quarter, and every score
// and sum is still computed in f32: a decode step (a tile serving one pass of queries) widens f16
// rows and dequantizes q8_0 ones as it loads them; otherwise a tile is widened (or dequantized)
// once into per-thread scratch and read by every pass.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/cache_control.h"
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

constexpr int64_t kTile = 32;  // keys per online-softmax step

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
  std::vector<float> qd;                         // decode queries, [head_dim / 4, up to 32 lanes]
};

}  // namespace mofa::kernels::cpu
#endif  // MOFA_CPU_ATTENTION_SHARED

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int64_t kKeys = 8;  // keys scored together (independent FMA chains)
// How far ahead of the rows being read dense attention prefetches: 2-32 KB measured alike.
constexpr int64_t kKvPrefetchBytes = 4096;
constexpr int64_t kQueries = 8;  // queries accumulated together into V

int64_t Lanes() {
  return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>()));
}

HWY_INLINE float ToFloat(float x) {
  return x;
}
HWY_INLINE float ToFloat(hwy::float16_t x) {
  uint16_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return f16_to_f32(bits);
}

// Asks for the bytes [p + ahead, p + ahead + n) while p's are read. A long cache streams from
// memory at a few bytes per cycle of compute; its lines are asked for a little at a time as the
// rows ahead of them are read: a burst of a whole tile's lines at the tile's start left the
// reads waiting on memory for half of a decode step's attention (f16, 4096 keys).
HWY_INLINE void PrefetchBytes(const void* p, size_t n) {
  for (size_t off = 0; off < n; off += 64) hwy::Prefetch(static_cast<const char*>(p) + off);
}
HWY_INLINE void PrefetchAhead(const void* p, size_t n, int64_t ahead) {
  if (ahead > 0) PrefetchBytes(static_cast<const char*>(p) + ahead, n);
}

// Rows [row0, row0 + n) of a KV cache of rows of hd values, as f32: the cache itself when it is
// f32, else widened from f16 or dequantized from q8_0 into buf (n * hd floats). pf: prefetch
// distance in bytes (0: none).
HWY_INLINE const float* CacheRows(const void* cache, DType type, int64_t hd, int64_t row0,
                                  int64_t n, float* HWY_RESTRICT buf, int64_t pf) {
  if (type == DType::f32) return static_cast<const float*>(cache) + row0 * hd;
  const hn::ScalableTag<float> df;
  const int64_t N = Lanes();
  const size_t row_bytes = kv_row_bytes(type, hd);
  const char* first = static_cast<const char*>(cache) + row0 * row_bytes;
  if (type == DType::q8_0) {
    // A head's rows are consecutive whole blocks; kQ8Block is a multiple of every lane count.
    const hn::Rebind<int8_t, decltype(df)> d8;
    const hn::Rebind<int32_t, decltype(df)> di;
    const uint8_t* block = reinterpret_cast<const uint8_t*>(first);
    const int64_t blocks = n * hd / kQ8Block;
    for (int64_t b = 0; b < blocks; ++b, block += kQ8BlockBytes) {
      if (b % 2 == 0) PrefetchAhead(block, 2 * kQ8BlockBytes, pf);
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
  const auto* src = reinterpret_cast<const hwy::float16_t*>(first);
  for (int64_t r = 0; r < n; ++r) {
    PrefetchAhead(src + r * hd, row_bytes, pf);
    const hwy::float16_t* in = src + r * hd;
    float* out = buf + r * hd;
    int64_t c = 0;
    for (; c + N <= hd; c += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, in + c)), df, out + c);
    for (; c < hd; ++c) out[c] = ToFloat(in[c]);
  }
  return buf;
}

// A tile's rows of one KV head read in place. PlainRows: f32 or f16 values (f16 widened as
// loaded). Q8Rows: q8_0 blocks, a code's value being its block's scale times the code, the same
// product the scratch path stores, so both paths give identical scores; the tile's f16 scales are
// widened into an f32 array first (Q8Scales), so a load costs one multiply more than f16's.
template <typename T>
struct PlainRows {
  const T* p;
  int64_t hd;
  HWY_INLINE const T* row(int64_t t) const { return p + t * hd; }
  HWY_INLINE const void* bytes(int64_t t) const { return p + t * hd; }
  HWY_INLINE size_t row_bytes() const { return static_cast<size_t>(hd) * sizeof(T); }
};
struct Q8Row {
  const int8_t* codes;  // the row's first block's codes (past its scale)
  const float* scales;  // the row's block scales
};
struct Q8Rows {
  const uint8_t* p;     // the tile's first row
  size_t rb;            // bytes per row
  const float* scales;  // [rows, nb]
  int64_t nb;           // blocks per row
  HWY_INLINE Q8Row row(int64_t t) const {
    return {reinterpret_cast<const int8_t*>(p + t * rb + 2), scales + t * nb};
  }
  HWY_INLINE const void* bytes(int64_t t) const { return p + t * rb; }
  HWY_INLINE size_t row_bytes() const { return rb; }
};

// The f32 scales of rows [row0, row0 + n) of a q8_0 cache of rows of hd values, [n, hd / 32].
HWY_INLINE void Q8Scales(const void* cache, int64_t hd, int64_t row0, int64_t n,
                         float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t N = Lanes(), nb = hd / kQ8Block, total = n * nb;
  const size_t rb = kv_row_bytes(DType::q8_0, hd);
  const uint8_t* first = static_cast<const uint8_t*>(cache) + row0 * rb;
  alignas(64) hwy::float16_t bits[64];
  int64_t r = 0, b = 0;  // the row and block of the next scale
  for (int64_t i0 = 0; i0 < total; i0 += 64) {
    const int64_t m = std::min<int64_t>(64, total - i0);
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(&bits[i], first + r * rb + b * kQ8BlockBytes, sizeof(bits[i]));
      if (++b == nb) {
        b = 0;
        ++r;
      }
    }
    int64_t i = 0;
    for (; i + N <= m; i += N)
      hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, bits + i)), df, out + i0 + i);
    for (; i < m; ++i) out[i0 + i] = ToFloat(bits[i]);
  }
}

// The code at value c of a q8_0 row (blocks of kQ8Block codes, each after its 2-byte scale).
HWY_INLINE const int8_t* Q8Code(Q8Row r, int64_t c) {
  return r.codes + c / kQ8Block * kQ8BlockBytes + c % kQ8Block;
}

// Values [c, c + lanes) of a row read in place, as f32.
template <class D>
HWY_INLINE hn::Vec<D> LoadRow(D d, const float* row, int64_t c) {
  return hn::LoadU(d, row + c);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadRow(D d, const hwy::float16_t* row, int64_t c) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, D>(), row + c));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadRow(D d, Q8Row r, int64_t c) {
  const hn::Rebind<int32_t, D> di;
  const auto codes = hn::LoadU(hn::Rebind<int8_t, D>(), Q8Code(r, c));
  return hn::Mul(hn::Set(d, r.scales[c / kQ8Block]), hn::ConvertTo(d, hn::PromoteTo(di, codes)));
}
HWY_INLINE float ToFloat(const float* row, int64_t c) {
  return row[c];
}
HWY_INLINE float ToFloat(const hwy::float16_t* row, int64_t c) {
  return ToFloat(row[c]);
}
HWY_INLINE float ToFloat(Q8Row r, int64_t c) {
  return r.scales[c / kQ8Block] * static_cast<float>(*Q8Code(r, c));
}
// Values [c, c + 4) of a row broadcast to every 128-bit block, as f32.
template <class D>
HWY_INLINE hn::Vec<D> LoadDup4(D d, const float* row, int64_t c) {
  return hn::LoadDup128(d, row + c);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadDup4(D d, const hwy::float16_t* row, int64_t c) {
  const hn::Rebind<hwy::float16_t, D> dh;
  const hn::Repartition<uint64_t, decltype(dh)> du64;
  uint64_t bits;
  std::memcpy(&bits, row + c, sizeof(bits));
  return hn::PromoteTo(d, hn::BitCast(dh, hn::Set(du64, bits)));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadDup4(D d, Q8Row r, int64_t c) {
  const hn::Rebind<int8_t, D> d8;
  const hn::Repartition<uint32_t, decltype(d8)> du32;
  uint32_t bits;
  std::memcpy(&bits, Q8Code(r, c), sizeof(bits));
  const auto codes = hn::PromoteTo(hn::Rebind<int32_t, D>(), hn::BitCast(d8, hn::Set(du32, bits)));
  return hn::Mul(hn::Set(d, r.scales[c / kQ8Block]), hn::ConvertTo(d, codes));
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
// Decode scores for up to 8 queries at four lanes each, NV vectors of them (4 * nq <= NV * lanes),
// head_dim a multiple of 4. Block b of vector v holds query (v * lanes / 4 + b)'s partial sums
// over four dims, and a key's four consecutive dims are broadcast to every block (LoadDup4),
// so a key costs NV * head_dim / 4 FMAs with every lane in use, where ScoreTile, with queries
// across lanes, spends head_dim on a group of at most 8 queries (half of them padding for a GQA
// group of 4 on AVX2). KK keys go together for independent FMA chains. qd is [hd / 4, NV *
// lanes]: lane 4b + i of vector v of row r is that query's dim 4r + i, scaled; lanes of missing
// queries are zero. Writes score[t * qs + j] for j < nq; the caller keeps the padding columns
// up to 8 finite. Keys are PlainRows or Q8Rows, read in place; pf: prefetch distance in bytes.
template <int NV, class Rows>
HWY_INLINE void ScoreTileDecode(Rows k, int64_t nt, int64_t hd, const float* HWY_RESTRICT qd,
                                int64_t nq, int64_t qs, float* HWY_RESTRICT score, int64_t pf) {
  const hn::ScalableTag<float> d;
  using V = decltype(hn::Zero(d));
  const int64_t N = Lanes(), row = NV * N, per_vec = N / 4;
  alignas(64) float sums[HWY_MAX_BYTES / sizeof(float)];
  // Every lane of block b ends with block b's sum; lane 4b is read out per query. By value, so
  // the accumulators stay in registers.
  auto store = [&](V s, int64_t t, int v) HWY_ATTR {
    float* out = score + t * qs;
    s = hn::Add(s, hn::Shuffle2301(s));
    s = hn::Add(s, hn::Shuffle1032(s));
    hn::StoreU(s, d, sums);
    for (int64_t b = 0; b < per_vec && v * per_vec + b < nq; ++b)
      out[v * per_vec + b] = sums[4 * b];
  };
  // Eight accumulators: slot u is key u / NV's vector u % NV. Named, not an array, so that GCC
  // keeps them in registers (an array of them was stored back to the stack every step).
  constexpr int KK = 8 / NV;
  int64_t t = 0;
  for (; t + KK <= nt; t += KK) {
    PrefetchAhead(k.bytes(t), KK * k.row_bytes(), pf);
    const auto r0 = k.row(t + 0 / NV), r1 = k.row(t + 1 / NV), r2 = k.row(t + 2 / NV),
               r3 = k.row(t + 3 / NV), r4 = k.row(t + 4 / NV), r5 = k.row(t + 5 / NV),
               r6 = k.row(t + 6 / NV), r7 = k.row(t + 7 / NV);
    V s0 = hn::Zero(d), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (int64_t c = 0; c < hd; c += 4) {
      const float* qc = qd + c / 4 * row;
      const V q0 = hn::LoadU(d, qc);
      const V q1 = NV > 1 ? hn::LoadU(d, qc + N) : q0;
      const V q2 = NV > 2 ? hn::LoadU(d, qc + 2 * N) : q0;
      const V q3 = NV > 2 ? hn::LoadU(d, qc + 3 * N) : q0;
      // Slot u reads key u / NV: wider query sets share each key's load.
      const V k0 = LoadDup4(d, r0, c);
      const V k1 = NV > 1 ? k0 : LoadDup4(d, r1, c);
      const V k2 = NV > 2 ? k0 : LoadDup4(d, r2, c);
      const V k3 = NV > 2 ? k0 : NV > 1 ? k2 : LoadDup4(d, r3, c);
      const V k4 = LoadDup4(d, r4, c);
      const V k5 = NV > 1 ? k4 : LoadDup4(d, r5, c);
      const V k6 = NV > 2 ? k4 : LoadDup4(d, r6, c);
      const V k7 = NV > 2 ? k4 : NV > 1 ? k6 : LoadDup4(d, r7, c);
      auto q = [&](int v) HWY_ATTR { return v == 0 ? q0 : v == 1 ? q1 : v == 2 ? q2 : q3; };
      s0 = hn::MulAdd(k0, q(0 % NV), s0);
      s1 = hn::MulAdd(k1, q(1 % NV), s1);
      s2 = hn::MulAdd(k2, q(2 % NV), s2);
      s3 = hn::MulAdd(k3, q(3 % NV), s3);
      s4 = hn::MulAdd(k4, q(4 % NV), s4);
      s5 = hn::MulAdd(k5, q(5 % NV), s5);
      s6 = hn::MulAdd(k6, q(6 % NV), s6);
      s7 = hn::MulAdd(k7, q(7 % NV), s7);
    }
    store(s0, t + 0 / NV, 0 % NV);
    store(s1, t + 1 / NV, 1 % NV);
    store(s2, t + 2 / NV, 2 % NV);
    store(s3, t + 3 / NV, 3 % NV);
    store(s4, t + 4 / NV, 4 % NV);
    store(s5, t + 5 / NV, 5 % NV);
    store(s6, t + 6 / NV, 6 % NV);
    store(s7, t + 7 / NV, 7 % NV);
  }
  for (; t < nt; ++t) {
    const auto kr = k.row(t);
    for (int v = 0; v < NV; ++v) {
      V s = hn::Zero(d);
      for (int64_t c = 0; c < hd; c += 4)
        s = hn::MulAdd(LoadDup4(d, kr, c), hn::LoadU(d, qd + c / 4 * row + v * N), s);
      store(s, t, v);
    }
  }
}
#endif

// acc[j][c] += sum over t of p[t][j] * v[t][c] for dims [c0, c0 + kC * lanes) of the kQ queries
// from column j0 (a = acc + j0 * hd, pj = p + j0): kQ * kC accumulators stay in registers over
// the tile's keys. v is PlainRows or Q8Rows, read in place; pf: prefetch distance in bytes (0:
// none).
template <int kQ, int kC, class Rows>
HWY_INLINE void AccumulatePass(Rows v, int64_t nt, int64_t hd, const float* HWY_RESTRICT pj,
                               int64_t qs, int64_t c0, float* HWY_RESTRICT a, int64_t pf) {
  const hn::ScalableTag<float> d;
  using V = decltype(hn::Zero(d));
  const int64_t N = Lanes();
  V acc[kQ][kC];
  HWY_UNROLL(8)
  for (int j = 0; j < kQ; ++j)
    for (int u = 0; u < kC; ++u) acc[j][u] = hn::LoadU(d, a + j * hd + c0 + u * N);
  for (int64_t t = 0; t < nt; ++t) {
    const auto vt = v.row(t);
    const float* pt = pj + t * qs;
    PrefetchAhead(v.bytes(t), v.row_bytes(), pf);
    V x[kC];
    HWY_UNROLL(8)
    for (int u = 0; u < kC; ++u) x[u] = LoadRow(d, vt, c0 + u * N);
    HWY_UNROLL(8)
    for (int j = 0; j < kQ; ++j) {
      const V p = hn::Set(d, pt[j]);
      HWY_UNROLL(8)
      for (int u = 0; u < kC; ++u) acc[j][u] = hn::MulAdd(p, x[u], acc[j][u]);
    }
  }
  HWY_UNROLL(8)
  for (int j = 0; j < kQ; ++j)
    for (int u = 0; u < kC; ++u) hn::StoreU(acc[j][u], d, a + j * hd + c0 + u * N);
}

// acc[j][c] += sum over t of p[t][j] * v[t][c] for the kQ queries from column j0 (kQ is 1, 2, 4
// or 8, so a decode step of one or two heads per KV head does not pay for eight). Each pass
// keeps eight accumulators (kQ queries times 8 / kQ vectors of dims), so a loaded row of V and a
// broadcast weight each serve several FMAs.
template <int kQ, class Rows>
HWY_INLINE void AccumulateTile(Rows v, int64_t nt, int64_t hd, const float* HWY_RESTRICT p,
                               int64_t qs, int64_t j0, float* HWY_RESTRICT acc, int64_t pf) {
  static_assert(kQ == 1 || kQ == 2 || kQ == 4 || kQ == 8);
  constexpr int kC = 8 / kQ;
  const int64_t N = Lanes();
  float* a = acc + j0 * hd;
  const float* pj = p + j0;
  int64_t c = 0;
  // Only the first pass prefetches: it brings the tile's rows, the later ones find them cached.
  for (; c + kC * N <= hd; c += kC * N)
    AccumulatePass<kQ, kC>(v, nt, hd, pj, qs, c, a, c == 0 ? pf : 0);
  for (; c + N <= hd; c += N) AccumulatePass<kQ, 1>(v, nt, hd, pj, qs, c, a, c == 0 ? pf : 0);
  for (; c < hd; ++c) {  // head_dim not a multiple of the vector length
    for (int64_t j = 0; j < kQ; ++j) {
      float s = a[j * hd + c];
      for (int64_t t = 0; t < nt; ++t) s += pj[t * qs + j] * ToFloat(v.row(t), c);
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
    // Vectors of four-lane query blocks a decode step's scores need (1, 2 or 4).
    [[maybe_unused]] int64_t nv = (4 * nq + N - 1) / N;
    if (nv == 3) nv = 4;
    const bool decode_scores = HWY_TARGET != HWY_SCALAR && N >= 8 && nq <= 8 && hd % 4 == 0;
    if (decode_scores) {
      // Padding queries' scores are never written by ScoreTileDecode: zero, then whatever finite
      // weights SoftmaxStep leaves there.
      for (int64_t t = 0; t < kTile; ++t)
        for (int64_t j = nq; j < 8; ++j) score[t * qs + j] = 0.0f;
      float* qd = scratch->qd.data();
      const int64_t row = nv * N;
      std::fill(qd, qd + hd / 4 * row, 0.0f);
      for (int64_t j = 0; j < nq; ++j)
        for (int64_t c = 0; c < hd; ++c) qd[c / 4 * row + 4 * j + c % 4] = qt[c * qs + j];
    }
    const int64_t pos_lo = a.n_past + r0, pos_hi = a.n_past + r0 + nr - 1;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos_lo - a.window + 1) : 0;
    const int64_t head_row = kvh * a.capacity;  // this KV head's first row
    // Dense decode streams each KV head's rows once: they are prefetched as they are read, a
    // fixed distance ahead (block-sparse rows jump between blocks; their next block is asked for
    // whole instead).
    const int64_t pf = a.blocks == nullptr ? kKvPrefetchBytes : 0;
    // Rows are read in place where a tile serves one pass of queries (keys: the decode scorer);
    // otherwise a tile is widened (or dequantized) once into scratch and read by every pass.
    const bool v_in_place = nq8 == q_chunk;
    // A q8_0 tile read in place has its scales widened into scratch: keys', then values'.
    [[maybe_unused]] float* k_scales = scratch->kv.data();
    float* v_scales = k_scales + kTile * hd;
    // One tile's rows of this KV head, from row t0, as the in-place readers take them.
    auto plain = [&](const void* cache, auto elem, int64_t t0) {
      using T = decltype(elem);
      return PlainRows<T>{static_cast<const T*>(cache) + (head_row + t0) * hd, hd};
    };
    auto q8 = [&](const void* cache, int64_t t0, int64_t nt, float* scales) {
      Q8Scales(cache, hd, head_row + t0, nt, scales);
      const size_t rb = kv_row_bytes(DType::q8_0, hd);
      return Q8Rows{static_cast<const uint8_t*>(cache) + (head_row + t0) * rb, rb, scales,
                    hd / kQ8Block};
    };
    // One tile of keys [t0, t0 + nt) for every query of the task.
    auto tile = [&](int64_t t0, int64_t nt, bool masked) {
      if (nq <= 8 && N >= 8) {
        // Decode of one GQA group: 8 lanes cost half as much as 16 on CPUs that split wide ops.
        const hn::CappedTag<float, 8> d8;
#if HWY_TARGET != HWY_SCALAR
        if (decode_scores) {
          const float* qd = scratch->qd.data();
          auto scores = [&](auto rows) HWY_ATTR {
            if (nv == 1) {
              ScoreTileDecode<1>(rows, nt, hd, qd, nq, qs, score, pf);
            } else if (nv == 2) {
              ScoreTileDecode<2>(rows, nt, hd, qd, nq, qs, score, pf);
            } else {
              ScoreTileDecode<4>(rows, nt, hd, qd, nq, qs, score, pf);
            }
          };
          if (a.k_type == DType::f16)
            scores(plain(a.k, hwy::float16_t{}, t0));
          else if (a.k_type == DType::q8_0)
            scores(q8(a.k, t0, nt, k_scales));
          else
            scores(plain(a.k, float{}, t0));
        } else {
          ScoreTile(d8, CacheRows(a.k, a.k_type, hd, head_row + t0, nt, scratch->kv.data(), pf), nt,
                    hd, qt, qs, 0, score);
        }
#else
        ScoreTile(d8, CacheRows(a.k, a.k_type, hd, head_row + t0, nt, scratch->kv.data(), pf), nt,
                  hd, qt, qs, 0, score);
#endif
        SoftmaxStep(d8, nt, t0, masked, qs, 0, lo_f, hi_f, score, mx, sum, keep);
      } else {
        const float* kt = CacheRows(a.k, a.k_type, hd, head_row + t0, nt, scratch->kv.data(), pf);
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
      auto accumulate = [&](auto vt, int64_t vpf) HWY_ATTR {
        for (int64_t j0 = 0; j0 < nq8; j0 += q_chunk) {
          if (q_chunk == 1) {
            AccumulateTile<1>(vt, nt, hd, score, qs, j0, acc, vpf);
          } else if (q_chunk == 2) {
            AccumulateTile<2>(vt, nt, hd, score, qs, j0, acc, vpf);
          } else if (q_chunk == 4) {
            AccumulateTile<4>(vt, nt, hd, score, qs, j0, acc, vpf);
          } else {
            AccumulateTile<kQueries>(vt, nt, hd, score, qs, j0, acc, vpf);
          }
        }
      };
      if (v_in_place && a.v_type == DType::f16) {
        accumulate(plain(a.v, hwy::float16_t{}, t0), pf);
      } else if (v_in_place && a.v_type == DType::q8_0) {
        accumulate(q8(a.v, t0, nt, v_scales), pf);
      } else if (v_in_place) {
        accumulate(plain(a.v, float{}, t0), pf);
      } else {
        const float* vt =
            CacheRows(a.v, a.v_type, hd, head_row + t0, nt, scratch->kv.data() + kTile * hd, pf);
        accumulate(PlainRows<float>{vt, hd}, int64_t{0});
      }
    };
    auto prefetch = [&](int64_t t0, int64_t nt) {
      for (const auto& [cache, type] : {std::pair{a.k, a.k_type}, std::pair{a.v, a.v_type}}) {
        const size_t row_bytes = kv_row_bytes(type, hd);
        PrefetchBytes(static_cast<const char*>(cache) + (head_row + t0) * row_bytes,
                      static_cast<size_t>(nt) * row_bytes);
      }
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
    const size_t qd_size = hd * static_cast<size_t>(std::max<int64_t>(lanes, 8));
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
