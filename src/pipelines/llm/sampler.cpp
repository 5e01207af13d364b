#include "pipelines/llm/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace mofa::llm {

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size)
    : p_(params), vocab_(vocab_size), counts_(static_cast<size_t>(vocab_size), 0) {
  uint64_t seed =
      params.has_seed
          ? params.seed
          : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  rng_.seed(seed);
  ids_.reserve(static_cast<size_t>(vocab_size));
  probs_.reserve(static_cast<size_t>(vocab_size));
}

void Sampler::apply_penalties(float* logits, const std::vector<int32_t>& history) {
  const bool rep = p_.repetition_penalty != 1.0f;
  const bool presence = p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (!rep && !presence) return;
  size_t n = history.size();
  size_t from = p_.penalty_last_n < 0                        ? 0
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
  return pick(logits);
}

int32_t Sampler::sample_constrained(float* logits, const std::vector<int32_t>& history,
                                    const std::function<bool(int32_t)>& accepts,
                                    const std::function<const std::vector<uint64_t>&()>& allowed) {
  apply_penalties(logits, history);
  // A few cheap single-token checks first: the next-best token (greedy) or another draw from
  // the remaining candidates (sampling: drawing again without the rejected tokens is exactly
  // drawing from the candidates the grammar allows). Only then build the full mask.
  constexpr size_t kTries = 16;
  const bool greedy = p_.temperature <= 0.0f || p_.top_k == 1;
  if (greedy) {
    // The kTries best tokens in one pass, best first (ties keep the lower id, like argmax).
    best_.clear();
    for (int64_t i = 0; i < vocab_; ++i) {
      const float l = logits[i];
      if (best_.size() == kTries && !(l > logits[best_.back()])) continue;
      auto at = best_.end();
      while (at != best_.begin() && l > logits[*(at - 1)]) --at;
      best_.insert(at, static_cast<int32_t>(i));
      if (best_.size() > kTries) best_.pop_back();
    }
    for (int32_t candidate : best_)
      if (accepts(candidate)) return candidate;
  } else {
    int32_t id = pick(logits);
    for (size_t attempt = 0; attempt < kTries && id >= 0; ++attempt) {
      if (accepts(id)) return id;
      const size_t at = static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
      if (at < probs_.size()) probs_[at] = 0.0f;
      id = draw();
    }
  }
  // The same cuts and draw over the allowed tokens only (often far fewer than the vocabulary).
  const std::vector<uint64_t>& mask = allowed();
  allowed_ids_.clear();
  for (size_t w = 0; w < mask.size(); ++w)
    for (uint64_t bits = mask[w]; bits != 0; bits &= bits - 1)
      allowed_ids_.push_back(
          static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
  if (allowed_ids_.empty()) return -1;
  return pick(logits, &allowed_ids_);
}

int32_t Sampler::pick(const float* logits, const std::vector<int32_t>* only) {
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b]; };
  if (p_.temperature <= 0.0f || p_.top_k == 1) {
    if (only) return *std::min_element(only->begin(), only->end(), by_logit);
    return static_cast<int32_t>(std::max_element(logits, logits + vocab_) - logits);
  }
  // Candidates sorted by logit, cut to top_k first so the sort stays cheap.
  if (only) {
    ids_ = *only;
  } else {
    ids_.resize(static_cast<size_t>(vocab_));
    for (int64_t i = 0; i < vocab_; ++i) ids_[i] = static_cast<int32_t>(i);
  }
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
  for (size_t i = 0; i < keep; ++i)
    probs_[i] = std::exp((logits[ids_[i]] - max_l) / p_.temperature);
  const int32_t id = draw();
  return id >= 0 ? id : ids_[0];
}

int32_t Sampler::draw() {
  double total = 0;
  for (float p : probs_) total += p;
  if (!(total > 0)) return -1;
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_), acc = 0;
  size_t last = 0;
  for (size_t i = 0; i < probs_.size(); ++i) {
    if (probs_[i] <= 0.0f) continue;
    acc += probs_[i];
    last = i;
    if (r < acc) return ids_[i];
  }
  return ids_[last];
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
