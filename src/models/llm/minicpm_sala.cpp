// MiniCPM-SALA (model_type "minicpm_sala": openbmb/MiniCPM-SALA,
// moxin-org/MiniCPM4-SALA-9B-8bit-mlx), following the released modeling_minicpm_sala.py. MiniCPM's
// muP decoder (embeddings * scale_emb, residual branches * scale_depth / sqrt(layers), hidden /
// (hidden / dim_model_base) before lm_head) whose layers mix two attentions by config.json
// `mixer_types`:
//  - "minicpm4" (8 of 32 layers): softmax attention with GQA over num_key_value_heads, no RoPE
//    when attn_use_rope is false (HyPE), output gated by sigmoid(o_gate(x)) when
//    attn_use_output_gate. Its K/V go to the cache, so memory grows with the context only here.
//    A forward whose keys reach sparse_config.dense_len (8192 published) attends with InfLLM-v2
//    block sparsity instead (layers/infllm_v2_attention.h): each query sees the keys of
//    topk + window_size / block_size blocks (96 of 64 keys published), chosen with mean-pooled
//    compressed keys that the cache keeps per layer (1/16 + 1/64 of K) and extends as keys
//    arrive, so a decode step reads only those blocks' K/V. The switch is per forward, as the
//    reference's `kv_seq_len < dense_len` test: a prompt run in one forward is sparse throughout
//    once it reaches dense_len, a decode step once its position + 1 does.
//  - "lightning-attn" (the others): Lightning linear attention (layers/lightning_attention.h)
//    over num_attention_heads heads with lightning_nkv K/V heads and head_dim, per-head q/k
//    RMSNorm (qk_norm), RoPE (lightning_use_rope), a fixed recurrent state per head instead of
//    K/V, RMSNorm of the whole output (use_output_norm) and sigmoid(z_proj(x)) gating
//    (use_output_gate).
//
// Where we differ from the reference (transformers + infllmv2_cuda_impl), stated:
//  - a prompt longer than max_batch is run in several forwards, and those ending below
//    dense_len attend densely where the reference's single forward is sparse. Only rows at
//    positions from (topk + window_size / block_size) * block_size (6144 published) to the end
//    of the last dense forward are affected: they see all their keys instead of 96 blocks.
//  - the reference's stage-1 CUDA kernel aligns compressed keys to the end of a prefill, which
//    for a one-forward prefill of a length = 63 (mod 64) hides each query's newest 4x-compressed
//    key from its score normaliser (and for 15 (mod 16) its newest 1x one, which only scores
//    blocks inside the always-kept window); we show a compressed key to every query its window
//    has ended for, as the kernel does at every other length and at every decode step.
//    BENCHMARKS.md measures both differences.
//  - equal block scores keep the lower block (torch.topk leaves ties open), and we compute in
//    f32 where the reference runs bf16.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/error.h"
#include "io/weight_loader.h"
#include "models/layers/infllm_v2_attention.h"
#include "models/layers/lightning_attention.h"
#include "models/layers/rope_scaling.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

bool raw_bool(const io::ModelConfig& cfg, const char* key, bool fallback) {
  if (!cfg.raw.is_object() || !cfg.raw.contains(key) || cfg.raw[key].is_null()) return fallback;
  if (!cfg.raw[key].is_boolean())
    throw InvalidInput("config.json in " + cfg.path + ": '" + key + "' must be true or false");
  return cfg.raw[key].get<bool>();
}

int64_t raw_int(const io::ModelConfig& cfg, const char* key, int64_t fallback) {
  if (!cfg.raw.is_object() || !cfg.raw.contains(key) || cfg.raw[key].is_null()) return fallback;
  if (!cfg.raw[key].is_number_integer() || cfg.raw[key].get<int64_t>() <= 0)
    throw InvalidInput("config.json in " + cfg.path + ": '" + key + "' must be a positive integer");
  return cfg.raw[key].get<int64_t>();
}

void scale_inplace(Tensor& t, float s) {
  float* d = t.data_mut<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) d[i] *= s;
}

// x *= sigmoid(g), elementwise.
void sigmoid_gate(Tensor& x, const Tensor& g) {
  float* xd = x.data_mut<float>();
  const float* gd = g.data<float>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) xd[i] *= 1.0f / (1.0f + std::exp(-gd[i]));
}

// The hybrid cache plus, per minicpm4 layer, the compressed keys of its sparse attention (built
// once a forward runs sparse, then extended as keys arrive).
class SalaKvCache : public KvCache {
 public:
  SalaKvCache(std::vector<bool> has_kv, int64_t n_kv_heads, int64_t head_dim, int64_t max_capacity,
              std::vector<Shape> states, KvCacheTypes types)
      : KvCache(has_kv, n_kv_heads, head_dim, max_capacity, std::move(states), types),
        keys_(has_kv.size()) {}

  InfLlmV2Keys& keys(int64_t layer) { return keys_[static_cast<size_t>(layer)]; }
  // A forward rewrites positions from n_past on, dense or sparse: compressed keys that used them
  // are stale.
  void forget_keys_after(int64_t n_past, const InfLlmV2Config& cfg) {
    for (InfLlmV2Keys& k : keys_) k.forget_after(n_past, cfg);
  }
  size_t bytes() const override {
    size_t out = KvCache::bytes();
    for (const InfLlmV2Keys& k : keys_) out += k.bytes();
    return out;
  }

 private:
  std::vector<InfLlmV2Keys> keys_;
};

class MiniCpmSalaLM : public CausalLM {
 public:
  MiniCpmSalaLM(const io::ModelConfig& cfg, const io::WeightStore& store,
                const ModelOptions& options);

  const io::ModelConfig& config() const override { return cfg_; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_batch() const override { return max_batch_; }
  size_t weight_bytes() const override { return weight_bytes_; }
  size_t decode_bytes() const override { return weight_bytes_ - embed_unread_; }
  std::unique_ptr<KvCache> new_cache(int64_t max_capacity) const override;
  Tensor forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                 bool all_logits) override;

 private:
  struct Layer {
    bool lightning = false;
    Tensor input_norm, post_norm, q_norm, k_norm, o_norm;
    Weight q, k, v, o, out_gate, gate, up, down;  // out_gate: o_gate or z_proj
  };

  Weight linear(const io::WeightStore& store, const std::string& name, int64_t rows, int64_t cols) {
    Weight w = io::load_linear(store, cfg_, name, rows, cols);
    weight_bytes_ += w.bytes();
    return w;
  }
  void sparse_block(Layer& l, int index, const Tensor& h, Tensor& y, int64_t n, int64_t n_past,
                    KvCache& cache);
  void lightning_block(Layer& l, int index, const Tensor& h, Tensor& y, int64_t n, KvCache& cache);

  io::ModelConfig cfg_;
  ops::MatmulMode mode_;
  KvCacheTypes kv_types_;
  int64_t max_batch_;
  int64_t hidden_, heads_, kv_heads_, lt_kv_heads_, head_dim_, inter_;
  float eps_, residual_scale_, logit_scale_, lt_scale_;
  bool attn_rope_, attn_gate_, lt_rope_, lt_qk_norm_, lt_out_norm_, lt_out_gate_;
  ops::Rope rope_;
  std::unique_ptr<InfLlmV2Attention> sparse_;  // null without a sparse_config
  std::vector<float> decay_;
  Weight embed_, head_;
  Tensor final_norm_;
  std::vector<Layer> layers_;
  size_t weight_bytes_ = 0, embed_unread_ = 0;
  Arena arena_;
  Tensor all_logits_;
  std::vector<int32_t> positions_;
};

MiniCpmSalaLM::MiniCpmSalaLM(const io::ModelConfig& cfg, const io::WeightStore& store,
                             const ModelOptions& options)
    : cfg_(cfg),
      mode_(options.mode),
      kv_types_(options.kv_types),
      max_batch_(options.max_batch),
      hidden_(cfg.hidden_size),
      heads_(cfg.num_attention_heads),
      kv_heads_(cfg.num_key_value_heads),
      head_dim_(cfg.head_dim),
      inter_(cfg.intermediate_size),
      eps_(static_cast<float>(cfg.rms_norm_eps)) {
  const std::string where = "config.json in " + cfg.path + ": ";
  const auto act = cfg.raw.find("hidden_act");
  if (act != cfg.raw.end() && !act->is_null() && *act != "silu")
    throw Unsupported(where + "hidden_act " + act->dump() +
                      " is not supported for minicpm_sala (silu only)");
  if (cfg.attention_bias)
    throw Unsupported(where + "attention_bias=true is not supported for minicpm_sala");
  // Both attentions use head_dim: the minicpm4 layers derive it as hidden / heads.
  if (heads_ * head_dim_ != hidden_)
    throw InvalidInput(where + "minicpm_sala needs num_attention_heads * head_dim == hidden_size");
  lt_kv_heads_ = raw_int(cfg, "lightning_nkv", kv_heads_);
  if (heads_ % lt_kv_heads_ != 0)
    throw InvalidInput(where + "lightning_nkv must divide num_attention_heads");
  attn_rope_ = raw_bool(cfg, "attn_use_rope", true);
  attn_gate_ = raw_bool(cfg, "attn_use_output_gate", false);
  lt_rope_ = raw_bool(cfg, "lightning_use_rope", true);
  lt_qk_norm_ = raw_bool(cfg, "qk_norm", true);
  lt_out_norm_ = raw_bool(cfg, "use_output_norm", false);
  lt_out_gate_ = raw_bool(cfg, "use_output_gate", false);
  std::string scale_kind = "1/sqrt(d)";
  if (auto it = cfg.raw.find("lightning_scale"); it != cfg.raw.end() && !it->is_null()) {
    if (!it->is_string()) throw InvalidInput(where + "'lightning_scale' must be a string");
    scale_kind = it->get<std::string>();
  }
  const double hd = static_cast<double>(head_dim_);
  lt_scale_ = static_cast<float>(scale_kind == "1/sqrt(d)" ? 1.0 / std::sqrt(hd)
                                 : scale_kind == "1/d"     ? 1.0 / hd
                                                           : 1.0);
  residual_scale_ =
      static_cast<float>(cfg.scale_depth / std::sqrt(static_cast<double>(cfg.num_hidden_layers)));
  logit_scale_ = static_cast<float>(static_cast<double>(cfg.dim_model_base) / cfg.hidden_size);
  rope_ = rope_from_config(cfg);
  for (double s : alibi_slopes(heads_)) decay_.push_back(static_cast<float>(-s));
  if (auto sc = cfg.raw.find("sparse_config"); sc != cfg.raw.end() && !sc->is_null()) {
    const InfLlmV2Config sparse = infllm_v2_config(*sc, where);
    // Scoring with pre-RoPE keys would need a second key cache; the published model has no RoPE
    // on these layers, where use_nope changes nothing.
    if (sparse.use_nope && attn_rope_)
      throw Unsupported(where + "sparse_config.use_nope with attn_use_rope=true is not supported");
    sparse_ = std::make_unique<InfLlmV2Attention>(sparse, heads_, kv_heads_, head_dim_);
  }

  const auto mt = cfg.raw.find("mixer_types");
  if (mt == cfg.raw.end() || !mt->is_array() ||
      static_cast<int64_t>(mt->size()) != cfg.num_hidden_layers)
    throw InvalidInput(where + "'mixer_types' must list one mixer per layer (" +
                       std::to_string(cfg.num_hidden_layers) + ")");

  std::vector<bool> lightning;
  for (size_t i = 0; i < mt->size(); ++i) {
    const auto& type = (*mt)[i];
    if (!type.is_string())
      throw InvalidInput(where + "mixer_types[" + std::to_string(i) + "] must be a string");
    const std::string t = type.get<std::string>();
    const bool lt = t == "lightning" || t == "lightning_attn" || t == "lightning-attn";
    if (!lt && t != "minicpm4")
      throw Unsupported(where + "mixer_types[" + std::to_string(i) + "] '" + t +
                        "' is not supported (minicpm4, lightning-attn)");
    lightning.push_back(lt);
  }

  embed_ = linear(store, "model.embed_tokens", cfg.vocab_size, hidden_);
  if (cfg.tie_word_embeddings || !store.has("lm_head.weight")) {
    if (!cfg.tie_word_embeddings)
      throw InvalidInput(where + "tie_word_embeddings=false but lm_head.weight is missing");
    head_ = embed_;
  } else {
    head_ = linear(store, "lm_head", cfg.vocab_size, hidden_);
    embed_unread_ = embedding_unread_bytes(embed_);
  }
  final_norm_ = io::load_vector(store, "model.norm.weight", hidden_);

  const int64_t q_dim = heads_ * head_dim_;
  layers_.resize(cfg.num_hidden_layers);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    Layer& l = layers_[i];
    l.lightning = lightning[static_cast<size_t>(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const std::string a = p + "self_attn.";
    l.input_norm = io::load_vector(store, p + "input_layernorm.weight", hidden_);
    l.post_norm = io::load_vector(store, p + "post_attention_layernorm.weight", hidden_);
    const int64_t kv_dim = (l.lightning ? lt_kv_heads_ : kv_heads_) * head_dim_;
    l.q = linear(store, a + "q_proj", q_dim, hidden_);
    l.k = linear(store, a + "k_proj", kv_dim, hidden_);
    l.v = linear(store, a + "v_proj", kv_dim, hidden_);
    l.o = linear(store, a + "o_proj", hidden_, q_dim);
    if (l.lightning) {
      if (lt_qk_norm_) {
        l.q_norm = io::load_vector(store, a + "q_norm.weight", head_dim_);
        l.k_norm = io::load_vector(store, a + "k_norm.weight", head_dim_);
      }
      if (lt_out_norm_) l.o_norm = io::load_vector(store, a + "o_norm.weight", q_dim);
      if (lt_out_gate_) l.out_gate = linear(store, a + "z_proj", q_dim, hidden_);
    } else if (attn_gate_) {
      l.out_gate = linear(store, a + "o_gate", q_dim, hidden_);
    }
    l.gate = linear(store, p + "mlp.gate_proj", inter_, hidden_);
    l.up = linear(store, p + "mlp.up_proj", inter_, hidden_);
    l.down = linear(store, p + "mlp.down_proj", hidden_, inter_);
  }

  // One forward's activations: x, h, y, q, k, v, attn, gate output, MLP gate and up, the last
  // row and its logits; 64 bytes of alignment slack per tensor.
  const int64_t B = max_batch_, kv_max = std::max(kv_heads_, lt_kv_heads_) * head_dim_;
  const int64_t floats =
      B * (3 * hidden_ + 3 * q_dim + 2 * kv_max + 2 * inter_) + cfg.vocab_size + hidden_;
  arena_ = Arena(static_cast<size_t>(floats) * sizeof(float) + 16 * 64);
  positions_.resize(B);
}

std::unique_ptr<KvCache> MiniCpmSalaLM::new_cache(int64_t max_capacity) const {
  std::vector<bool> has_kv;
  std::vector<Shape> states;
  for (const Layer& l : layers_) {
    has_kv.push_back(!l.lightning);
    states.push_back(l.lightning ? Shape{heads_, head_dim_, head_dim_} : Shape{});
  }
  return std::make_unique<SalaKvCache>(std::move(has_kv), kv_heads_, head_dim_, max_capacity,
                                       std::move(states), kv_types_);
}

void MiniCpmSalaLM::sparse_block(Layer& l, int index, const Tensor& h, Tensor& y, int64_t n,
                                 int64_t n_past, KvCache& cache) {
  const int64_t q_dim = heads_ * head_dim_, kv_dim = kv_heads_ * head_dim_;
  Tensor q = arena_.alloc(DType::f32, {n, q_dim});
  Tensor k = arena_.alloc(DType::f32, {n, kv_dim});
  Tensor v = arena_.alloc(DType::f32, {n, kv_dim});
  ops::linear(h, l.q, q, mode_);
  ops::linear(h, l.k, k, mode_);
  ops::linear(h, l.v, v, mode_);
  Tensor q3 = q.reshape({n, heads_, head_dim_});
  if (attn_rope_) {
    Tensor k3 = k.reshape({n, kv_heads_, head_dim_});
    ops::rope_apply(q3, positions_.data(), rope_);
    ops::rope_apply(k3, positions_.data(), rope_);
  }
  cache.append(index, k, v, n_past, n);
  Tensor& kc = cache.k(index);
  Tensor& vc = cache.v(index);
  Tensor attn = arena_.alloc(DType::f32, {n, heads_, head_dim_});
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  if (sparse_ && sparse_->sparse_at(n_past + n)) {
    auto* sala = dynamic_cast<SalaKvCache*>(&cache);
    if (sala == nullptr)
      throw InvalidInput(
          "minicpm_sala: sparse attention needs a cache from the model's new_cache()");
    // forward() dropped the compressed keys that used positions from n_past on.
    sparse_->forward(q3, kc, vc, n_past, n_past, scale, sala->keys(index), attn);
  } else {
    ops::attention(q3, kc, vc, n_past, scale, 0, attn);
  }
  Tensor attn2 = attn.reshape({n, q_dim});
  tap(attn2, "attn", index);
  if (attn_gate_) {
    ops::linear(h, l.out_gate, q, mode_);
    sigmoid_gate(attn2, q);
  }
  ops::linear(attn2, l.o, y, mode_);
}

void MiniCpmSalaLM::lightning_block(Layer& l, int index, const Tensor& h, Tensor& y, int64_t n,
                                    KvCache& cache) {
  const int64_t q_dim = heads_ * head_dim_, kv_dim = lt_kv_heads_ * head_dim_;
  Tensor q = arena_.alloc(DType::f32, {n, q_dim});
  Tensor k = arena_.alloc(DType::f32, {n, kv_dim});
  Tensor v = arena_.alloc(DType::f32, {n, kv_dim});
  ops::linear(h, l.q, q, mode_);
  ops::linear(h, l.k, k, mode_);
  ops::linear(h, l.v, v, mode_);
  if (lt_qk_norm_) {
    Tensor qh = q.reshape({n * heads_, head_dim_});
    Tensor kh = k.reshape({n * lt_kv_heads_, head_dim_});
    ops::rms_norm(qh, l.q_norm, eps_, qh);
    ops::rms_norm(kh, l.k_norm, eps_, kh);
  }
  Tensor q3 = q.reshape({n, heads_, head_dim_});
  Tensor k3 = k.reshape({n, lt_kv_heads_, head_dim_});
  Tensor v3 = v.reshape({n, lt_kv_heads_, head_dim_});
  if (lt_rope_) {
    ops::rope_apply(q3, positions_.data(), rope_);
    ops::rope_apply(k3, positions_.data(), rope_);
  }
  Tensor o = arena_.alloc(DType::f32, {n, heads_, head_dim_});
  lightning_attention(q3, k3, v3, decay_, lt_scale_, cache.state(index), o);
  Tensor o2 = o.reshape({n, q_dim});
  tap(o2, "attn", index);
  if (lt_out_norm_) ops::rms_norm(o2, l.o_norm, eps_, o2);
  if (lt_out_gate_) {
    ops::linear(h, l.out_gate, q, mode_);
    sigmoid_gate(o2, q);
  }
  ops::linear(o2, l.o, y, mode_);
}

Tensor MiniCpmSalaLM::forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                              bool all_logits) {
  check_internal(n >= 1 && n <= max_batch_, "minicpm_sala", [&] {
    return "forward of " + std::to_string(n) + " rows, max " + std::to_string(max_batch_);
  });
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= cfg_.vocab_size)
      throw InvalidInput("token id " + std::to_string(ids[i]) + " is outside the vocabulary (0.." +
                         std::to_string(cfg_.vocab_size - 1) + ")");
    positions_[i] = static_cast<int32_t>(n_past + i);
  }
  cache.begin_forward(n_past, n);
  cache.reserve(n_past + n, n_past);
  if (auto* sala = dynamic_cast<SalaKvCache*>(&cache); sala && sparse_)
    sala->forget_keys_after(n_past, sparse_->config());
  arena_.reset();

  Tensor x = arena_.alloc(DType::f32, {n, hidden_});
  ops::embedding(embed_, ids, n, x);
  scale_inplace(x, static_cast<float>(cfg_.scale_emb));
  tap(x, "embed", -1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    const int index = static_cast<int>(i);
    const size_t mark = arena_.used();
    Tensor h = arena_.alloc(DType::f32, {n, hidden_});
    Tensor y = arena_.alloc(DType::f32, {n, hidden_});
    ops::rms_norm(x, l.input_norm, eps_, h);
    if (l.lightning) {
      lightning_block(l, index, h, y, n, cache);
    } else {
      sparse_block(l, index, h, y, n, n_past, cache);
    }
    scale_inplace(y, residual_scale_);
    ops::add(x, y, x);
    tap(x, "attn_residual", index);

    ops::rms_norm(x, l.post_norm, eps_, h);
    Tensor gate = arena_.alloc(DType::f32, {n, inter_});
    Tensor up = arena_.alloc(DType::f32, {n, inter_});
    ops::linear(h, l.gate, gate, mode_);
    ops::linear(h, l.up, up, mode_);
    ops::silu_mul(gate, up, gate);
    ops::linear(gate, l.down, y, mode_);
    scale_inplace(y, residual_scale_);
    ops::add(x, y, x);
    tap(x, "layer_out", index);
    arena_.rewind(mark);
  }
  cache.end_forward(n_past + n);

  if (!all_logits) {
    Tensor last = arena_.alloc(DType::f32, {1, hidden_});
    ops::rms_norm(x.slice(0, n - 1, n), final_norm_, eps_, last);
    scale_inplace(last, logit_scale_);
    Tensor logits = arena_.alloc(DType::f32, {1, cfg_.vocab_size});
    ops::linear(last, head_, logits, mode_);
    return logits;
  }
  ops::rms_norm(x, final_norm_, eps_, x);
  scale_inplace(x, logit_scale_);
  if (!all_logits_.defined() || all_logits_.dim(0) < n)
    all_logits_ = Tensor::zeros(DType::f32, {max_batch_, cfg_.vocab_size});
  Tensor logits = all_logits_.slice(0, 0, n);
  ops::linear(x, head_, logits, mode_);
  return logits;
}

}  // namespace

std::unique_ptr<CausalLM> minicpm_sala_create(const io::ModelConfig& cfg,
                                              const io::WeightStore& store,
                                              const ModelOptions& options) {
  return std::make_unique<MiniCpmSalaLM>(cfg, store, options);
}

}  // namespace mofa::models
