#include "pipelines/llm/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace mofa::llm {

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : p_(params), vocab_(vocab_size), counts_(static_cast<size_t>(vocab_size), 0) {
  uint64_t seed = params.has_seed
                      ? params.seed
                      : static_cast<uint64_t>(
                            std::chrono::steady_clock::now().time_since_epoch().count());
  rng_.seed(seed);
  ids_.reserve(static_cast<size_t>(vocab_size));
  probs_.reserve(static_cast<size_t>(vocab_size));
}

void Sampler::apply_penalties(float* logits, const std::vector<int32_t>& history) {
  const bool rep = p_.repetition_penalty != 1.0f;
  const bool presence = p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (!rep && !presence) return;
  size_t n = history.size();
  size_t from = p_.penalty_last_n < 0 ? 0
                : n > static_cast<size_t>(p_.penalty_last_n) ? n - p_.penalty_last_n
                                                            : 0;
  for (size_t i = from; i < n; ++i)
    if (history[i] >= 0 && history[i] < vocab_) ++counts_[history[i]];
  for (size_t i = from; i < n; ++i) {
    int32_t t = history[i];
    if (t < 0 || t >= vocab_ || counts_[t] == 0) continue;
    float& l = logits[t];
    if (rep) l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
    l -= static_cast<float>(counts_[t]) * p_.frequency_penalty + p_.presence_penalty;
    counts_[t] = 0;  // each distinct token is penalised once
  }
}

int32_t Sampler::sample(float* logits, const std::vector<int32_t>& history) {
  apply_penalties(logits, history);
  if (p_.temperature <= 0.0f || p_.top_k == 1) {
    return static_cast<int32_t>(std::max_element(logits, logits + vocab_) - logits);
  }
  // Candidates sorted by logit, cut to top_k first so the sort stays cheap.
  ids_.resize(static_cast<size_t>(vocab_));
  for (int64_t i = 0; i < vocab_; ++i) ids_[i] = static_cast<int32_t>(i);
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b]; };
  size_t k = p_.top_k > 0 && p_.top_k < vocab_ ? static_cast<size_t>(p_.top_k) : ids_.size();
  if (k < ids_.size()) {
    std::nth_element(ids_.begin(), ids_.begin() + k, ids_.end(), by_logit);
    ids_.resize(k);
  }
  std::sort(ids_.begin(), ids_.end(), by_logit);

  // Softmax at temperature 1 for the top-p / min-p cuts, as llama.cpp applies them.
  const float max_l = logits[ids_[0]];
  probs_.resize(ids_.size());
  double sum = 0;
  for (size_t i = 0; i < ids_.size(); ++i) {
    probs_[i] = std::exp(logits[ids_[i]] - max_l);
    sum += probs_[i];
  }
  size_t keep = ids_.size();
  if (p_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < keep; ++i) {
      cum += probs_[i] / sum;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (p_.min_p > 0.0f) {
    const float threshold = p_.min_p * probs_[0];  // probs_[0] is the maximum (unnormalised 1)
    size_t i = 1;
    while (i < keep && probs_[i] >= threshold) ++i;
    keep = i;
  }
  ids_.resize(keep);
  probs_.resize(keep);
  // Temperature on the surviving logits.
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs_[i] = std::exp((logits[ids_[i]] - max_l) / p_.temperature);
    total += probs_[i];
  }
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_), acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += probs_[i];
    if (r < acc) return ids_[i];
  }
  return ids_[keep - 1];
}

static double log_sum_exp(const float* logits, int64_t n, float* max_out) {
  float m = *std::max_element(logits, logits + n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(logits[i] - m));
  *max_out = m;
  return std::log(s);
}

float Sampler::logprob_of(const float* logits, int32_t id) const {
  float m;
  double lse = log_sum_exp(logits, vocab_, &m);
  return static_cast<float>(logits[id] - m - lse);
}

void Sampler::top_logprobs(const float* logits, int n,
                           std::vector<std::pair<int32_t, float>>* top) const {
  top->clear();
  if (n <= 0) return;
  float m;
  double lse = log_sum_exp(logits, vocab_, &m);
  std::vector<int32_t> idx(static_cast<size_t>(vocab_));
  for (int64_t i = 0; i < vocab_; ++i) idx[i] = static_cast<int32_t>(i);
  size_t k = std::min<size_t>(static_cast<size_t>(n), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  for (size_t i = 0; i < k; ++i)
    top->emplace_back(idx[i], static_cast<float>(logits[idx[i]] - m - lse));
}

}  // namespace mofa::llm
