// An architecture we do not support is named as such, with the supported list, before any field
// of its config.json is checked against our families' requirements.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "io/safetensors_fixture.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

using ::testing::HasSubstr;

std::string config_error(const std::string& json) {
  io::testing::TempDir dir;
  std::ofstream(dir.file("config.json")) << json;
  try {
    causal_lm_config(dir.path());
  } catch (const Unsupported& e) {
    return std::string("unsupported: ") + e.what();
  } catch (const InvalidInput& e) {
    return std::string("invalid: ") + e.what();
  }
  return "loaded";
}

TEST(CausalLMConfig, UnknownArchitectureIsNamedBeforeItsFieldsAreChecked) {
  // falcon_mamba has no intermediate_size: the message must be about the architecture.
  const std::string e =
      config_error(R"({"model_type": "falcon_mamba", "hidden_size": 64, "num_hidden_layers": 2})");
  EXPECT_THAT(e, HasSubstr("unsupported: model_type 'falcon_mamba'"));
  EXPECT_THAT(e, HasSubstr("config.json is not supported; supported: llama, mistral, mixtral"));
  EXPECT_THAT(e, HasSubstr("qwen3_moe"));
  EXPECT_THAT(e, HasSubstr("minicpm_sala"));
}

TEST(CausalLMConfig, NestedTextConfigTypeIsTheOneNamed) {
  const std::string e = config_error(R"({"text_config": {"model_type": "gemma3_text"}})");
  EXPECT_THAT(e, HasSubstr("unsupported: model_type 'gemma3_text'"));
}

TEST(CausalLMConfig, SupportedArchitectureStillReportsItsMissingField) {
  const std::string e = config_error(R"({"model_type": "qwen3", "hidden_size": 64})");
  EXPECT_THAT(e, HasSubstr("invalid: "));
  EXPECT_THAT(e, HasSubstr("is required but missing"));
}

TEST(CausalLMConfig, MissingTypeIsUnsupportedAndMalformedJsonIsInvalid) {
  EXPECT_THAT(config_error(R"({"hidden_size": 64})"), HasSubstr("unsupported: model_type ''"));
  EXPECT_THAT(config_error(R"({"model_type": )"), HasSubstr("invalid: "));
}

}  // namespace
}  // namespace mofa::models
