#pragma once
// Turns a row of logits into the next token: penalties, then top-k, top-p, min-p and
// temperature (llama.cpp's order), then a draw from a seeded generator; greedy at temperature 0.
#include <cstdint>
#include <random>
#include <vector>

#include "pipelines/llm/generate.h"

namespace mofa::llm {

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t vocab_size);

  // Picks a token from logits[vocab] (modified in place by penalties). `history` holds the
  // prompt and generated tokens, newest last.
  int32_t sample(float* logits, const std::vector<int32_t>& history);

  // Log-probabilities of the model's distribution (log-softmax of the logits as given, before
  // sampling filters) for `id` and the `n` most likely tokens. Call before sample().
  float logprob_of(const float* logits, int32_t id) const;
  void top_logprobs(const float* logits, int n, std::vector<std::pair<int32_t, float>>* top) const;

 private:
  void apply_penalties(float* logits, const std::vector<int32_t>& history);

  SamplingParams p_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  // Reused every step: candidate ids and their probabilities, and per-token counts.
  std::vector<int32_t> ids_;
  std::vector<float> probs_;
  std::vector<int32_t> counts_;
};

}  // namespace mofa::llm
