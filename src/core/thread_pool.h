#pragma once
// One persistent pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one per
// thread (the caller is thread 0), and returns when all are done. No allocation per call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace mofa {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // fn(begin, end, thread_index) runs once per thread on a chunk of [0, n); chunk boundaries are
  // multiples of `align` (except the last end), so callers can keep SIMD blocks whole.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn, int64_t align = 1) {
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<F*>(ctx))(b, e, t); };
    run(n, align, thunk, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // fn(thread_index) runs once on every thread.
  template <typename Fn>
  void for_each_thread(Fn&& fn) {
    parallel_for(n_threads_, [&](int64_t, int64_t, int t) { fn(t); });
  }

 private:
  using Thunk = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t align, Thunk thunk, void* ctx);
  void worker(int index);
  void chunk(int index, int64_t* begin, int64_t* end) const;

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  // The job of the current generation; written before generation_ is bumped.
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
};

// The process-wide pool; created on first use with `n_threads` (0 = hardware concurrency).
ThreadPool& thread_pool_global(int n_threads = 0);
// Replaces the global pool (the CLI's --threads); not safe while it runs work.
void thread_pool_set_threads(int n_threads);

}  // namespace mofa
