#include "core/kernels/cpu/linear_bf16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cache_line.h"
#include "core/error.h"
#include "core/kernels/cpu/shared_rows.h"
#include "core/thread_pool.h"

#define MOFA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
// The loops over rows are unrolled on request so that the accumulator arrays live in registers
// (left rolled, GCC kept them in memory: a store and reload per dot product).

namespace mofa::kernels::cpu {
namespace {

constexpr int64_t kLanes = 16;                  // f32 lanes, and weight rows per GEMM tile
constexpr int64_t kPairs = 32;                  // bf16 values per vector
constexpr int64_t kPrefetch = kCacheLineBytes;  // bytes per prefetched line
constexpr int64_t kPrefetchAhead = 2048;  // bytes, where prefetch_rows(); Zen 4: 1-3 KB alike,
                                          // 4 and 8 KB slower
constexpr int64_t kRowsPerSplit = 4;      // matvec rows per unit of the pool's split
// Rows of x that share each loaded tile vector: 16 accumulators, enough dot products in flight
// to cover the dot's latency (8 read 424 GFLOP/s on 0.5B prefill shapes at 2 threads, Zen 5; 16
// read 442, the two alternated 3 times).
constexpr int kRowsOfX = 16;

struct Scratch {
  std::vector<uint16_t> xb;    // x rounded to bf16, rows padded to whole vectors
  std::vector<uint32_t> tile;  // repacked weight pairs
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// x[m, K] -> xb[m, ldx] in bf16 (round to nearest even), zero padded.
MOFA_BF16_TARGET void round_rows(const float* x, int64_t i0, int64_t i1, int64_t K, int64_t ldx,
                                 uint16_t* xb) {
  for (int64_t i = i0; i < i1; ++i) {
    const float* src = x + i * K;
    uint16_t* dst = xb + i * ldx;
    for (int64_t c = 0; c < ldx; c += kPairs) {
      const int64_t n = std::clamp<int64_t>(K - c, 0, kPairs);
      const __mmask16 lo = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const __mmask16 hi = static_cast<__mmask16>(n >= 32  ? 0xFFFF
                                                  : n > 16 ? (1u << (n - 16)) - 1
                                                           : 0);
      const __m512 a = _mm512_maskz_loadu_ps(lo, src + c);
      const __m512 b = _mm512_maskz_loadu_ps(hi, src + c + 16);
      _mm512_storeu_si512(dst + c, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a)));
    }
  }
}

// GCC 12's _mm512_reduce_add_ps trips -Wuninitialized inside its own header; once per row, a
// store and a scalar sum cost nothing.
MOFA_BF16_TARGET float lane_sum(__m512 v) {
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, v);
  float s = 0.0f;
  for (float l : lanes) s += l;
  return s;
}

MOFA_BF16_TARGET __m512 dot_chunk(__m512 acc, const uint16_t* w, const uint16_t* x) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(_mm512_loadu_si512(w)),
                          reinterpret_cast<__m512bh>(_mm512_loadu_si512(x)));
}

// Whether matvec_row asks for its lines ahead (prefetcht1, kPrefetchAhead bytes on). It pays on
// Zen 4 and costs on Zen 5, whose hardware prefetcher follows the row stream by itself:
// - Zen 4 VM, 2026-12-06: Qwen2.5-0.5B bf16 decode ran at 49 t/s with it against 41 t/s without
//   (2 threads; 30 against 22 t/s at 1 thread), and 37 t/s with prefetcht0.
// - Zen 5 VM, 2026-12-07: with and without alternated call by call on copies of the matrix
//   passing L3 (2 threads), 4864x896, 896x4864 and 151936x896 read 48-50 GB/s with it and 55-57
//   GB/s without, where a plain sum of the same bytes read 64-66. Qwen2.5-0.5B bf16 decode, the
//   two alternated over 6 rounds: 45.2 t/s without against 42.0 with (+7.6%, every round). That
//   is with the weights on cache lines (storage_open_file); with the rows straddling lines, as
//   before, the prefetch paid there too (49 against 45.5 t/s), as it did when the Zen 4 figures
//   above were taken.
// Other CPUs with AVX512-BF16 (Zen 5 and later, Intel's) go without.
bool prefetch_rows() {
  // Family 19h is Zen 3 and Zen 4; only Zen 4 has AVX512-BF16.
  static const bool on = __builtin_cpu_is("amdfam19h");
  return on;
}

// y[r] = row r of w · xb. Each row is read as one linear stream: on Zen 5 this reads ~30% faster
// than interleaving several rows that share each load of x (several streams confuse the hardware
// prefetcher; measured with mofa_kernel_bench, bf16 m=1 at Qwen2.5-0.5B shapes). PREFETCH: see
// prefetch_rows. Four accumulators hide the dot latency.
template <bool PREFETCH>
MOFA_BF16_TARGET void matvec_row(const uint16_t* xb, const uint16_t* w, int64_t K, int64_t r,
                                 float* y) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const uint16_t* row = w + r * K;
  const auto* ahead = reinterpret_cast<const char*>(row) + kPrefetchAhead;
  const int64_t full = K / kPairs * kPairs;
  int64_t c = 0;
  for (; c + 4 * kPairs <= full; c += 4 * kPairs) {
    if constexpr (PREFETCH) {
      for (int64_t line = 0; line < 4 * kPairs * 2; line += kPrefetch)
        _mm_prefetch(ahead + c * 2 + line, _MM_HINT_T1);
    }
    a0 = dot_chunk(a0, row + c, xb + c);
    a1 = dot_chunk(a1, row + c + kPairs, xb + c + kPairs);
    a2 = dot_chunk(a2, row + c + 2 * kPairs, xb + c + 2 * kPairs);
    a3 = dot_chunk(a3, row + c + 3 * kPairs, xb + c + 3 * kPairs);
  }
  for (; c < full; c += kPairs) {
    if constexpr (PREFETCH) _mm_prefetch(ahead + c * 2, _MM_HINT_T1);
    a0 = dot_chunk(a0, row + c, xb + c);
  }
  if (full < K) {
    const __mmask32 tail = static_cast<__mmask32>((uint64_t{1} << (K - full)) - 1);
    a1 =
        _mm512_dpbf16_ps(a1, reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(tail, row + full)),
                         reinterpret_cast<__m512bh>(_mm512_loadu_si512(xb + full)));
  }
  y[r] = lane_sum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// Rows [t0, t0 + nr) of w (nr <= kLanes, the rest zero) into tile[k * kLanes + j]: the bf16 pair
// (2k, 2k + 1) of row j, one gather per pair of columns.
MOFA_BF16_TARGET void repack_tile(const uint16_t* w, int64_t K, int64_t t0, int64_t nr,
                                  uint32_t* tile) {
  alignas(64) int32_t offsets[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) offsets[j] = static_cast<int32_t>(j < nr ? j * K * 2 : 0);
  const __m512i off = _mm512_load_si512(offsets);
  const __mmask16 live = static_cast<__mmask16>(nr >= kLanes ? 0xFFFF : (1u << nr) - 1);
  const auto* base = reinterpret_cast<const char*>(w + t0 * K);
  for (int64_t k = 0; k < K / 2; ++k)
    _mm512_store_si512(tile + k * kLanes, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live,
                                                                      off, base + 4 * k, 1));
}

// y[i * ldy + lane] for MR rows of xb against one repacked tile; `live` lanes are stored.
template <int MR>
MOFA_BF16_TARGET void tile_micro(const uint32_t* tile, int64_t K, const uint16_t* xb, int64_t ldx,
                                 float* y, int64_t ldy, __mmask16 live) {
  __m512 acc[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K / 2; ++k) {
    const __m512bh wk = reinterpret_cast<__m512bh>(_mm512_load_si512(tile + k * kLanes));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, xb + i * ldx + 2 * k, sizeof(pair));
      acc[i] = _mm512_dpbf16_ps(acc[i], wk, reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair)));
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(y + i * ldy, live, acc[i]);
}

// Every row of x (m of them) against one repacked tile, in blocks of MR rows: as many of the
// first height as fit, then of the next, down to single rows.
template <int... MR>
MOFA_BF16_TARGET void tile_rows(const uint32_t* tile, int64_t K, const uint16_t* xb, int64_t ldx,
                                int64_t m, float* y, int64_t ldy, __mmask16 live) {
  int64_t i = 0;
  auto blocks_of = [&](auto height) {
    constexpr int H = decltype(height)::value;
    for (; i + H <= m; i += H) tile_micro<H>(tile, K, xb + i * ldx, ldx, y + i * ldy, ldy, live);
  };
  (blocks_of(std::integral_constant<int, MR>{}), ...);
}

MOFA_BF16_TARGET void gemm_tiles(const uint16_t* xb, int64_t m, int64_t ldx, const uint16_t* w,
                                 int64_t rows, int64_t K, int64_t r0, int64_t r1, uint32_t* tile,
                                 float* y) {
  for (int64_t t0 = r0; t0 < r1; t0 += kLanes) {
    const int64_t nr = std::min(kLanes, r1 - t0);
    repack_tile(w, K, t0, nr, tile);
    const __mmask16 live = static_cast<__mmask16>(nr >= kLanes ? 0xFFFF : (1u << nr) - 1);
    tile_rows<kRowsOfX, 8, 4, 1>(tile, K, xb, ldx, m, y + t0, rows, live);
  }
}

template <typename T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

bool bf16_dot_available() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
  return ok;
}

void matvec_bf16_dot_shared(const float* x, const LinearOut* outs, int n) {
  const int64_t K = outs[0].w.cols;
  const int64_t ldx = (K + kPairs - 1) / kPairs * kPairs;
  uint16_t* xb = grow(scratch().xb, static_cast<size_t>(ldx));
  round_rows(x, 0, 1, K, ldx, xb);
  const bool prefetch = prefetch_rows();
  for_shared_rows(outs, n, kRowsPerSplit, [&](int i, int64_t lo, int64_t hi) {
    const auto* wd = static_cast<const uint16_t*>(outs[i].w.data);
    if (prefetch)
      for (int64_t r = lo; r < hi; ++r) matvec_row<true>(xb, wd, K, r, outs[i].y);
    else
      for (int64_t r = lo; r < hi; ++r) matvec_row<false>(xb, wd, K, r, outs[i].y);
  });
}

void linear_bf16_dot(const float* x, int64_t m, const WeightView& w, float* y) {
  if (!bf16_dot_available() || w.dtype != DType::bf16 || w.bits != 0 || w.cols % 2 != 0)
    throw InternalError("[linear] bf16 dot products requested for an unsuitable weight or CPU");
  if (m == 1) {
    const LinearOut one{w, nullptr, DType::f32, y};
    return matvec_bf16_dot_shared(x, &one, 1);
  }
  const int64_t K = w.cols;
  const int64_t ldx = (K + kPairs - 1) / kPairs * kPairs;
  uint16_t* xb = grow(scratch().xb, static_cast<size_t>(m * ldx));
  auto& pool = thread_pool_global();
  if (m >= 16)
    pool.parallel_for(m, [&](int64_t b, int64_t e, int) { round_rows(x, b, e, K, ldx, xb); });
  else
    round_rows(x, 0, m, K, ldx, xb);
  const auto* wd = static_cast<const uint16_t*>(w.data);
  pool.parallel_for(
      w.rows,
      [&](int64_t b, int64_t e, int) {
        auto& tile = scratch().tile;
        const size_t need = static_cast<size_t>(K / 2 * kLanes) + kLanes;
        uint32_t* t = grow(tile, need);
        t += (kLanes - reinterpret_cast<uintptr_t>(t) / sizeof(uint32_t) % kLanes) % kLanes;
        gemm_tiles(xb, m, ldx, wd, w.rows, K, b, e, t, y);
      },
      kLanes);
}

}  // namespace mofa::kernels::cpu

#else  // not x86-64: no AVX512-BF16, the generic kernels serve bf16 weights.

#include "core/error.h"

namespace mofa::kernels::cpu {

bool bf16_dot_available() {
  return false;
}

void linear_bf16_dot(const float*, int64_t, const WeightView&, float*) {
  throw InternalError("[linear] bf16 dot products need an x86-64 CPU with AVX512-BF16");
}

void matvec_bf16_dot_shared(const float*, const LinearOut*, int) {
  throw InternalError("[linear] bf16 dot products need an x86-64 CPU with AVX512-BF16");
}

}  // namespace mofa::kernels::cpu
#endif
