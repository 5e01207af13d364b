// linear and embedding. Three kernels:
//  - dense matvec (m == 1, f32/f16/bf16): weights widened in registers, rows split over the pool;
//  - f32 GEMM (m > 1, or exact quantized): a tile of W rows is widened/dequantized once into
//    per-thread scratch and reused by 4x4 register-blocked microkernels over all rows of x;
//  - int8 (fast mode, 4- and 8-bit): x is quantized once per call to int8 per group, W codes are
//    fed to u8·i8 dot products (AVX-512 VNNI where present), and MLX's bias term is added as
//    bias · Σx_group;
//  - bf16 weights in fast mode, where the CPU has AVX512-BF16: linear_bf16.cpp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/linear.cpp"
// VNNI is part of Highway's AVX3_DL target, which is only compiled on request.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
// The microkernels keep accumulators in arrays, which SVE's sizeless vectors do not allow.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#endif
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/cache_control.h"
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/cache_line.h"
#include "core/error.h"
#include "core/kernels/cpu/cpu_kernels.h"
#include "core/kernels/cpu/linear_bf16.h"
#include "core/kernels/cpu/shared_rows.h"
#include "core/thread_pool.h"

#ifndef MOFA_CORE_KERNELS_CPU_LINEAR_ONCE
#define MOFA_CORE_KERNELS_CPU_LINEAR_ONCE
namespace mofa::kernels::cpu {
// Layout of quantized activations for this target: a chunk is one vector of weight bytes; each
// i32 lane of a dot product covers `cpl` consecutive codes.
struct QLayout {
  int64_t nb;      // bytes per vector
  int64_t n32;     // i32 lanes per vector
  int64_t cpl;     // codes per i32 lane (8 for 4-bit, 4 for 8-bit)
  int64_t ch;      // codes per chunk
  int64_t nfull;   // full chunks per row
  int64_t tail;    // weight bytes in the partial last chunk (0 when K is whole chunks)
  int64_t ldq;     // bytes per quantized row (whole chunks, the partial one zero padded)
  int64_t groups;  // groups per row
  int64_t ldg;     // floats per row of per-group values (padded)
};

}  // namespace mofa::kernels::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using DI = hn::ScalableTag<int32_t>;
using DU8 = hn::ScalableTag<uint8_t>;
using DI8 = hn::ScalableTag<int8_t>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;

size_t FloatLanes() {
  return hn::Lanes(DF());
}

// Matvecs stream W from DRAM once; the hardware prefetcher alone leaves much of the bandwidth
// unused, so they also ask for the lines they will read a few KB on.
constexpr int64_t kLineBytes = kCacheLineBytes;  // one prefetch asks for one line

// The quantized matvec prefetches the block of rows at least this far ahead of the one it reads.
// One block ahead is too close for short rows: Qwen2.5-0.5B 4-bit (896 columns, 1792-byte blocks
// of four rows) decoded at 81 t/s prefetching the next block and 108-118 t/s 4-8 KB ahead (2
// threads, Zen 4 VM; 48 -> 74-78 t/s at 1 thread). Qwen3-4B 4-bit (5 KB blocks) went from 15.4
// to 17.6 t/s with two blocks ahead instead of one (8.9 -> 10.5 t/s at 1 thread); 8-32 KB were
// alike there. BENCHMARKS.md, 2026-12-06 (night).
constexpr int64_t kQuantPrefetchBytes = 8192;
// The dense matvecs likewise (f32, f16, and bf16 in exact mode or without AVX512-BF16): 2-16 KB
// were alike for bf16 on Qwen2.5-0.5B shapes (mofa_kernel_bench, Zen 4 VM, 2026-12-06).
constexpr int64_t kDensePrefetchBytes = 8192;

// Rows of at least this many bytes of codes are read one at a time rather than four at once.
// Four rows share each load of x and each row's overhead, which pays on short rows, but they are
// four streams at once, which DRAM serves more slowly than one: on the Zen 5 VM (2 threads, each
// shape alternated with the other way many times in one process), one row at a time took 0.82 of
// the time on 4-bit 9728x2560 and 2560x9728 (1280- and 4864-byte rows) and 0.83-0.91 on 8-bit
// 4864x896 to 9728x2560 (896-2560 bytes), but 1.10 on 4-bit 4864x896 (448 bytes). Qwen3-4B decode
// (builds alternated): 8-bit +24% and +27%; 4-bit +24%, +0.3% and +8%, as the VM's memory
// state moved (BENCHMARKS.md, 2026-12-07, sixth session).
constexpr int64_t kRowAtATimeBytes = 768;

// Asks for the line at p to be brought into L2, not L1 (prefetcht1 on x86). The quantized
// matvec prefetches a later block of rows while it reads this one; pulled all the way into L1
// (prefetcht0), Qwen3-4B 4-bit decode ran about a fifth slower on the Zen 4 VM (BENCHMARKS.md,
// 2026-12-06 evening), likely because they evicted the lines being read and x's chunks.
HWY_INLINE void PrefetchToL2(const void* p) {
  __builtin_prefetch(p, 0, 2);
}

// Asks for the line at p to be brought into L1 (prefetcht0). A matvec reading one row at a time
// is one linear stream: there, lines pulled all the way in ahead of it read faster than lines
// left in L2 (Qwen3-4B 4-bit, 9728x2560 at 2 threads, Zen 5 VM: 0.76-0.87 of the time with
// prefetcht0 against 1.1 with prefetcht1, and 1.05-1.67 without prefetches).
HWY_INLINE void PrefetchToL1(const void* p) {
  __builtin_prefetch(p, 0, 3);
}

// Prefetches into L2 the lines of `block` that start within bytes [offset, offset + n): called
// with consecutive spans, it asks for each line of the block once.
HWY_INLINE void PrefetchSpan(const char* block, int64_t offset, int64_t n) {
  for (int64_t b = (offset + kLineBytes - 1) & ~(kLineBytes - 1); b < offset + n; b += kLineBytes)
    PrefetchToL2(block + b);
}

// The nearest block of rows at least `distance` bytes ahead of the one being read, in blocks.
HWY_INLINE int64_t BlocksAhead(int64_t block_bytes, int64_t distance) {
  return std::max<int64_t>(1, (distance + block_bytes - 1) / block_bytes);
}

// ---------------------------------------------------------------- widening loads

HWY_INLINE VF LoadWide(DF d, const float* p) {
  return hn::LoadU(d, p);
}
HWY_INLINE VF LoadWide(DF d, const hwy::bfloat16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::bfloat16_t, DF>(), p));
}
HWY_INLINE VF LoadWide(DF d, const hwy::float16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, DF>(), p));
}
HWY_INLINE float ScalarWide(const float* p) {
  return *p;
}
HWY_INLINE float ScalarWide(const hwy::bfloat16_t* p) {
  return hwy::F32FromBF16(*p);
}
HWY_INLINE float ScalarWide(const hwy::float16_t* p) {
  return f16_to_f32(*reinterpret_cast<const uint16_t*>(p));
}

// out[0..n) = p[0..n) widened to f32.
template <typename T>
HWY_INLINE void WidenRow(const T* p, int64_t n, float* out) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(LoadWide(d, p + i), d, out + i);
  for (; i < n; ++i) out[i] = ScalarWide(p + i);
}

HWY_INLINE void WidenAny(const void* p, DType t, int64_t n, float* out) {
  switch (t) {
    case DType::bf16:
      return WidenRow(static_cast<const hwy::bfloat16_t*>(p), n, out);
    case DType::f16:
      return WidenRow(static_cast<const hwy::float16_t*>(p), n, out);
    default:
      return WidenRow(static_cast<const float*>(p), n, out);
  }
}

// ---------------------------------------------------------------- dense matvec

// NR rows of w (f32 or f16) against x. Each x load serves NR rows; the block of NR rows `ahead`
// blocks on is prefetched linearly (see MatvecBF16Rows). Prefetching each row 4 KB ahead, as
// before, read f16 4864x896 at 12 GB/s from DRAM at one thread (mofa_kernel_bench, Zen 4 VM).
template <typename T, int NR>
HWY_INLINE void MatvecRowsT(const float* x, const T* w, int64_t cols, int64_t r, int64_t ahead,
                            float* y) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[NR];
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) acc[j] = hn::Zero(d);
  const T* a = w + r * cols;
  const int64_t step_bytes = NR * N * static_cast<int64_t>(sizeof(T));
  const char* next = reinterpret_cast<const char*>(a + ahead * NR * cols);
  int64_t c = 0;
  for (; c + N <= cols; c += N) {
    PrefetchSpan(next, c / N * step_bytes, step_bytes);
    const VF xv = hn::LoadU(d, x + c);
    HWY_UNROLL(16)
    for (int j = 0; j < NR; ++j) acc[j] = hn::MulAdd(LoadWide(d, a + j * cols + c), xv, acc[j]);
  }
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) {
    float sum = hn::GetLane(hn::SumOfLanes(d, acc[j]));
    for (int64_t k = c; k < cols; ++k) sum += ScalarWide(a + j * cols + k) * x[k];
    y[r + j] = sum;
  }
}

template <typename T>
void DenseMatvecT(const float* x, const T* w, int64_t cols, int64_t r0, int64_t r1, float* y) {
  const int64_t row_bytes = cols * static_cast<int64_t>(sizeof(T));
  const int64_t ahead4 = BlocksAhead(4 * row_bytes, kDensePrefetchBytes);
  const int64_t ahead1 = BlocksAhead(row_bytes, kDensePrefetchBytes);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) MatvecRowsT<T, 4>(x, w, cols, r, ahead4, y);
  for (; r < r1; ++r) MatvecRowsT<T, 1>(x, w, cols, r, ahead1, y);
}

// NR bf16 rows against x split into xs (per block of 2N columns: the N even columns, then the N
// odd ones). A u32 lane holds an even and an odd bf16 weight, which widen to f32 with one shift
// and one mask, no lane shuffle; each x load serves NR rows. Sums are exact f32 products.
// As in the quantized matvec, the block of NR rows `ahead` blocks on is prefetched linearly
// while this one is read, each step asking for its share of it. Prefetching each row a fixed
// distance ahead instead overshot short rows (4 KB past a 1792-byte row of Qwen2.5-0.5B lands
// two rows on, half of them in the block being read): 12 GB/s from DRAM at one thread against
// 50 GB/s from L3, for 4864x896 (mofa_kernel_bench, exact bf16, Zen 4 VM, 2026-12-06).
template <int NR>
HWY_INLINE void MatvecBF16Rows(const float* xs, const float* x, const hwy::bfloat16_t* w,
                               int64_t cols, int64_t r, int64_t ahead, float* y) {
  const DF d;
  const hn::Repartition<uint32_t, DF> du;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto hi_mask = hn::Set(du, 0xFFFF0000u);
  VF ae[NR], ao[NR];
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) ae[j] = ao[j] = hn::Zero(d);
  const hwy::bfloat16_t* a = w + r * cols;
  // Bytes of the block read per step of 2N columns, and where the prefetched block starts.
  const int64_t step_bytes = NR * 2 * N * static_cast<int64_t>(sizeof(hwy::bfloat16_t));
  const char* next = reinterpret_cast<const char*>(a + ahead * NR * cols);
  int64_t c = 0;
  for (; c + 2 * N <= cols; c += 2 * N) {
    PrefetchSpan(next, c / (2 * N) * step_bytes, step_bytes);
    const VF xe = hn::LoadU(d, xs + c), xo = hn::LoadU(d, xs + c + N);
    HWY_UNROLL(16)
    for (int j = 0; j < NR; ++j) {
      const auto v = hn::LoadU(du, reinterpret_cast<const uint32_t*>(a + j * cols + c));
      ae[j] = hn::MulAdd(hn::BitCast(d, hn::ShiftLeft<16>(v)), xe, ae[j]);
      ao[j] = hn::MulAdd(hn::BitCast(d, hn::And(v, hi_mask)), xo, ao[j]);
    }
  }
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) {
    float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(ae[j], ao[j])));
    for (int64_t k = c; k < cols; ++k) sum += ScalarWide(a + j * cols + k) * x[k];
    y[r + j] = sum;
  }
}

void DenseMatvecBF16(const float* x, const hwy::bfloat16_t* w, int64_t cols, int64_t r0, int64_t r1,
                     float* y) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(DF()));
  thread_local std::vector<float> split;
  if (split.size() < static_cast<size_t>(cols)) split.resize(static_cast<size_t>(cols));
  float* xs = split.data();
  for (int64_t c = 0; c + 2 * N <= cols; c += 2 * N)
    for (int64_t l = 0; l < N; ++l) {
      xs[c + l] = x[c + 2 * l];
      xs[c + N + l] = x[c + 2 * l + 1];
    }
  const int64_t row_bytes = cols * static_cast<int64_t>(sizeof(hwy::bfloat16_t));
  const int64_t ahead4 = BlocksAhead(4 * row_bytes, kDensePrefetchBytes);
  const int64_t ahead1 = BlocksAhead(row_bytes, kDensePrefetchBytes);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) MatvecBF16Rows<4>(xs, x, w, cols, r, ahead4, y);
  for (; r < r1; ++r) MatvecBF16Rows<1>(xs, x, w, cols, r, ahead1, y);
}

void DenseMatvec(const float* x, const WeightView& w, int64_t r0, int64_t r1, float* y) {
  switch (w.dtype) {
    case DType::bf16:
      return DenseMatvecBF16(x, static_cast<const hwy::bfloat16_t*>(w.data), w.cols, r0, r1, y);
    case DType::f16:
      return DenseMatvecT(x, static_cast<const hwy::float16_t*>(w.data), w.cols, r0, r1, y);
    default:
      return DenseMatvecT(x, static_cast<const float*>(w.data), w.cols, r0, r1, y);
  }
}

// ---------------------------------------------------------------- f32 GEMM

// Columns [c0, c1) of row r of w widened/dequantized into out[0..width), zero padded; c0 is a
// multiple of the group size.
void ConvertRowRange(const WeightView& w, int64_t r, int64_t c0, int64_t c1, float* out,
                     int64_t width) {
  if (w.bits == 0) {
    const size_t es = dtype_size(w.dtype);
    WidenAny(static_cast<const char*>(w.data) + (r * w.cols + c0) * static_cast<int64_t>(es),
             w.dtype, c1 - c0, out);
  } else {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const uint32_t* words = static_cast<const uint32_t*>(w.data) + r * w.row_words;
    const int64_t groups = w.cols / w.group_size;
    const int gs = w.group_size;
    for (int64_t g = c0 / gs; g < c1 / gs; ++g) {
      const float s = load_f32(w.scales, w.sdtype, r * groups + g);
      const float b = load_f32(w.biases, w.sdtype, r * groups + g);
      float* o = out + g * gs - c0;
      if (w.bits == 8 && gs % N == 0) {
        const hn::Rebind<uint8_t, DI> du8q;
        const uint8_t* p = reinterpret_cast<const uint8_t*>(words) + g * gs;
        const VF vs = hn::Set(df, s), vb = hn::Set(df, b);
        for (int j = 0; j < gs; j += static_cast<int>(N)) {
          const VF q = hn::ConvertTo(df, hn::PromoteTo(DI(), hn::LoadU(du8q, p + j)));
          hn::StoreU(hn::MulAdd(vs, q, vb), df, o + j);
        }
      } else if (w.bits == 4) {
        const uint32_t* p = words + g * gs / 8;
        for (int j = 0; j < gs / 8; ++j) {
          const uint32_t v = p[j];
          for (int k = 0; k < 8; ++k)
            o[8 * j + k] = s * static_cast<float>((v >> (4 * k)) & 15u) + b;
        }
      } else {
        const int bits = w.bits;
        const uint32_t mask = (1u << bits) - 1u;
        for (int j = 0; j < gs; ++j) {
          const uint64_t bit = static_cast<uint64_t>(g * gs + j) * bits;
          const uint64_t word = bit / 32, shift = bit % 32;
          uint64_t v = words[word] >> shift;
          if (shift + bits > 32) v |= static_cast<uint64_t>(words[word + 1]) << (32 - shift);
          o[j] = s * static_cast<float>(static_cast<uint32_t>(v) & mask) + b;
        }
      }
    }
  }
  for (int64_t c = c1 - c0; c < width; ++c) out[c] = 0.0f;
}

void ConvertRow(const WeightView& w, int64_t r, float* out, int64_t ld) {
  ConvertRowRange(w, r, 0, w.cols, out, ld);
}

// y[i * ldy + j] (+)= x_i · w_j for MR rows of x (stride ldx) and NR rows of w (stride ldw); K
// is a multiple of the vector length.
template <int MR, int NR>
HWY_INLINE void MicroF32(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t K,
                         float* y, int64_t ldy, bool accumulate) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[MR * NR];
  HWY_UNROLL(16)
  for (int i = 0; i < MR * NR; ++i) acc[i] = hn::Zero(d);
  for (int64_t k = 0; k < K; k += N) {
    VF xv[MR];
    HWY_UNROLL(16)
    for (int i = 0; i < MR; ++i) xv[i] = hn::LoadU(d, x + i * ldx + k);
    HWY_UNROLL(16)
    for (int j = 0; j < NR; ++j) {
      const VF wv = hn::LoadU(d, w + j * ldw + k);
      HWY_UNROLL(16)
      for (int i = 0; i < MR; ++i) acc[i * NR + j] = hn::MulAdd(xv[i], wv, acc[i * NR + j]);
    }
  }
  HWY_UNROLL(16)
  for (int i = 0; i < MR; ++i) HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) {
    const float v = hn::GetLane(hn::SumOfLanes(d, acc[i * NR + j]));
    y[i * ldy + j] = accumulate ? y[i * ldy + j] + v : v;
  }
}

template <int MR>
HWY_INLINE void MicroRowsF32(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t nr,
                             int64_t K, float* y, int64_t ldy, bool acc) {
  int64_t j = 0;
  for (; j + 4 <= nr; j += 4) MicroF32<MR, 4>(x, ldx, w + j * ldw, ldw, K, y + j, ldy, acc);
  switch (nr - j) {
    case 3:
      MicroF32<MR, 3>(x, ldx, w + j * ldw, ldw, K, y + j, ldy, acc);
      break;
    case 2:
      MicroF32<MR, 2>(x, ldx, w + j * ldw, ldw, K, y + j, ldy, acc);
      break;
    case 1:
      MicroF32<MR, 1>(x, ldx, w + j * ldw, ldw, K, y + j, ldy, acc);
      break;
    default:
      break;
  }
}

// Rows of x per microkernel. Four rows against four of W hold 16 accumulators plus four x vectors
// and one W vector: that fits AVX-512's 32 registers, but spills on x86's 16-register targets,
// where three rows (12 + 3 + 1) fit exactly.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
constexpr int kGemmRowsF32 = 3;
#else
constexpr int kGemmRowsF32 = 4;
#endif

// Rows [r0, r1) of y[m, w.rows] for x[m, ldx] (zero padded past w.cols). W is converted in
// blocks of tile_rows rows by kb columns (tile: tile_rows * kb floats, L2-sized) and each block
// is reused by every group of kGemmRowsF32 rows of x, whose kb-wide slices stay in L1.
void GemmF32(const float* x, int64_t m, int64_t ldx, const WeightView& w, int64_t r0, int64_t r1,
             float* y, float* tile, int64_t tile_rows, int64_t kb) {
  const bool direct = w.bits == 0 && w.dtype == DType::f32 && ldx == w.cols;
  for (int64_t t0 = r0; t0 < r1; t0 += tile_rows) {
    const int64_t nr = std::min(tile_rows, r1 - t0);
    for (int64_t k0 = 0; k0 < ldx; k0 += kb) {
      const int64_t kw = std::min(kb, ldx - k0);
      const float* wt = tile;
      int64_t ldw = kw;
      if (direct) {
        wt = static_cast<const float*>(w.data) + t0 * w.cols + k0;
        ldw = w.cols;
      } else {
        const int64_t c1 = std::min(w.cols, k0 + kw);
        for (int64_t j = 0; j < nr; ++j) ConvertRowRange(w, t0 + j, k0, c1, tile + j * kw, kw);
      }
      const bool acc = k0 > 0;
      const float* xb = x + k0;
      float* yb = y + t0;
      int64_t i = 0;
      for (; i + kGemmRowsF32 <= m; i += kGemmRowsF32)
        MicroRowsF32<kGemmRowsF32>(xb + i * ldx, ldx, wt, ldw, nr, kw, yb + i * w.rows, w.rows,
                                   acc);
      switch (m - i) {
        case 3:
          MicroRowsF32<3>(xb + i * ldx, ldx, wt, ldw, nr, kw, yb + i * w.rows, w.rows, acc);
          break;
        case 2:
          MicroRowsF32<2>(xb + i * ldx, ldx, wt, ldw, nr, kw, yb + i * w.rows, w.rows, acc);
          break;
        case 1:
          MicroRowsF32<1>(xb + i * ldx, ldx, wt, ldw, nr, kw, yb + i * w.rows, w.rows, acc);
          break;
        default:
          break;
      }
    }
  }
}

// ---------------------------------------------------------------- int8 path

void EmbedRows(const WeightView& w, const int32_t* ids, int64_t b, int64_t e, float* out) {
  for (int64_t i = b; i < e; ++i) ConvertRow(w, ids[i], out + i * w.cols, w.cols);
}

#if HWY_TARGET != HWY_SCALAR
// acc + Σ over each group of four bytes of a (u8) · b (i8), per i32 lane.
#if HWY_TARGET == HWY_AVX3_DL
HWY_INLINE VI DotU8I8(VI acc, hn::Vec<DU8> a, hn::Vec<DI8> b) {
  __m512i r = acc.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(r) : "v"(a.raw), "v"(b.raw));
  return VI{r};
}
#else
HWY_INLINE VI DotU8I8(VI acc, hn::Vec<DU8> a, hn::Vec<DI8> b) {
  const DI di;
  const hn::Repartition<int16_t, DI> d16;
  const hn::Repartition<uint16_t, DI> du16;
  const auto ae = hn::BitCast(d16, hn::And(hn::BitCast(du16, a), hn::Set(du16, 0xFF)));
  const auto ao = hn::BitCast(d16, hn::ShiftRight<8>(hn::BitCast(du16, a)));
  const auto be = hn::ShiftRight<8>(hn::ShiftLeft<8>(hn::BitCast(d16, b)));
  const auto bo = hn::ShiftRight<8>(hn::BitCast(d16, b));
  VI s1 = hn::Zero(di);
  VI s0 = hn::ReorderWidenMulAccumulate(di, ae, be, hn::Zero(di), s1);
  s0 = hn::ReorderWidenMulAccumulate(di, ao, bo, s0, s1);
  return hn::Add(acc, hn::RearrangeToOddPlusEven(s0, s1));
}
#endif

#if HWY_TARGET == HWY_AVX2
// Without VNNI (AVX2), dot products of codes and int8 x use one maddubs where its 16-bit pair
// sums cannot saturate, then widen: i32 lanes of adjacent pair sums.
HWY_INLINE __m256i PairSums(__m256i p16) {
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}
// 8-bit codes recentred to code - 128 (an i8, `centred`) times x, as maddubs pairs: it sees
// |code - 128| (at most 128) against x carrying the code's sign, so pair sums stay below
// 2·128·127. The caller adds back 128·Σ(x codes).
HWY_INLINE __m256i CentredPairs(__m256i centred, __m256i x) {
  return _mm256_maddubs_epi16(_mm256_abs_epi8(centred), _mm256_sign_epi8(x, centred));
}
#endif

// Σ per i32 lane of the low and high nibbles of w (4-bit codes, 0..15) times their int8 values.
// Without VNNI, u8·i8 pair products of 4-bit codes cannot saturate 16 bits (2·15·127), so one
// maddubs per half and one widening add replace the general emulation.
HWY_INLINE VI DotQ4(hn::Vec<DU8> lo, hn::Vec<DU8> hi, hn::Vec<DI8> xlo, hn::Vec<DI8> xhi) {
#if HWY_TARGET == HWY_AVX2
  return VI{PairSums(_mm256_add_epi16(_mm256_maddubs_epi16(lo.raw, xlo.raw),
                                      _mm256_maddubs_epi16(hi.raw, xhi.raw)))};
#elif HWY_TARGET == HWY_AVX3
  const __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(lo.raw, xlo.raw),
                                     _mm512_maddubs_epi16(hi.raw, xhi.raw));
  return VI{_mm512_madd_epi16(p, _mm512_set1_epi16(1))};
#else
  return DotU8I8(DotU8I8(hn::Zero(DI()), lo, xlo), hi, xhi);
#endif
}

// DotQ4 of one vector of 4-bit codes v (two per byte) against the chunk's x for the low nibbles
// (xlo) and the high ones (xhi).
HWY_INLINE VI NibbleDot(hn::Vec<DU8> v, hn::Vec<DI8> xlo, hn::Vec<DI8> xhi) {
  const auto mask4 = hn::Set(DU8(), 0x0F);
  return DotQ4(hn::And(v, mask4), hn::And(hn::ShiftRight<4>(v), mask4), xlo, xhi);
}

// The 8-bit counterpart for one chunk of x: X8 holds what every row's Dot8 needs. On AVX2, x is
// widened to i16 in the order unpacking the weight bytes with zero gives (in-lane low and high
// eight bytes), so a row costs two unpacks and two exact 16-bit madds: fewer operations than
// recentring the codes for maddubs and adding 128·Σx back. An i32 lane then sums columns of one
// 16-byte half of the chunk, so every lane still lies within one group (32 codes or more).
struct X8 {
#if HWY_TARGET == HWY_AVX2
  __m256i lo, hi;
#else
  hn::Vec<DI8> x;
#endif
};
HWY_INLINE X8 PrepareX8(hn::Vec<DI8> x) {
#if HWY_TARGET == HWY_AVX2
  return X8{_mm256_srai_epi16(_mm256_unpacklo_epi8(x.raw, x.raw), 8),
            _mm256_srai_epi16(_mm256_unpackhi_epi8(x.raw, x.raw), 8)};
#else
  return X8{x};
#endif
}
HWY_INLINE VI Dot8(hn::Vec<DU8> w, const X8& x) {
#if HWY_TARGET == HWY_AVX2
  const __m256i zero = _mm256_setzero_si256();
  return VI{_mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi8(w.raw, zero), x.lo),
                             _mm256_madd_epi16(_mm256_unpackhi_epi8(w.raw, zero), x.hi))};
#else
  return DotU8I8(hn::Zero(DI()), w, x.x);
#endif
}

QLayout MakeLayout(int bits, int gs, int64_t K) {
  QLayout L;
  L.nb = static_cast<int64_t>(hn::Lanes(DU8()));
  L.n32 = static_cast<int64_t>(hn::Lanes(DI()));
  L.cpl = bits == 4 ? 8 : 4;
  L.ch = L.n32 * L.cpl;
  L.nfull = K / L.ch;
  L.tail = (K - L.nfull * L.ch) * bits / 8;
  L.ldq = (L.nfull + (L.tail > 0 ? 1 : 0)) * L.ch;
  L.ldq = std::max<int64_t>((L.ldq + 63) / 64 * 64, 64);
  L.groups = K / gs;
  L.ldg = (L.groups + L.n32) / L.n32 * L.n32 + L.n32;
  return L;
}

// Quantizes rows [i0, i1) of x[m, K] to int8 per group: xq, zero padded to L.ldq so the partial
// last chunk runs through the vector loop; xd the per-group step; xsum Σx per group; in natural
// order, xqsum Σ of the codes per group (the AVX2 tile GEMM adds it back for its recentred 8-bit
// weights).
// xq is in natural order for 8 bits. For 4 bits each chunk of L.ch codes (the partial last one
// too) holds its even columns' codes first, then its odd ones, matching the low and high nibbles
// of the weight bytes.
void QuantizeX(const float* x, int64_t i0, int64_t i1, int64_t K, int bits, int gs,
               const QLayout& L, int8_t* xq, float* xd, float* xsum, int32_t* xqsum) {
  const DF df;
  const DI di;
  const hn::Rebind<int8_t, DI> d8;
  const DI8 di8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t i = i0; i < i1; ++i) {
    const float* xr = x + i * K;
    int8_t* q = xq + i * L.ldq;
    float* d = xd + i * L.ldg;
    float* s = xsum + i * L.ldg;
    int32_t* qs = xqsum + i * L.ldg;
    for (int64_t g = 0; g < L.ldg; ++g) {
      d[g] = s[g] = 0.0f;
      qs[g] = 0;
    }
    std::memset(q + L.nfull * L.ch, 0, static_cast<size_t>(L.ldq - L.nfull * L.ch));
    // Group sizes (32/64/128) are whole vectors here; rounding is to nearest even, as lrintf.
    // Codes are written in natural order first; |code| <= 127, so the narrowing cannot saturate.
    for (int64_t g = 0; g < L.groups; ++g) {
      const float* v = xr + g * gs;
      VF vmax = hn::Zero(df), vsum = hn::Zero(df);
      for (int64_t j = 0; j < gs; j += N) {
        const VF a = hn::LoadU(df, v + j);
        vmax = hn::Max(vmax, hn::Abs(a));
        vsum = hn::Add(vsum, a);
      }
      const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
      const float step = amax / 127.0f;
      const VF vinv = hn::Set(df, step > 0.0f ? 1.0f / step : 0.0f);
      d[g] = step;
      s[g] = hn::GetLane(hn::SumOfLanes(df, vsum));
      auto vqsum = hn::Zero(di);
      for (int64_t j = 0; j < gs; j += N) {
        const auto c = hn::NearestInt(hn::Mul(hn::LoadU(df, v + j), vinv));
        vqsum = hn::Add(vqsum, c);
        hn::StoreU(hn::DemoteTo(d8, c), d8, q + g * gs + j);
      }
      if (bits != 4) qs[g] = hn::GetLane(hn::SumOfLanes(di, vqsum));
    }
    if (bits != 4) continue;
    // The 4-bit layout: the zero padding past K goes through the same shuffle, so the partial
    // last chunk comes out alike.
    for (int64_t c = 0; c < L.ldq; c += L.ch) {
      const auto lo = hn::LoadU(di8, q + c);
      const auto hi = hn::LoadU(di8, q + c + L.nb);
      hn::StoreU(hn::ConcatEven(di8, hi, lo), di8, q + c);
      hn::StoreU(hn::ConcatOdd(di8, hi, lo), di8, q + c + L.nb);
    }
  }
}

// Asks for chunk c's share (NR vectors' worth, a cache line at a time) of the block of NR rows
// at `next`, a later block than the one being read. The NR rows read at once are one contiguous
// block of memory read at NR places, which the hardware prefetcher follows poorly, so the later
// block is prefetched linearly, into L2. One row at a time is a linear stream already,
// prefetched into L1.
template <int NR>
HWY_INLINE void PrefetchChunkAhead(const uint8_t* next, int64_t c, int64_t nb) {
  const int64_t pf_every = nb >= kLineBytes ? 1 : kLineBytes / nb;
  if ((c & (pf_every - 1)) != 0) return;
  const uint8_t* pf = next + c * NR * nb;
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) {
    if constexpr (NR == 1)
      PrefetchToL1(pf + j * pf_every * nb);
    else
      PrefetchToL2(pf + j * pf_every * nb);
  }
}

// Prefetches the scales and biases of the block of nr rows `ahead` blocks after the one at row r
// (G groups a row), where there is one. They are two more streams, read in short bursts between
// long runs of codes, and the hardware prefetcher leaves their loads to miss: widening them
// stalled on them for about a sixth of the kernel's time (perf, 9728x2560 4-bit, one thread). So
// they are asked for as far ahead as the codes are.
HWY_INLINE void PrefetchScalesAhead(const WeightView& w, int64_t G, int64_t r, int64_t nr,
                                    int64_t ahead) {
  if (r + (ahead + 1) * nr > w.rows) return;
  const size_t esize = w.sdtype == DType::f32 ? 4 : 2;
  const size_t span = static_cast<size_t>(nr * G) * esize;
  const size_t at = static_cast<size_t>((r + ahead * nr) * G) * esize;
  for (size_t b = 0; b < span; b += kLineBytes) {
    hwy::Prefetch(static_cast<const char*>(w.scales) + at + b);
    hwy::Prefetch(static_cast<const char*>(w.biases) + at + b);
  }
}

// Calls f with a value of the element type of scales and biases stored as t (bf16, f16 or f32).
template <typename F>
HWY_INLINE void WithScaleType(DType t, F&& f) {
  if (t == DType::bf16)
    f(hwy::bfloat16_t{});
  else if (t == DType::f16)
    f(hwy::float16_t{});
  else
    f(float{});
}

// x of one chunk, loaded once for every row that meets it: the low- and high-nibble codes for 4
// bits, X8 for 8.
template <int BITS>
HWY_INLINE auto LoadChunkX(const int8_t* HWY_RESTRICT xc, int64_t nb) {
  const DI8 di8;
  if constexpr (BITS == 4)
    return std::pair{hn::LoadU(di8, xc), hn::LoadU(di8, xc + nb)};
  else
    return PrepareX8(hn::LoadU(di8, xc));
}

// Σ over one chunk of a row (codes at p) · the chunk's x (LoadChunkX), per i32 lane.
template <int BITS, typename X>
HWY_INLINE VI ChunkDot(const uint8_t* HWY_RESTRICT p, const X& x) {
  auto v = hn::LoadU(DU8(), p);
  if constexpr (BITS == 4) {
#if HWY_ARCH_X86
    // Read once: GCC otherwise folds this load into both the mask and the shift below, and two
    // loads of the codes plus two of x per chunk kept the load ports busier than the arithmetic
    // (a cache-resident microbenchmark of the one-row loop, Zen 5: 19% slower).
    __asm__("" : "+v"(v.raw));
#endif
    return NibbleDot(v, x.first, x.second);
  } else {
    return Dot8(v, x);
  }
}

// NR rows' y, their lanes still to be summed (codes at p, rs bytes apart; scales s and biases b,
// T wide, G apart), with each row's scales folded with x's steps in registers, a vector of NF
// groups at a time, right before the chunks that use them. A lane's group within the vector is
// its first code's offset (lane_codes: lane l starts at code l * cpl of its chunk) over the group
// size; a chunk within one group gives every lane the same one.
// Folding the rows' scales into memory first (the kernel before this one) had each chunk load its
// scales straight back from stores at other offsets, which cannot forward: the loads waited for
// the stores to reach L1, so blocks of rows hardly overlapped. Cache-resident on Zen 5 at one
// thread, one row at a time this way took 0.70 of that kernel's time on 4-bit 256x2560 (46 -> 31
// ns a row), 0.84 on 2560x9728 and 0.71 on 8-bit 256x2560.
// Reads whole vectors: a partial last chunk of codes (K not whole chunks) reads L.nb - L.tail
// bytes past its row, where x is zero, and the last vector of scales and biases reads up to
// NF - (G mod NF) elements past the row's s + G and b + G, where the vector is masked; both must
// be readable. Lanes past K keep their group index within the vector of NF groups, since a
// vector's groups are whole chunks. One row keeps two accumulators, for alternate chunks: two
// FMA chains. The block of rows at `next` is prefetched chunk by chunk (PrefetchChunkAhead).
template <int BITS, int NR, typename T>
HWY_INLINE void DotRowsFoldedInRegisters(const uint8_t* HWY_RESTRICT p, int64_t rs,
                                         const T* HWY_RESTRICT s, const T* HWY_RESTRICT b,
                                         const int8_t* HWY_RESTRICT xq,
                                         const float* HWY_RESTRICT xd,
                                         const float* HWY_RESTRICT xsum, const QLayout& L,
                                         int gshift, const hn::Vec<DI>& lane_codes,
                                         const uint8_t* HWY_RESTRICT next, VF* out) {
  const DF df;
  const DI di;
  constexpr int NA = NR == 1 ? 2 : 1;  // accumulators a row
  const int64_t NF = static_cast<int64_t>(hn::Lanes(df));
  const int64_t G = L.groups;
  const int64_t nb = L.nb;
  const int64_t ch = L.ch;
  const int64_t per_block = (NF << gshift) / ch;  // chunks per NF groups (a power of two)
  const int64_t chunks = L.nfull + (L.tail > 0 ? 1 : 0);
  VF acc[NR * NA], bias[NR];
  HWY_UNROLL(16)
  for (int j = 0; j < NR * NA; ++j) acc[j] = hn::Zero(df);
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) bias[j] = hn::Zero(df);
  const auto step = hn::Set(di, static_cast<int32_t>(ch));
  int64_t c = 0;
  for (int64_t gb = 0; gb < G; gb += NF) {
    const auto in_row = hn::FirstN(df, static_cast<size_t>(std::min(NF, G - gb)));
    const VF xdv = hn::LoadU(df, xd + gb);
    const VF xsv = hn::LoadU(df, xsum + gb);
    VF sc[NR];
    HWY_UNROLL(16)
    for (int j = 0; j < NR; ++j) {
      sc[j] = hn::IfThenElseZero(in_row, hn::Mul(LoadWide(df, s + j * G + gb), xdv));
      bias[j] = hn::MulAdd(hn::IfThenElseZero(in_row, LoadWide(df, b + j * G + gb)), xsv, bias[j]);
    }
    const int64_t end = std::min(chunks, c + per_block);
    auto lane_at = lane_codes;
    // One chunk into accumulator a of each row.
    auto chunk = [&](int64_t k, int a) HWY_ATTR {
      PrefetchChunkAhead<NR>(next, k, nb);
      const auto idx = hn::IndicesFromVec(df, hn::ShiftRightSame(lane_at, gshift));
      lane_at = hn::Add(lane_at, step);
      const auto x = LoadChunkX<BITS>(xq + k * ch, nb);
      HWY_UNROLL(16)
      for (int j = 0; j < NR; ++j)
        acc[j * NA + a] = hn::MulAdd(hn::ConvertTo(df, ChunkDot<BITS>(p + j * rs + k * nb, x)),
                                     hn::TableLookupLanes(sc[j], idx), acc[j * NA + a]);
    };
    for (; c + NA <= end; c += NA) {
      HWY_UNROLL(16)
      for (int a = 0; a < NA; ++a) chunk(c + a, a);
    }
    for (; c < end; ++c) chunk(c, 0);
  }
  HWY_UNROLL(16)
  for (int j = 0; j < NR; ++j) {
    VF sum = bias[j];
    HWY_UNROLL(16)
    for (int a = 0; a < NA; ++a) sum = hn::Add(sum, acc[j * NA + a]);
    out[j] = sum;
  }
}

// log2 of the group size (a power of two): a code's group is its offset shifted right by this.
HWY_INLINE int GroupShift(const WeightView& w) {
  return __builtin_ctz(static_cast<unsigned>(w.group_size));
}

// The first code of each i32 lane within its chunk: lane l starts at code l * cpl.
HWY_INLINE hn::Vec<DI> LaneCodes(const QLayout& L) {
  const DI di;
  return hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(L.cpl)));
}

// Rows [r, r1) NR at a time through DotRowsFoldedInRegisters, for scales and biases of type T
// (r1 - r a multiple of NR). Not inlined: within QuantMatvecT it slowed the four-row kernel there
// (1024x896 4-bit, cache-resident).
template <int BITS, int NR, typename T>
HWY_NOINLINE void RowsFoldedInRegisters(const int8_t* xq, const float* xd, const float* xsum,
                                        const WeightView& w, const QLayout& L, int64_t r,
                                        int64_t r1, int64_t ahead, float* y) {
  const int gshift = GroupShift(w);
  const auto lane_codes = LaneCodes(L);
  const int64_t G = L.groups;
  const int64_t rs = w.row_words * 4;
  const auto* base = reinterpret_cast<const uint8_t*>(w.data);
  const auto* scales = static_cast<const T*>(w.scales);
  const auto* biases = static_cast<const T*>(w.biases);
  // Each row's lanes are summed in batches of kBatch rows: summed at the end of its row, the sum's
  // chain of dependent shuffles held back the next row (a quarter of the time, perf).
  constexpr int64_t kBatch = 16;
  static_assert(kBatch % NR == 0);
  const DF df;
  const int64_t NF = static_cast<int64_t>(hn::Lanes(df));
  HWY_ALIGN float lanes[kBatch * HWY_MAX_BYTES / sizeof(float)];
  auto flush = [&](int64_t first, int64_t n) HWY_ATTR {
    for (int64_t k = 0; k < n; ++k)
      y[first + k] = hn::GetLane(hn::SumOfLanes(df, hn::Load(df, lanes + k * NF)));
  };
  int64_t first = r;
  for (; r < r1; r += NR) {
    if (r - first == kBatch) {
      flush(first, kBatch);
      first = r;
    }
    PrefetchScalesAhead(w, G, r, NR, ahead);
    const uint8_t* p = base + r * rs;
    VF out[NR];
    DotRowsFoldedInRegisters<BITS, NR>(p, rs, scales + r * G, biases + r * G, xq, xd, xsum, L,
                                       gshift, lane_codes, p + ahead * NR * rs, out);
    HWY_UNROLL(16)
    for (int j = 0; j < NR; ++j) hn::Store(out[j], df, lanes + (r - first + j) * NF);
  }
  flush(first, r - first);
}

// Row r of y through DotRowsFoldedInRegisters on a copy of its codes, scales and biases, padded
// so that the kernel's whole-vector reads past them stay in the copy: for the matrix's last rows,
// whose reads past the row would leave the matrix. `copy` holds matvec_scratch_bytes(L).
template <int BITS, typename T>
HWY_NOINLINE void RowFromPaddedCopy(const int8_t* xq, const float* xd, const float* xsum,
                                    const WeightView& w, const QLayout& L, int64_t r, float* y,
                                    uint8_t* copy) {
  const DF df;
  const int64_t rs = w.row_words * 4;
  const int64_t G = L.groups;
  const size_t codes_bytes = static_cast<size_t>(L.ldq + L.nb);
  const size_t group_bytes = static_cast<size_t>(L.ldg) * sizeof(float);
  std::memset(copy, 0, codes_bytes + 2 * group_bytes);
  std::memcpy(copy, static_cast<const uint8_t*>(w.data) + r * rs, static_cast<size_t>(rs));
  auto* s = reinterpret_cast<T*>(copy + codes_bytes);
  auto* b = reinterpret_cast<T*>(copy + codes_bytes + group_bytes);
  std::memcpy(s, static_cast<const T*>(w.scales) + r * G, static_cast<size_t>(G) * sizeof(T));
  std::memcpy(b, static_cast<const T*>(w.biases) + r * G, static_cast<size_t>(G) * sizeof(T));
  VF out[1];
  DotRowsFoldedInRegisters<BITS, 1>(copy, rs, s, b, xq, xd, xsum, L, GroupShift(w), LaneCodes(L),
                                    copy, out);
  y[r] = hn::GetLane(hn::SumOfLanes(df, out[0]));
}

// Rows [r0, r1) of y = W·x for one quantized x (m == 1). `scratch` is per-thread, of
// matvec_scratch_bytes(L) bytes, for the padded copy of the matrix's last rows.
template <int BITS>
void QuantMatvecT(const int8_t* xq, const float* xd, const float* xsum, const WeightView& w,
                  const QLayout& L, int64_t r0, int64_t r1, float* y, uint8_t* scratch) {
  const DF df;
  const int64_t NF = static_cast<int64_t>(hn::Lanes(df));
  const int64_t rs = w.row_words * 4;
  // How many blocks of rows ahead the kernels prefetch.
  const int64_t ahead4 = BlocksAhead(4 * rs, kQuantPrefetchBytes);
  const int64_t ahead1 = BlocksAhead(rs, kQuantPrefetchBytes);
  const bool four = rs < kRowAtATimeBytes;
  // Rows whose whole-vector reads past their end (DotRowsFoldedInRegisters) stay within the
  // matrix are read in place; the last few run on a padded copy.
  const int64_t scales_over = (L.groups + NF - 1) / NF * NF - L.groups;
  const int64_t codes_over = L.tail > 0 ? L.nb - L.tail : 0;
  const int64_t last_rows =
      std::max((scales_over + L.groups - 1) / L.groups, (codes_over + rs - 1) / rs);
  const int64_t in_place_end = std::max(r0, std::min(r1, w.rows - last_rows));
  auto rows = [&](auto element) HWY_ATTR {
    using T = decltype(element);
    int64_t r = r0;
    if (four) {
      const int64_t end4 = r + (in_place_end - r) / 4 * 4;
      RowsFoldedInRegisters<BITS, 4, T>(xq, xd, xsum, w, L, r, end4, ahead4, y);
      r = end4;
    }
    RowsFoldedInRegisters<BITS, 1, T>(xq, xd, xsum, w, L, r, in_place_end, ahead1, y);
    for (r = in_place_end; r < r1; ++r)
      RowFromPaddedCopy<BITS, T>(xq, xd, xsum, w, L, r, y, scratch);
  };
  WithScaleType(w.sdtype, rows);
}

// ---------------------------------------------------------------- int8 GEMM (m > 1)
// A tile is R weight rows (R = i32 lanes of a vector) over all K columns, repacked once into
// per-thread scratch so that vector k holds codes [4k, 4k + 4) of each of the R rows (one row per
// i32 lane). A u8·i8 dot product against x's four codes at 4k, broadcast, then adds every row's
// partial sum in its own lane: a group of gs codes costs gs/4 dot products per row of x, and one
// convert + scale FMA finishes R rows at once. x (int8 per group, natural column order) is only
// read, a few bytes per dot product, and each loaded tile vector serves MR rows of x.

// Without VNNI (AVX2), the tile's dot products use one maddubs instead of the general u8·i8
// emulation (several widening steps): 4-bit codes as they are (2·15·127); 8-bit codes recentred
// by RepackTile (CentredPairs), with 128·Σ(x codes) of each group added back so the sums stay
// exactly those of the other targets.
#if HWY_TARGET == HWY_AVX2
constexpr bool kTileCentred = true;
#else
constexpr bool kTileCentred = false;
#endif

// acc + Σ per i32 lane of a tile vector's four codes of one row times x's four codes.
template <int BITS>
HWY_INLINE VI TileDot(VI acc, hn::Vec<DU8> w, hn::Vec<DI8> x) {
#if HWY_TARGET == HWY_AVX2
  const __m256i pairs = BITS == 4 ? _mm256_maddubs_epi16(w.raw, x.raw) : CentredPairs(w.raw, x.raw);
  return VI{_mm256_add_epi32(acc.raw, PairSums(pairs))};
#else
  return DotU8I8(acc, w, x);
#endif
}

// Bytes of tile scratch for K columns: codes, then f32 scales and biases per group and lane.
size_t QTileBytes(int64_t K, int gs) {
  const size_t R = hn::Lanes(DI());
  return static_cast<size_t>(K) * R + 2 * static_cast<size_t>(K / gs) * R * sizeof(float);
}

// Repacks rows [t0, t0 + nr) (nr <= R; missing rows are zero) of w into `tile` with one gather
// of a dword from each of the R rows per 4 (8-bit) or 8 (4-bit) codes.
template <int BITS>
void RepackTile(const WeightView& w, int64_t t0, int64_t nr, uint8_t* tile) {
  using DU = hn::RebindToUnsigned<DI>;
  const DI di;
  const DU du;
  const int64_t R = static_cast<int64_t>(hn::Lanes(di));
  const int64_t K = w.cols;
  const int64_t G = K / w.group_size;
  const int64_t rs = w.row_words * 4;
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + t0 * rs;
  HWY_ALIGN int32_t offsets[64];
  for (int64_t j = 0; j < R; ++j) offsets[j] = static_cast<int32_t>(j < nr ? j * rs : 0);
  const auto off = hn::Load(di, offsets);
  const auto live = hn::RebindMask(du, hn::FirstN(di, static_cast<size_t>(nr)));
  auto gather = [&](int64_t byte) HWY_ATTR {
    return hn::GatherOffset(du, reinterpret_cast<const uint32_t*>(base + byte), off);
  };
  auto* codes = reinterpret_cast<uint32_t*>(tile);
  if constexpr (BITS == 8) {
    const auto centre = hn::Set(du, kTileCentred ? 0x80808080u : 0u);
    for (int64_t k = 0; k < K / 4; ++k)
      hn::Store(hn::IfThenElseZero(live, hn::Xor(gather(4 * k), centre)), du, codes + k * R);
  } else {
    // One dword holds codes 8k..8k+7 (low nibble first): two tile vectors, each two bytes
    // spread to one code per byte. K is a multiple of the group size, so of 8.
    const auto spread = [&](hn::Vec<DU> v) HWY_ATTR {
      const auto lo =
          hn::Or(hn::And(v, hn::Set(du, 0xFu)), hn::ShiftLeft<4>(hn::And(v, hn::Set(du, 0xF0u))));
      const auto hi = hn::Or(hn::ShiftLeft<8>(hn::And(v, hn::Set(du, 0xF00u))),
                             hn::ShiftLeft<12>(hn::And(v, hn::Set(du, 0xF000u))));
      return hn::IfThenElseZero(live, hn::Or(lo, hi));
    };
    for (int64_t k = 0; k < K / 8; ++k) {
      const auto v = gather(4 * k);
      hn::Store(spread(v), du, codes + (2 * k) * R);
      hn::Store(spread(hn::ShiftRight<16>(v)), du, codes + (2 * k + 1) * R);
    }
  }
  float* sc = reinterpret_cast<float*>(tile + K * R);
  float* bi = sc + G * R;
  for (int64_t j = 0; j < R; ++j) {
    const size_t off_s = static_cast<size_t>((t0 + j) * G) * dtype_size(w.sdtype);
    for (int64_t g = 0; g < G; ++g) {
      const bool in = j < nr;
      sc[g * R + j] = in ? load_f32(static_cast<const char*>(w.scales) + off_s, w.sdtype, g) : 0.0f;
      bi[g * R + j] = in ? load_f32(static_cast<const char*>(w.biases) + off_s, w.sdtype, g) : 0.0f;
    }
  }
}

// y[i * ldy + lane] for MR rows of x (codes xq + i * ldq, per-group steps xd + i * ldg and sums
// xsum + i * ldg) against one repacked tile; `valid` lanes are stored. With recentred 8-bit
// codes, qsum + i * ldg holds each group's Σ of x codes.
template <int BITS, int MR>
HWY_INLINE void TileMicro(const uint8_t* HWY_RESTRICT tile, int64_t K, int gs,
                          const int8_t* HWY_RESTRICT xq, int64_t ldq, const float* HWY_RESTRICT xd,
                          const float* HWY_RESTRICT xsum, int64_t ldg,
                          const int32_t* HWY_RESTRICT qsum, float* HWY_RESTRICT y, int64_t ldy,
                          size_t valid) {
  constexpr bool kCentred = BITS == 8 && kTileCentred;
  const DF df;
  const DI di;
  const DU8 du8;
  const DI8 di8;
  const int64_t R = static_cast<int64_t>(hn::Lanes(di));
  const int64_t G = K / gs;
  const float* sc = reinterpret_cast<const float*>(tile + K * R);
  const float* bi = sc + G * R;
  VF accf[MR];
  HWY_UNROLL(16)
  for (int i = 0; i < MR; ++i) accf[i] = hn::Zero(df);
  const uint8_t* wv = tile;
  for (int64_t g = 0; g < G; ++g) {
    VI acc[MR];
    HWY_UNROLL(16)
    for (int i = 0; i < MR; ++i) acc[i] = hn::Zero(di);
    const int64_t c0 = g * gs;
    for (int64_t c = c0; c < c0 + gs; c += 4, wv += R * 4) {
      const auto wk = hn::Load(du8, wv);
      HWY_UNROLL(16)
      for (int i = 0; i < MR; ++i) {
        int32_t x4;
        std::memcpy(&x4, xq + i * ldq + c, 4);
        acc[i] = TileDot<BITS>(acc[i], wk, hn::BitCast(di8, hn::Set(di, x4)));
      }
    }
    if constexpr (kCentred) {
      HWY_UNROLL(16)
      for (int i = 0; i < MR; ++i) acc[i] = hn::Add(acc[i], hn::Set(di, 128 * qsum[i * ldg + g]));
    }
    const VF sv = hn::Load(df, sc + g * R);
    const VF bv = hn::Load(df, bi + g * R);
    HWY_UNROLL(16)
    for (int i = 0; i < MR; ++i) {
      accf[i] =
          hn::MulAdd(hn::ConvertTo(df, acc[i]), hn::Mul(sv, hn::Set(df, xd[i * ldg + g])), accf[i]);
      accf[i] = hn::MulAdd(bv, hn::Set(df, xsum[i * ldg + g]), accf[i]);
    }
  }
  if (valid == hn::Lanes(df)) {
    HWY_UNROLL(16)
    for (int i = 0; i < MR; ++i) hn::StoreU(accf[i], df, y + i * ldy);
  } else {
    const auto keep = hn::FirstN(df, valid);
    HWY_UNROLL(16)
    for (int i = 0; i < MR; ++i) hn::BlendedStore(accf[i], keep, df, y + i * ldy);
  }
}

// Rows [r0, r1) of y[m, w.rows] (r0 a multiple of R) from x quantized in natural order with
// layout L; `tile` is per-thread scratch of QTileBytes (vector aligned).
template <int BITS>
void QuantGemmTilesT(const int8_t* xq, const float* xd, const float* xsum, const int32_t* xqsum,
                     int64_t m, const WeightView& w, const QLayout& L, int64_t r0, int64_t r1,
                     float* y, uint8_t* tile) {
  const int64_t R = static_cast<int64_t>(hn::Lanes(DI()));
  const int64_t K = w.cols;
  const int gs = w.group_size;
  constexpr int MR = 6;
  for (int64_t t0 = r0; t0 < r1; t0 += R) {
    const int64_t nr = std::min(R, r1 - t0);
    RepackTile<BITS>(w, t0, nr, tile);
    const size_t valid = static_cast<size_t>(nr);
    int64_t i = 0;
    for (; i + MR <= m; i += MR)
      TileMicro<BITS, MR>(tile, K, gs, xq + i * L.ldq, L.ldq, xd + i * L.ldg, xsum + i * L.ldg,
                          L.ldg, xqsum + i * L.ldg, y + i * w.rows + t0, w.rows, valid);
    for (; i < m; ++i)
      TileMicro<BITS, 1>(tile, K, gs, xq + i * L.ldq, L.ldq, xd + i * L.ldg, xsum + i * L.ldg,
                         L.ldg, xqsum + i * L.ldg, y + i * w.rows + t0, w.rows, valid);
  }
}

QLayout QuantLayout(int bits, int gs, int64_t K) {
  return MakeLayout(bits, gs, K);
}

void QuantizeActivations(const float* x, int64_t i0, int64_t i1, int64_t K, int bits, int gs,
                         const QLayout& L, int8_t* xq, float* xd, float* xsum, int32_t* xqsum) {
  QuantizeX(x, i0, i1, K, bits, gs, L, xq, xd, xsum, xqsum);
}

void QuantMatvec(const int8_t* xq, const float* xd, const float* xsum, const WeightView& w,
                 const QLayout& L, int64_t r0, int64_t r1, float* y, uint8_t* scratch) {
  if (w.bits == 4) return QuantMatvecT<4>(xq, xd, xsum, w, L, r0, r1, y, scratch);
  QuantMatvecT<8>(xq, xd, xsum, w, L, r0, r1, y, scratch);
}

size_t QuantTileBytes(int64_t K, int gs) {
  return QTileBytes(K, gs);
}

void QuantGemmTiles(const int8_t* xq, const float* xd, const float* xsum, const int32_t* xqsum,
                    int64_t m, const WeightView& w, const QLayout& L, int64_t r0, int64_t r1,
                    float* y, uint8_t* tile) {
  if (w.bits == 4) return QuantGemmTilesT<4>(xq, xd, xsum, xqsum, m, w, L, r0, r1, y, tile);
  QuantGemmTilesT<8>(xq, xd, xsum, xqsum, m, w, L, r0, r1, y, tile);
}

#else
// One-lane vectors cannot hold four bytes per i32 lane: nb == 0 tells the caller to take the
// f32 path instead.
QLayout QuantLayout(int, int, int64_t) {
  return QLayout{};
}
void QuantizeActivations(const float*, int64_t, int64_t, int64_t, int, int, const QLayout&, int8_t*,
                         float*, float*, int32_t*) {
  throw InternalError("[linear] int8 activations requested on the scalar target");
}
void QuantMatvec(const int8_t*, const float*, const float*, const WeightView&, const QLayout&,
                 int64_t, int64_t, float*, uint8_t*) {
  throw InternalError("[linear] int8 matvec requested on the scalar target");
}
size_t QuantTileBytes(int64_t, int) {
  return 0;
}
void QuantGemmTiles(const int8_t*, const float*, const float*, const int32_t*, int64_t,
                    const WeightView&, const QLayout&, int64_t, int64_t, float*, uint8_t*) {
  throw InternalError("[linear] int8 GEMM requested on the scalar target");
}
#endif  // HWY_TARGET != HWY_SCALAR

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(FloatLanes);
HWY_EXPORT(DenseMatvec);
HWY_EXPORT(GemmF32);
HWY_EXPORT(QuantLayout);
HWY_EXPORT(QuantizeActivations);
HWY_EXPORT(QuantMatvec);
HWY_EXPORT(QuantTileBytes);
HWY_EXPORT(QuantGemmTiles);
HWY_EXPORT(EmbedRows);

namespace {

// Per-thread scratch that grows to the largest shape seen and is then reused every call.
struct Scratch {
  std::vector<float> tile;
  std::vector<float> xpad;
  std::vector<int8_t> xq;
  std::vector<float> xd, xsum;
  std::vector<int32_t> xqsum;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

template <typename T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// The quantized matvec copies a row's codes, with a vector past them, and its scales and biases,
// with the padding of ldg, for the matrix's last rows (RowFromPaddedCopy).
size_t matvec_scratch_bytes(const QLayout& L) {
  return static_cast<size_t>(L.ldq + L.nb + 2 * L.ldg * static_cast<int64_t>(sizeof(float)));
}

void add_bias(float* y, int64_t m, int64_t rows, const void* bias, DType bt) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < rows; ++r) y[i * rows + r] += load_f32(bias, bt, r);
}

// Columns per converted block of W: a multiple of every group size and vector length.
constexpr int64_t kBlockCols = 512;
// Rows per block: 64 x 512 floats = 128 KiB, within L2 beside the x slices.
constexpr int64_t kBlockRows = 64;

void gemm_f32(const float* x, int64_t m, const WeightView& w, float* y) {
  const int64_t N = static_cast<int64_t>(HWY_DYNAMIC_DISPATCH(FloatLanes)());
  const int64_t ldx = (w.cols + N - 1) / N * N;
  const float* xp = x;
  if (ldx != w.cols) {
    float* pad = grow(scratch().xpad, static_cast<size_t>(m * ldx));
    for (int64_t i = 0; i < m; ++i) {
      std::memcpy(pad + i * ldx, x + i * w.cols, static_cast<size_t>(w.cols) * sizeof(float));
      std::fill(pad + i * ldx + w.cols, pad + (i + 1) * ldx, 0.0f);
    }
    xp = pad;
  }
  // A matvec has no reuse of a converted block: small blocks keep it in L1.
  const int64_t tr = m == 1 ? 4 : kBlockRows;
  thread_pool_global().parallel_for(
      w.rows,
      [&](int64_t b, int64_t e, int) {
        float* tile = grow(scratch().tile, static_cast<size_t>(tr * kBlockCols));
        HWY_DYNAMIC_DISPATCH(GemmF32)(xp, m, ldx, w, b, e, y, tile, tr, kBlockCols);
      },
      4);
}

// x quantized to int8 per group in the calling thread's scratch.
struct QuantizedX {
  QLayout L;  // L.nb == 0: this CPU's target has no int8 path
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const float* sum = nullptr;
  const int32_t* qsum = nullptr;  // Σ of the codes per group (natural order only)
};

// Quantizes the m rows of x[m, K] for `bits`-bit weights of group size gs: in the weights' nibble
// order for a 4-bit matvec, in natural order (the 8-bit layout) otherwise.
QuantizedX quantize_x(const float* x, int64_t m, int64_t K, int bits, int gs, bool matvec) {
  const int xbits = matvec ? bits : 8;
  QuantizedX r;
  r.L = HWY_DYNAMIC_DISPATCH(QuantLayout)(xbits, gs, K);
  if (r.L.nb == 0) return r;
  Scratch& s = scratch();
  int8_t* xq = grow(s.xq, static_cast<size_t>(m * r.L.ldq));
  float* xd = grow(s.xd, static_cast<size_t>(m * r.L.ldg));
  float* xsum = grow(s.xsum, static_cast<size_t>(m * r.L.ldg));
  int32_t* xqsum = grow(s.xqsum, static_cast<size_t>(m * r.L.ldg));
  const QLayout& L = r.L;
  auto quantize = [&](int64_t b, int64_t e, int) {
    HWY_DYNAMIC_DISPATCH(QuantizeActivations)(x, b, e, K, xbits, gs, L, xq, xd, xsum, xqsum);
  };
  if (m >= 16)
    thread_pool_global().parallel_for(m, quantize);
  else
    quantize(0, m, 0);
  r.q = xq;
  r.d = xd;
  r.sum = xsum;
  r.qsum = xqsum;
  return r;
}

// m == 1, every product quantized alike at 4 or 8 bits: x is quantized once and all rows are one
// parallel region. False when that does not apply.
bool matvec_int8(const float* x, const LinearOut* outs, int n) {
  const WeightView& w0 = outs[0].w;
  if (w0.bits != 4 && w0.bits != 8) return false;
  for (int i = 1; i < n; ++i)
    if (outs[i].w.bits != w0.bits || outs[i].w.group_size != w0.group_size) return false;
  const QuantizedX qx = quantize_x(x, 1, w0.cols, w0.bits, w0.group_size, /*matvec=*/true);
  if (qx.L.nb == 0) return false;
  for_shared_rows(outs, n, 4, [&](int i, int64_t r0, int64_t r1) {
    auto* copy = reinterpret_cast<uint8_t*>(
        grow(scratch().tile, (matvec_scratch_bytes(qx.L) + sizeof(float) - 1) / sizeof(float)));
    HWY_DYNAMIC_DISPATCH(QuantMatvec)
    (qx.q, qx.d, qx.sum, outs[i].w, qx.L, r0, r1, outs[i].y, copy);
  });
  return true;
}

// Returns false when this CPU's target has no int8 path.
bool gemm_int8(const float* x, int64_t m, const WeightView& w, float* y) {
  if (m == 1) {
    const LinearOut one{w, nullptr, DType::f32, y};
    return matvec_int8(x, &one, 1);
  }
  const QuantizedX qx = quantize_x(x, m, w.cols, w.bits, w.group_size, /*matvec=*/false);
  if (qx.L.nb == 0) return false;
  const size_t tile_bytes = HWY_DYNAMIC_DISPATCH(QuantTileBytes)(w.cols, w.group_size);
  const int64_t lanes = static_cast<int64_t>(HWY_DYNAMIC_DISPATCH(FloatLanes)());
  thread_pool_global().parallel_for(
      w.rows,
      [&](int64_t b, int64_t e, int) {
        auto* tile = reinterpret_cast<uint8_t*>(
            grow(scratch().tile, (tile_bytes + 64 + sizeof(float) - 1) / sizeof(float)));
        // Vector loads of the tile want alignment; the scratch is only float-aligned.
        tile += (64 - reinterpret_cast<uintptr_t>(tile) % 64) % 64;
        HWY_DYNAMIC_DISPATCH(QuantGemmTiles)
        (qx.q, qx.d, qx.sum, qx.qsum, m, w, qx.L, b, e, y, tile);
      },
      lanes);
  return true;
}

}  // namespace

void linear_shared(const float* x, int64_t m, const LinearOut* outs, int n, ops::MatmulMode mode) {
  bool done = false;
  if (m == 1 && n > 1 && mode == ops::MatmulMode::fast) {
    if (outs[0].w.bits != 0) {
      done = matvec_int8(x, outs, n);
    } else if (bf16_dot_available()) {
      bool all_bf16 = true;
      for (int i = 0; i < n; ++i)
        all_bf16 = all_bf16 && outs[i].w.bits == 0 && outs[i].w.dtype == DType::bf16 &&
                   outs[i].w.cols % 2 == 0;
      if (all_bf16) {
        matvec_bf16_dot_shared(x, outs, n);
        done = true;
      }
    }
  }
  if (!done) {
    for (int i = 0; i < n; ++i)
      linear(x, m, outs[i].w, outs[i].bias, outs[i].bias_dtype, outs[i].y, mode);
    return;
  }
  for (int i = 0; i < n; ++i)
    if (outs[i].bias) add_bias(outs[i].y, 1, outs[i].w.rows, outs[i].bias, outs[i].bias_dtype);
}

void linear(const float* x, int64_t m, const WeightView& w, const void* bias, DType bias_dtype,
            float* y, ops::MatmulMode mode) {
  if (mode == ops::MatmulMode::fast && w.bits == 0 && w.dtype == DType::bf16 && w.cols % 2 == 0 &&
      bf16_dot_available()) {
    linear_bf16_dot(x, m, w, y);
  } else if (w.bits == 0 && m == 1) {
    thread_pool_global().parallel_for(
        w.rows,
        [&](int64_t b, int64_t e, int) {
          HWY_DYNAMIC_DISPATCH(DenseMatvec)
          (x, w, b, e, y);
        },
        16);
  } else if (w.bits != 0 && mode == ops::MatmulMode::fast && (w.bits == 4 || w.bits == 8) &&
             gemm_int8(x, m, w, y)) {
  } else {
    gemm_f32(x, m, w, y);
  }
  if (bias) add_bias(y, m, w.rows, bias, bias_dtype);
}

void embedding(const WeightView& w, const int32_t* ids, int64_t n, float* out) {
  auto run = [&](int64_t b, int64_t e, int) { HWY_DYNAMIC_DISPATCH(EmbedRows)(w, ids, b, e, out); };
  if (n < 16) return run(0, n, 0);
  thread_pool_global().parallel_for(n, run);
}

}  // namespace mofa::kernels::cpu
#endif
