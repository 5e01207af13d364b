#pragma once
// One persistent pool of worker threads. parallel_for gives each thread (the caller is thread 0)
// an equal contiguous share of [0, n), cut into a few chunks. A thread runs its own chunks front
// to back, one memory stream the hardware prefetcher follows across chunk boundaries, then takes
// the other threads' remaining chunks from their back ends. So both cores finish within one small
// chunk of each other, and a machine under other load stays fast: when the OS deschedules a
// worker, the others take its chunks instead of waiting for it at every op. Returns when every
// chunk is done. No allocation per call.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
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

  // fn(begin, end, thread_index) runs on chunks covering [0, n), possibly several per thread;
  // chunk boundaries are multiples of `align` (except the last end), so callers can keep SIMD
  // blocks whole. thread_index is < size(), for per-thread scratch.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn, int64_t align = 1) {
    using F = std::remove_reference_t<Fn>;
    auto thunk = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<F*>(ctx))(b, e, t); };
    run(n, align, thunk, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Thunk = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t align, Thunk thunk, void* ctx);
  void worker(int index);
  // Runs thread_index's own chunks of job `generation`, then the others' from their backs.
  void work(uint32_t generation, int thread_index);
  // Claims the front chunk of `share` (own) or its back chunk (a thief); false when it is empty
  // or belongs to another job.
  bool claim(int share, uint32_t generation, bool own, int64_t& chunk);

  // One thread's share of the current job: the job's generation (high 32 bits), then the first
  // and one past the last of its unclaimed chunks (16 bits each). Tagging the share with the job
  // keeps a thread that wakes up late from claiming chunks of a job it has not seen. A cache
  // line each, so that a thread claiming its own chunks does not disturb the others'.
  struct alignas(64) Share {
    std::atomic<uint64_t> state{0};
  };

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};  // bumped once per job (and at shutdown)
  std::unique_ptr<Share[]> shares_;
  std::atomic<int64_t> done_{0};  // chunks of the current job finished
  bool stop_ = false;
  // The job of the current generation; written before it is published through shares_.
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
  int64_t chunks_ = 0;
};

// The process-wide pool; created on first use with `n_threads` (0 = hardware concurrency).
ThreadPool& thread_pool_global(int n_threads = 0);
// Replaces the global pool (the CLI's --threads); not safe while it runs work.
void thread_pool_set_threads(int n_threads);

}  // namespace mofa
