#pragma once
// One persistent pool of worker threads. parallel_for splits [0, n) into a few contiguous chunks
// per thread that the threads (the caller is thread 0) claim as they go, and returns when all are
// done. Claiming instead of assigning keeps a machine under other load fast: when the OS
// deschedules a worker, the others take its chunks instead of waiting for it at every op.
// No allocation per call.
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
  // Claims and runs chunks of job `generation` until none is left.
  void work(uint32_t generation, int thread_index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};  // bumped once per job (and at shutdown)
  // The job's generation (high 32 bits) and its next unclaimed chunk (low 32 bits): a thread that
  // wakes up late cannot claim a chunk of a later job it has not seen.
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> done_{0};  // chunks of the current job finished
  bool stop_ = false;
  // The job of the current generation; written before it is published through next_.
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
  std::atomic<int64_t> chunks_{0};  // read by late claimers before they fail: atomic
};

// The process-wide pool; created on first use with `n_threads` (0 = hardware concurrency).
ThreadPool& thread_pool_global(int n_threads = 0);
// Replaces the global pool (the CLI's --threads); not safe while it runs work.
void thread_pool_set_threads(int n_threads);

}  // namespace mofa
