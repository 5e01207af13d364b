#include "apps/mofa/model_flags.h"

#include <filesystem>

#include "core/error.h"
#include "runtime/bundled_model.h"
#include "runtime/hub_download.h"
#include "runtime/settings.h"
#include "server/cli_flags.h"

namespace mofa::cli {

llm::GenerateOptions SamplingFlags::options() const {
  llm::GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling.temperature = temp;
  o.sampling.top_k = top_k;
  o.sampling.top_p = top_p;
  o.sampling.min_p = min_p;
  o.sampling.repetition_penalty = repeat_penalty;
  o.sampling.has_seed = has_seed;
  o.sampling.seed = seed;
  return o;
}

models::KvCacheTypes ModelFlags::kv_types() const {
  return {models::kv_cache_type_from_name(cache_type_k, exact, "--cache-type-k"),
          models::kv_cache_type_from_name(cache_type_v, exact, "--cache-type-v")};
}

void add_model_flags(CLI::App* cmd, ModelFlags* f) {
  cmd->add_option("--model,-m", f->model, "model directory, or a model id in the models dir");
  server::add_threads_flag(cmd, &f->threads);
  cmd->add_option("--ctx-size,-c", f->ctx_size, "context length (default: the model's)");
  cmd->add_flag("--exact", f->exact, "exact matmuls (f32 activations, as the reference computes)");
  server::add_mmap_flag(cmd, &f->mmap);
  server::add_cache_type_flags(cmd, &f->cache_type_k, &f->cache_type_v);
}

void add_sampling_flags(CLI::App* cmd, SamplingFlags* f) {
  cmd->add_option("--temp", f->temp, "temperature (0 = greedy)")->capture_default_str();
  cmd->add_option("--top-k", f->top_k, "top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", f->top_p, "top-p (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", f->min_p, "min-p (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", f->repeat_penalty, "repetition penalty (1 = off)");
  cmd->add_option("--max-tokens,-n", f->max_tokens, "tokens to generate (-1 = until done)");
  cmd->add_option("--seed", f->seed, "seed for reproducible sampling")
      ->each([f](const std::string&) { f->has_seed = true; });
}

std::string resolve_model_dir(const std::string& model) {
  namespace fs = std::filesystem;
  const runtime::Settings settings = runtime::load_settings(runtime::default_home());
  std::string name = model.empty() ? settings.default_model : model;
  if (name.empty() || name == runtime::kBundledModelId) {
    std::string bundled = runtime::bundled_model_dir();
    if (!bundled.empty()) return bundled;
    throw InvalidInput("no model given and the built-in model is not installed: pass --model DIR");
  }
  if (fs::is_directory(name)) return name;
  fs::path candidate = fs::path(settings.models_dir) / name;
  if (runtime::model_id_is_safe(name) && fs::is_directory(candidate)) return candidate.string();
  throw InvalidInput("model '" + name + "' is neither a directory nor a downloaded model in " +
                     settings.models_dir + " (mofa list shows them)");
}

std::unique_ptr<llm::LlmPipeline> load_pipeline(const ModelFlags& f) {
  llm::LoadOptions lo;
  lo.exact = f.exact;
  lo.mmap = f.mmap;
  lo.cache_type_k = f.cache_type_k;
  lo.cache_type_v = f.cache_type_v;
  lo.ctx_size = f.ctx_size;
  lo.threads = f.threads;
  return llm::LlmPipeline::load(resolve_model_dir(f.model), lo);
}

}  // namespace mofa::cli
