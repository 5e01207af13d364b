#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "models/model.h"

namespace mofa::models {

KvCache::KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity)
    : KvCache(std::vector<bool>(static_cast<size_t>(n_layers), true), n_kv_heads, head_dim,
              max_capacity, std::vector<Shape>(static_cast<size_t>(n_layers))) {}

KvCache::KvCache(std::vector<bool> has_kv, int64_t n_kv_heads, int64_t head_dim,
                 int64_t max_capacity, std::vector<Shape> state_shapes)
    : n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      max_capacity_(max_capacity),
      has_kv_(std::move(has_kv)),
      k_(has_kv_.size()),
      v_(has_kv_.size()),
      state_(has_kv_.size()) {
  check_internal(state_shapes.size() == has_kv_.size(), "kv_cache", "state shapes per layer");
  for (size_t i = 0; i < state_shapes.size(); ++i) {
    if (state_shapes[i].empty()) continue;
    state_[i] = Tensor::zeros(DType::f32, state_shapes[i]);
    has_state_ = true;
  }
}

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
  for (size_t i = 0; i < has_kv_.size(); ++i) {
    if (!has_kv_[i]) continue;
    grow(k_[i]);
    grow(v_[i]);
  }
  capacity_ = cap;
}

size_t KvCache::bytes() const {
  size_t kv_layers = static_cast<size_t>(std::count(has_kv_.begin(), has_kv_.end(), true));
  size_t out =
      2 * kv_layers * static_cast<size_t>(n_kv_heads_ * capacity_ * head_dim_) * sizeof(float);
  for (const auto* list : {&state_, &snapshot_})
    for (const Tensor& t : *list)
      if (t.defined()) out += t.nbytes();
  return out;
}

int64_t KvCache::resume_point(int64_t n) const {
  if (!has_state_) return n;
  int64_t best = 0;
  if (state_pos_ <= n) best = state_pos_;
  if (snapshot_pos_ >= 0 && snapshot_pos_ <= n) best = std::max(best, snapshot_pos_);
  return best;
}

void KvCache::begin_forward(int64_t n_past, int64_t n) {
  if (!has_state_) return;
  if (n_past != state_pos_) {
    if (n_past == 0) {
      for (Tensor& t : state_)
        if (t.defined()) std::memset(t.data_mut<float>(), 0, t.nbytes());
    } else if (n_past == snapshot_pos_) {
      for (size_t i = 0; i < state_.size(); ++i)
        if (state_[i].defined())
          std::memcpy(state_[i].data_mut<float>(), snapshot_[i].data<float>(), state_[i].nbytes());
    } else {
      throw InvalidInput("this model's recurrent (linear-attention) state holds " +
                         std::to_string(state_pos_) + " positions and cannot resume at position " +
                         std::to_string(n_past) + " (resume points: 0, " +
                         std::to_string(state_pos_) +
                         (snapshot_pos_ >= 0 ? ", " + std::to_string(snapshot_pos_) : "") + ")");
    }
    state_pos_ = n_past;
    // Positions after n_past may now hold other tokens: a later snapshot no longer applies.
    if (snapshot_pos_ > n_past) snapshot_pos_ = -1;
  }
  if (n > 1 && snapshot_pos_ != n_past) {
    if (snapshot_.empty()) snapshot_.resize(state_.size());
    for (size_t i = 0; i < state_.size(); ++i) {
      if (!state_[i].defined()) continue;
      if (!snapshot_[i].defined()) snapshot_[i] = Tensor::zeros(DType::f32, state_[i].shape());
      std::memcpy(snapshot_[i].data_mut<float>(), state_[i].data<float>(), state_[i].nbytes());
    }
    snapshot_pos_ = n_past;
  }
}

void KvCache::append(int64_t layer, const Tensor& k, const Tensor& v, int64_t n_past, int64_t n) {
  const int64_t kv_dim = n_kv_heads_ * head_dim_;
  float* kd = k_[layer].data_mut<float>();
  float* vd = v_[layer].data_mut<float>();
  const float* ks = k.data<float>();
  const float* vs = v.data<float>();
  const size_t row = static_cast<size_t>(head_dim_) * sizeof(float);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < n_kv_heads_; ++h) {
      const size_t dst = static_cast<size_t>((h * capacity_ + n_past + t) * head_dim_);
      const size_t src = static_cast<size_t>(t * kv_dim + h * head_dim_);
      std::memcpy(kd + dst, ks + src, row);
      std::memcpy(vd + dst, vs + src, row);
    }
  }
}

}  // namespace mofa::models
