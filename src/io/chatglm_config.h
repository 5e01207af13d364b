#pragma once
// THUDM's ChatGLM config.json (model_type "chatglm": ChatGLM2/3, GLM-4-9B-chat) names its fields
// after Megatron (num_layers, ffn_hidden_size, kv_channels, multi_query_group_num, ...). This
// translates them to the transformers names ModelConfig reads, so the one parser serves both.
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::io {

// A copy of `doc` with the standard fields derived from the ChatGLM ones (the originals stay, so
// ModelConfig::raw still holds them). Throws InvalidInput naming `where` and the field when a
// ChatGLM field has the wrong type.
nlohmann::json chatglm_config_as_standard(const nlohmann::json& doc, const std::string& where);

}  // namespace mofa::io
