// ChatGLM's Megatron-named config.json (THUDM/glm-4-9b-chat) read through ModelConfig.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/model_config.h"

namespace mofa::io {
namespace {

using ::testing::HasSubstr;

// The model fields of THUDM/glm-4-9b-chat's config.json.
nlohmann::json glm4_9b_chat() {
  return nlohmann::json::parse(R"({
    "model_type": "chatglm", "architectures": ["ChatGLMModel"],
    "add_bias_linear": false, "add_qkv_bias": true, "apply_query_key_layer_scaling": true,
    "apply_residual_connection_post_layernorm": false, "ffn_hidden_size": 13696,
    "hidden_size": 4096, "kv_channels": 128, "layernorm_epsilon": 1.5625e-07,
    "multi_query_attention": true, "multi_query_group_num": 2, "num_attention_heads": 32,
    "num_hidden_layers": 40, "num_layers": 40, "rope_ratio": 500, "original_rope": true,
    "padded_vocab_size": 151552, "post_layer_norm": true, "rmsnorm": true, "seq_length": 131072,
    "torch_dtype": "bfloat16", "tie_word_embeddings": false,
    "eos_token_id": [151329, 151336, 151338], "pad_token_id": 151329})");
}

TEST(ChatglmConfig, ReadsTheMegatronFieldNames) {
  const ModelConfig c = ModelConfig::parse(glm4_9b_chat(), "glm/config.json");
  EXPECT_EQ(c.model_type, "chatglm");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 13696);
  EXPECT_EQ(c.num_hidden_layers, 40);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 151552);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1.5625e-07);
  EXPECT_DOUBLE_EQ(c.rope_theta, 5000000.0);  // 10000 * rope_ratio
  EXPECT_DOUBLE_EQ(c.partial_rotary_factor, 0.5);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{151329, 151336, 151338}));
  EXPECT_EQ(c.raw.at("rope_ratio"), 500);  // the file's own fields stay in raw
}

TEST(ChatglmConfig, ChatGlm3DefaultsAndMultiHeadAttention) {
  nlohmann::json j = glm4_9b_chat();
  j.erase("num_hidden_layers");  // chatglm3-6b writes only num_layers
  j.erase("rope_ratio");
  j.erase("add_qkv_bias");
  j.erase("layernorm_epsilon");
  j["multi_query_attention"] = false;
  const ModelConfig c = ModelConfig::parse(j, "glm/config.json");
  EXPECT_EQ(c.num_hidden_layers, 40);
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.attention_bias);
}

TEST(ChatglmConfig, WrongTypesNameTheChatglmField) {
  auto error_of = [](nlohmann::json j) -> std::string {
    try {
      ModelConfig::parse(j, "glm/config.json");
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "no error";
  };
  nlohmann::json j = glm4_9b_chat();
  j["ffn_hidden_size"] = "big";
  EXPECT_THAT(error_of(j), HasSubstr("'ffn_hidden_size' must be a number"));
  j = glm4_9b_chat();
  j["rope_ratio"] = true;
  EXPECT_THAT(error_of(j), HasSubstr("'rope_ratio' must be a number"));
  j = glm4_9b_chat();
  j.erase("multi_query_group_num");
  EXPECT_THAT(error_of(j), HasSubstr("'multi_query_group_num' is required"));
  j = glm4_9b_chat();
  j["add_qkv_bias"] = 1;
  EXPECT_THAT(error_of(j), HasSubstr("'add_qkv_bias' must be true or false"));
  j = glm4_9b_chat();
  j.erase("ffn_hidden_size");
  EXPECT_THAT(error_of(j), HasSubstr("'ffn_hidden_size' is required but missing"));
}

}  // namespace
}  // namespace mofa::io
