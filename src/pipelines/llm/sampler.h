#pragma once
// Turns a row of logits into the next token: penalties, then top-k, top-p, min-p and
// temperature (llama.cpp's order), then a draw from a seeded generator; greedy at temperature 0.
#include <cstdint>
#include <functional>
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

  // Like sample(), restricted to the tokens a grammar allows. The unconstrained pick is checked
  // with `accepts` first; only when it is rejected are the logits masked with `allowed` (bit i
  // of word i/64 set for allowed tokens) and the draw repeated, which gives the same
  // distribution as masking first at a fraction of the cost. Returns -1 when nothing is allowed.
  int32_t sample_constrained(float* logits, const std::vector<int32_t>& history,
                             const std::function<bool(int32_t)>& accepts,
                             const std::function<const std::vector<uint64_t>&()>& allowed);

  // Log-probabilities of the model's distribution (log-softmax of the logits as given, before
  // sampling filters) for `id` and the `n` most likely tokens. Call before sample().
  float logprob_of(const float* logits, int32_t id) const;
  void top_logprobs(const float* logits, int n, std::vector<std::pair<int32_t, float>>* top) const;

 private:
  void apply_penalties(float* logits, const std::vector<int32_t>& history);
  // top-k / top-p / min-p / temperature and the draw (argmax at temperature 0), over the whole
  // vocabulary or only the ids in `only`.
  int32_t pick(const float* logits, const std::vector<int32_t>* only = nullptr);
  // One draw from the candidates ids_ with weights probs_ (-1 when every weight is zero).
  int32_t draw();

  SamplingParams p_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  // Reused every step: candidate ids and their probabilities, and per-token counts.
  std::vector<int32_t> ids_;
  std::vector<float> probs_;
  std::vector<int32_t> counts_;
  std::vector<int32_t> best_;         // greedy's best few tokens, checked before the mask
  std::vector<int32_t> allowed_ids_;  // the grammar's allowed tokens, when the mask is needed
};

}  // namespace mofa::llm
