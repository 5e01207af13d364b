#pragma once
// The model manager: resolves model ids to directories (the models folder and the --model
// directory), loads a model on the first request that names it, gives each loaded model its own
// scheduler, and unloads models after their keep-alive or when the memory budget needs room.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pipelines/llm/generate.h"
#include "runtime/scheduler.h"

namespace mofa::runtime {

// Thrown when a model id names no model (the HTTP layer answers 404).
class ModelNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using PipelineLoader = std::function<std::unique_ptr<llm::LlmPipeline>(
    const std::string& dir, const llm::LoadOptions& options)>;

// The loader that calls the real LLM pipeline.
PipelineLoader default_pipeline_loader();

// True when `id` is one folder name: no separators, no "..", no leading dot, no control chars.
bool is_safe_model_id(const std::string& id);

struct ModelManagerOptions {
  std::string models_dir;
  std::string pinned_model_dir;  // --model DIR; served under its folder name, kept loaded
  std::string bundled_model_dir;  // the built-in mofa-tiny, listed and served as "mofa-tiny"; "" = none
  llm::LoadOptions load;
  SchedulerOptions scheduler;
  std::chrono::seconds keep_alive{300};  // negative: forever
  uint64_t memory_budget_bytes = 0;      // 0: no limit
  std::chrono::milliseconds janitor_period{1000};
};

// A loaded model; requests hold a shared_ptr so an unload waits for them to let go.
struct LoadedModel {
  std::string id;
  std::string dir;
  std::unique_ptr<llm::LlmPipeline> pipeline;  // declared before the scheduler: outlives it
  std::unique_ptr<Scheduler> scheduler;
  std::chrono::system_clock::time_point loaded_at;
  double load_ms = 0;
  uint64_t bytes = 0;
  ~LoadedModel();
};

// A model found on disk.
struct ModelEntry {
  std::string id;
  std::string dir;
  uint64_t bytes = 0;  // total size of the folder's files
  std::chrono::system_clock::time_point modified;
  nlohmann::json config;  // config.json (null when unreadable)
};

// A loaded model as /api/ps shows it.
struct LoadedInfo {
  std::string id;
  std::string dir;
  uint64_t bytes = 0;
  int64_t context_length = 0;
  std::string model_type;
  bool expires_never = false;
  std::chrono::system_clock::time_point expires_at;
  SchedulerStats stats;
};

class ModelManager {
 public:
  ModelManager(ModelManagerOptions options, PipelineLoader loader);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Returns the loaded model, loading it first if needed. `keep_alive` overrides the default for
  // this model from now on. Throws ModelNotFound, InvalidInput (unsafe id, damaged model).
  std::shared_ptr<LoadedModel> acquire(const std::string& id,
                                       std::optional<std::chrono::seconds> keep_alive = {});
  // Maps a requested name (folder name, "org/name", "name:latest", catalog id) to a model id.
  // Throws ModelNotFound / InvalidInput.
  ModelEntry resolve(const std::string& name) const;

  // Every model on disk (pinned first), sorted by id.
  std::vector<ModelEntry> list() const;
  std::vector<LoadedInfo> loaded() const;
  bool is_loaded(const std::string& id) const;
  const std::string& pinned_id() const { return pinned_id_; }
  const std::string& models_dir() const { return options_.models_dir; }

  // Unloads a model (running requests finish first, holding their reference). False if not loaded.
  bool unload(const std::string& id);
  // Unloads then deletes a model folder inside the models directory. Throws ModelNotFound, or
  // InvalidInput for a model outside it (the --model directory is never deleted).
  void remove(const std::string& name);
  // Unloads models idle past their keep-alive; the janitor thread calls it periodically.
  void collect_idle(std::chrono::steady_clock::time_point now);

 private:
  struct Slot {
    std::shared_ptr<LoadedModel> model;
    std::chrono::seconds keep_alive{0};
    std::chrono::steady_clock::time_point last_used;
  };
  bool idle_locked(const Slot& slot) const;
  void make_room_locked(uint64_t needed);
  void janitor();

  ModelManagerOptions options_;
  PipelineLoader loader_;
  std::string pinned_id_;

  mutable std::mutex mutex_;
  std::map<std::string, Slot> loaded_;
  std::mutex load_mutex_;  // one load at a time; held without mutex_ so listing stays responsive

  std::mutex janitor_mutex_;
  std::condition_variable janitor_cv_;
  bool stopping_ = false;
  std::thread janitor_;
};

// Sum of the sizes of the regular files under `dir`.
uint64_t directory_bytes(const std::string& dir);

}  // namespace mofa::runtime
