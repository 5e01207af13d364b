#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "models/model.h"

namespace mofa::models {

KvCache::KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity)
    : n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      max_capacity_(max_capacity),
      k_(n_layers),
      v_(n_layers) {}

void KvCache::reserve(int64_t n, int64_t keep) {
  check_internal(n <= max_capacity_, "kv_cache",
                 "reserve " + std::to_string(n) + " > max " + std::to_string(max_capacity_));
  if (n <= capacity_) return;
  int64_t cap = std::max<int64_t>(capacity_ * 2, 256);
  cap = std::min(std::max(cap, n), max_capacity_);
  keep = std::min(keep, capacity_);
  auto grow = [&](Tensor& t) {
    Tensor bigger = Tensor::zeros(DType::f32, {n_kv_heads_, cap, head_dim_});
    if (t.defined() && keep > 0) {
      for (int64_t h = 0; h < n_kv_heads_; ++h) {
        std::memcpy(bigger.data_mut<float>() + h * cap * head_dim_,
                    t.data<float>() + h * capacity_ * head_dim_,
                    static_cast<size_t>(keep * head_dim_) * sizeof(float));
      }
    }
    t = std::move(bigger);
  };
  for (auto& t : k_) grow(t);
  for (auto& t : v_) grow(t);
  capacity_ = cap;
}

size_t KvCache::bytes() const {
  return static_cast<size_t>(2 * k_.size() * n_kv_heads_ * capacity_ * head_dim_) * sizeof(float);
}

}  // namespace mofa::models
