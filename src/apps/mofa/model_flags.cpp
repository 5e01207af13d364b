#include "apps/mofa/model_flags.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

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

void add_model_flags(CLI::App* cmd, ModelFlags* f) {
  cmd->add_option("--model,-m", f->model, "model directory, or a model id in the models dir");
  cmd->add_option("--threads,-t", f->threads, "CPU threads (default: all cores)");
  cmd->add_option("--ctx-size,-c", f->ctx_size, "context length (default: the model's)");
  cmd->add_flag("--exact", f->exact, "exact matmuls (f32 activations, as the reference computes)");
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
  if (model.empty())
    throw InvalidInput("no model given: pass --model DIR (a model directory or a downloaded id)");
  if (fs::is_directory(model)) return model;
  const char* home = std::getenv("MOFA_HOME");
  const char* user = std::getenv("HOME");
  fs::path base = home ? fs::path(home) : fs::path(user ? user : ".") / ".mofa";
  fs::path candidate = base / "models" / model;
  if (model.find('/') == std::string::npos && model != ".." && fs::is_directory(candidate))
    return candidate.string();
  throw InvalidInput("model '" + model + "' is neither a directory nor a downloaded model in " +
                     (base / "models").string());
}

std::unique_ptr<llm::LlmPipeline> load_pipeline(const ModelFlags& f) {
  llm::LoadOptions lo;
  lo.exact = f.exact;
  lo.ctx_size = f.ctx_size;
  lo.threads = f.threads;
  return llm::LlmPipeline::load(resolve_model_dir(f.model), lo);
}

}  // namespace mofa::cli
