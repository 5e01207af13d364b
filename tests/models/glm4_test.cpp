// GLM-4 loading errors: ChatGLM variants no GLM-4 checkpoint uses are refused by name, and a
// checkpoint missing its fused projection names the tensor. (Logits and greedy continuations of
// all three layouts are checked against the PyTorch reference by tests/reference/glm_reference.sh.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "io/model_config.h"
#include "io/safetensors_fixture.h"
#include "io/safetensors_writer.h"
#include "io/weight_store.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

using ::testing::HasSubstr;

nlohmann::json tiny_chatglm() {
  return nlohmann::json::parse(R"({
    "model_type": "chatglm", "add_bias_linear": false, "add_qkv_bias": true,
    "ffn_hidden_size": 32, "hidden_size": 16, "kv_channels": 4, "layernorm_epsilon": 1e-5,
    "multi_query_attention": true, "multi_query_group_num": 2, "num_attention_heads": 4,
    "num_layers": 1, "padded_vocab_size": 8, "post_layer_norm": true, "rmsnorm": true,
    "rope_ratio": 1, "original_rope": true})");
}

// A directory with config `cfg` and only the embedding, final norm, head and layer-0 norms.
struct PartialCheckpoint {
  io::testing::TempDir dir;
  explicit PartialCheckpoint(const nlohmann::json& cfg) {
    std::ofstream(dir.file("config.json")) << cfg.dump();
    io::safetensors_write(
        dir.file("model.safetensors"),
        {{"transformer.embedding.word_embeddings.weight", Tensor::zeros(DType::f32, {8, 16})},
         {"transformer.output_layer.weight", Tensor::zeros(DType::f32, {8, 16})},
         {"transformer.encoder.final_layernorm.weight", Tensor::zeros(DType::f32, {16})},
         {"transformer.encoder.layers.0.input_layernorm.weight", Tensor::zeros(DType::f32, {16})},
         {"transformer.encoder.layers.0.post_attention_layernorm.weight",
          Tensor::zeros(DType::f32, {16})}});
  }
  std::string error() const {
    try {
      io::ModelConfig cfg = io::ModelConfig::load(dir.path());
      io::WeightStore store = io::WeightStore::open_dir(dir.path());
      causal_lm_create(cfg, store, ModelOptions{});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST(Glm4, MissingFusedProjectionIsNamed) {
  PartialCheckpoint ck(tiny_chatglm());
  EXPECT_THAT(ck.error(),
              HasSubstr("transformer.encoder.layers.0.self_attention.query_key_value.weight"));
}

TEST(Glm4, UnusedChatglmVariantsAreRefusedByName) {
  for (const char* key : {"rmsnorm", "post_layer_norm"}) {
    nlohmann::json cfg = tiny_chatglm();
    cfg[key] = false;
    EXPECT_THAT(PartialCheckpoint(cfg).error(), HasSubstr(std::string(key) + "=false"));
  }
  for (const char* key : {"apply_residual_connection_post_layernorm", "add_bias_linear"}) {
    nlohmann::json cfg = tiny_chatglm();
    cfg[key] = true;
    EXPECT_THAT(PartialCheckpoint(cfg).error(), HasSubstr(std::string(key) + "=true"));
  }
}

TEST(Glm4, NonSiluActivationIsRefused) {
  nlohmann::json cfg = {{"model_type", "glm4"},     {"hidden_size", 16},
                        {"intermediate_size", 32},  {"num_hidden_layers", 1},
                        {"num_attention_heads", 4}, {"vocab_size", 8},
                        {"hidden_act", "gelu"}};
  EXPECT_THAT(PartialCheckpoint(cfg).error(), HasSubstr("hidden_act \"gelu\" is not supported"));
}

}  // namespace
}  // namespace mofa::models
