#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <utility>
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

TEST(ThreadPool, ManyCallsSumCorrectly) {
  // Two threads: more than the free cores makes the hand-off slower, not wrong.
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
}

// Each thread reads its own half front to back, one stream, then takes what is left of the other
// half from its back end. The worker here holds its first chunk until everything else is done,
// so the caller runs the rest: [0, n/2) in order, then down from n.
TEST(ThreadPool, AThreadRunsItsShareInOrderThenTakesTheRestFromTheBack) {
  ThreadPool pool(2);
  constexpr int64_t n = 800;
  std::vector<std::pair<int64_t, int64_t>> caller;
  std::atomic<int64_t> processed{0};
  pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
    if (t == 0)
      caller.emplace_back(b, e);
    else
      while (processed.load() < n - (e - b)) std::this_thread::yield();
    processed.fetch_add(e - b);
  });
  ASSERT_FALSE(caller.empty());
  size_t i = 0;
  for (int64_t at = 0; at < n / 2; ++i) {
    ASSERT_LT(i, caller.size());
    EXPECT_EQ(caller[i].first, at) << "own chunk " << i;
    at = caller[i].second;
  }
  EXPECT_EQ(caller[i - 1].second, n / 2);
  for (int64_t at = n; i < caller.size(); ++i) {
    EXPECT_EQ(caller[i].second, at) << "taken chunk " << i;
    at = caller[i].first;
  }
  EXPECT_EQ(processed.load(), n);
}

// Work is claimed, not assigned: when one thread is held up (as when the OS deschedules it), the
// others take all the remaining chunks and the call still covers the range exactly once.
TEST(ThreadPool, AStalledThreadsShareIsTakenByTheOthers) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1200);
  std::atomic<int> stalls{0};
  std::atomic<int64_t> processed{0};
  pool.parallel_for(1200, [&](int64_t b, int64_t e, int t) {
    // The first chunk a worker takes holds it until everything else is done: with fixed shares
    // per thread this would never return.
    if (t != 0 && stalls.fetch_add(1) == 0)
      while (processed.load() < 1200 - (e - b)) std::this_thread::yield();
    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
    processed.fetch_add(e - b);
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_EQ(processed.load(), 1200);
}

TEST(ThreadPool, GlobalPoolCanBeResized) {
  thread_pool_set_threads(3);
  EXPECT_EQ(thread_pool_global().size(), 3);
  thread_pool_set_threads(2);
  EXPECT_EQ(thread_pool_global().size(), 2);
}

}  // namespace
}  // namespace mofa
