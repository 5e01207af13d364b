// MiniCPM-SALA's pieces on their own (lightning attention, ALiBi slopes, the hybrid cache), and,
// with MOFA_REFERENCE_DIR from tests/reference/minicpm_reference.sh, chunked prefill through the
// recurrent state, resuming a cache after a rewind and the logits of every decode step on every
// minicpm fixture (InfLLM-v2 sparse attention on the minicpm-sala-sparse ones).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/model_config.h"
#include "io/safetensors_fixture.h"
#include "io/safetensors_writer.h"
#include "io/weight_store.h"
#include "models/layers/lightning_attention.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

namespace fs = std::filesystem;

Tensor random_tensor(Shape shape, std::mt19937& rng) {
  Tensor t = Tensor::zeros(DType::f32, shape);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  float* d = t.data_mut<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = dist(rng);
  return t;
}

TEST(LightningAttention, AlibiSlopesFollowTheReferenceConstruction) {
  // 8 heads: 2^-1 .. 2^-8.
  auto s8 = alibi_slopes(8);
  ASSERT_EQ(s8.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(s8[i], std::pow(2.0, -(i + 1)));
  // 6 heads: the 4-head slopes then every other one of the 8-head slopes.
  auto s6 = alibi_slopes(6);
  ASSERT_EQ(s6.size(), 6u);
  EXPECT_DOUBLE_EQ(s6[0], std::pow(2.0, -2.0));
  EXPECT_DOUBLE_EQ(s6[3], std::pow(2.0, -8.0));
  EXPECT_DOUBLE_EQ(s6[4], std::pow(2.0, -1.0));
  EXPECT_DOUBLE_EQ(s6[5], std::pow(2.0, -3.0));
}

TEST(LightningAttention, RecurrenceEqualsTheParallelFormAcrossChunks) {
  const int64_t n = 9, heads = 4, kv_heads = 2, d = 8;
  std::mt19937 rng(3);
  Tensor q = random_tensor({n, heads, d}, rng);
  Tensor k = random_tensor({n, kv_heads, d}, rng);
  Tensor v = random_tensor({n, kv_heads, d}, rng);
  std::vector<float> decay;
  for (double s : alibi_slopes(heads)) decay.push_back(static_cast<float>(-s));
  const float scale = 0.35f;

  // One call over all n rows.
  Tensor state = Tensor::zeros(DType::f32, {heads, d, d});
  Tensor out = Tensor::zeros(DType::f32, {n, heads, d});
  lightning_attention(q, k, v, decay, scale, state, out);

  // The same rows in two calls carrying the state.
  Tensor state2 = Tensor::zeros(DType::f32, {heads, d, d});
  Tensor out_a = Tensor::zeros(DType::f32, {4, heads, d});
  Tensor out_b = Tensor::zeros(DType::f32, {n - 4, heads, d});
  lightning_attention(q.slice(0, 0, 4), k.slice(0, 0, 4), v.slice(0, 0, 4), decay, scale, state2,
                      out_a);
  lightning_attention(q.slice(0, 4, n), k.slice(0, 4, n), v.slice(0, 4, n), decay, scale, state2,
                      out_b);

  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t kh = h / (heads / kv_heads);
      for (int64_t j = 0; j < d; ++j) {
        // o_t = scale * sum_{s<=t} exp(g (t - s)) (q_t . k_s) v_s
        double want = 0;
        for (int64_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (int64_t i = 0; i < d; ++i)
            dot += double(q.data<float>()[(t * heads + h) * d + i]) *
                   k.data<float>()[(s * kv_heads + kh) * d + i];
          want += std::exp(double(decay[h]) * double(t - s)) * dot *
                  v.data<float>()[(s * kv_heads + kh) * d + j];
        }
        want *= scale;
        const float got = out.data<float>()[(t * heads + h) * d + j];
        const float got2 = t < 4 ? out_a.data<float>()[(t * heads + h) * d + j]
                                 : out_b.data<float>()[((t - 4) * heads + h) * d + j];
        EXPECT_NEAR(got, want, 1e-4 * (1 + std::fabs(want))) << t << " " << h << " " << j;
        EXPECT_NEAR(got2, got, 1e-5 * (1 + std::fabs(got)));
      }
    }
  }
}

TEST(HybridKvCache, KeepsKvOnlyWhereAskedAndRewindsItsStateToResumePoints) {
  KvCache cache({true, false, true}, 2, 8, 64, {Shape{}, Shape{4, 8, 8}, Shape{}});
  EXPECT_TRUE(cache.has_state());
  cache.reserve(10, 0);
  EXPECT_TRUE(cache.k(0).defined());
  EXPECT_FALSE(cache.k(1).defined());
  const size_t state_bytes = 4 * 8 * 8 * sizeof(float);
  EXPECT_EQ(cache.bytes(), 2u * 2 * 2 * cache.capacity() * 8 * sizeof(float) + state_bytes);

  // Prefill of 5 (snapshot at 0), decode 2: the state holds 7 positions.
  cache.begin_forward(0, 5);
  cache.state(1).data_mut<float>()[0] = 5.0f;
  cache.end_forward(5);
  cache.begin_forward(5, 1);
  cache.end_forward(6);
  cache.begin_forward(6, 1);
  cache.state(1).data_mut<float>()[0] = 7.0f;
  cache.end_forward(7);
  EXPECT_EQ(cache.resume_point(100), 7);
  EXPECT_EQ(cache.resume_point(6), 0);  // position 6 was not kept
  EXPECT_THROW(cache.begin_forward(6, 1), InvalidInput);

  // A second prompt sharing 7 positions goes on; one sharing fewer restarts from 0.
  cache.begin_forward(7, 3);  // snapshot at 7
  cache.state(1).data_mut<float>()[0] = 10.0f;
  cache.end_forward(10);
  EXPECT_EQ(cache.resume_point(8), 7);
  cache.begin_forward(7, 1);
  EXPECT_EQ(cache.state(1).data<float>()[0], 7.0f);
  cache.begin_forward(0, 2);
  EXPECT_EQ(cache.state(1).data<float>()[0], 0.0f);
  EXPECT_EQ(cache.resume_point(8), 0);  // the snapshot at 7 belonged to the old tokens

  // Plain caches resume anywhere.
  KvCache plain(2, 2, 8, 64);
  EXPECT_FALSE(plain.has_state());
  EXPECT_EQ(plain.resume_point(5), 5);
}

// The error a config (with a checkpoint holding only the embedding) gets at load.
std::string load_error(const nlohmann::json& cfg) {
  io::testing::TempDir dir;
  std::ofstream(dir.file("config.json")) << cfg.dump();
  io::safetensors_write(dir.file("model.safetensors"),
                        {{"model.embed_tokens.weight", Tensor::zeros(DType::f32, {8, 16})}});
  try {
    io::ModelConfig c = io::ModelConfig::load(dir.path());
    io::WeightStore store = io::WeightStore::open_dir(dir.path());
    causal_lm_create(c, store, ModelOptions{});
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

nlohmann::json tiny_config(const char* type) {
  auto cfg = nlohmann::json::parse(R"({"hidden_size": 16, "intermediate_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4,
    "vocab_size": 8, "scale_emb": 12, "scale_depth": 1.4, "dim_model_base": 256,
    "max_position_embeddings": 64, "mixer_types": ["minicpm4", "lightning-attn"]})");
  cfg["model_type"] = type;
  return cfg;
}

TEST(MiniCpmConfig, BadFieldsAreNamed) {
  auto cfg = tiny_config("minicpm_sala");
  cfg["mixer_types"] = {"minicpm4"};
  EXPECT_NE(load_error(cfg).find("'mixer_types' must list one mixer per layer (2)"),
            std::string::npos)
      << load_error(cfg);
  cfg["mixer_types"] = {"minicpm4", "mamba"};
  EXPECT_NE(load_error(cfg).find("mixer_types[1] 'mamba' is not supported"), std::string::npos);
  cfg = tiny_config("minicpm_sala");
  cfg["lightning_nkv"] = 3;
  EXPECT_NE(load_error(cfg).find("lightning_nkv"), std::string::npos);
  cfg = tiny_config("minicpm_sala");
  cfg["sparse_config"] = {{"kernel_stride", 0}};
  EXPECT_NE(load_error(cfg).find("sparse_config.kernel_stride must be an integer >= 1"),
            std::string::npos)
      << load_error(cfg);
  cfg["sparse_config"] = {{"use_nope", true}};  // attn_use_rope defaults to true
  EXPECT_NE(load_error(cfg).find("use_nope with attn_use_rope=true is not supported"),
            std::string::npos);

  cfg = tiny_config("minicpm");
  cfg["rope_scaling"] = {{"rope_type", "longrope"},
                         {"short_factor", {1.0}},
                         {"long_factor", {1.0, 1.0}},
                         {"original_max_position_embeddings", 64}};
  EXPECT_NE(load_error(cfg).find("rope_scaling.short_factor must be a list of 2 numbers"),
            std::string::npos)
      << load_error(cfg);
  cfg["dim_model_base"] = 0;
  EXPECT_NE(load_error(cfg).find("field 'dim_model_base' must be positive"), std::string::npos);
}

TEST(MiniCpmConfig, MiniCpmTiesItsHeadUnlessToldOtherwise) {
  auto cfg = tiny_config("minicpm");
  EXPECT_TRUE(io::ModelConfig::parse(cfg, "config.json").tie_word_embeddings);
  cfg["tie_word_embeddings"] = false;
  EXPECT_FALSE(io::ModelConfig::parse(cfg, "config.json").tie_word_embeddings);
  EXPECT_FALSE(io::ModelConfig::parse(tiny_config("minicpm_sala"), "c").tie_word_embeddings);
  EXPECT_DOUBLE_EQ(io::ModelConfig::parse(cfg, "config.json").scale_emb, 12.0);
}

std::vector<fs::path> fixture_dirs() {
  std::vector<fs::path> out;
  const char* root = std::getenv("MOFA_REFERENCE_DIR");
  if (!root) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory() || !fs::exists(e.path() / "reference.json")) continue;
    io::ModelConfig cfg = io::ModelConfig::load(e.path().string());
    if (cfg.model_type == "minicpm" || cfg.model_type == "minicpm_sala") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<CausalLM> load(const fs::path& dir, KvCacheTypes kv_types = {}) {
  io::ModelConfig cfg = io::ModelConfig::load(dir.string());
  io::WeightStore store = io::WeightStore::open_dir(dir.string());
  ModelOptions mo;
  mo.mode = ops::MatmulMode::exact;
  mo.max_batch = 64;
  mo.kv_types = kv_types;
  return causal_lm_create(cfg, store, mo);
}

std::vector<int32_t> prompt_of(const fs::path& dir) {
  std::ifstream in(dir / "reference.json");
  return nlohmann::json::parse(in).at("ids").get<std::vector<int32_t>>();
}

void expect_close(const Tensor& a, const std::vector<float>& b, const std::string& what) {
  for (size_t i = 0; i < b.size(); ++i)
    ASSERT_NEAR(a.data<float>()[i], b[i], 1e-4f * (1.0f + std::fabs(b[i]))) << what << " " << i;
}

TEST(MiniCpmReference, ChunkedPrefillAgreesOnEveryFixture) {
  auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.string());
    auto model = load(dir);
    auto prompt = prompt_of(dir);
    const int64_t n = static_cast<int64_t>(prompt.size()), V = model->vocab_size();
    auto whole = model->new_cache(n + 1);
    Tensor all = model->forward(prompt.data(), n, 0, *whole, false);
    std::vector<float> want(all.data<float>(), all.data<float>() + V);
    // Three chunks (the last a single row, as decoding runs).
    auto chunked = model->new_cache(n + 1);
    model->forward(prompt.data(), n / 2, 0, *chunked, false);
    model->forward(prompt.data() + n / 2, n - 1 - n / 2, n / 2, *chunked, false);
    Tensor last = model->forward(prompt.data() + n - 1, 1, n - 1, *chunked, false);
    expect_close(last, want, "chunked");
  }
}

TEST(MiniCpmReference, ACacheResumesAtItsResumePoints) {
  auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.string());
    auto model = load(dir);
    auto prompt = prompt_of(dir);
    const int64_t n = static_cast<int64_t>(prompt.size()), V = model->vocab_size();
    auto cache = model->new_cache(2 * n + 4);
    Tensor first = model->forward(prompt.data(), n, 0, *cache, false);
    std::vector<float> want(first.data<float>(), first.data<float>() + V);
    int32_t next = 7;
    model->forward(&next, 1, n, *cache, false);
    model->forward(&next, 1, n + 1, *cache, false);
    // A new prompt that shares the first n - 3 tokens: the pipeline asks where it may resume.
    const int64_t resume = cache->resume_point(n - 3);
    EXPECT_EQ(resume, cache->has_state() ? 0 : n - 3);
    Tensor again = model->forward(prompt.data() + resume, n - resume, resume, *cache, false);
    expect_close(again, want, "resumed");
  }
}

nlohmann::json reference_of(const fs::path& dir) {
  std::ifstream in(dir / "reference.json");
  return nlohmann::json::parse(in);
}

// Logits after the prompt (one forward) and after each of the reference's greedy tokens (one
// forward each), checked at the reference's 8 largest of every step.
double max_step_error(CausalLM& model, const nlohmann::json& ref) {
  const auto prompt = ref.at("ids").get<std::vector<int32_t>>();
  const auto greedy = ref.at("greedy").get<std::vector<int32_t>>();
  const auto& tops = ref.at("greedy_top");
  const int64_t n = static_cast<int64_t>(prompt.size());
  auto cache = model.new_cache(n + static_cast<int64_t>(greedy.size()) + 1);
  Tensor logits = model.forward(prompt.data(), n, 0, *cache, false);
  double worst = 0;
  for (size_t step = 0; step < greedy.size(); ++step) {
    double scale = 1;
    for (const auto& iv : tops[step]) scale = std::max(scale, std::fabs(iv[1].get<double>()));
    for (const auto& iv : tops[step]) {
      const double ours = logits.data<float>()[iv[0].get<int64_t>()];
      worst = std::max(worst, std::fabs(ours - iv[1].get<double>()) / scale);
    }
    if (step + 1 < greedy.size())
      logits = model.forward(&greedy[step], 1, n + static_cast<int64_t>(step), *cache, false);
  }
  return worst;
}

TEST(MiniCpmReference, EveryDecodeStepMatchesTorchLogits) {
  auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.string());
    const nlohmann::json ref = reference_of(dir);
    ASSERT_TRUE(ref.contains("greedy_top"));
    auto model = load(dir);
    // f32 against float64, as CausalLMReference's prompt check: 1e-4 of the logit scale.
    const double err = max_step_error(*model, ref);
    std::printf("%s: decode steps max |dlogit| / scale %.3g\n", dir.c_str(), err);
    EXPECT_LE(err, 1e-4);
  }
}

TEST(MiniCpmReference, AnF16CacheStaysCloseToTorchLogits) {
  // Sparse fixtures included: their compressed keys are then pooled from f16 keys.
  auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir.string());
    auto model = load(dir, {DType::f16, DType::f16});
    const double err = max_step_error(*model, reference_of(dir));
    std::printf("%s: f16 KV cache, decode steps max |dlogit| / scale %.3g\n", dir.c_str(), err);
    EXPECT_LE(err, 5e-4);  // dense attention misses the sparse fixtures by > 1e-2
  }
}

TEST(MiniCpmReference, SparseFixturesTellSparseFromDenseAttention) {
  // Without its sparse_config the same model attends densely; on the sparse fixtures that must
  // miss the reference, so that the test above checks which blocks the sparse attention keeps.
  int64_t n_sparse = 0;
  for (const auto& dir : fixture_dirs()) {
    io::ModelConfig cfg = io::ModelConfig::load(dir.string());
    if (cfg.model_type != "minicpm_sala" ||
        cfg.raw.at("sparse_config").at("dense_len").get<int64_t>() > 1000)
      continue;
    SCOPED_TRACE(dir.string());
    ++n_sparse;
    cfg.raw["sparse_config"] = nullptr;
    io::WeightStore store = io::WeightStore::open_dir(dir.string());
    ModelOptions mo;
    mo.mode = ops::MatmulMode::exact;
    mo.max_batch = 64;
    auto dense = causal_lm_create(cfg, store, mo);
    const double err = max_step_error(*dense, reference_of(dir));
    std::printf("%s: dense attention misses the reference by %.3g of the logit scale\n",
                dir.c_str(), err);
    EXPECT_GT(err, 1e-3);
  }
  if (n_sparse == 0) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
}

TEST(MiniCpmReference, ASparseCacheForgetsTheCompressedKeysOfAnEarlierPrompt) {
  // A cache that ran one prompt sparse then serves another from position 0, whose first forward
  // is dense: the compressed keys of the first prompt must not score the second's blocks.
  int64_t n_sparse = 0;
  for (const auto& dir : fixture_dirs()) {
    io::ModelConfig cfg = io::ModelConfig::load(dir.string());
    if (cfg.model_type != "minicpm_sala" ||
        cfg.raw.at("sparse_config").at("dense_len").get<int64_t>() > 1000)
      continue;
    SCOPED_TRACE(dir.string());
    ++n_sparse;
    auto model = load(dir);
    std::vector<int32_t> a;
    while (a.size() < 64) {
      const auto p = prompt_of(dir);
      a.insert(a.end(), p.begin(), p.end());
    }
    a.resize(64);
    std::vector<int32_t> b(a.rbegin(), a.rend());
    const int64_t V = model->vocab_size();
    auto run_b = [&](KvCache& cache) {
      model->forward(b.data(), 16, 0, cache, false);  // below dense_len: dense
      Tensor l = model->forward(b.data() + 16, 48, 16, cache, false);
      return std::vector<float>(l.data<float>(), l.data<float>() + V);
    };
    auto fresh = model->new_cache(80);
    const std::vector<float> want = run_b(*fresh);
    auto reused = model->new_cache(80);
    model->forward(a.data(), 64, 0, *reused, false);
    Tensor got = Tensor::from_f32(run_b(*reused), {V});
    expect_close(got, want, "reused");
  }
  if (n_sparse == 0) GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
}

TEST(MiniCpmReference, SalaKeepsKvOnlyOnItsSoftmaxLayers) {
  for (const auto& dir : fixture_dirs()) {
    io::ModelConfig cfg = io::ModelConfig::load(dir.string());
    if (cfg.model_type != "minicpm_sala") continue;
    SCOPED_TRACE(dir.string());
    auto model = load(dir);
    auto prompt = prompt_of(dir);
    const int64_t n = static_cast<int64_t>(prompt.size());
    int64_t softmax_layers = 0;
    for (const auto& m : cfg.raw.at("mixer_types")) softmax_layers += m == "minicpm4";
    const int64_t lightning_layers = cfg.num_hidden_layers - softmax_layers;
    const size_t state =
        static_cast<size_t>(cfg.num_attention_heads * cfg.head_dim * cfg.head_dim) * sizeof(float);
    auto cache = model->new_cache(1 << 20);
    model->forward(prompt.data(), n, 0, *cache, false);
    // K and V rows of the softmax layers for the capacity in use, one state per lightning layer
    // and its snapshot (taken at the start of the prompt); nothing else grows with the context.
    const size_t kv_per_position =
        static_cast<size_t>(2 * softmax_layers * cfg.num_key_value_heads * cfg.head_dim) *
        sizeof(float);
    EXPECT_EQ(cache->bytes(), kv_per_position * static_cast<size_t>(cache->capacity()) +
                                  2 * static_cast<size_t>(lightning_layers) * state);
    return;
  }
  GTEST_SKIP() << "run tests/reference/minicpm_reference.sh";
}

}  // namespace
}  // namespace mofa::models
