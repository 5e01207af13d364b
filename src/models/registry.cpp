#include "models/registry.h"

#include <filesystem>
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

[[noreturn]] void throw_unsupported(const std::string& type, const std::string& path) {
  std::string list;
  for (const auto& t : causal_lm_supported_types()) list += (list.empty() ? "" : ", ") + t;
  throw Unsupported("model_type '" + type + "' in " + path +
                    " is not supported; supported: " + list);
}

bool supported(const std::string& type) {
  for (const auto& f : families())
    if (f.first == type) return true;
  return false;
}

}  // namespace

std::vector<std::string> causal_lm_supported_types() {
  std::vector<std::string> out;
  for (const auto& [type, factory] : families()) out.push_back(type);
  return out;
}

std::unique_ptr<CausalLM> causal_lm_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                           const ModelOptions& options) {
  for (const auto& [type, factory] : families())
    if (type == cfg.model_type) return factory(cfg, store, options);
  throw_unsupported(cfg.model_type, cfg.path);
}

io::ModelConfig causal_lm_config(const std::string& dir) {
  const std::string type = io::ModelConfig::read_model_type(dir);
  if (!supported(type))
    throw_unsupported(type, (std::filesystem::path(dir) / "config.json").string());
  return io::ModelConfig::load(dir);
}

}  // namespace mofa::models
