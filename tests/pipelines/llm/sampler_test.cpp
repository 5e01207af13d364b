#include "pipelines/llm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace mofa::llm {
namespace {

SamplingParams params(float temp, int top_k = 0, float top_p = 1.0f, float min_p = 0.0f) {
  SamplingParams p;
  p.temperature = temp;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.has_seed = true;
  p.seed = 42;
  return p;
}

TEST(Sampler, GreedyPicksArgmax) {
  Sampler s(params(0.0f), 5);
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
  EXPECT_EQ(s.sample(l.data(), {}), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  Sampler s(params(1.5f, 1), 4);
  std::vector<float> l = {0.0f, 0.0f, 3.0f, 0.0f};
  for (int i = 0; i < 20; ++i) {
    auto c = l;
    EXPECT_EQ(s.sample(c.data(), {}), 2);
  }
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> l = {1.0f, 1.1f, 0.9f, 1.05f, 0.7f};
  Sampler a(params(1.0f), 5), b(params(1.0f), 5);
  for (int i = 0; i < 50; ++i) {
    auto x = l, y = l;
    EXPECT_EQ(a.sample(x.data(), {}), b.sample(y.data(), {}));
  }
}

TEST(Sampler, DrawsFollowTheDistribution) {
  // logits ln(1), ln(3): token 1 should come up ~75% of the time at temperature 1.
  Sampler s(params(1.0f), 2);
  int ones = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = {0.0f, std::log(3.0f)};
    ones += s.sample(l.data(), {}) == 1;
  }
  EXPECT_NEAR(ones / static_cast<double>(n), 0.75, 0.03);
}

TEST(Sampler, TopPCutsTheTail) {
  // probabilities 0.6, 0.3, 0.1: top_p 0.8 keeps the first two only.
  Sampler s(params(1.0f, 0, 0.8f), 3);
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
    EXPECT_NE(s.sample(l.data(), {}), 2);
  }
}

TEST(Sampler, MinPCutsTokensBelowAFractionOfTheBest) {
  // 0.5, 0.4, 0.1: min_p 0.5 keeps tokens with p >= 0.25.
  Sampler s(params(1.0f, 0, 1.0f, 0.5f), 3);
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = {std::log(0.5f), std::log(0.4f), std::log(0.1f)};
    EXPECT_NE(s.sample(l.data(), {}), 2);
  }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p = params(0.0f);
  p.repetition_penalty = 2.0f;
  Sampler s(p, 3);
  std::vector<float> l = {3.0f, 2.0f, -1.0f};
  // token 0 was seen: 3 -> 1.5, so token 1 (2.0) wins greedily.
  EXPECT_EQ(s.sample(l.data(), {0}), 1);
  EXPECT_FLOAT_EQ(l[0], 1.5f);
  std::vector<float> m = {-1.0f, -2.0f, -3.0f};
  s.sample(m.data(), {0});
  EXPECT_FLOAT_EQ(m[0], -2.0f);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesSubtract) {
  SamplingParams p = params(0.0f);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 3);
  std::vector<float> l = {1.0f, 1.0f, 1.0f};
  s.sample(l.data(), {1, 1, 2});
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[1], 1.0f - 0.5f - 0.5f);
  EXPECT_FLOAT_EQ(l[2], 1.0f - 0.5f - 0.25f);
}

TEST(Sampler, LogprobsAreALogSoftmax) {
  Sampler s(params(1.0f), 3);
  std::vector<float> l = {0.0f, std::log(3.0f), -100.0f};
  EXPECT_NEAR(s.logprob_of(l.data(), 1), std::log(0.75), 1e-5);
  std::vector<std::pair<int32_t, float>> top;
  s.top_logprobs(l.data(), 2, &top);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1);
  EXPECT_EQ(top[1].first, 0);
  EXPECT_NEAR(top[1].second, std::log(0.25), 1e-5);
}

}  // namespace
}  // namespace mofa::llm
