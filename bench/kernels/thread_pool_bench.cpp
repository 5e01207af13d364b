// What one parallel_for costs beyond its work: the fixed price every op of a decode step pays
// (a 0.5B model's step dispatches about 120 ops, of 15-60 us each at 2 threads).
// Run: MOFA_THREADS=2 mofa_kernel_bench --benchmark_filter=BM_pool
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "core/thread_pool.h"

namespace mofa {
namespace {

int bench_threads() {
  const char* env = std::getenv("MOFA_THREADS");
  return env ? std::atoi(env) : 2;
}

// An empty job over `n` items: dispatch, wake-up, claims and the closing barrier.
void BM_pool_empty(benchmark::State& st) {
  thread_pool_set_threads(bench_threads());
  ThreadPool& pool = thread_pool_global();
  std::atomic<int64_t> sink{0};
  for (auto _ : st)
    pool.parallel_for(st.range(0), [&](int64_t b, int64_t e, int) {
      sink.fetch_add(e - b, std::memory_order_relaxed);
    });
  benchmark::DoNotOptimize(sink.load());
}

// A job of `us` microseconds of spinning split over the threads, then `gap` microseconds of
// serial work on the caller, as a decode step alternates ops and glue: per-call time above
// us/threads + gap is what the pool loses.
void spin_for_ns(int64_t ns) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < end) {
  }
}

void BM_pool_split(benchmark::State& st) {
  thread_pool_set_threads(bench_threads());
  ThreadPool& pool = thread_pool_global();
  const int64_t work_ns = st.range(0) * 1000, gap_ns = st.range(1) * 1000, items = 1024;
  for (auto _ : st) {
    pool.parallel_for(items,
                      [&](int64_t b, int64_t e, int) { spin_for_ns(work_ns * (e - b) / items); });
    spin_for_ns(gap_ns);
  }
}

BENCHMARK(BM_pool_empty)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_pool_split)
    ->ArgNames({"us", "gap"})
    ->Args({20, 0})
    ->Args({20, 2})
    ->Args({60, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace mofa
