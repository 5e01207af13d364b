// <think> blocks split off as reasoning: Qwen3's (the tag in the answer), the templates that open
// the block in the prompt, unfinished reasoning, and text that only looks like a tag.
#include <gtest/gtest.h>

#include "server/tool_calls/output_parser.h"
#include "server/tool_calls/tool_call_format.h"

namespace mofa::server::tool_calls {
namespace {

struct Split {
  std::string reasoning;
  std::string content;
};

// Whole and one byte at a time; both must agree.
Split split(const OutputParserOptions& options, const std::string& text) {
  OutputParser whole(options);
  whole.push(text);
  whole.finish();
  OutputParser bytes(options);
  std::string reasoning;
  std::string content;
  for (char c : text) {
    auto d = bytes.push(std::string(1, c));
    reasoning += d.reasoning;
    content += d.content;
  }
  auto d = bytes.finish();
  reasoning += d.reasoning;
  content += d.content;
  EXPECT_EQ(reasoning, whole.reasoning()) << text;
  EXPECT_EQ(content, whole.content()) << text;
  return {whole.reasoning(), whole.content()};
}

TEST(Reasoning, Qwen3ThinkBlockIsSplitOff) {
  const auto r =
      split({}, "<think>\nLet me add 2 and 2.\nThat is 4.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(r.reasoning, "Let me add 2 and 2.\nThat is 4.");
  EXPECT_EQ(r.content, "The answer is 4.");
}

TEST(Reasoning, EmptyThinkBlockOfEnableThinkingFalseLeavesOnlyContent) {
  const auto r = split({}, "<think>\n\n</think>\n\nHi there.");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Hi there.");
}

TEST(Reasoning, PromptThatOpensTheBlock) {
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>system\nThink in <think> tags<|im_end|>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
  OutputParserOptions options;
  options.starts_in_reasoning = true;
  const auto r = split(options, "Hmm, 6*7.\n</think>\n\n42");
  EXPECT_EQ(r.reasoning, "Hmm, 6*7.");
  EXPECT_EQ(r.content, "42");
}

TEST(Reasoning, UnfinishedReasoningStaysReasoning) {
  const auto r = split({}, "<think>\nStill thinking about it");
  EXPECT_EQ(r.reasoning, "Still thinking about it");
  EXPECT_EQ(r.content, "");
}

TEST(Reasoning, OnlyALeadingTagOpensReasoning) {
  auto r = split({}, "I use <think> tags.</think> ok");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "I use <think> tags.</think> ok");
  r = split({}, "<thinking>x");
  EXPECT_EQ(r.content, "<thinking>x");
  r = split({}, "  Plain answer  ");
  EXPECT_EQ(r.content, "  Plain answer  ");
  OutputParserOptions off;
  off.reasoning = false;
  r = split(off, "<think>x</think>y");
  EXPECT_EQ(r.content, "<think>x</think>y");
}

TEST(Reasoning, StreamsReasoningAsItComes) {
  OutputParser parser({});
  EXPECT_EQ(parser.push("<think>\nfirst ").reasoning, "first");
  EXPECT_EQ(parser.push("second\n</th").reasoning, " second");
  const auto d = parser.push("ink>\n\nDone");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Done");
}

}  // namespace
}  // namespace mofa::server::tool_calls
