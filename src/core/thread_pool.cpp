#include "core/thread_pool.h"

#include <algorithm>
#include <memory>

namespace mofa {

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

namespace {

// Chunks per thread: enough that a descheduled thread's share can be taken by the others, few
// enough to cost nothing measurable on an idle machine (4 per thread cost 4% of 0.5B 4-bit
// decode speed; 2 match fixed shares).
constexpr int64_t kChunksPerThread = 2;

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

void ThreadPool::work(uint32_t generation, int thread_index) {
  for (;;) {
    uint64_t v = next_.load(std::memory_order_acquire);
    int64_t c;
    do {
      c = static_cast<int64_t>(v & 0xffffffffu);
      if (static_cast<uint32_t>(v >> 32) != generation ||
          c >= chunks_.load(std::memory_order_relaxed))
        return;
    } while (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
    // Chunk c of chunks_ over the align-sized blocks of [0, n_).
    const int64_t chunks = chunks_.load(std::memory_order_relaxed);
    const int64_t blocks = (n_ + align_ - 1) / align_;
    const int64_t b = std::min(c * blocks / chunks * align_, n_);
    const int64_t e = std::min((c + 1) * blocks / chunks * align_, n_);
    if (b < e) thunk_(ctx_, b, e, thread_index);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(int64_t n, int64_t align, Thunk thunk, void* ctx) {
  if (n_threads_ == 1 || n <= align) {
    thunk(ctx, 0, n, 0);
    return;
  }
  const int64_t blocks = (n + align - 1) / align;
  const int64_t chunks = std::min<int64_t>(blocks, n_threads_ * kChunksPerThread);
  const uint32_t generation =
      static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
  // Close the previous job to late claimers before its fields are overwritten: their
  // compare-exchange fails from now on, and they read the fields only after one succeeds.
  next_.store((static_cast<uint64_t>(generation) << 32) | 0xffffffffu, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    thunk_ = thunk;
    ctx_ = ctx;
    n_ = n;
    align_ = align;
    chunks_.store(chunks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    next_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
    generation_.store(generation, std::memory_order_release);
  }
  cv_.notify_all();
  work(generation, 0);
  // Only chunks other threads are running remain: spin briefly (they end within microseconds
  // when they are on a core), then yield so a descheduled one can get this core back.
  for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
    if (spins < 4096)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen;
    int spins = 0;
    while ((gen = generation_.load(std::memory_order_acquire)) == seen && spins < 20000) {
      cpu_relax();
      ++spins;
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_) return;
    work(static_cast<uint32_t>(gen), index);
  }
}

namespace {
std::unique_ptr<ThreadPool>& global_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& thread_pool_global(int n_threads) {
  auto& slot = global_slot();
  if (!slot) {
    int n = n_threads > 0 ? n_threads : static_cast<int>(std::thread::hardware_concurrency());
    slot = std::make_unique<ThreadPool>(n);
  }
  return *slot;
}

void thread_pool_set_threads(int n_threads) {
  auto& slot = global_slot();
  if (slot && slot->size() == n_threads) return;
  slot.reset();
  thread_pool_global(n_threads);
}

}  // namespace mofa
