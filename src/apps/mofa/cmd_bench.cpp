// `mofa bench`: prompt-processing and generation speed, measured like llama-bench: pp = one
// batched prefill of -p random tokens, tg = -n single-token decode steps, each after --depth
// tokens of context, averaged over -r repetitions. --profile adds one more pp and tg pass with the
// op profiler on (so the headline figures are measured with it off) and prints where the time went.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/mofa/command.h"
#include "apps/mofa/model_flags.h"
#include "core/profile.h"
#include "core/thread_pool.h"
#include "io/model_config.h"
#include "io/weight_store.h"
#include "models/registry.h"

namespace mofa::cli {
namespace {

struct BenchFlags {
  ModelFlags model;
  int pp = 512;
  int tg = 128;
  int depth = 0;
  int reps = 3;
  bool json = false;
  bool profile = false;
};

using Clock = std::chrono::steady_clock;

struct Stat {
  double mean = 0, stdev = 0;
};

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stdev += (x - s.mean) * (x - s.mean);
  s.stdev = v.size() > 1 ? std::sqrt(s.stdev / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// Peak resident set size of this process in bytes (VmHWM), or 0 where /proc is unavailable.
uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "  1234 kB"
  }
  return 0;
}

// One profiled pass: wall time, tokens and the per-kind counters.
struct PhaseProfile {
  const char* key = "";  // JSON key: "pp" or "tg"
  const char* phase = "";
  int64_t tokens = 0;
  uint64_t wall_ns = 0;
  profile::Counters counters;
};

template <typename Fn>
PhaseProfile profile_phase(const char* key, const char* phase, int64_t tokens, Fn&& run) {
  PhaseProfile p;
  p.key = key;
  p.phase = phase;
  p.tokens = tokens;
  profile::reset();
  profile::set_enabled(true);
  const auto t0 = Clock::now();
  run();
  p.wall_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  profile::set_enabled(false);
  p.counters = profile::snapshot();
  return p;
}

nlohmann::json profile_json(const PhaseProfile& p) {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& r : profile::rows(p.counters, p.wall_ns))
    ops.push_back({{"op", r.name}, {"ms", r.ms}, {"share", r.share}, {"calls", r.calls}});
  return {{"tokens", p.tokens}, {"wall_ms", static_cast<double>(p.wall_ns) / 1e6}, {"ops", ops}};
}

void print_profile(const PhaseProfile& p) {
  const double wall_ms = static_cast<double>(p.wall_ns) / 1e6;
  const double n = static_cast<double>(std::max<int64_t>(p.tokens, 1));
  std::printf("\nprofile of %s (one pass, %lld tokens, %.1f ms, %.3f ms/token):\n\n", p.phase,
              static_cast<long long>(p.tokens), wall_ms, wall_ms / n);
  std::printf("| op | ms | ms/token | share | calls |\n");
  std::printf("| -- | -: | -------: | ----: | ----: |\n");
  for (const auto& r : profile::rows(p.counters, p.wall_ns)) {
    const std::string calls = r.calls > 0 ? std::to_string(r.calls) : "";
    std::printf("| %s | %.2f | %.4f | %.1f%% | %s |\n", r.name.c_str(), r.ms, r.ms / n,
                100.0 * r.share, calls.c_str());
  }
}

void bench(const BenchFlags& f) {
  const std::string dir = resolve_model_dir(f.model.model);
  if (f.model.threads > 0) thread_pool_set_threads(f.model.threads);
  const int threads = thread_pool_global().size();
  io::ModelConfig cfg = models::causal_lm_config(dir);
  io::WeightStore store = io::WeightStore::open_dir(dir, f.model.residency());
  models::ModelOptions mo;
  mo.mode = f.model.exact ? ops::MatmulMode::exact : ops::MatmulMode::fast;
  mo.kv_types = f.model.kv_types();
  auto model = models::causal_lm_create(cfg, store, mo);
  const int64_t ctx = f.depth + std::max(f.pp, f.tg) + 1;
  auto cache = model->new_cache(ctx);

  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(cfg.vocab_size - 1));
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& t : v) t = tok(rng);
    return v;
  };
  // Runs `ids` through the model in max_batch chunks starting at n_past.
  auto prefill = [&](const std::vector<int32_t>& ids, int64_t n_past) {
    for (size_t pos = 0; pos < ids.size();) {
      int64_t n = std::min<int64_t>(static_cast<int64_t>(ids.size() - pos), model->max_batch());
      model->forward(ids.data() + pos, n, n_past + static_cast<int64_t>(pos), *cache, false);
      pos += static_cast<size_t>(n);
    }
  };
  const auto depth_ids = random_tokens(f.depth);
  if (f.depth > 0) prefill(depth_ids, 0);
  // Warm-up: page the weights in and settle the thread pool. Two tokens at least, so a model with
  // recurrent states snapshots them at `depth` and every rep can start there again.
  auto warm = random_tokens(std::clamp(f.pp, 2, 16));
  prefill(warm, f.depth);

  std::vector<double> pp_tps, tg_tps;
  for (int r = 0; r < f.reps; ++r) {
    if (f.pp > 0) {
      auto ids = random_tokens(f.pp);
      auto t0 = Clock::now();
      prefill(ids, f.depth);
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      pp_tps.push_back(f.pp / s);
    }
    if (f.tg > 0) {
      auto ids = random_tokens(f.tg);
      auto t0 = Clock::now();
      for (int i = 0; i < f.tg; ++i) model->forward(&ids[i], 1, f.depth + i, *cache, false);
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      tg_tps.push_back(f.tg / s);
    }
  }
  std::vector<PhaseProfile> profiles;
  if (f.profile) {
    if (f.pp > 0) {
      auto ids = random_tokens(f.pp);
      profiles.push_back(
          profile_phase("pp", "prompt processing", f.pp, [&] { prefill(ids, f.depth); }));
    }
    if (f.tg > 0) {
      auto ids = random_tokens(f.tg);
      profiles.push_back(profile_phase("tg", "generation", f.tg, [&] {
        for (int i = 0; i < f.tg; ++i) model->forward(&ids[i], 1, f.depth + i, *cache, false);
      }));
    }
  }
  const uint64_t peak_rss = peak_rss_bytes();
  Stat pp = stat_of(pp_tps), tg = stat_of(tg_tps);
  const double gbps = tg.mean * static_cast<double>(model->decode_bytes()) / 1e9;
  if (f.json) {
    nlohmann::json j = {{"model", dir},
                        {"model_type", cfg.model_type},
                        {"threads", threads},
                        {"exact", f.model.exact},
                        {"mmap", f.model.mmap},
                        {"cache_type_k", std::string(dtype_name(mo.kv_types.k))},
                        {"cache_type_v", std::string(dtype_name(mo.kv_types.v))},
                        {"kv_cache_bytes", cache->bytes()},
                        {"weight_bytes", model->weight_bytes()},
                        {"decode_weight_bytes", model->decode_bytes()},
                        {"depth", f.depth},
                        {"pp_tokens", f.pp},
                        {"pp_tps", pp.mean},
                        {"pp_tps_stdev", pp.stdev},
                        {"tg_tokens", f.tg},
                        {"tg_tps", tg.mean},
                        {"tg_tps_stdev", tg.stdev},
                        {"tg_weight_gbps", gbps},
                        {"peak_rss_bytes", peak_rss},
                        {"reps", f.reps}};
    if (!profiles.empty()) {
      nlohmann::json pj = nlohmann::json::object();
      for (const auto& p : profiles) pj[p.key] = profile_json(p);
      j["profile"] = pj;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| model | type | weights | threads | test | t/s |\n");
  std::printf("| ----- | ---- | ------: | ------: | ---- | --: |\n");
  const double gib = static_cast<double>(model->weight_bytes()) / (1024.0 * 1024.0 * 1024.0);
  auto row = [&](const char* name, int n, const Stat& s) {
    std::string test = std::string(name) + std::to_string(n);
    if (f.depth > 0) test += " @ d" + std::to_string(f.depth);
    std::printf("| %s | %s | %.2f GiB | %d | %s | %.2f ± %.2f |\n", dir.c_str(),
                cfg.model_type.c_str(), gib, threads, test.c_str(), s.mean, s.stdev);
  };
  if (f.pp > 0) row("pp", f.pp, pp);
  if (f.tg > 0) row("tg", f.tg, tg);
  if (f.tg > 0)
    std::printf("\ngeneration reads %.2f GB/s of weights (%.1f MB per token)\n", gbps,
                static_cast<double>(model->decode_bytes()) / 1e6);
  std::printf("peak resident memory %.1f MiB (KV cache %s/%s: %.1f MiB)\n",
              static_cast<double>(peak_rss) / (1024.0 * 1024.0), dtype_name(mo.kv_types.k).data(),
              dtype_name(mo.kv_types.v).data(),
              static_cast<double>(cache->bytes()) / (1024.0 * 1024.0));
  for (const auto& p : profiles) print_profile(p);
}

const CommandRegistration reg("bench", [](CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  auto* cmd =
      app.add_subcommand("bench", "prompt-processing and generation speed (like llama-bench)");
  add_model_flags(cmd, &flags->model);
  cmd->add_option("-p,--n-prompt", flags->pp, "prompt tokens (0 = skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", flags->tg, "generated tokens (0 = skip)")->capture_default_str();
  cmd->add_option("-d,--depth", flags->depth, "context tokens already in the cache")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", flags->reps, "repetitions")->capture_default_str();
  cmd->add_flag("--json", flags->json, "print one JSON object");
  cmd->add_flag("--profile", flags->profile,
                "one more pp and tg pass with per-op timing: a table (or a \"profile\" JSON key)");
  cmd->callback([flags] { bench(*flags); });
});

}  // namespace
}  // namespace mofa::cli
