#pragma once
// One typed view of a checkpoint's config.json (and generation_config.json). Field names are the
// checkpoint's own; every default lives in model_config.cpp and nowhere else.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/weight.h"

namespace mofa::io {

// "rope_scaling" (or transformers v5 "rope_parameters"); fields a given type does not use keep
// their defaults, and `raw` keeps the rest (e.g. longrope's factor lists).
struct RopeScaling {
  std::string type;  // "linear", "dynamic", "llama3", "yarn", ... (from "rope_type" or "type")
  double factor = 1;
  int64_t original_max_position_embeddings = 0;
  double low_freq_factor = 1, high_freq_factor = 4, beta_fast = 32, beta_slow = 1;
  double attention_factor = 0;  // 0 = unset
  bool present = false;         // a non-null rope_scaling whose type is not "default"
  nlohmann::json raw;
};

struct ModelConfig {
  std::string model_type;
  std::vector<std::string> architectures;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // default num_attention_heads
  int64_t head_dim = 0;             // default hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;  // 0 = not stated
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000;
  RopeScaling rope_scaling;
  double partial_rotary_factor = 1;  // glm4 defaults to 0.5 when absent
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2-family and glm4 default to true when absent
  int64_t sliding_window = 0;   // 0 = none
  bool use_sliding_window = false;
  int64_t max_window_layers = 0;  // default num_hidden_layers
  // MiniCPM's muP factors (MiniCPMConfig's defaults when absent).
  double scale_emb = 1, scale_depth = 1;
  int64_t dim_model_base = 1;
  std::string torch_dtype;  // "torch_dtype" or transformers v5 "dtype"; "" if absent
  std::vector<int64_t> bos_token_id, eos_token_id;
  QuantSpec quantization;  // from "quantization" or "quantization_config"; bits 0 = none
  // mlx per-module entries of "quantization": module path -> spec ({0, 0} for `false`).
  std::map<std::string, QuantSpec> quantization_overrides;
  nlohmann::json raw;  // the whole file
  std::string path;    // the config.json read

  // The quantization of the module at `module_path` ("model.layers.0.mlp.gate").
  QuantSpec quant_for(const std::string& module_path) const;

  // Reads `dir`/config.json; throws InvalidInput naming the file and field for a missing file,
  // bad JSON, a missing required field, a wrong type or inconsistent values, and Unsupported for
  // quantization schemes other than MLX affine. With `accepted_types`, another model_type throws
  // Unsupported (require_model_type) before any field is checked.
  static ModelConfig load(const std::string& dir,
                          const std::vector<std::string>& accepted_types = {});
  // The same from an already parsed document; `path` is used in messages.
  static ModelConfig parse(const nlohmann::json& doc, const std::string& path,
                           const std::vector<std::string>& accepted_types = {});
};

// Throws Unsupported "model_type 'T' in PATH is not supported; supported: A, B" unless `type` is
// one of `accepted`.
void require_model_type(const std::string& type, const std::string& path,
                        const std::vector<std::string>& accepted);

struct GenerationConfig {
  std::vector<int64_t> eos_token_id, bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int64_t> top_k, max_new_tokens, max_length;
  std::optional<bool> do_sample;
  nlohmann::json raw = nlohmann::json::object();

  // Reads `dir`/generation_config.json; a missing file gives the defaults (all unset).
  static GenerationConfig load(const std::string& dir);
  static GenerationConfig parse(const nlohmann::json& doc, const std::string& path);
};

}  // namespace mofa::io
