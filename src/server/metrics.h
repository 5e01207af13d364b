#pragma once
// Counters behind GET /metrics (Prometheus text format).
#include <atomic>
#include <cstdint>
#include <mutex>

namespace mofa::server {

class Metrics {
 public:
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  void add_generated_tokens(int64_t n) { generated_tokens_ += n; }
  void add_cached_tokens(int64_t n) { cached_tokens_ += n; }
  // One finished generation: its time to first token and its decode phase.
  void add_generation(double ttft_s, double decode_s, int64_t decode_tokens);
  void add_cancelled() { ++cancelled_; }
  void add_rejected() { ++rejected_; }

  struct Snapshot {
    int64_t prompt_tokens, generated_tokens, cached_tokens, cancelled, rejected;
    int64_t generations;
    double ttft_sum_s, decode_sum_s;
    int64_t decode_tokens;
    double last_tokens_per_s;
  };
  Snapshot snapshot() const;

 private:
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, cached_tokens_{0};
  std::atomic<int64_t> cancelled_{0}, rejected_{0};
  mutable std::mutex mutex_;
  int64_t generations_ = 0;
  double ttft_sum_s_ = 0, decode_sum_s_ = 0;
  int64_t decode_tokens_ = 0;
  double last_tokens_per_s_ = 0;
};

}  // namespace mofa::server
