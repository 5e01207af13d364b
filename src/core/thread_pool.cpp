#include "core/thread_pool.h"

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

void ThreadPool::chunk(int index, int64_t* begin, int64_t* end) const {
  int64_t blocks = (n_ + align_ - 1) / align_;
  int64_t per = blocks / n_threads_, extra = blocks % n_threads_;
  int64_t b = index * per + (index < extra ? index : extra);
  int64_t e = b + per + (index < extra ? 1 : 0);
  *begin = b * align_ < n_ ? b * align_ : n_;
  *end = e * align_ < n_ ? e * align_ : n_;
}

void ThreadPool::run(int64_t n, int64_t align, Thunk thunk, void* ctx) {
  if (n_threads_ == 1 || n <= align) {
    thunk(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    thunk_ = thunk;
    ctx_ = ctx;
    n_ = n;
    align_ = align;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  int64_t b, e;
  chunk(0, &b, &e);
  if (b < e) thunk(ctx, b, e, 0);
  // Workers finish within microseconds on the hot path; spinning beats a futex round trip.
  while (pending_.load(std::memory_order_acquire) != 0) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen;
    int spins = 0;
    while ((gen = generation_.load(std::memory_order_acquire)) == seen && spins < 20000) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
      ++spins;
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_) return;
    int64_t b, e;
    chunk(index, &b, &e);
    if (b < e) thunk_(ctx_, b, e, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
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
