// `mofa perplexity`: perplexity of a model on a text file. The text is tokenized without special
// tokens and cut into chunks of --ctx tokens; every token of a chunk but the first is predicted
// from the ones before it, and exp(mean negative log-likelihood) is reported.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/mofa/command.h"
#include "apps/mofa/model_flags.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "io/model_config.h"
#include "io/weight_store.h"
#include "models/registry.h"
#include "text/tokenizer.h"

namespace mofa::cli {
namespace {

struct PerplexityFlags {
  ModelFlags model;
  std::string file;
  int ctx = 512;
  bool json = false;
};

void perplexity(const PerplexityFlags& f) {
  const std::string dir = resolve_model_dir(f.model.model);
  if (f.model.threads > 0) thread_pool_set_threads(f.model.threads);
  if (f.ctx < 2) throw InvalidInput("--ctx must be at least 2");
  std::ifstream in(f.file, std::ios::binary);
  if (!in) throw InvalidInput("cannot read '" + f.file + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  auto tok = text::Tokenizer::load(dir);
  std::vector<int32_t> ids = tok->encode(ss.str(), false, false);
  if (ids.size() < 2) throw InvalidInput("'" + f.file + "' holds fewer than 2 tokens");

  io::ModelConfig cfg = models::causal_lm_config(dir);
  io::WeightStore store = io::WeightStore::open_dir(dir, f.model.residency());
  models::ModelOptions mo;
  mo.mode = f.model.exact ? ops::MatmulMode::exact : ops::MatmulMode::fast;
  mo.kv_types = f.model.kv_types();
  auto model = models::causal_lm_create(cfg, store, mo);
  const int64_t V = model->vocab_size();
  auto cache = model->new_cache(f.ctx);

  double nll = 0;
  int64_t scored = 0;
  for (size_t start = 0; start + 1 < ids.size(); start += static_cast<size_t>(f.ctx)) {
    const int64_t n = std::min<int64_t>(f.ctx, static_cast<int64_t>(ids.size() - start));
    if (n < 2) break;
    for (int64_t pos = 0; pos < n;) {
      const int64_t m = std::min<int64_t>(n - pos, model->max_batch());
      Tensor logits = model->forward(ids.data() + start + pos, m, pos, *cache, true);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t target_pos = pos + i + 1;
        if (target_pos >= n) break;
        const float* row = logits.data<float>() + i * V;
        float mx = row[0];
        for (int64_t v = 1; v < V; ++v) mx = std::max(mx, row[v]);
        double sum = 0;
        for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
        const int32_t target = ids[start + target_pos];
        nll -= static_cast<double>(row[target] - mx) - std::log(sum);
        ++scored;
      }
      pos += m;
    }
  }
  const double ppl = std::exp(nll / static_cast<double>(scored));
  if (f.json) {
    std::printf("%s\n", nlohmann::json({{"model", dir},
                                        {"file", f.file},
                                        {"ctx", f.ctx},
                                        {"tokens", ids.size()},
                                        {"scored", scored},
                                        {"perplexity", ppl},
                                        {"exact", f.model.exact}})
                            .dump()
                            .c_str());
  } else {
    std::printf("perplexity %.4f over %lld tokens (%zu in the file, chunks of %d)\n", ppl,
                static_cast<long long>(scored), ids.size(), f.ctx);
  }
}

const CommandRegistration reg("perplexity", [](CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  auto* cmd = app.add_subcommand("perplexity", "perplexity of a model on a text file");
  add_model_flags(cmd, &flags->model);
  cmd->add_option("--file,-f", flags->file, "text file")->required();
  cmd->add_option("--ctx", flags->ctx, "tokens per chunk")->capture_default_str();
  cmd->add_flag("--json", flags->json, "print one JSON object");
  cmd->callback([flags] { perplexity(*flags); });
});

}  // namespace
}  // namespace mofa::cli
