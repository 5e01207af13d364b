#include "models/layers/infllm_v2_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/kv_rows.h"
#include "core/ops/ops.h"
#include "core/thread_pool.h"

namespace mofa::models {
namespace {

// Floats of k1/k2 scores one pass over the rows may hold (rows are taken in chunks that fit; one
// row always does).
constexpr int64_t kScoreBudget = int64_t{1} << 22;

int64_t field_int(const nlohmann::json& sc, const char* key, int64_t fallback, int64_t min,
                  const std::string& where) {
  const auto it = sc.find(key);
  if (it == sc.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < min)
    throw InvalidInput(where + "sparse_config." + key +
                       " must be an integer >= " + std::to_string(min) + ", got " + it->dump());
  return it->get<int64_t>();
}

// The first floats of `buf` as a contiguous tensor of `shape`.
Tensor view(const Tensor& buf, const Shape& shape) {
  return buf.slice(0, 0, shape_numel(shape)).reshape(shape);
}

// `buf` holds at least n floats (grown by doubling, contents dropped, when it does not).
void ensure(Tensor& buf, int64_t n) {
  const int64_t have = buf.defined() ? buf.numel() : 0;
  if (have < n) buf = Tensor::zeros(DType::f32, {std::max({n, 2 * have, int64_t{1024}})});
}

}  // namespace

InfLlmV2Config infllm_v2_config(const nlohmann::json& sc, const std::string& where) {
  if (!sc.is_object())
    throw InvalidInput(where + "sparse_config must be an object, got " + sc.dump());
  InfLlmV2Config c;
  c.block_size = field_int(sc, "block_size", c.block_size, 1, where);
  c.dense_len = field_int(sc, "dense_len", c.dense_len, 1, where);
  c.init_blocks = field_int(sc, "init_blocks", c.init_blocks, 0, where);
  c.kernel_size = field_int(sc, "kernel_size", c.kernel_size, 1, where);
  c.kernel_stride = field_int(sc, "kernel_stride", c.kernel_stride, 1, where);
  c.topk = field_int(sc, "topk", c.topk, 1, where);
  c.window_size = field_int(sc, "window_size", c.window_size, 0, where);
  if (const auto it = sc.find("use_nope"); it != sc.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw InvalidInput(where + "sparse_config.use_nope must be true or false, got " + it->dump());
    c.use_nope = it->get<bool>();
  }
  // Block scores pool whole k1 strides; a query must keep every block it forces.
  if (c.block_size % c.kernel_stride != 0)
    throw InvalidInput(where + "sparse_config.block_size " + std::to_string(c.block_size) +
                       " must be a multiple of kernel_stride " + std::to_string(c.kernel_stride));
  if (c.topk <= c.init_blocks)
    throw InvalidInput(where + "sparse_config.topk " + std::to_string(c.topk) +
                       " must exceed init_blocks " + std::to_string(c.init_blocks) +
                       " (a query keeps topk + window_size / block_size blocks and forces " +
                       "init_blocks + window_size / block_size + 1)");
  return c;
}

size_t InfLlmV2Keys::bytes() const {
  return (k1_.t.defined() ? k1_.t.nbytes() : 0) + (k2_.t.defined() ? k2_.t.nbytes() : 0);
}

void InfLlmV2Keys::forget_after(int64_t n_same, const InfLlmV2Config& cfg) {
  k1_.n = std::min(k1_.n, infllm_v2_windows(n_same, cfg.kernel_size, cfg.kernel_stride));
  k2_.n = std::min(k2_.n, infllm_v2_windows(n_same, 4 * cfg.kernel_size, 4 * cfg.kernel_stride));
}

void InfLlmV2Keys::update(const Tensor& k_cache, int64_t n_same, int64_t n_keys,
                          const InfLlmV2Config& cfg) {
  extend(k1_, k_cache, n_same, n_keys, cfg.kernel_size, cfg.kernel_stride);
  extend(k2_, k_cache, n_same, n_keys, 4 * cfg.kernel_size, 4 * cfg.kernel_stride);
}

void InfLlmV2Keys::extend(Level& level, const Tensor& k_cache, int64_t n_same, int64_t n_keys,
                          int64_t size, int64_t stride) {
  const int64_t n_kv = k_cache.dim(0), cap = k_cache.dim(1);
  const int64_t d = kv_row_values(k_cache.dtype(), k_cache.dim(2));
  const int64_t want = infllm_v2_windows(n_keys, size, stride);
  const int64_t keep = std::min(level.n, infllm_v2_windows(n_same, size, stride));
  if (want <= keep) {
    level.n = want;
    return;
  }
  const int64_t have = level.t.defined() ? level.t.dim(1) : 0;
  if (want > have) {
    const int64_t grown = std::max({want, 2 * have, int64_t{64}});
    Tensor bigger = Tensor::zeros(DType::f32, {n_kv, grown, d});
    for (int64_t g = 0; g < n_kv && keep > 0; ++g)
      std::memcpy(bigger.data_mut<float>() + g * grown * d, level.t.data<float>() + g * have * d,
                  static_cast<size_t>(keep * d) * sizeof(float));
    level.t = std::move(bigger);
  }
  const int64_t lcap = level.t.dim(1);
  const DType type = k_cache.dtype();  // f32, or f16/q8_0 (--cache-type-k)
  const size_t row_bytes = kv_row_bytes(type, d);
  const char* src = static_cast<const char*>(k_cache.raw());
  float* dst = level.t.data_mut<float>();
  const int64_t n_new = want - keep;
  // Entry j of head g: the mean of positions [j * stride, j * stride + size).
  auto compress = [&](int64_t b, int64_t e, int) {
    std::vector<float> row(static_cast<size_t>(d));
    for (int64_t t = b; t < e; ++t) {
      const int64_t g = t / n_new, j = keep + t % n_new;
      float* out = dst + (g * lcap + j) * d;
      std::fill(out, out + d, 0.0f);
      const int64_t first = g * cap + j * stride;
      for (int64_t r = 0; r < size; ++r) {
        kv_load_row(src + static_cast<size_t>(first + r) * row_bytes, d, type, row.data());
        for (int64_t c = 0; c < d; ++c) out[c] += row[c];
      }
      for (int64_t c = 0; c < d; ++c) out[c] /= static_cast<float>(size);
    }
  };
  thread_pool_global().parallel_for(n_kv * n_new, compress);
  level.n = want;
}

InfLlmV2Attention::InfLlmV2Attention(const InfLlmV2Config& cfg, int64_t n_heads, int64_t n_kv_heads,
                                     int64_t head_dim)
    : cfg_(cfg), n_heads_(n_heads), n_kv_heads_(n_kv_heads), head_dim_(head_dim) {
  check_internal(n_kv_heads > 0 && n_heads % n_kv_heads == 0, "infllm_v2", "heads per KV head");
}

void InfLlmV2Attention::forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past,
                                int64_t n_same, float scale, InfLlmV2Keys& keys, Tensor& out) {
  const int64_t m = q.dim(0), n_keys = n_past + m;
  keys.update(k, n_same, n_keys, cfg_);
  const int64_t n1 = keys.n1(), n2 = keys.n2();
  const int64_t n_blocks = (n_keys + cfg_.block_size - 1) / cfg_.block_size;
  n_kept_ = std::min(cfg_.n_select(), n_blocks);
  blocks_.resize(static_cast<size_t>(m * n_kv_heads_ * n_kept_));
  const size_t threads = static_cast<size_t>(thread_pool_global().size());
  if (scratch_.size() < threads) scratch_.resize(threads);

  // Rows in chunks whose k1/k2 scores fit the budget.
  const int64_t per_row = n_heads_ * (n1 + n2);
  const int64_t chunk = std::clamp<int64_t>(kScoreBudget / std::max<int64_t>(per_row, 1), 1, m);
  ensure(s1_, chunk * n_heads_ * n1);
  ensure(s2_, chunk * n_heads_ * n2);
  for (int64_t r0 = 0; r0 < m; r0 += chunk) {
    const int64_t r1 = std::min(m, r0 + chunk);
    // Without k2 entries no query has a normaliser and every entry scores 0 (select_rows).
    if (n2 > 0) {
      const Tensor qr = q.slice(0, r0, r1);
      Tensor y1 = view(s1_, {r1 - r0, n_heads_, n1});
      Tensor y2 = view(s2_, {r1 - r0, n_heads_, n2});
      ops::attention_scores(qr, keys.k1(), n1, scale, y1);
      ops::attention_scores(qr, keys.k2(), n2, scale, y2);
    }
    select_rows(r0, r1, n_past, n_keys, keys);
  }
  ops::attention_blocks(q, k, v, n_past, scale, blocks_.data(), n_kept_, cfg_.block_size, out);
}

void InfLlmV2Attention::select_rows(int64_t r0, int64_t r1, int64_t n_past, int64_t n_keys,
                                    const InfLlmV2Keys& keys) {
  const int64_t group = n_heads_ / n_kv_heads_;
  const int64_t n1 = keys.n1(), n2 = keys.n2();
  const int64_t bs = cfg_.block_size, per = bs / cfg_.kernel_stride;
  const int64_t n_blocks = (n_keys + bs - 1) / bs, local = cfg_.local_blocks();
  const float* s1 = s1_.data<float>();
  const float* s2 = s2_.data<float>();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  auto task = [&](int64_t b, int64_t e, int thread) {
    RowScratch& sc = scratch_[static_cast<size_t>(thread)];
    if (static_cast<int64_t>(sc.entry.size()) < n1) sc.entry.resize(static_cast<size_t>(n1));
    if (static_cast<int64_t>(sc.block.size()) < n_blocks) {
      sc.block.resize(static_cast<size_t>(n_blocks));
      sc.order.resize(static_cast<size_t>(n_blocks));
    }
    float* entry = sc.entry.data();
    float* block = sc.block.data();
    int32_t* order = sc.order.data();
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = r0 + t / n_kv_heads_, g = t % n_kv_heads_;
      const int64_t pos = n_past + r, qblk = pos / bs;
      // Entries seen by the query: those ending at or before its position.
      const int64_t v1 = infllm_v2_windows(pos + 1, cfg_.kernel_size, cfg_.kernel_stride);
      const int64_t v2 = infllm_v2_windows(pos + 1, 4 * cfg_.kernel_size, 4 * cfg_.kernel_stride);
      std::fill(entry, entry + n1, 0.0f);
      for (int64_t h = 0; h < group && v2 > 0; ++h) {
        const int64_t row = (r - r0) * n_heads_ + g * group + h;
        const float* x2 = s2 + row * n2;
        float mx = -kInf;
        for (int64_t j = 0; j < v2; ++j) mx = std::max(mx, x2[j]);
        double sum = 0;
        for (int64_t j = 0; j < v2; ++j) sum += std::exp(x2[j] - mx);
        const float lse = mx + static_cast<float>(std::log(sum));
        const float* x1 = s1 + row * n1;
        for (int64_t j = 0; j < v1; ++j) entry[j] += std::exp(x1[j] - lse);
      }
      // Block scores: forced blocks +inf, others the max over the k1 entries overlapping them.
      for (int64_t blk = 0; blk < n_blocks; ++blk) {
        if (blk < cfg_.init_blocks || (qblk >= blk && qblk <= blk + local)) {
          block[blk] = kInf;
          continue;
        }
        const int64_t lo = std::max<int64_t>(blk * per - 1, 0), hi = std::min(blk * per + per, n1);
        block[blk] = lo < hi ? *std::max_element(entry + lo, entry + hi) : -kInf;
      }
      // The n_kept best (equal scores: the lower block first), in block order, the future dropped.
      for (int64_t i = 0; i < n_blocks; ++i) order[i] = static_cast<int32_t>(i);
      std::partial_sort(order, order + n_kept_, order + n_blocks, [&](int32_t x, int32_t y) {
        return block[x] > block[y] || (block[x] == block[y] && x < y);
      });
      std::sort(order, order + n_kept_);
      int32_t* out = blocks_.data() + (r * n_kv_heads_ + g) * n_kept_;
      int64_t n_out = 0;
      for (int64_t i = 0; i < n_kept_; ++i)
        if (order[i] <= qblk) out[n_out++] = order[i];
      std::fill(out + n_out, out + n_kept_, -1);
    }
  };
  thread_pool_global().parallel_for((r1 - r0) * n_kv_heads_, task);
}

}  // namespace mofa::models
