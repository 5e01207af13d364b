// Micro-benchmarks of ops::linear on Qwen2.5-0.5B shapes (hidden 896, intermediate 4864, vocab
// 151936). Counters: GB/s of weight bytes read per call, GFLOP/s at 2·m·rows·cols.
// Run: mofa_kernel_bench [--threads N via MOFA_THREADS] --benchmark_filter=...
// Each case cycles through copies of W larger than the last-level cache (DRAM-bound, as decode
// is); MOFA_BENCH_HOT=1 keeps one cache-resident copy, to see the compute ceiling.
// MOFA_BENCH_TARGET=avx2 (or another Highway target name, lower case) runs the Highway kernels
// of that target only: what a CPU without the wider targets would run.
#include <benchmark/benchmark.h>
#include <hwy/targets.h>

#include <cctype>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>

#include "core/ops/ops.h"
#include "core/storage.h"
#include "core/thread_pool.h"
#include "core/weight.h"

namespace mofa {
namespace {

Tensor random_f32(int64_t n, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::f32, {n});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  for (int64_t i = 0; i < n; ++i) t.data_mut<float>()[i] = d(rng);
  return t;
}

// Weights live in huge-page memory, as a model's weights read into memory do: with 4 KiB pages,
// the long rows of a down projection (2560x9728) read 11 GB/s at one thread against 15 for the
// other Qwen3-4B shapes, a TLB cost that decode does not pay.
Tensor weight_zeros(DType dtype, Shape shape) {
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(storage_allocate_huge(bytes), 0, dtype, std::move(shape));
}

Weight make_weight(int64_t rows, int64_t cols, int bits, int gs, DType dense) {
  std::mt19937 rng(1);
  if (bits == 0) {
    Tensor w = weight_zeros(dense, {rows, cols});
    auto* p = static_cast<uint16_t*>(w.raw_mut());
    const int64_t n = rows * cols * static_cast<int64_t>(dtype_size(dense)) / 2;
    for (int64_t i = 0; i < n; ++i) p[i] = 0x3c00 ^ (rng() & 0x03ff);  // finite in f16 and bf16
    return weight_dense(w, "bench");
  }
  Tensor w = weight_zeros(DType::u32, {rows, cols * bits / 32});
  for (int64_t i = 0; i < w.numel(); ++i) w.data_mut<uint32_t>()[i] = rng();
  Tensor s = weight_zeros(DType::bf16, {rows, cols / gs});
  Tensor b = weight_zeros(DType::bf16, {rows, cols / gs});
  for (int64_t i = 0; i < s.numel(); ++i) {
    s.data_mut<uint16_t>()[i] = f32_to_bf16(0.01f);
    b.data_mut<uint16_t>()[i] = f32_to_bf16(-0.08f);
  }
  return weight_quantized(w, s, b, QuantSpec{bits, gs}, "bench");
}

// args: rows, cols, m, bits (0 = dense), dense dtype, mode.
void BM_linear(benchmark::State& st) {
  const int64_t rows = st.range(0), cols = st.range(1), m = st.range(2);
  const int bits = static_cast<int>(st.range(3));
  const DType dense = static_cast<DType>(st.range(4));
  const auto mode = st.range(5) ? ops::MatmulMode::fast : ops::MatmulMode::exact;
  const char* env = std::getenv("MOFA_THREADS");
  thread_pool_set_threads(env ? std::atoi(env) : 2);
  if (const char* target = std::getenv("MOFA_BENCH_TARGET")) {
    for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
      std::string name = hwy::TargetName(t);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == target) hwy::SetSupportedTargetsForTest(t);
    }
  }
  // Enough copies of W to pass any last-level cache, used in turns: a decode step streams each
  // matrix from DRAM, and timing one L3-resident matrix over and over would flatter the kernel.
  std::vector<Weight> ws{make_weight(rows, cols, bits, 64, dense)};
  while (std::getenv("MOFA_BENCH_HOT") == nullptr &&
         static_cast<int64_t>(ws.size()) * ws[0].bytes() < (int64_t{256} << 20))
    ws.push_back(make_weight(rows, cols, bits, 64, dense));
  const Weight& w = ws[0];
  const Tensor x = random_f32(m * cols, 2).reshape({m, cols});
  Tensor y = Tensor::zeros(DType::f32, {m, rows});
  size_t turn = 0;
  for (auto _ : st) {
    ops::linear(x, ws[turn++ % ws.size()], y, mode);
    benchmark::DoNotOptimize(y.data<float>());
  }
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.bytes()) * st.iterations() / 1e9,
                                           benchmark::Counter::kIsRate);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * rows * cols * st.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

constexpr int64_t kF32 = static_cast<int64_t>(DType::f32);
constexpr int64_t kBf16 = static_cast<int64_t>(DType::bf16);
constexpr int64_t kF16 = static_cast<int64_t>(DType::f16);

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 512})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{4864, 896}, {896, 4864}, {151936, 896}}) {
      if (m == 512 && rows == 151936) continue;  // prefill computes logits for the last row only
      for (int64_t mode : {1, 0}) {
        b->Args({rows, cols, m, 4, kF32, mode});
        b->Args({rows, cols, m, 8, kF32, mode});
      }
      b->Args({rows, cols, m, 0, kBf16, 1});
      // Exact bf16 is the Highway dense path, which fast mode also takes without AVX512-BF16.
      if (m == 1) b->Args({rows, cols, m, 0, kBf16, 0});
      if (m == 1) b->Args({rows, cols, m, 0, kF16, 1});
    }
}

// Qwen2.5-0.5B attention projections (fused q/k/v, then o): matvecs of 0.4-0.6 MB, where a
// 2-thread split leaves each thread about 150 KB and the fixed costs of an op show.
void shapes_small(benchmark::internal::Benchmark* b) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1152, 896}, {896, 896}}) {
    for (int64_t bits : {4, 8}) b->Args({rows, cols, 1, bits, kF32, 1});
    b->Args({rows, cols, 1, 0, kBf16, 1});
  }
}

// Mistral-7B decode: the large projections where a matvec must stream at memory bandwidth.
void shapes_7b(benchmark::internal::Benchmark* b) {
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{14336, 4096}, {4096, 14336}, {4096, 4096}, {256, 4096}})
    for (int64_t bits : {4, 8}) b->Args({rows, cols, 1, bits, kF32, 1});
}

// Qwen3-4B decode: short rows (K = 2560) where a block of four rows is only 5 KB at 4 bits.
void shapes_4b(benchmark::internal::Benchmark* b) {
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{9728, 2560}, {2560, 9728}, {4096, 2560}, {256, 2560}}) {
    for (int64_t bits : {4, 8}) b->Args({rows, cols, 1, bits, kF32, 1});
    b->Args({rows, cols, 1, 0, kBf16, 1});
  }
}

// One BM_linear family per model's shapes, in the order --benchmark_list_tests prints them.
const bool registered = [] {
  using Apply = void (*)(benchmark::internal::Benchmark*);
  for (auto [name, apply] : {std::pair<const char*, Apply>{"BM_linear_4b", shapes_4b},
                             {"BM_linear_small", shapes_small},
                             {"BM_linear_7b", shapes_7b},
                             {"BM_linear", shapes}})
    benchmark::RegisterBenchmark(name, BM_linear)
        ->Apply(apply)
        ->ArgNames({"rows", "cols", "m", "bits", "dt", "fast"})
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace mofa

BENCHMARK_MAIN();
