// The measurements behind BENCHMARKS.md's "MiniCPM-SALA: InfLLM-v2 sparse attention" section,
// skipped unless asked for (they take minutes):
//   MOFA_SALA_EFFECT_MODEL=DIR [MOFA_SALA_EFFECT_CONTEXT=12000] [MOFA_SALA_EFFECT_GEN=32]
//     a minicpm_sala checkpoint run on a random prompt with its sparse_config and without it
//     (dense attention): logit differences after the prompt, greedy agreement, decode time.
//   MOFA_SALA_EFFECT_TIMING=8192,32768,131072
//     one decode step of a minicpm4 layer's attention (MiniCPM-SALA's 32 heads, 2 KV heads,
//     head_dim 128, the published sparse_config) over random caches of those lengths, sparse
//     against dense.
// They assert only what must hold whatever the numbers (finite logits, sparse differing from
// dense past the kept blocks); the figures are printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "core/ops/ops.h"
#include "io/model_config.h"
#include "io/weight_store.h"
#include "models/layers/infllm_v2_attention.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

struct Pass {
  std::vector<float> prompt_logits;       // after the prompt
  std::vector<std::vector<float>> steps;  // after each fed token
  std::vector<int32_t> greedy;            // own greedy continuation
  double prefill_s = 0, decode_s_per_token = 0;
};

// The prompt in forwards of max_batch rows, then `gen` decode steps feeding `feed` when given
// (teacher forcing) or the model's own greedy tokens.
Pass run(const io::ModelConfig& cfg, const io::WeightStore& store, int64_t max_batch,
         const std::vector<int32_t>& prompt, int64_t gen, const std::vector<int32_t>* feed) {
  ModelOptions mo;
  mo.mode = ops::MatmulMode::exact;
  mo.max_batch = max_batch;
  auto model = causal_lm_create(cfg, store, mo);
  const int64_t n = static_cast<int64_t>(prompt.size()), vocab = model->vocab_size();
  auto cache = model->new_cache(n + gen + 1);
  Pass p;
  auto t0 = Clock::now();
  Tensor logits;
  for (int64_t pos = 0; pos < n; pos += max_batch)
    logits = model->forward(prompt.data() + pos, std::min(max_batch, n - pos), pos, *cache, false);
  p.prefill_s = seconds_since(t0);
  p.prompt_logits.assign(logits.data<float>(), logits.data<float>() + vocab);
  t0 = Clock::now();
  for (int64_t s = 0; s < gen; ++s) {
    const float* l = logits.data<float>();
    const int32_t own = static_cast<int32_t>(std::max_element(l, l + vocab) - l);
    p.greedy.push_back(own);
    const int32_t next = feed ? (*feed)[static_cast<size_t>(s)] : own;
    logits = model->forward(&next, 1, n + s, *cache, false);
    p.steps.emplace_back(logits.data<float>(), logits.data<float>() + vocab);
  }
  p.decode_s_per_token = gen > 0 ? seconds_since(t0) / static_cast<double>(gen) : 0;
  return p;
}

struct Diff {
  double max_abs = 0, mean_abs = 0, max_logit = 0;
  bool same_argmax = false;
};

Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = std::fabs(static_cast<double>(a[i]) - b[i]);
    d.max_abs = std::max(d.max_abs, x);
    d.max_logit = std::max(d.max_logit, std::fabs(static_cast<double>(b[i])));
    sum += x;
  }
  d.mean_abs = sum / static_cast<double>(a.size());
  d.same_argmax = std::max_element(a.begin(), a.end()) - a.begin() ==
                  std::max_element(b.begin(), b.end()) - b.begin();
  return d;
}

TEST(SalaSparseEffect, DenseVersusSparseOnAModel) {
  const char* dir = std::getenv("MOFA_SALA_EFFECT_MODEL");
  if (!dir) GTEST_SKIP() << "set MOFA_SALA_EFFECT_MODEL to a minicpm_sala checkpoint";
  const int64_t n = env_int("MOFA_SALA_EFFECT_CONTEXT", 12000);
  const int64_t gen = env_int("MOFA_SALA_EFFECT_GEN", 32);
  io::ModelConfig sparse_cfg = io::ModelConfig::load(dir);
  ASSERT_TRUE(sparse_cfg.raw.contains("sparse_config"));
  io::ModelConfig dense_cfg = sparse_cfg;
  dense_cfg.raw["sparse_config"] = nullptr;
  io::WeightStore store = io::WeightStore::open_dir(dir);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> tok(3, static_cast<int32_t>(sparse_cfg.vocab_size - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(n));
  for (auto& t : prompt) t = tok(rng);

  // Dense first: its greedy tokens are fed to every sparse run, so steps compare position by
  // position. The prompt in one forward, as the reference runs it, then in the pipeline's
  // 512-row forwards (those ending below dense_len attend densely).
  const Pass dense = run(dense_cfg, store, n, prompt, gen, nullptr);
  const Pass sparse = run(sparse_cfg, store, n, prompt, gen, &dense.greedy);
  const Pass chunked = run(sparse_cfg, store, 512, prompt, gen, &dense.greedy);
  const Pass own = run(sparse_cfg, store, n, prompt, gen, nullptr);

  auto report = [&](const char* what, const Pass& p) -> Diff {
    const Diff d = diff(p.prompt_logits, dense.prompt_logits);
    double step_max = 0, step_mean = 0;
    int agree = 0;
    for (size_t s = 0; s < p.steps.size(); ++s) {
      const Diff ds = diff(p.steps[s], dense.steps[s]);
      step_max = std::max(step_max, ds.max_abs);
      step_mean += ds.mean_abs / static_cast<double>(p.steps.size());
      agree += ds.same_argmax;
    }
    std::printf(
        "%s vs dense at %lld tokens: prompt max|dlogit| %.4g mean %.4g (max|logit| %.3g, "
        "argmax %s); %zu fed steps: max|dlogit| %.4g mean %.4g, argmax agrees %d/%zu; prefill "
        "%.1f s, decode %.1f ms/token\n",
        what, static_cast<long long>(n), d.max_abs, d.mean_abs, d.max_logit,
        d.same_argmax ? "same" : "differs", p.steps.size(), step_max, step_mean, agree,
        p.steps.size(), p.prefill_s, 1e3 * p.decode_s_per_token);
    for (float x : p.prompt_logits) EXPECT_TRUE(std::isfinite(x));
    return d;
  };
  std::printf("dense: prefill %.1f s, decode %.1f ms/token\n", dense.prefill_s,
              1e3 * dense.decode_s_per_token);
  const Diff one_shot = report("sparse (prompt in one forward)", sparse);
  report("sparse (prompt in 512-row forwards)", chunked);
  const Diff split = diff(chunked.prompt_logits, sparse.prompt_logits);
  double mean = 0, var = 0;
  for (float x : dense.prompt_logits) mean += x / static_cast<double>(dense.prompt_logits.size());
  for (float x : dense.prompt_logits)
    var += (x - mean) * (x - mean) / static_cast<double>(dense.prompt_logits.size());
  std::printf(
      "sparse in 512-row forwards vs in one forward: prompt max|dlogit| %.4g mean %.4g; "
      "dense prompt logits: std %.4g\n",
      split.max_abs, split.mean_abs, std::sqrt(var));
  int64_t same_prefix = 0;
  while (same_prefix < gen && own.greedy[static_cast<size_t>(same_prefix)] ==
                                  dense.greedy[static_cast<size_t>(same_prefix)])
    ++same_prefix;
  std::printf("own greedy continuations: the first %lld of %lld tokens equal\n",
              static_cast<long long>(same_prefix), static_cast<long long>(gen));
  const InfLlmV2Config sc = infllm_v2_config(sparse_cfg.raw.at("sparse_config"), "");
  if (n > sc.n_select() * sc.block_size) {
    EXPECT_GT(one_shot.max_abs, 0.0);
  }
}

TEST(SalaSparseEffect, DecodeStepCostOfTheAttention) {
  const char* list = std::getenv("MOFA_SALA_EFFECT_TIMING");
  if (!list) GTEST_SKIP() << "set MOFA_SALA_EFFECT_TIMING to context lengths, e.g. 8192,32768";
  const int64_t heads = 32, n_kv = 2, d = 128;
  const InfLlmV2Config cfg = infllm_v2_config(nlohmann::json::object(), "");  // the published one
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int64_t len = std::atoll(item.c_str());
    std::mt19937 rng(static_cast<uint32_t>(len));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    auto random = [&](Shape shape) {
      Tensor t = Tensor::zeros(DType::f32, shape);
      for (int64_t i = 0; i < t.numel(); ++i) t.data_mut<float>()[i] = dist(rng);
      return t;
    };
    const Tensor q = random({1, heads, d});
    const Tensor k = random({n_kv, len, d});
    const Tensor v = random({n_kv, len, d});
    InfLlmV2Attention sparse(cfg, heads, n_kv, d);
    InfLlmV2Keys keys;
    Tensor out_sparse, out_dense, out_blocks;
    auto t0 = Clock::now();
    sparse.forward(q, k, v, len - 1, 0, scale, keys, out_sparse);  // compresses every key once
    const double first = seconds_since(t0);
    auto median_ms = [](auto&& fn) {
      std::vector<double> t;
      for (int r = 0; r < 15; ++r) {
        auto s0 = Clock::now();
        fn();
        t.push_back(1e3 * seconds_since(s0));
      }
      std::sort(t.begin(), t.end());
      return t[t.size() / 2];
    };
    const double ms_sparse =
        median_ms([&] { sparse.forward(q, k, v, len - 1, len - 1, scale, keys, out_sparse); });
    const double ms_blocks = median_ms([&] {
      ops::attention_blocks(q, k, v, len - 1, scale, sparse.blocks().data(), sparse.n_kept(),
                            cfg.block_size, out_blocks);
    });
    const double ms_dense =
        median_ms([&] { ops::attention(q, k, v, len - 1, scale, 0, out_dense); });
    double dmax = 0;
    for (int64_t i = 0; i < out_dense.numel(); ++i)
      dmax = std::max(dmax, static_cast<double>(std::fabs(out_dense.data<float>()[i] -
                                                          out_sparse.data<float>()[i])));
    std::printf(
        "context %lld: dense %.3f ms, sparse %.3f ms (block choice %.3f + attention over %lld "
        "blocks %.3f); first sparse step (building %lld k1 + %lld k2 entries per KV head) %.1f ms; "
        "compressed keys %.2f MiB vs K/V %.1f MiB\n",
        static_cast<long long>(len), ms_dense, ms_sparse, ms_sparse - ms_blocks,
        static_cast<long long>(sparse.n_kept()), ms_blocks, static_cast<long long>(keys.n1()),
        static_cast<long long>(keys.n2()), 1e3 * first,
        static_cast<double>(keys.bytes()) / (1 << 20),
        2.0 * static_cast<double>(k.nbytes()) / (1 << 20));
    if (len > cfg.n_select() * cfg.block_size) {
      EXPECT_GT(dmax, 0.0);
    }
  }
}

}  // namespace
}  // namespace mofa::models
