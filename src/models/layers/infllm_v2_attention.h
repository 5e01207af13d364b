#pragma once
// InfLLM-v2 block-sparse attention (config.json `sparse_config` of MiniCPM4 / MiniCPM-SALA), as
// modeling_minicpm_sala.py's MiniCPMInfLLMv2Attention computes it with OpenBMB/infllmv2_cuda_impl's
// kernels in a forward whose keys reach dense_len (below that the layer attends densely). For KV
// head g and a query at position p in a forward of L keys:
//  1. keys are compressed by mean-pooling windows: k1 entry j averages positions
//     [j * kernel_stride, j * kernel_stride + kernel_size), k2 the same with 4x both; entries exist
//     for the whole windows of the L keys, and the query sees those ending at or before p;
//  2. per query head h of the group, exp(q_h . k1_j * scale - lse_h) over the visible k1 entries,
//     lse_h being the log-sum-exp of q_h . k2 * scale over the visible k2 entries (all 0 while no
//     k2 entry is visible), summed over the group's heads;
//  3. block b (block_size positions) scores the max over k1 entries [b * P - 1, b * P + P) of the
//     forward's entries (P = block_size / kernel_stride; -inf if none); blocks b < init_blocks and
//     the query's block q = p / block_size with the local_blocks = window_size / block_size
//     before it score +inf;
//  4. the topk + local_blocks best of the forward's ceil(L / block_size) blocks are kept (equal
//     scores: the lower block first), those after q dropped;
//  5. softmax attention (scale 1/sqrt(head_dim)) over the keys <= p of the kept blocks.
// A decode step touches the K/V of the kept blocks only; the compressed keys are kept per
// sequence and extended as keys arrive (InfLlmV2Keys), so a step costs O(L / kernel_stride)
// score dot products plus attention over at most (topk + local_blocks) * block_size keys.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace mofa::models {

// sparse_config, with MiniCPMInfLLMv2Attention's defaults for absent fields.
struct InfLlmV2Config {
  int64_t block_size = 64;
  int64_t dense_len = 8192;
  int64_t init_blocks = 1;
  int64_t kernel_size = 32;
  int64_t kernel_stride = 16;
  int64_t topk = 64;
  int64_t window_size = 2048;
  bool use_nope = false;  // score with pre-RoPE q/k (the same keys when the layer has no RoPE)

  int64_t local_blocks() const { return window_size / block_size; }
  // Blocks a query keeps at most.
  int64_t n_select() const { return topk + local_blocks(); }
};

// Parses and validates a sparse_config object; errors (InvalidInput) start with `where`.
InfLlmV2Config infllm_v2_config(const nlohmann::json& sparse_config, const std::string& where);

// Whole windows of `size` positions every `stride` in the first n positions.
inline int64_t infllm_v2_windows(int64_t n, int64_t size, int64_t stride) {
  return n >= size ? (n - size) / stride + 1 : 0;
}

// The compressed keys (k1, k2) of one layer of one sequence, [n_kv_heads, capacity, head_dim]
// each, grown by doubling and extended incrementally.
class InfLlmV2Keys {
 public:
  // Makes the entries cover the first n_keys positions of k_cache ([n_kv_heads, capacity,
  // head_dim]), of which only the first `n_same` are known to hold the keys the entries were
  // made from (a sequence rewound to n_same recomputes the entries after it).
  void update(const Tensor& k_cache, int64_t n_same, int64_t n_keys, const InfLlmV2Config& cfg);
  // Drops the entries that use positions from n_same on (their keys are being rewritten).
  void forget_after(int64_t n_same, const InfLlmV2Config& cfg);
  const Tensor& k1() const { return k1_.t; }
  const Tensor& k2() const { return k2_.t; }
  int64_t n1() const { return k1_.n; }
  int64_t n2() const { return k2_.n; }
  size_t bytes() const;

 private:
  struct Level {
    Tensor t;
    int64_t n = 0;
  };
  void extend(Level& level, const Tensor& k_cache, int64_t n_same, int64_t n_keys, int64_t size,
              int64_t stride);
  Level k1_, k2_;
};

// The sparse attention of one model's layers: its shapes and scratch, sized as it goes.
class InfLlmV2Attention {
 public:
  InfLlmV2Attention() = default;
  InfLlmV2Attention(const InfLlmV2Config& cfg, int64_t n_heads, int64_t n_kv_heads,
                    int64_t head_dim);

  const InfLlmV2Config& config() const { return cfg_; }
  // Whether a forward that ends with n_keys keys runs sparse (the reference's kv_seq_len switch).
  bool sparse_at(int64_t n_keys) const { return n_keys >= cfg_.dense_len; }

  // q: [m, n_heads, head_dim] at positions n_past..; k, v: [n_kv_heads, capacity, head_dim] caches
  // already holding the n_past + m keys; keys: this layer's compressed keys, updated here (they
  // are valid for the first n_same positions). out: [m, n_heads, head_dim].
  void forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past, int64_t n_same,
               float scale, InfLlmV2Keys& keys, Tensor& out);

  // The blocks the last forward kept: [m, n_kv_heads, n_kept()] ascending, then -1 padding.
  const std::vector<int32_t>& blocks() const { return blocks_; }
  int64_t n_kept() const { return n_kept_; }

 private:
  // Scores and keeps the blocks of rows [r0, r1) of the forward from their k1/k2 scores (s1_, s2_).
  void select_rows(int64_t r0, int64_t r1, int64_t n_past, int64_t n_keys,
                   const InfLlmV2Keys& keys);

  InfLlmV2Config cfg_;
  int64_t n_heads_ = 0, n_kv_heads_ = 0, head_dim_ = 0;
  Tensor s1_, s2_;  // [rows, n_heads, n1 or n2]: a chunk of rows' scaled k1 / k2 dot products
  std::vector<int32_t> blocks_;
  int64_t n_kept_ = 0;
  struct RowScratch {
    std::vector<float> entry, block;  // k1 entry scores, block scores
    std::vector<int32_t> order;
  };
  std::vector<RowScratch> scratch_;  // one per pool thread
};

}  // namespace mofa::models
