#include "models/layers/moe.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <span>

#include "core/error.h"
#include "io/weight_loader.h"

namespace mofa::models {
namespace {

std::string dims3(int64_t e, int64_t r, int64_t c) {
  return "[" + std::to_string(e) + ", " + std::to_string(r) + ", " + std::to_string(c) + "]";
}

// mlx-lm's stacked expert projection `prefix` (weight [E, rows, cols] float, or u32
// [E, rows, cols*bits/32] with scales/biases [E, rows, cols/group_size]) as one 2-D view per
// expert into the mapped checkpoint.
std::vector<Weight> load_stacked(const io::WeightStore& store, const io::ModelConfig& cfg,
                                 const std::string& prefix, int64_t n_experts, int64_t rows,
                                 int64_t cols) {
  const std::string wname = prefix + ".weight", sname = prefix + ".scales",
                    bname = prefix + ".biases";
  if (!store.has(wname))
    throw InvalidInput("[weights] " + store.dir() + ": missing tensor '" + wname +
                       "' (stacked experts " + dims3(n_experts, rows, cols) + ")");
  Tensor w = store.get(wname);
  const std::string where = "tensor '" + wname + "' in " +
                            std::filesystem::path(store.file_of(wname)).filename().string();
  std::vector<Weight> out;
  out.reserve(n_experts);
  if (!store.has(sname)) {
    if (!dtype_is_float(w.dtype()) || w.shape() != Shape{n_experts, rows, cols})
      throw InvalidInput("[weights] " + where + " has " + std::string(dtype_name(w.dtype())) +
                         " shape " + shape_str(w.shape()) + " but config.json implies float " +
                         dims3(n_experts, rows, cols));
    for (int64_t e = 0; e < n_experts; ++e)
      out.push_back(weight_dense(w.slice(0, e, e + 1).reshape({rows, cols}),
                                 wname + "[" + std::to_string(e) + "]"));
    return out;
  }
  const QuantSpec q = cfg.quant_for(prefix);
  if (q.bits == 0)
    throw InvalidInput("[weights] " + sname + " marks " + prefix + " as quantized, but " +
                       cfg.path + " gives it no quantization");
  if (!store.has(bname))
    throw InvalidInput("[weights] " + store.dir() + ": missing tensor '" + bname +
                       "' (MLX affine quantization needs biases beside " + sname + ")");
  if (cols % q.group_size != 0 || (cols * q.bits) % 32 != 0)
    throw InvalidInput("[weights] " + prefix + ": " + std::to_string(cols) +
                       " columns do not split into groups of " + std::to_string(q.group_size) +
                       " and 32-bit words at bits=" + std::to_string(q.bits));
  Tensor s = store.get(sname), b = store.get(bname);
  const int64_t words = cols * q.bits / 32, groups = cols / q.group_size;
  if (w.dtype() != DType::u32 || w.shape() != Shape{n_experts, rows, words})
    throw InvalidInput("[weights] " + where + " has " + std::string(dtype_name(w.dtype())) +
                       " shape " + shape_str(w.shape()) + " but config.json implies u32 " +
                       dims3(n_experts, rows, words) + " at bits=" + std::to_string(q.bits));
  for (const auto& [name, t] : {std::pair{sname, &s}, std::pair{bname, &b}}) {
    if (!dtype_is_float(t->dtype()) || t->shape() != Shape{n_experts, rows, groups})
      throw InvalidInput("[weights] tensor '" + name + "' has " +
                         std::string(dtype_name(t->dtype())) + " shape " + shape_str(t->shape()) +
                         " but config.json implies float " + dims3(n_experts, rows, groups) +
                         " at group_size=" + std::to_string(q.group_size));
  }
  for (int64_t e = 0; e < n_experts; ++e)
    out.push_back(weight_quantized(
        w.slice(0, e, e + 1).reshape({rows, words}), s.slice(0, e, e + 1).reshape({rows, groups}),
        b.slice(0, e, e + 1).reshape({rows, groups}), q, wname + "[" + std::to_string(e) + "]"));
  return out;
}

}  // namespace

MoeMlp::MoeMlp(const io::WeightStore& store, const io::ModelConfig& cfg, const std::string& p,
               const MoeSpec& spec, int64_t hidden)
    : spec_(spec), hidden_(hidden) {
  if (spec.n_experts <= 0 || spec.top_k <= 0 || spec.top_k > spec.n_experts ||
      spec.intermediate <= 0)
    throw InvalidInput("config.json in " + cfg.path + ": mixture of experts with " +
                       std::to_string(spec.n_experts) + " experts, " + std::to_string(spec.top_k) +
                       " per token and expert size " + std::to_string(spec.intermediate) +
                       " is inconsistent");
  const std::string block = p + spec.block + ".";
  const int64_t E = spec.n_experts, I = spec.intermediate;
  router_ = io::load_linear(store, cfg, block + "gate", E, hidden);
  if (store.has(block + "experts.0." + spec.hf_gate + ".weight")) {
    for (int64_t e = 0; e < E; ++e) {
      const std::string x = block + "experts." + std::to_string(e) + ".";
      gate_.push_back(io::load_linear(store, cfg, x + spec.hf_gate, I, hidden));
      up_.push_back(io::load_linear(store, cfg, x + spec.hf_up, I, hidden));
      down_.push_back(io::load_linear(store, cfg, x + spec.hf_down, hidden, I));
    }
  } else {
    gate_ = load_stacked(store, cfg, block + "switch_mlp.gate_proj", E, I, hidden);
    up_ = load_stacked(store, cfg, block + "switch_mlp.up_proj", E, I, hidden);
    down_ = load_stacked(store, cfg, block + "switch_mlp.down_proj", E, hidden, I);
  }
  expert_count_.resize(E);
  expert_start_.resize(E + 1);
}

int64_t MoeMlp::scratch_floats(const MoeSpec& spec, int64_t hidden, int64_t n) {
  // router probabilities, gathered rows, gate, up, expert output; plus alignment slack. One
  // token (decode_one) keeps every chosen expert's gate and up at once.
  const int64_t batched = n * (spec.n_experts + 2 * hidden + 2 * spec.intermediate);
  const int64_t one = spec.n_experts + 2 * spec.top_k * spec.intermediate + hidden;
  return std::max(batched, one) + 5 * 16;
}

size_t MoeMlp::weight_bytes() const {
  size_t total = router_.bytes();
  for (const auto* list : {&gate_, &up_, &down_})
    for (const Weight& w : *list) total += w.bytes();
  return total;
}

size_t MoeMlp::decode_bytes() const {
  const size_t experts = weight_bytes() - router_.bytes();
  return router_.bytes() +
         experts / static_cast<size_t>(spec_.n_experts) * static_cast<size_t>(spec_.top_k);
}

// One token (decode): the chosen experts' gate and up projections all read the same row, so they
// run as one linear_shared (x prepared once, one parallel region instead of 2·top_k); the down
// projections follow per expert. Experts are visited in index order, as the batched path does,
// so both sum the outputs in the same order.
void MoeMlp::decode_one(const Tensor& h, float* o, Arena& arena, ops::MatmulMode mode) {
  const int64_t K = spec_.top_k, I = spec_.intermediate;
  int32_t order[kMaxDecodeTopK];  // the picks sorted by expert
  for (int64_t k = 0; k < K; ++k) order[k] = static_cast<int32_t>(k);
  std::sort(order, order + K, [&](int32_t a, int32_t b) { return pick_[a] < pick_[b]; });
  Tensor gs = arena.alloc(DType::f32, {K, I});
  Tensor us = arena.alloc(DType::f32, {K, I});
  Tensor y = arena.alloc(DType::f32, {1, hidden_});
  std::array<Tensor, kMaxDecodeTopK> g, u;
  std::array<ops::LinearTarget, 2 * kMaxDecodeTopK> targets;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t e = pick_[order[k]];
    g[k] = gs.slice(0, k, k + 1);
    u[k] = us.slice(0, k, k + 1);
    targets[2 * k] = {&gate_[e], &g[k]};
    targets[2 * k + 1] = {&up_[e], &u[k]};
  }
  ops::linear_shared(h, std::span<const ops::LinearTarget>(targets.data(), 2 * K), mode);
  for (int64_t k = 0; k < K; ++k) {
    const int32_t e = pick_[order[k]];
    ops::silu_mul(g[k], u[k], g[k]);
    ops::linear(g[k], down_[e], y, mode);
    const float w = pick_w_[order[k]];
    const float* yd = y.data<float>();
    for (int64_t j = 0; j < hidden_; ++j) o[j] += w * yd[j];
  }
}

void MoeMlp::forward(const Tensor& h, Tensor& out, Arena& arena, ops::MatmulMode mode) {
  const int64_t n = h.dim(0), E = spec_.n_experts, K = spec_.top_k, I = spec_.intermediate;
  Tensor probs = arena.alloc(DType::f32, {n, E});
  // The router always runs exact: it is E x hidden (negligible work), and int8 activations would
  // move its logits by more than the gaps between experts, changing which experts run.
  ops::linear(h, router_, probs, ops::MatmulMode::exact);
  ops::softmax(probs);  // over all experts, in f32, before choosing (as transformers does)

  if (static_cast<int64_t>(pick_.size()) < n * K) {
    pick_.resize(n * K);
    pick_w_.resize(n * K);
    expert_rows_.resize(n * K);
    row_weight_.resize(n * K);
  }
  std::fill(expert_count_.begin(), expert_count_.end(), 0);
  const float* pr = probs.data<float>();
  for (int64_t t = 0; t < n; ++t) {
    const float* row = pr + t * E;
    int32_t* pick = pick_.data() + t * K;
    float* pw = pick_w_.data() + t * K;
    float sum = 0;
    // K rounds of argmax over the unchosen experts (K <= 8 in every published config); on equal
    // probabilities the lower index wins.
    for (int64_t k = 0; k < K; ++k) {
      int32_t best = -1;
      for (int32_t e = 0; e < E; ++e) {
        if (std::find(pick, pick + k, e) != pick + k) continue;
        if (best < 0 || row[e] > row[best]) best = e;
      }
      pick[k] = best;
      pw[k] = row[best];
      sum += row[best];
      ++expert_count_[best];
    }
    if (spec_.norm_topk_prob)
      for (int64_t k = 0; k < K; ++k) pw[k] /= sum;
  }
  if (n == 1 && K <= kMaxDecodeTopK) {
    float* o = out.data_mut<float>();
    std::memset(o, 0, static_cast<size_t>(hidden_) * sizeof(float));
    return decode_one(h, o, arena, mode);
  }
  // Group the (token, weight) pairs by expert so each expert's rows run as one matmul.
  expert_start_[0] = 0;
  for (int64_t e = 0; e < E; ++e) expert_start_[e + 1] = expert_start_[e] + expert_count_[e];
  std::fill(expert_count_.begin(), expert_count_.end(), 0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < K; ++k) {
      const int32_t e = pick_[t * K + k];
      const int32_t slot = expert_start_[e] + expert_count_[e]++;
      expert_rows_[slot] = static_cast<int32_t>(t);
      row_weight_[slot] = pick_w_[t * K + k];
    }

  float* o = out.data_mut<float>();
  std::memset(o, 0, static_cast<size_t>(n * hidden_) * sizeof(float));
  Tensor xs = arena.alloc(DType::f32, {n, hidden_});
  Tensor gs = arena.alloc(DType::f32, {n, I});
  Tensor us = arena.alloc(DType::f32, {n, I});
  Tensor ys = arena.alloc(DType::f32, {n, hidden_});
  const float* hd = h.data<float>();
  for (int64_t e = 0; e < E; ++e) {
    const int64_t begin = expert_start_[e], cnt = expert_start_[e + 1] - begin;
    if (cnt == 0) continue;
    Tensor x = xs.slice(0, 0, cnt);
    float* xd = x.data_mut<float>();
    for (int64_t i = 0; i < cnt; ++i)
      std::memcpy(xd + i * hidden_, hd + expert_rows_[begin + i] * hidden_,
                  static_cast<size_t>(hidden_) * sizeof(float));
    Tensor g = gs.slice(0, 0, cnt), u = us.slice(0, 0, cnt), y = ys.slice(0, 0, cnt);
    ops::linear(x, gate_[e], g, mode);
    ops::linear(x, up_[e], u, mode);
    ops::silu_mul(g, u, g);
    ops::linear(g, down_[e], y, mode);
    const float* yd = y.data<float>();
    for (int64_t i = 0; i < cnt; ++i) {
      float* dst = o + expert_rows_[begin + i] * hidden_;
      const float w = row_weight_[begin + i];
      for (int64_t j = 0; j < hidden_; ++j) dst[j] += w * yd[i * hidden_ + j];
    }
  }
}

}  // namespace mofa::models
