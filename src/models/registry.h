#pragma once
// The one list of LLM families: config.json `model_type` -> factory.
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace mofa::models {

using CausalLMFactory = std::unique_ptr<CausalLM> (*)(const io::ModelConfig& cfg,
                                                      const io::WeightStore& store,
                                                      const ModelOptions& options);

// Builds the model for cfg.model_type; throws Unsupported listing the supported types.
std::unique_ptr<CausalLM> causal_lm_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                           const ModelOptions& options);
std::vector<std::string> causal_lm_supported_types();
// Reads `dir`/config.json for causal_lm_create; throws Unsupported listing the supported types
// for another model_type before checking any field against ours.
io::ModelConfig causal_lm_config(const std::string& dir);

// Family factories (one per family file).
std::unique_ptr<CausalLM> llama_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                       const ModelOptions& options);
std::unique_ptr<CausalLM> qwen_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                      const ModelOptions& options);
std::unique_ptr<CausalLM> mixtral_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                         const ModelOptions& options);
std::unique_ptr<CausalLM> qwen3_moe_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                           const ModelOptions& options);
std::unique_ptr<CausalLM> minicpm_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                         const ModelOptions& options);
std::unique_ptr<CausalLM> minicpm_sala_create(const io::ModelConfig& cfg,
                                              const io::WeightStore& store,
                                              const ModelOptions& options);
std::unique_ptr<CausalLM> glm4_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                      const ModelOptions& options);

}  // namespace mofa::models
