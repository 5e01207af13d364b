#pragma once
// Flags shared by the commands that load a model (run, bench, serve, perplexity).
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/storage.h"
#include "models/model.h"
#include "pipelines/llm/generate.h"

namespace mofa::cli {

struct ModelFlags {
  std::string model;  // a model directory, or the id of a model in the models dir
  int threads = 0;
  int ctx_size = 0;
  bool exact = false;
  bool mmap = false;
  std::string cache_type_k;  // "" = f16, or f32 with --exact
  std::string cache_type_v;
  // The KV cache types the flags name; throws InvalidInput for another name.
  models::KvCacheTypes kv_types() const;
  // How the weight files are held (--mmap maps them; else read into huge-page memory).
  FileResidency residency() const { return mmap ? FileResidency::mapped : FileResidency::memory; }
};

struct SamplingFlags {
  float temp = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int max_tokens = -1;
  bool has_seed = false;
  uint64_t seed = 0;
  llm::GenerateOptions options() const;
};

void add_model_flags(CLI::App* cmd, ModelFlags* flags);
void add_sampling_flags(CLI::App* cmd, SamplingFlags* flags);

// Resolves --model (a directory, or an id in the models dir; empty: the configured default model,
// else the built-in mofa-tiny) to a directory; throws InvalidInput with what was tried.
std::string resolve_model_dir(const std::string& model);
std::unique_ptr<llm::LlmPipeline> load_pipeline(const ModelFlags& flags);

}  // namespace mofa::cli
