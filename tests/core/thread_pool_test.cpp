#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace mofa {
namespace {

TEST(ThreadPool, CoversRangeExactlyOnceWithAlignedChunks) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 1001}) {
      for (int64_t align : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> bad_align{0};
        pool.parallel_for(
            n,
            [&](int64_t b, int64_t e, int t) {
              if (b % align != 0 || (e != n && e % align != 0) || t < 0 || t >= threads)
                bad_align.fetch_add(1);
              for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
            },
            align);
        EXPECT_EQ(bad_align.load(), 0) << threads << " threads, n " << n << ", align " << align;
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
      }
    }
  }
}

TEST(ThreadPool, ManyCallsAndEveryThreadRuns) {
  // Two threads: more than the free cores makes the spinning hand-off slow, not wrong.
  ThreadPool pool(2);
  int64_t total = 0;
  for (int call = 0; call < 500; ++call) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(100, [&](int64_t b, int64_t e, int) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += i;
      sum.fetch_add(s);
    });
    total += sum.load();
  }
  EXPECT_EQ(total, 500LL * 4950);
  std::vector<std::atomic<int>> seen(2);
  pool.for_each_thread([&](int t) { seen[t].fetch_add(1); });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
}

TEST(ThreadPool, GlobalPoolCanBeResized) {
  thread_pool_set_threads(3);
  EXPECT_EQ(thread_pool_global().size(), 3);
  thread_pool_set_threads(2);
  EXPECT_EQ(thread_pool_global().size(), 2);
}

}  // namespace
}  // namespace mofa
