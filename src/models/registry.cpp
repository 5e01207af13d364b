#include "models/registry.h"

#include <utility>

#include "core/error.h"

namespace mofa::models {
namespace {

const std::vector<std::pair<std::string, CausalLMFactory>>& families() {
  static const std::vector<std::pair<std::string, CausalLMFactory>> list = {
      {"llama", llama_create},
      {"mistral", llama_create},
      {"mixtral", mixtral_create},
      {"qwen2", qwen_create},
      {"qwen3", qwen_create},
      {"qwen3_moe", qwen3_moe_create},
      {"chatglm", glm4_create},
      {"glm", glm4_create},
      {"glm4", glm4_create},
      {"minicpm", minicpm_create},
      {"minicpm_sala", minicpm_sala_create},
  };
  return list;
}

}  // namespace

std::vector<std::string> causal_lm_supported_types() {
  std::vector<std::string> out;
  for (const auto& [type, factory] : families()) out.push_back(type);
  return out;
}

std::unique_ptr<CausalLM> causal_lm_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                           const ModelOptions& options) {
  // A cache type the model's rows cannot take is refused at load, not at the first request.
  if (cfg.head_dim > 0) check_kv_cache_types(options.kv_types, cfg.head_dim);
  for (const auto& [type, factory] : families())
    if (type == cfg.model_type) return factory(cfg, store, options);
  io::require_model_type(cfg.model_type, cfg.path, causal_lm_supported_types());
  throw InternalError("[registry] " + cfg.model_type + " is listed but has no factory");
}

io::ModelConfig causal_lm_config(const std::string& dir) {
  return io::ModelConfig::load(dir, causal_lm_supported_types());
}

}  // namespace mofa::models
