#pragma once
// Causal language models: the interface every LLM family implements, and the KV cache they fill.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/tensor.h"
#include "io/model_config.h"
#include "io/weight_store.h"

namespace mofa::models {

// Per-layer key/value caches, [n_kv_heads, capacity, head_dim] f32 each. Capacity grows by
// doubling up to max_capacity, so a long context costs memory only when it is used.
class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity);

  int64_t max_capacity() const { return max_capacity_; }
  int64_t capacity() const { return capacity_; }
  // Makes room for `n` positions (n <= max_capacity), keeping the first `keep` positions.
  void reserve(int64_t n, int64_t keep);
  Tensor& k(int64_t layer) { return k_[layer]; }
  Tensor& v(int64_t layer) { return v_[layer]; }
  size_t bytes() const;

 private:
  int64_t n_kv_heads_, head_dim_, max_capacity_, capacity_ = 0;
  std::vector<Tensor> k_, v_;
};

// Called by forwards at named points (tests diff layers against the reference with it).
using Tap = std::function<void(const Tensor& t, const char* name, int layer)>;

struct ModelOptions {
  ops::MatmulMode mode = ops::MatmulMode::fast;
  int64_t max_batch = 512;  // rows per forward call; sizes the activation arena
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  virtual const io::ModelConfig& config() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_batch() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual std::unique_ptr<KvCache> new_cache(int64_t max_capacity) const = 0;

  // Runs n <= max_batch() tokens at positions [n_past, n_past + n) against `cache` (which holds
  // the first n_past positions) and returns logits: [n, vocab] if all_logits, else [1, vocab] for
  // the last token. The returned tensor is valid until the next forward call.
  virtual Tensor forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                         bool all_logits) = 0;

  void set_tap(Tap tap) { tap_ = std::move(tap); }

 protected:
  void tap(const Tensor& t, const char* name, int layer) const {
    if (tap_) tap_(t, name, layer);
  }

 private:
  Tap tap_;
};

}  // namespace mofa::models
