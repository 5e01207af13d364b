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

// Element types of the key and value caches: f32 keeps attention exact; f16 (llama.cpp's and
// Ollama's default) halves the cache's memory and the bytes a long context makes attention read;
// q8_0 (int8 per block of 32 with an f16 scale, as llama.cpp's) takes 53% of f16's.
struct KvCacheTypes {
  DType k = DType::f32;
  DType v = DType::f32;
};

// Parses a --cache-type-k/-v value: "f32", "f16", "q8_0", or "" for the default of the matmul mode
// (f32 with --exact, which computes as the reference does; else f16). Throws InvalidInput naming
// the accepted ones.
DType kv_cache_type_from_name(const std::string& name, bool exact, const char* what);
// Throws InvalidInput when a cache of these types cannot hold rows of head_dim values (q8_0 needs
// whole blocks of 32), naming the type and what to use instead.
void check_kv_cache_types(const KvCacheTypes& types, int64_t head_dim);

// Per-layer key/value caches, [n_kv_heads, capacity, kv_row_units(type, head_dim)] each in the
// types' dtypes (core/kv_rows.h).
// Capacity grows by doubling up to max_capacity, so a long context costs memory only when it is
// used.
//
// Hybrid models (MiniCPM-SALA) keep K/V only on their softmax-attention layers; their linear-
// attention layers keep a fixed-size recurrent state instead, which absorbs every position it has
// seen and so cannot be cut back like K/V rows. The cache tracks how many positions the states
// hold and one snapshot taken at the start of the last multi-position forward, so a forward may
// resume at 0, at the snapshot or at the states' end; resume_point() names the best of those.
//
// A family may derive from it to keep more per-sequence state (MiniCPM-SALA's compressed keys).
class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity,
          KvCacheTypes types = {});
  // Layer i keeps K/V when has_kv[i]; a non-empty state_shapes[i] gives it a recurrent state
  // (f32, zero at position 0).
  KvCache(std::vector<bool> has_kv, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity,
          std::vector<Shape> state_shapes, KvCacheTypes types = {});
  virtual ~KvCache() = default;

  int64_t max_capacity() const { return max_capacity_; }
  int64_t capacity() const { return capacity_; }
  // Makes room for `n` positions (n <= max_capacity), keeping the first `keep` positions.
  void reserve(int64_t n, int64_t keep);
  Tensor& k(int64_t layer) { return k_[layer]; }
  Tensor& v(int64_t layer) { return v_[layer]; }
  const KvCacheTypes& types() const { return types_; }
  // Writes the keys and values of positions [n_past, n_past + n) of `layer`, given as [n,
  // n_kv_heads * head_dim] f32 rows, into each head's block of the cache (rounded to f16 or
  // quantized to q8_0 there).
  void append(int64_t layer, const Tensor& k, const Tensor& v, int64_t n_past, int64_t n);
  virtual size_t bytes() const;

  bool has_state() const { return has_state_; }
  Tensor& state(int64_t layer) { return state_[layer]; }
  // The largest position <= n at which a forward can continue this cache (n without states).
  int64_t resume_point(int64_t n) const;
  // For models with states, around each forward of positions [n_past, n_past + n): brings the
  // states to n_past (throws InvalidInput when n_past is not a resume point) and snapshots them
  // when n > 1; then records that they hold n_past + n positions.
  void begin_forward(int64_t n_past, int64_t n);
  void end_forward(int64_t n_end) { state_pos_ = n_end; }

 private:
  int64_t n_kv_heads_, head_dim_, max_capacity_, capacity_ = 0;
  KvCacheTypes types_;
  std::vector<bool> has_kv_;
  std::vector<Tensor> k_, v_;
  bool has_state_ = false;
  std::vector<Tensor> state_, snapshot_;
  int64_t state_pos_ = 0, snapshot_pos_ = -1;
};

// Called by forwards at named points (tests diff layers against the reference with it).
using Tap = std::function<void(const Tensor& t, const char* name, int layer)>;

struct ModelOptions {
  ops::MatmulMode mode = ops::MatmulMode::fast;
  int64_t max_batch = 512;  // rows per forward call; sizes the activation arena
  KvCacheTypes kv_types;    // of the caches new_cache() makes
};

// The bytes of an untied embedding that a decode step does not read: all rows but its token's.
inline size_t embedding_unread_bytes(const Weight& embed) {
  return embed.bytes() - embed.bytes() / static_cast<size_t>(embed.rows);
}

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  virtual const io::ModelConfig& config() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_batch() const = 0;
  virtual size_t weight_bytes() const = 0;
  // Weight bytes one single-token forward reads: an untied embedding gives one row, a sparse
  // (MoE) MLP only its top_k experts. Bandwidth figures divide by this, not by weight_bytes().
  virtual size_t decode_bytes() const = 0;
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
