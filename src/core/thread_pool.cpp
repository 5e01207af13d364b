#include "core/thread_pool.h"

#include <algorithm>
#include <memory>

namespace mofa {

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads), shares_(new Share[n_threads_]) {
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

// Chunks per thread's share. The tail of a call, one thread running while the other waits,
// lasts up to one chunk. Handing out 2 chunks per thread in turns (the scheme before shares)
// broke each thread's stream at every chunk and left up to half a share to the tail: 2-thread
// 0.5B decode ran its 1152x896 4-bit projections only x1.42 faster than one thread.
constexpr int64_t kChunksPerShare = 4;

constexpr uint64_t kIndexBits = 16;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;

uint64_t share_state(uint32_t generation, int64_t front, int64_t back) {
  return (static_cast<uint64_t>(generation) << 32) | (static_cast<uint64_t>(front) << kIndexBits) |
         static_cast<uint64_t>(back);
}

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

bool ThreadPool::claim(int share, uint32_t generation, bool own, int64_t& chunk) {
  std::atomic<uint64_t>& state = shares_[share].state;
  uint64_t v = state.load(std::memory_order_acquire);
  int64_t front, back;
  do {
    front = static_cast<int64_t>((v >> kIndexBits) & kIndexMask);
    back = static_cast<int64_t>(v & kIndexMask);
    if (static_cast<uint32_t>(v >> 32) != generation || front >= back) return false;
  } while (!state.compare_exchange_weak(v, own ? v + (uint64_t{1} << kIndexBits) : v - 1,
                                        std::memory_order_acq_rel));
  chunk = own ? front : back - 1;
  return true;
}

void ThreadPool::work(uint32_t generation, int thread_index) {
  int64_t done = 0;
  auto run_chunk = [&](int64_t c) {
    // Chunk c of chunks_ over the align-sized blocks of [0, n_).
    const int64_t blocks = (n_ + align_ - 1) / align_;
    const int64_t b = std::min(c * blocks / chunks_ * align_, n_);
    const int64_t e = std::min((c + 1) * blocks / chunks_ * align_, n_);
    if (b < e) thunk_(ctx_, b, e, thread_index);
    ++done;
  };
  int64_t c;
  while (claim(thread_index, generation, /*own=*/true, c)) run_chunk(c);
  for (int k = 1; k < n_threads_; ++k) {
    const int victim = (thread_index + k) % n_threads_;
    while (claim(victim, generation, /*own=*/false, c)) run_chunk(c);
  }
  if (done > 0) done_.fetch_add(done, std::memory_order_acq_rel);
}

void ThreadPool::run(int64_t n, int64_t align, Thunk thunk, void* ctx) {
  if (n_threads_ == 1 || n <= align) {
    thunk(ctx, 0, n, 0);
    return;
  }
  const int64_t blocks = (n + align - 1) / align;
  // A share's indices are 16 bits: past 16383 threads some shares are empty.
  const int64_t chunks = std::min<int64_t>(
      {blocks, int64_t{n_threads_} * kChunksPerShare, static_cast<int64_t>(kIndexMask)});
  const uint32_t generation =
      static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
  {
    // Every chunk of the previous job is done, so its shares are empty and no thread reads these
    // fields until a claim of the new job succeeds.
    std::lock_guard<std::mutex> lock(mu_);
    thunk_ = thunk;
    ctx_ = ctx;
    n_ = n;
    align_ = align;
    chunks_ = chunks;
    done_.store(0, std::memory_order_relaxed);
    for (int t = 0; t < n_threads_; ++t)
      shares_[t].state.store(
          share_state(generation, t * chunks / n_threads_, (t + 1) * chunks / n_threads_),
          std::memory_order_release);
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
