#include "models/layers/decoder.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io/weight_loader.h"
#include "models/layers/rope_scaling.h"

namespace mofa::models {
namespace {

// Rows [begin, end) of a fused projection as a weight of its own (a view: no copy; rows of an
// MLX-quantized matrix are independent since groups run along the columns).
Weight weight_rows(const Weight& w, int64_t begin, int64_t end, const std::string& name) {
  if (!w.quantized()) return weight_dense(w.w.slice(0, begin, end), name);
  return weight_quantized(w.w.slice(0, begin, end), w.scales.slice(0, begin, end),
                          w.biases.slice(0, begin, end), w.quant, name);
}

// t *= s elementwise (MiniCPM's muP scales); a no-op for s == 1.
void scale_inplace(Tensor& t, float s) {
  if (s == 1.0f) return;
  float* d = t.data_mut<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) d[i] *= s;
}

}  // namespace

DecoderLM::DecoderLM(const io::ModelConfig& cfg, const io::WeightStore& store,
                     const DecoderSpec& spec, const ModelOptions& options)
    : cfg_(cfg),
      spec_(spec),
      mode_(options.mode),
      kv_types_(options.kv_types),
      max_batch_(options.max_batch),
      hidden_(cfg.hidden_size),
      n_heads_(cfg.num_attention_heads),
      n_kv_heads_(cfg.num_key_value_heads),
      head_dim_(cfg.head_dim),
      intermediate_(cfg.intermediate_size),
      eps_(static_cast<float>(cfg.rms_norm_eps)),
      rope_(rope_from_config(cfg, spec.rope_interleaved)) {
  const int64_t q_dim = n_heads_ * head_dim_, kv_dim = n_kv_heads_ * head_dim_;
  const DecoderNames& nm = spec.names;
  embed_ = io::load_linear(store, cfg, nm.embed, cfg.vocab_size, hidden_);
  if (cfg.tie_word_embeddings || !store.has(nm.head + ".weight")) {
    if (!cfg.tie_word_embeddings)
      throw InvalidInput("config.json in " + cfg.path + " says tie_word_embeddings=false but " +
                         nm.head + ".weight is missing");
    head_ = embed_;
  } else {
    head_ = io::load_linear(store, cfg, nm.head, cfg.vocab_size, hidden_);
    weight_bytes_ += head_.bytes();
    // Untied, the embedding gives a decode step one row; tied, it is read whole as the head.
    unread_bytes_ += embedding_unread_bytes(embed_);
  }
  weight_bytes_ += embed_.bytes();
  final_norm_ = io::load_vector(store, nm.final_norm, hidden_);

  layers_.resize(cfg.num_hidden_layers);
  bool any_moe = false;
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    Layer& l = layers_[i];
    const std::string p = nm.layer_prefix + std::to_string(i) + ".";
    l.input_norm = io::load_vector(store, p + nm.attn_norm, hidden_);
    l.post_norm = io::load_vector(store, p + nm.mlp_norm, hidden_);
    if (nm.fused_qkv.empty()) {
      l.q = io::load_linear(store, cfg, p + "self_attn.q_proj", q_dim, hidden_);
      l.k = io::load_linear(store, cfg, p + "self_attn.k_proj", kv_dim, hidden_);
      l.v = io::load_linear(store, cfg, p + "self_attn.v_proj", kv_dim, hidden_);
    } else {
      const std::string f = p + nm.fused_qkv;
      Weight qkv = io::load_linear(store, cfg, f, q_dim + 2 * kv_dim, hidden_);
      l.q = weight_rows(qkv, 0, q_dim, f + ".weight[q]");
      l.k = weight_rows(qkv, q_dim, q_dim + kv_dim, f + ".weight[k]");
      l.v = weight_rows(qkv, q_dim + kv_dim, q_dim + 2 * kv_dim, f + ".weight[v]");
      if (spec.qkv_bias) {
        Tensor b = io::load_vector(store, f + ".bias", q_dim + 2 * kv_dim);
        l.q_bias = b.slice(0, 0, q_dim);
        l.k_bias = b.slice(0, q_dim, q_dim + kv_dim);
        l.v_bias = b.slice(0, q_dim + kv_dim, q_dim + 2 * kv_dim);
      }
    }
    l.o = io::load_linear(store, cfg, p + nm.o_proj, hidden_, q_dim);
    if (spec.sandwich_norms) {
      l.attn_out_norm = io::load_vector(store, p + "post_self_attn_layernorm.weight", hidden_);
      l.mlp_out_norm = io::load_vector(store, p + "post_mlp_layernorm.weight", hidden_);
    }
    if (i < static_cast<int64_t>(spec.layer_moe.size()) && spec.layer_moe[i]) {
      l.moe = std::make_unique<MoeMlp>(store, cfg, p, spec.moe, hidden_);
      weight_bytes_ += l.moe->weight_bytes();
      unread_bytes_ += l.moe->weight_bytes() - l.moe->decode_bytes();
      any_moe = true;
    } else if (nm.fused_gate_up.empty()) {
      l.gate = io::load_linear(store, cfg, p + "mlp.gate_proj", intermediate_, hidden_);
      l.up = io::load_linear(store, cfg, p + "mlp.up_proj", intermediate_, hidden_);
      l.down = io::load_linear(store, cfg, p + nm.down_proj, hidden_, intermediate_);
    } else {
      const std::string f = p + nm.fused_gate_up;
      Weight gu = io::load_linear(store, cfg, f, 2 * intermediate_, hidden_);
      l.gate = weight_rows(gu, 0, intermediate_, f + ".weight[gate]");
      l.up = weight_rows(gu, intermediate_, 2 * intermediate_, f + ".weight[up]");
      l.down = io::load_linear(store, cfg, p + nm.down_proj, hidden_, intermediate_);
    }
    if (spec.qkv_bias && nm.fused_qkv.empty()) {
      l.q_bias = io::load_vector(store, p + "self_attn.q_proj.bias", q_dim);
      l.k_bias = io::load_vector(store, p + "self_attn.k_proj.bias", kv_dim);
      l.v_bias = io::load_vector(store, p + "self_attn.v_proj.bias", kv_dim);
    }
    if (spec.qk_norm) {
      l.q_norm = io::load_vector(store, p + "self_attn.q_norm.weight", head_dim_);
      l.k_norm = io::load_vector(store, p + "self_attn.k_norm.weight", head_dim_);
    }
    l.window = i < static_cast<int64_t>(spec.layer_window.size()) ? spec.layer_window[i] : 0;
    for (const Weight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      if (w->w.defined()) weight_bytes_ += w->bytes();
  }

  // Activations of one forward call with max_batch rows: x, h, q, k, v, attn, gate, up, plus the
  // last-row logits; 64 bytes of alignment slack per tensor.
  const int64_t B = max_batch_;
  const int64_t floats = B * (2 * hidden_ + 2 * q_dim + 2 * kv_dim + 2 * intermediate_) +
                         cfg.vocab_size + hidden_ +
                         (any_moe ? B * hidden_ + MoeMlp::scratch_floats(spec.moe, hidden_, B) : 0);
  arena_ = Arena(static_cast<size_t>(floats) * sizeof(float) + 16 * 64);
  positions_.resize(B);
}

std::unique_ptr<KvCache> DecoderLM::new_cache(int64_t max_capacity) const {
  return std::make_unique<KvCache>(cfg_.num_hidden_layers, n_kv_heads_, head_dim_, max_capacity,
                                   kv_types_);
}

void DecoderLM::attention_block(Layer& l, int index, Tensor& x, const int32_t* positions, int64_t n,
                                int64_t n_past, KvCache& cache) {
  const int64_t q_dim = n_heads_ * head_dim_, kv_dim = n_kv_heads_ * head_dim_;
  Tensor h = arena_.alloc(DType::f32, {n, hidden_});
  ops::rms_norm(x, l.input_norm, eps_, h);
  tap(h, "attn_norm", index);

  Tensor q = arena_.alloc(DType::f32, {n, q_dim});
  Tensor k = arena_.alloc(DType::f32, {n, kv_dim});
  Tensor v = arena_.alloc(DType::f32, {n, kv_dim});
  const ops::LinearTarget qkv[] = {
      {&l.q, &q, &l.q_bias}, {&l.k, &k, &l.k_bias}, {&l.v, &v, &l.v_bias}};
  ops::linear_shared(h, qkv, mode_);
  if (spec_.qk_norm) {
    Tensor qh = q.reshape({n * n_heads_, head_dim_});
    Tensor kh = k.reshape({n * n_kv_heads_, head_dim_});
    ops::rms_norm(qh, l.q_norm, eps_, qh);
    ops::rms_norm(kh, l.k_norm, eps_, kh);
  }
  Tensor q3 = q.reshape({n, n_heads_, head_dim_});
  Tensor k3 = k.reshape({n, n_kv_heads_, head_dim_});
  ops::rope_apply(q3, positions, rope_);
  ops::rope_apply(k3, positions, rope_);
  tap(q, "q", index);
  tap(k, "k", index);

  // Append the new keys/values at positions [n_past, n_past + n) of each head's cache row block.
  cache.append(index, k, v, n_past, n);
  Tensor& kc = cache.k(index);
  Tensor& vc = cache.v(index);

  Tensor attn = arena_.alloc(DType::f32, {n, n_heads_, head_dim_});
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  ops::attention(q3, kc, vc, n_past, scale, l.window, attn);
  Tensor attn2 = attn.reshape({n, q_dim});
  tap(attn2, "attn", index);
  ops::linear(attn2, l.o, h, mode_);
  if (spec_.sandwich_norms) ops::rms_norm(h, l.attn_out_norm, eps_, h);
  scale_inplace(h, spec_.residual_scale);
  ops::add(x, h, x);
  tap(x, "attn_residual", index);
}

void DecoderLM::mlp_block(Layer& l, int index, Tensor& x, int64_t n) {
  Tensor h = arena_.alloc(DType::f32, {n, hidden_});
  ops::rms_norm(x, l.post_norm, eps_, h);
  if (l.moe) {
    Tensor y = arena_.alloc(DType::f32, {n, hidden_});
    l.moe->forward(h, y, arena_, mode_);
    scale_inplace(y, spec_.residual_scale);
    ops::add(x, y, x);
    tap(x, "layer_out", index);
    return;
  }
  Tensor gate = arena_.alloc(DType::f32, {n, intermediate_});
  Tensor up = arena_.alloc(DType::f32, {n, intermediate_});
  const ops::LinearTarget gate_up[] = {{&l.gate, &gate}, {&l.up, &up}};
  ops::linear_shared(h, gate_up, mode_);
  ops::silu_mul(gate, up, gate);
  ops::linear(gate, l.down, h, mode_);
  if (spec_.sandwich_norms) ops::rms_norm(h, l.mlp_out_norm, eps_, h);
  scale_inplace(h, spec_.residual_scale);
  ops::add(x, h, x);
  tap(x, "layer_out", index);
}

Tensor DecoderLM::forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                          bool all_logits) {
  check_internal(n >= 1 && n <= max_batch_, "decoder", [&] {
    return "forward of " + std::to_string(n) + " rows, max " + std::to_string(max_batch_);
  });
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= cfg_.vocab_size)
      throw InvalidInput("token id " + std::to_string(ids[i]) + " is outside the vocabulary (0.." +
                         std::to_string(cfg_.vocab_size - 1) + ")");
    positions_[i] = static_cast<int32_t>(n_past + i);
  }
  cache.reserve(n_past + n, n_past);
  arena_.reset();

  Tensor x = arena_.alloc(DType::f32, {n, hidden_});
  ops::embedding(embed_, ids, n, x);
  scale_inplace(x, spec_.embed_scale);
  tap(x, "embed", -1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    // Each block carves its temporaries from the arena and gives them back when it ends.
    size_t mark = arena_.used();
    attention_block(layers_[i], static_cast<int>(i), x, positions_.data(), n, n_past, cache);
    arena_.rewind(mark);
    mlp_block(layers_[i], static_cast<int>(i), x, n);
    arena_.rewind(mark);
  }

  if (!all_logits) {
    Tensor last = arena_.alloc(DType::f32, {1, hidden_});
    ops::rms_norm(x.slice(0, n - 1, n), final_norm_, eps_, last);
    scale_inplace(last, 1.0f / spec_.logit_divisor);
    Tensor logits = arena_.alloc(DType::f32, {1, cfg_.vocab_size});
    ops::linear(last, head_, logits, mode_);
    return logits;
  }
  ops::rms_norm(x, final_norm_, eps_, x);
  scale_inplace(x, 1.0f / spec_.logit_divisor);
  if (!all_logits_.defined() || all_logits_.dim(0) < n)
    all_logits_ = Tensor::zeros(DType::f32, {max_batch_, cfg_.vocab_size});
  Tensor logits = all_logits_.slice(0, 0, n);
  ops::linear(x, head_, logits, mode_);
  return logits;
}

}  // namespace mofa::models
