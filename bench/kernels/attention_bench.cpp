// Micro-benchmark of ops::attention for one decode step at a context depth: Qwen3-4B's layer
// shape (32 query heads over 8 KV heads of 128 dims), f32, f16 or q8_0 cache. Counter: GB/s of K/V
// bytes read per call. The cache is cycled through copies larger than the last-level cache, as
// a decode step reads each layer's cache from DRAM. BM_attention_prefill times one 512-token
// prefill of the same layer shape.
// Run: mofa_kernel_bench --benchmark_filter=BM_attention (MOFA_THREADS sets the threads).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "core/kv_rows.h"
#include "core/ops/ops.h"
#include "core/thread_pool.h"

namespace mofa {
namespace {

Tensor random_cache(DType type, const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  Tensor f = Tensor::zeros(DType::f32, shape);
  for (int64_t i = 0; i < f.numel(); ++i) f.data_mut<float>()[i] = d(rng);
  if (type == DType::f32) return f;
  if (type == DType::q8_0) {
    const int64_t hd = shape.back(), rows = f.numel() / hd;
    Tensor q = Tensor::zeros(DType::q8_0, {shape[0], shape[1], kv_row_units(type, hd)});
    const size_t row_bytes = kv_row_bytes(type, hd);
    for (int64_t r = 0; r < rows; ++r)
      kv_store_row(f.data<float>() + r * hd, hd, type,
                   static_cast<char*>(q.raw_mut()) + static_cast<size_t>(r) * row_bytes);
    return q;
  }
  Tensor h = Tensor::zeros(DType::f16, shape);
  for (int64_t i = 0; i < f.numel(); ++i)
    h.data_mut<uint16_t>()[i] = f32_to_f16(f.data<float>()[i]);
  return h;
}

// args: depth, cache dtype.
void BM_attention(benchmark::State& st) {
  const int64_t depth = st.range(0), heads = 32, kv_heads = 8, hd = 128;
  const DType type = static_cast<DType>(st.range(1));
  const char* env = std::getenv("MOFA_THREADS");
  thread_pool_set_threads(env ? std::atoi(env) : 2);
  const Shape shape = {kv_heads, depth + 1, hd};
  std::vector<std::pair<Tensor, Tensor>> caches;
  size_t bytes = 0;
  while (bytes < (size_t{256} << 20)) {
    caches.emplace_back(random_cache(type, shape, 1), random_cache(type, shape, 2));
    bytes += 2 * caches.back().first.nbytes();
  }
  Tensor q = random_cache(DType::f32, {1, heads, hd}, 3);
  Tensor out = Tensor::zeros(DType::f32, {1, heads, hd});
  size_t turn = 0;
  for (auto _ : st) {
    const auto& [k, v] = caches[turn++ % caches.size()];
    ops::attention(q, k, v, depth, 0.088f, 0, out);
    benchmark::DoNotOptimize(out.data<float>());
  }
  st.counters["GB/s"] = benchmark::Counter(
      2.0 * static_cast<double>(caches[0].first.nbytes()) * st.iterations() / 1e9,
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_attention)
    ->ArgsProduct({{4096, 32768},
                   {static_cast<int64_t>(DType::f32), static_cast<int64_t>(DType::f16),
                    static_cast<int64_t>(DType::q8_0)}})
    ->ArgNames({"depth", "dt"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// One causal prefill of 512 tokens into an empty cache (args: cache dtype): the attention share of
// pp512. Counter: query tokens per second.
void BM_attention_prefill(benchmark::State& st) {
  const int64_t m = 512, heads = 32, kv_heads = 8, hd = 128;
  const DType type = static_cast<DType>(st.range(0));
  const char* env = std::getenv("MOFA_THREADS");
  thread_pool_set_threads(env ? std::atoi(env) : 2);
  const Tensor k = random_cache(type, {kv_heads, m, hd}, 1);
  const Tensor v = random_cache(type, {kv_heads, m, hd}, 2);
  const Tensor q = random_cache(DType::f32, {m, heads, hd}, 3);
  Tensor out = Tensor::zeros(DType::f32, {m, heads, hd});
  for (auto _ : st) {
    ops::attention(q, k, v, 0, 0.088f, 0, out);
    benchmark::DoNotOptimize(out.data<float>());
  }
  st.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(m) * st.iterations(), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_attention_prefill)
    ->Arg(static_cast<int64_t>(DType::f16))
    ->ArgName("dt")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace mofa
