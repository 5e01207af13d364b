#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/kv_rows.h"
#include "models/model.h"

namespace mofa::models {

DType kv_cache_type_from_name(const std::string& name, bool exact, const char* what) {
  if (name.empty()) return exact ? DType::f32 : DType::f16;
  if (name == "f32") return DType::f32;
  if (name == "f16") return DType::f16;
  if (name == "q8_0") return DType::q8_0;
  throw InvalidInput(std::string(what) + " '" + name +
                     "' is not supported; supported: f32, f16, q8_0");
}

void check_kv_cache_types(const KvCacheTypes& types, int64_t head_dim) {
  for (DType t : {types.k, types.v})
    if (!kv_row_fits(t, head_dim))
      throw InvalidInput("a " + std::string(dtype_name(t)) + " KV cache cannot hold this model's " +
                         "rows of " + std::to_string(head_dim) + " values per head" +
                         (t == DType::q8_0 ? " (q8_0 needs a multiple of 32); use f16" : ""));
}

KvCache::KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity,
                 KvCacheTypes types)
    : KvCache(std::vector<bool>(static_cast<size_t>(n_layers), true), n_kv_heads, head_dim,
              max_capacity, std::vector<Shape>(static_cast<size_t>(n_layers)), types) {}

KvCache::KvCache(std::vector<bool> has_kv, int64_t n_kv_heads, int64_t head_dim,
                 int64_t max_capacity, std::vector<Shape> state_shapes, KvCacheTypes types)
    : n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      max_capacity_(max_capacity),
      types_(types),
      has_kv_(std::move(has_kv)),
      k_(has_kv_.size()),
      v_(has_kv_.size()),
      state_(has_kv_.size()) {
  check_internal(state_shapes.size() == has_kv_.size(), "kv_cache", "state shapes per layer");
  check_kv_cache_types(types_, head_dim);
  for (size_t i = 0; i < state_shapes.size(); ++i) {
    if (state_shapes[i].empty()) continue;
    state_[i] = Tensor::zeros(DType::f32, state_shapes[i]);
    has_state_ = true;
  }
}

void KvCache::reserve(int64_t n, int64_t keep) {
  check_internal(n <= max_capacity_, "kv_cache", [&] {
    return "reserve " + std::to_string(n) + " > max " + std::to_string(max_capacity_);
  });
  if (n <= capacity_) return;
  int64_t cap = std::max<int64_t>(capacity_ * 2, 256);
  cap = std::min(std::max(cap, n), max_capacity_);
  keep = std::min(keep, capacity_);
  auto grow = [&](Tensor& t, DType type) {
    Tensor bigger = Tensor::zeros(type, {n_kv_heads_, cap, kv_row_units(type, head_dim_)});
    const size_t row = kv_row_bytes(type, head_dim_);
    if (t.defined() && keep > 0) {
      for (int64_t h = 0; h < n_kv_heads_; ++h) {
        std::memcpy(static_cast<char*>(bigger.raw_mut()) + static_cast<size_t>(h * cap) * row,
                    static_cast<const char*>(t.raw()) + static_cast<size_t>(h * capacity_) * row,
                    static_cast<size_t>(keep) * row);
      }
    }
    t = std::move(bigger);
  };
  for (size_t i = 0; i < has_kv_.size(); ++i) {
    if (!has_kv_[i]) continue;
    grow(k_[i], types_.k);
    grow(v_[i], types_.v);
  }
  capacity_ = cap;
}

size_t KvCache::bytes() const {
  size_t kv_layers = static_cast<size_t>(std::count(has_kv_.begin(), has_kv_.end(), true));
  size_t out = kv_layers * static_cast<size_t>(n_kv_heads_ * capacity_) *
               (kv_row_bytes(types_.k, head_dim_) + kv_row_bytes(types_.v, head_dim_));
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
  auto write = [&](Tensor& cache, const Tensor& rows) {
    const float* src = rows.data<float>();
    const DType type = cache.dtype();
    const size_t row_bytes = kv_row_bytes(type, head_dim_);
    char* base = static_cast<char*>(cache.raw_mut());
    for (int64_t t = 0; t < n; ++t)
      for (int64_t h = 0; h < n_kv_heads_; ++h)
        kv_store_row(src + t * kv_dim + h * head_dim_, head_dim_, type,
                     base + static_cast<size_t>(h * capacity_ + n_past + t) * row_bytes);
  };
  write(k_[layer], k);
  write(v_[layer], v);
}

}  // namespace mofa::models
