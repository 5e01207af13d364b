#include "io/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors_fixture.h"

namespace mofa::io {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::write_file;

// Qwen/Qwen2.5-0.5B-Instruct config.json, verbatim.
constexpr const char* kQwen25 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// mlx-community/Qwen2.5-0.5B-Instruct-4bit config.json: mlx-lm writes both quantization keys.
constexpr const char* kQwen25Mlx4 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "quantization": {"group_size": 64, "bits": 4},
  "quantization_config": {"group_size": 64, "bits": 4},
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// Qwen/Qwen3-4B config.json: head_dim 128 is not hidden_size / heads (2560 / 32 = 80).
constexpr const char* kQwen3_4B = R"({
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2560,
  "initializer_range": 0.02,
  "intermediate_size": 9728,
  "max_position_embeddings": 40960,
  "max_window_layers": 36,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// meta-llama/Llama-3.1-8B-Instruct config.json.
constexpr const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3",
  "use_cache": true,
  "vocab_size": 128256
})";

// mistralai/Mistral-7B-v0.1 config.json: a window with no use_sliding_window flag.
constexpr const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "sliding_window": 4096,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
})";

ModelConfig load_text(const TempDir& dir, const std::string& text) {
  write_file(dir.file("config.json"), text);
  return ModelConfig::load(dir.path());
}

nlohmann::json with(const char* base, const nlohmann::json& patch) {
  nlohmann::json j = nlohmann::json::parse(base);
  j.merge_patch(patch);
  return j;
}

std::string parse_error(const nlohmann::json& doc) {
  try {
    ModelConfig::parse(doc, "/models/x/config.json");
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ParsesQwen25Instruct) {
  TempDir dir;
  ModelConfig c = load_text(dir, kQwen25);
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.architectures, (std::vector<std::string>{"Qwen2ForCausalLM"}));
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.intermediate_size, 4864);
  EXPECT_EQ(c.num_hidden_layers, 24);
  EXPECT_EQ(c.num_attention_heads, 14);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling.present);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);  // qwen2 has q/k/v biases though config.json never says so
  EXPECT_EQ(c.sliding_window, 32768);
  EXPECT_FALSE(c.use_sliding_window);
  EXPECT_EQ(c.max_window_layers, 21);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, (std::vector<int64_t>{151643}));
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{151645}));
  EXPECT_EQ(c.quantization.bits, 0);
  EXPECT_EQ(c.quant_for("model.layers.0.self_attn.q_proj").bits, 0);
  EXPECT_EQ(c.path, dir.file("config.json"));
  EXPECT_EQ(c.raw["transformers_version"], "4.43.1");
}

TEST(ModelConfig, ParsesMlxCommunity4Bit) {
  TempDir dir;
  ModelConfig c = load_text(dir, kQwen25Mlx4);
  EXPECT_EQ(c.quantization.bits, 4);
  EXPECT_EQ(c.quantization.group_size, 64);
  EXPECT_EQ(c.max_window_layers, 24);
  QuantSpec q = c.quant_for("model.embed_tokens");
  EXPECT_EQ(q.bits, 4);
  EXPECT_EQ(q.group_size, 64);
  // Only "quantization_config" (some converters drop the mlx key) reads the same.
  nlohmann::json only_hf = nlohmann::json::parse(kQwen25Mlx4);
  only_hf.erase("quantization");
  only_hf["quantization_config"] = {{"group_size", 32}, {"bits", 8}};
  ModelConfig c8 = ModelConfig::parse(only_hf, "config.json");
  EXPECT_EQ(c8.quantization.bits, 8);
  EXPECT_EQ(c8.quantization.group_size, 32);
}

TEST(ModelConfig, ParsesMlxPerModuleOverrides) {
  // As mlx-lm writes mixed-precision and MoE conversions: module entries beside the default.
  auto doc = with(kQwen25Mlx4, {{"quantization",
                                 {{"group_size", 64},
                                  {"bits", 4},
                                  {"mode", "affine"},
                                  {"model.embed_tokens", {{"group_size", 32}, {"bits", 6}}},
                                  {"model.layers.0.mlp.gate", {{"group_size", 64}, {"bits", 8}}},
                                  {"lm_head", false},
                                  {"model.layers.1.mlp.down_proj", true}}}});
  ModelConfig c = ModelConfig::parse(doc, "config.json");
  EXPECT_EQ(c.quant_for("model.embed_tokens").bits, 6);
  EXPECT_EQ(c.quant_for("model.embed_tokens").group_size, 32);
  EXPECT_EQ(c.quant_for("model.layers.0.mlp.gate").bits, 8);
  EXPECT_EQ(c.quant_for("lm_head").bits, 0);
  EXPECT_EQ(c.quant_for("model.layers.1.mlp.down_proj").bits, 4);
  EXPECT_EQ(c.quant_for("model.layers.3.self_attn.o_proj").bits, 4);
  EXPECT_EQ(c.quant_for("model.layers.3.self_attn.o_proj").group_size, 64);
}

TEST(ModelConfig, RejectsBadQuantization) {
  auto bad_bits = with(kQwen25Mlx4, {{"quantization", {{"group_size", 64}, {"bits", 7}}}});
  EXPECT_THROW(ModelConfig::parse(bad_bits, "c.json"), Unsupported);
  auto no_bits = with(kQwen25Mlx4, {{"quantization", {{"group_size", 64}, {"bits", nullptr}}}});
  EXPECT_THAT(parse_error(no_bits), HasSubstr("'bits' is required"));
  auto bad_module =
      with(kQwen25Mlx4, {{"quantization", {{"model.embed_tokens", {{"bits", "4"}}}}}});
  EXPECT_THAT(parse_error(bad_module), HasSubstr("module 'model.embed_tokens'"));
  nlohmann::json gptq = nlohmann::json::parse(kQwen25);
  gptq["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}};
  try {
    ModelConfig::parse(gptq, "c.json");
    FAIL() << "no exception";
  } catch (const Unsupported& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"gptq\""));
  }
  auto mx = with(kQwen25Mlx4, {{"quantization", {{"mode", "mxfp4"}}}});
  EXPECT_THROW(ModelConfig::parse(mx, "c.json"), Unsupported);
}

TEST(ModelConfig, ParsesQwen3WithExplicitHeadDim) {
  TempDir dir;
  ModelConfig c = load_text(dir, kQwen3_4B);
  EXPECT_EQ(c.model_type, "qwen3");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.hidden_size, 2560);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_FALSE(c.use_sliding_window);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling.present);
  EXPECT_EQ(c.max_position_embeddings, 40960);
}

TEST(ModelConfig, ParsesLlama3RopeScaling) {
  TempDir dir;
  ModelConfig c = load_text(dir, kLlama31);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_TRUE(c.rope_scaling.present);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.eos_token_id, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.max_window_layers, 32);

  auto bad = with(kLlama31, {{"rope_scaling", {{"low_freq_factor", 4.0}}}});
  EXPECT_THAT(parse_error(bad), HasSubstr("low_freq_factor"));
  auto missing = nlohmann::json::parse(kLlama31);
  missing["rope_scaling"].erase("original_max_position_embeddings");
  EXPECT_THAT(parse_error(missing),
              HasSubstr("'original_max_position_embeddings' is required for rope_type llama3"));
  // The older spelling "type" and a yarn entry.
  auto yarn =
      with(kQwen3_4B,
           {{"rope_scaling",
             {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}}});
  ModelConfig y = ModelConfig::parse(yarn, "c.json");
  EXPECT_EQ(y.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(y.rope_scaling.beta_fast, 32);
  EXPECT_DOUBLE_EQ(y.rope_scaling.beta_slow, 1);
  EXPECT_DOUBLE_EQ(y.rope_scaling.attention_factor, 0);
}

TEST(ModelConfig, ReadsTransformersV5RopeParameters) {
  auto doc = nlohmann::json::parse(kQwen25);
  doc.erase("rope_theta");
  doc.erase("torch_dtype");
  doc["dtype"] = "bfloat16";
  doc["rope_parameters"] = {{"rope_theta", 1000000.0}, {"rope_type", "default"}};
  ModelConfig c = ModelConfig::parse(doc, "c.json");
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling.present);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(ModelConfig, MistralWindowIsOnWithoutAFlag) {
  ModelConfig c = ModelConfig::parse(nlohmann::json::parse(kMistral), "c.json");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_TRUE(c.use_sliding_window);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.num_key_value_heads, 8);
}

TEST(ModelConfig, DefaultsWhenOptionalFieldsAreAbsent) {
  nlohmann::json doc = {{"model_type", "llama"},    {"hidden_size", 64},
                        {"intermediate_size", 128}, {"num_hidden_layers", 2},
                        {"num_attention_heads", 4}, {"vocab_size", 100}};
  ModelConfig c = ModelConfig::parse(doc, "c.json");
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.partial_rotary_factor, 1.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_FALSE(c.use_sliding_window);
  EXPECT_EQ(c.max_window_layers, 2);
  EXPECT_EQ(c.max_position_embeddings, 0);
  EXPECT_TRUE(c.bos_token_id.empty());
  EXPECT_EQ(c.quantization.bits, 0);
  // transformers' Glm4Config defaults differ: biased q/k/v and half-dimension rotary.
  nlohmann::json glm = doc;
  glm["model_type"] = "glm4";
  ModelConfig g = ModelConfig::parse(glm, "c.json");
  EXPECT_TRUE(g.attention_bias);
  EXPECT_DOUBLE_EQ(g.partial_rotary_factor, 0.5);
  // Multimodal layout: the language model's fields under text_config.
  nlohmann::json vlm = {{"model_type", "llava"}, {"text_config", doc}};
  vlm["text_config"]["model_type"] = "mistral";
  ModelConfig t = ModelConfig::parse(vlm, "c.json");
  EXPECT_EQ(t.model_type, "mistral");
  EXPECT_EQ(t.hidden_size, 64);
}

TEST(ModelConfig, RejectsMissingFileAndBadJson) {
  TempDir dir;
  try {
    ModelConfig::load(dir.path());
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.path()));
    EXPECT_THAT(e.what(), HasSubstr("no config.json"));
  }
  write_file(dir.file("config.json"), "{\"hidden_size\": 896,");
  try {
    ModelConfig::load(dir.path());
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.file("config.json")));
    EXPECT_THAT(e.what(), HasSubstr("not valid JSON"));
  }
  EXPECT_THAT(parse_error(nlohmann::json::array()), HasSubstr("must be a JSON object"));
}

struct BadField {
  nlohmann::json patch;
  const char* expect;
};

class ModelConfigBadField : public ::testing::TestWithParam<BadField> {};

TEST_P(ModelConfigBadField, NamesFileAndField) {
  std::string msg = parse_error(with(kQwen25, GetParam().patch));
  EXPECT_THAT(msg, HasSubstr("/models/x/config.json"));
  EXPECT_THAT(msg, HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Nonsense, ModelConfigBadField,
    ::testing::Values(
        BadField{{{"hidden_size", nullptr}}, "field 'hidden_size' is required but missing"},
        BadField{{{"num_hidden_layers", nullptr}}, "'num_hidden_layers' is required"},
        BadField{{{"vocab_size", nullptr}}, "'vocab_size' is required"},
        BadField{{{"hidden_size", "896"}}, "'hidden_size' must be an integer, got string"},
        BadField{{{"hidden_size", 896.5}}, "'hidden_size' must be an integer"},
        BadField{{{"hidden_size", 0}}, "'hidden_size' must be positive"},
        BadField{{{"num_attention_heads", -14}}, "'num_attention_heads' must be positive"},
        BadField{{{"num_attention_heads", 12}}, "does not divide hidden_size = 896"},
        BadField{{{"num_key_value_heads", 3}}, "3 does not divide num_attention_heads = 14"},
        BadField{{{"num_key_value_heads", 0}}, "'num_key_value_heads' must be positive"},
        BadField{{{"head_dim", -1}}, "'head_dim' must be positive"},
        BadField{{{"rms_norm_eps", "1e-6"}}, "'rms_norm_eps' must be a number"},
        BadField{{{"rms_norm_eps", 0}}, "'rms_norm_eps' must be positive"},
        BadField{{{"rope_theta", -1}}, "'rope_theta' must be positive"},
        BadField{{{"tie_word_embeddings", 1}}, "'tie_word_embeddings' must be true or false"},
        BadField{{{"sliding_window", -5}}, "'sliding_window' must not be negative"},
        BadField{{{"use_sliding_window", true}, {"sliding_window", nullptr}},
                 "'use_sliding_window' is true but sliding_window"},
        BadField{{{"partial_rotary_factor", 1.5}}, "'partial_rotary_factor' must be in (0, 1]"},
        BadField{{{"eos_token_id", "151645"}}, "'eos_token_id' must be a token id"},
        BadField{{{"architectures", "Qwen2ForCausalLM"}}, "'architectures' must be a list"},
        BadField{{{"rope_scaling", 8}}, "'rope_scaling': must be an object"},
        BadField{{{"rope_scaling", {{"rope_type", "linear"}, {"factor", -2}}}},
                 "'factor' must be positive"}));

TEST(ModelConfig, AcceptsIntegralFloatsForIntegers) {
  ModelConfig c = ModelConfig::parse(with(kQwen25, {{"hidden_size", 896.0}}), "c.json");
  EXPECT_EQ(c.hidden_size, 896);
}

TEST(GenerationConfig, ParsesQwenGenerationConfig) {
  TempDir dir;
  write_file(dir.file("generation_config.json"), R"({
  "bos_token_id": 151643,
  "pad_token_id": 151643,
  "do_sample": true,
  "eos_token_id": [151645, 151643],
  "repetition_penalty": 1.1,
  "temperature": 0.7,
  "top_p": 0.8,
  "top_k": 20,
  "transformers_version": "4.37.0"
})");
  GenerationConfig g = GenerationConfig::load(dir.path());
  EXPECT_EQ(g.eos_token_id, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(g.bos_token_id, (std::vector<int64_t>{151643}));
  EXPECT_EQ(g.pad_token_id, 151643);
  EXPECT_EQ(g.do_sample, true);
  EXPECT_DOUBLE_EQ(*g.repetition_penalty, 1.1);
  EXPECT_DOUBLE_EQ(*g.temperature, 0.7);
  EXPECT_DOUBLE_EQ(*g.top_p, 0.8);
  EXPECT_EQ(g.top_k, 20);
  EXPECT_FALSE(g.max_new_tokens.has_value());
  EXPECT_EQ(g.raw["transformers_version"], "4.37.0");
}

TEST(GenerationConfig, MissingFileGivesDefaultsAndBadValuesAreNamed) {
  TempDir dir;
  GenerationConfig g = GenerationConfig::load(dir.path());
  EXPECT_TRUE(g.eos_token_id.empty());
  EXPECT_FALSE(g.temperature.has_value());
  EXPECT_FALSE(g.do_sample.has_value());
  write_file(dir.file("generation_config.json"), R"({"top_p": 1.5})");
  try {
    GenerationConfig::load(dir.path());
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("generation_config.json"));
    EXPECT_THAT(e.what(), HasSubstr("'top_p'"));
  }
  write_file(dir.file("generation_config.json"), R"({"temperature": "hot"})");
  EXPECT_THROW(GenerationConfig::load(dir.path()), InvalidInput);
}

}  // namespace
}  // namespace mofa::io
