// The LLM pipeline end to end on the bundled mofa-tiny model: real tokenizer, real template,
// trained weights.
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipelines/llm/generate.h"

namespace mofa::llm {
namespace {

std::unique_ptr<LlmPipeline> tiny(int ctx = 0) {
  LoadOptions o;
  o.exact = true;
  o.ctx_size = ctx;
  return LlmPipeline::load(std::string(MOFA_SOURCE_DIR) + "/models/mofa-tiny", o);
}

GenerateOptions greedy(int max_tokens) {
  GenerateOptions g;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0.0f;
  return g;
}

struct Outcome {
  std::string text;
  std::vector<int32_t> ids;
  FinishReason finish;
  Usage usage;
};

Outcome run(LlmPipeline& p, Sequence& seq, const std::vector<int32_t>& prompt,
            const GenerateOptions& o) {
  auto gen = p.start(seq, prompt, o);
  Outcome r;
  TokenEvent ev;
  bool more = true;
  while (more) {
    more = gen->step(&ev);
    r.text += ev.text;
    if (ev.id >= 0) r.ids.push_back(ev.id);
  }
  r.finish = gen->finish_reason();
  r.usage = gen->usage();
  return r;
}

std::vector<int32_t> chat_prompt(LlmPipeline& p, const std::string& user) {
  nlohmann::json messages = {{{"role", "user"}, {"content", user}}};
  return p.tokenize(p.apply_chat_template(messages, nullptr, true, nlohmann::json::object()), false,
                    true);
}

TEST(Generate, MaxTokensEndsWithLengthAndCountsTokens) {
  auto p = tiny();
  auto seq = p->new_sequence();
  Outcome r = run(*p, *seq, chat_prompt(*p, "In the beginning"), greedy(5));
  EXPECT_EQ(r.finish, FinishReason::length);
  EXPECT_EQ(r.usage.completion_tokens, 5);
  EXPECT_EQ(r.ids.size(), 5u);
  EXPECT_EQ(r.text, p->detokenize(r.ids));
}

TEST(Generate, NextTurnReusesTheCachedPrefixAndAnswersTheSame) {
  auto p = tiny();
  auto seq = p->new_sequence();
  auto first = chat_prompt(*p, "And the LORD spake unto Moses, saying,");
  Outcome a = run(*p, *seq, first, greedy(12));
  // The next turn starts with everything the cache holds.
  nlohmann::json messages = {
      {{"role", "user"}, {"content", "And the LORD spake unto Moses, saying,"}},
      {{"role", "assistant"}, {"content", a.text}},
      {{"role", "user"}, {"content", "And Moses said unto the LORD,"}}};
  auto second = p->tokenize(
      p->apply_chat_template(messages, nullptr, true, nlohmann::json::object()), false, true);
  Outcome b = run(*p, *seq, second, greedy(12));
  EXPECT_GE(b.usage.cached_tokens, static_cast<int>(first.size()));
  auto fresh = p->new_sequence();
  Outcome c = run(*p, *fresh, second, greedy(12));
  EXPECT_EQ(c.usage.cached_tokens, 0);
  EXPECT_EQ(b.ids, c.ids);
}

TEST(Generate, StopStringCutsTheAnswerAndIsNotEmitted) {
  auto p = tiny();
  auto seq = p->new_sequence();
  auto prompt = chat_prompt(*p, "And God said,");
  Outcome full = run(*p, *seq, prompt, greedy(24));
  ASSERT_GE(full.text.size(), 6u);
  const std::string stop = full.text.substr(3, 3);
  GenerateOptions o = greedy(24);
  o.stop = {stop};
  auto seq2 = p->new_sequence();
  Outcome cut = run(*p, *seq2, prompt, o);
  EXPECT_EQ(cut.finish, FinishReason::stop);
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(stop)));
}

TEST(Generate, PromptLongerThanTheContextIsAClearError) {
  auto p = tiny(16);
  auto seq = p->new_sequence();
  std::vector<int32_t> prompt(16, 100);
  try {
    p->start(*seq, prompt, greedy(4));
    FAIL() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("16 tokens"), std::string::npos) << e.what();
  }
}

TEST(Generate, ContextFullEndsWithLength) {
  auto p = tiny(24);
  auto seq = p->new_sequence();
  std::vector<int32_t> prompt(20, 100);
  GenerateOptions o = greedy(-1);
  o.ignore_eos = true;
  Outcome r = run(*p, *seq, prompt, o);
  EXPECT_EQ(r.finish, FinishReason::length);
  EXPECT_EQ(static_cast<int>(prompt.size()) + r.usage.completion_tokens, 24);
}

TEST(Generate, CancelStopsAtTheNextStep) {
  auto p = tiny();
  auto seq = p->new_sequence();
  GenerateOptions o = greedy(1000);
  o.ignore_eos = true;
  auto gen = p->start(*seq, chat_prompt(*p, "And"), o);
  TokenEvent ev;
  ASSERT_TRUE(gen->step(&ev));
  gen->cancel();
  EXPECT_FALSE(gen->step(&ev));
  EXPECT_EQ(gen->finish_reason(), FinishReason::cancelled);
}

TEST(Generate, SameSeedSameSample) {
  auto p = tiny();
  GenerateOptions o;
  o.max_tokens = 16;
  o.sampling.temperature = 1.0f;
  o.sampling.has_seed = true;
  o.sampling.seed = 99;
  auto prompt = chat_prompt(*p, "Blessed are");
  auto s1 = p->new_sequence();
  auto s2 = p->new_sequence();
  EXPECT_EQ(run(*p, *s1, prompt, o).ids, run(*p, *s2, prompt, o).ids);
}

// Prompt log-probabilities (completions' echo) come from the prefill's rows; a generation reports
// the same numbers from its decode steps. Scoring prompt + generated tokens must agree with them.
TEST(Generate, PromptLogprobsAgreeWithTheDecodePath) {
  auto p = tiny();
  const auto prompt = chat_prompt(*p, "In the beginning");
  GenerateOptions o = greedy(8);
  o.ignore_eos = true;
  o.sampling.logprobs = true;
  auto seq = p->new_sequence();
  auto gen = p->start(*seq, prompt, o);
  std::vector<TokenEvent> generated;
  TokenEvent ev;
  for (bool more = true; more;) {
    more = gen->step(&ev);
    EXPECT_TRUE(ev.prompt.empty());  // only asked for with prompt_logprobs
    if (ev.id >= 0) generated.push_back(ev);
  }
  ASSERT_EQ(generated.size(), 8u);

  std::vector<int32_t> scored_prompt = prompt;
  for (const auto& t : generated) scored_prompt.push_back(t.id);
  GenerateOptions score = greedy(0);
  score.prompt_logprobs = true;
  score.sampling.top_logprobs = 2;
  // The same sequence: prompt logprobs must not be served from the cached prefix.
  auto scoring = p->start(*seq, scored_prompt, score);
  EXPECT_EQ(scoring->usage().cached_tokens, 0);
  ASSERT_FALSE(scoring->step(&ev));
  EXPECT_EQ(scoring->finish_reason(), FinishReason::length);
  EXPECT_EQ(scoring->usage().completion_tokens, 0);
  ASSERT_EQ(ev.prompt.size(), scored_prompt.size());
  EXPECT_EQ(ev.prompt[0].chosen.id, -1);
  for (size_t i = 0; i < scored_prompt.size(); ++i) {
    EXPECT_EQ(ev.prompt[i].id, scored_prompt[i]);
    if (i == 0) continue;
    EXPECT_LE(ev.prompt[i].chosen.logprob, 0.0f);
    EXPECT_EQ(ev.prompt[i].top.size(), 2u);
  }
  for (size_t k = 0; k < generated.size(); ++k) {
    const auto& row = ev.prompt[prompt.size() + k];
    EXPECT_NEAR(row.chosen.logprob, generated[k].chosen.logprob, 1e-4) << "token " << k;
    // Greedy picked the most likely token, so it heads the scored alternatives.
    EXPECT_EQ(row.top[0].id, generated[k].id) << "token " << k;
  }
}

TEST(Generate, HalfPrecisionKvCacheAnswersLikeTheF32One) {
  auto f32 = tiny();
  LoadOptions o;
  o.exact = true;
  o.cache_type_k = "f16";
  o.cache_type_v = "f16";
  auto f16 = LlmPipeline::load(std::string(MOFA_SOURCE_DIR) + "/models/mofa-tiny", o);
  auto prompt = chat_prompt(*f32, "And God said, Let there be light:");
  auto sa = f32->new_sequence();
  auto sb = f16->new_sequence();
  // A trained model's greedy answer does not hinge on the 11th significant bit of K and V.
  EXPECT_EQ(run(*f16, *sb, prompt, greedy(16)).text, run(*f32, *sa, prompt, greedy(16)).text);
}

TEST(Generate, UnknownKvCacheTypeIsAClearError) {
  LoadOptions o;
  o.cache_type_v = "q4_0";
  try {
    LlmPipeline::load(std::string(MOFA_SOURCE_DIR) + "/models/mofa-tiny", o);
    FAIL() << "loaded";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "cache type of V 'q4_0' is not supported; supported: f32, f16, q8_0");
  }
}

}  // namespace
}  // namespace mofa::llm
