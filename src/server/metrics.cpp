#include "server/metrics.h"

namespace mofa::server {

void Metrics::add_generation(double ttft_s, double decode_s, int64_t decode_tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++generations_;
  ttft_sum_s_ += ttft_s;
  decode_sum_s_ += decode_s;
  decode_tokens_ += decode_tokens;
  if (decode_s > 0 && decode_tokens > 0) last_tokens_per_s_ = decode_tokens / decode_s;
}

Metrics::Snapshot Metrics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Snapshot{prompt_tokens_.load(), generated_tokens_.load(),
                  cached_tokens_.load(), cancelled_.load(),
                  rejected_.load(),      generations_,
                  ttft_sum_s_,           decode_sum_s_,
                  decode_tokens_,        last_tokens_per_s_};
}

}  // namespace mofa::server
