#include "runtime/model_manager.h"
#include "runtime/bundled_model.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "runtime/catalog.h"

namespace mofa::runtime {
namespace fs = std::filesystem;

LoadedModel::~LoadedModel() {
  scheduler.reset();
}

bool is_safe_model_id(const std::string& id) {
  if (id.empty() || id.size() > 255 || id[0] == '.' || id == "..") return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':') return false;
  }
  return true;
}

uint64_t directory_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

namespace {

nlohmann::json read_config(const fs::path& dir) {
  std::ifstream in(dir / "config.json", std::ios::binary);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

ModelEntry make_entry(const std::string& id, const fs::path& dir) {
  ModelEntry entry;
  entry.id = id;
  entry.dir = dir.string();
  entry.bytes = directory_bytes(entry.dir);
  entry.config = read_config(dir);
  std::error_code ec;
  const auto mtime = fs::last_write_time(dir / "config.json", ec);
  // file_clock and system_clock differ by a constant offset; measure it once here.
  entry.modified = std::chrono::system_clock::now();
  if (!ec) {
    entry.modified += std::chrono::duration_cast<std::chrono::system_clock::duration>(
        mtime - fs::file_time_type::clock::now());
  }
  return entry;
}

bool is_model_dir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(dir / "config.json", ec);
}

}  // namespace

ModelManager::ModelManager(ModelManagerOptions options, PipelineLoader loader)
    : options_(std::move(options)), loader_(std::move(loader)) {
  if (!options_.pinned_model_dir.empty()) {
    fs::path dir(options_.pinned_model_dir);
    if (!is_model_dir(dir)) {
      throw InvalidInput("--model " + options_.pinned_model_dir +
                         ": not a model directory (no config.json there)");
    }
    auto name = fs::weakly_canonical(dir).filename().string();
    pinned_id_ = name.empty() ? std::string("model") : name;
  }
  janitor_ = std::thread([this] { janitor(); });
}

ModelManager::~ModelManager() {
  {
    std::lock_guard<std::mutex> lock(janitor_mutex_);
    stopping_ = true;
  }
  janitor_cv_.notify_all();
  janitor_.join();
  std::map<std::string, Slot> doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    doomed.swap(loaded_);
  }
}

void ModelManager::janitor() {
  std::unique_lock<std::mutex> lock(janitor_mutex_);
  while (!stopping_) {
    janitor_cv_.wait_for(lock, options_.janitor_period);
    if (stopping_) break;
    lock.unlock();
    collect_idle(std::chrono::steady_clock::now());
    lock.lock();
  }
}

ModelEntry ModelManager::resolve(const std::string& requested) const {
  std::string name = requested;
  if (name.size() > 7 && name.ends_with(":latest")) name.resize(name.size() - 7);
  if (name.empty()) throw InvalidInput("the model name is empty");
  if (!pinned_id_.empty() && name == pinned_id_) {
    return make_entry(pinned_id_, fs::path(options_.pinned_model_dir));
  }
  // "org/name" as on the hub: downloads land in models/<name>.
  if (const auto slash = name.find('/'); slash != std::string::npos &&
                                         name.find('/', slash + 1) == std::string::npos &&
                                         slash > 0 && name.find("..") == std::string::npos) {
    name = name.substr(slash + 1);
    if (!pinned_id_.empty() && name == pinned_id_) {
      return make_entry(pinned_id_, fs::path(options_.pinned_model_dir));
    }
  }
  if (const auto* entry = find_catalog_entry(name)) {
    if (entry->bundled) {
      if (options_.bundled_model_dir.empty())
        throw ModelNotFound("the built-in model '" + name + "' is not installed");
      return make_entry(entry->id, fs::path(options_.bundled_model_dir));
    }
    const auto folder = repo_folder_name(entry->repo);
    if (is_model_dir(fs::path(options_.models_dir) / folder)) {
      return make_entry(folder, fs::path(options_.models_dir) / folder);
    }
    throw ModelNotFound("model '" + requested + "' is in the catalog but not downloaded; " +
                        "download it with POST /v1/models/download {\"catalog_id\": \"" +
                        entry->id + "\"}");
  }
  if (!is_safe_model_id(name)) {
    throw InvalidInput("model id '" + requested +
                       "' is not a plain folder name inside the models directory");
  }
  const auto dir = fs::path(options_.models_dir) / name;
  if (!is_model_dir(dir)) {
    throw ModelNotFound("model '" + requested + "' not found (no " +
                        (dir / "config.json").string() +
                        "); GET /v1/models lists the available models");
  }
  return make_entry(name, dir);
}

std::vector<ModelEntry> ModelManager::list() const {
  std::vector<ModelEntry> entries;
  if (!pinned_id_.empty()) entries.push_back(make_entry(pinned_id_, options_.pinned_model_dir));
  std::error_code ec;
  std::vector<ModelEntry> found;
  for (fs::directory_iterator it(options_.models_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!is_safe_model_id(name) || name == pinned_id_ || !is_model_dir(it->path())) continue;
    found.push_back(make_entry(name, it->path()));
  }
  if (!options_.bundled_model_dir.empty() && pinned_id_ != kBundledModelId &&
      !is_model_dir(fs::path(options_.models_dir) / kBundledModelId)) {
    found.push_back(make_entry(kBundledModelId, options_.bundled_model_dir));
  }
  std::sort(found.begin(), found.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.id < b.id; });
  entries.insert(entries.end(), found.begin(), found.end());
  return entries;
}

bool ModelManager::idle_locked(const Slot& slot) const {
  return slot.model.use_count() == 1 && slot.model->scheduler->busy() == 0;
}

void ModelManager::make_room_locked(uint64_t needed) {
  if (options_.memory_budget_bytes == 0) return;
  for (;;) {
    uint64_t used = 0;
    for (const auto& [id, slot] : loaded_) used += slot.model->bytes;
    if (used + needed <= options_.memory_budget_bytes) return;
    // Least recently used idle model goes first; busy models are never pulled from under a request.
    auto victim = loaded_.end();
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
      if (!idle_locked(it->second)) continue;
      if (victim == loaded_.end() || it->second.last_used < victim->second.last_used) victim = it;
    }
    if (victim == loaded_.end()) return;
    loaded_.erase(victim);
  }
}

std::shared_ptr<LoadedModel> ModelManager::acquire(const std::string& name,
                                                   std::optional<std::chrono::seconds> keep_alive) {
  auto lookup_id = [&](const std::string& id) -> std::shared_ptr<LoadedModel> {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = loaded_.find(id);
    if (it == loaded_.end()) return nullptr;
    it->second.last_used = std::chrono::steady_clock::now();
    if (keep_alive) it->second.keep_alive = *keep_alive;
    return it->second.model;
  };
  // A loaded model named by its id needs no look at the disk (every request names one).
  if (auto model = lookup_id(name)) return model;
  const ModelEntry entry = resolve(name);
  auto lookup = [&] { return lookup_id(entry.id); };
  if (auto model = lookup()) return model;
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  if (auto model = lookup()) return model;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    make_room_locked(entry.bytes);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto model = std::make_shared<LoadedModel>();
  model->id = entry.id;
  model->dir = entry.dir;
  model->pipeline = loader_(entry.dir, options_.load);
  check_internal(model->pipeline != nullptr, "model_manager", "loader returned no pipeline");
  model->scheduler = std::make_unique<Scheduler>(*model->pipeline, options_.scheduler);
  model->loaded_at = std::chrono::system_clock::now();
  model->load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  model->bytes =
      model->pipeline->weight_bytes() > 0 ? model->pipeline->weight_bytes() : entry.bytes;
  std::lock_guard<std::mutex> lock(mutex_);
  Slot slot;
  slot.model = model;
  slot.keep_alive = keep_alive
                        ? *keep_alive
                        : (entry.id == pinned_id_ ? std::chrono::seconds(-1) : options_.keep_alive);
  slot.last_used = std::chrono::steady_clock::now();
  loaded_[entry.id] = std::move(slot);
  return model;
}

std::vector<LoadedInfo> ModelManager::loaded() const {
  std::vector<LoadedInfo> out;
  const auto now_steady = std::chrono::steady_clock::now();
  const auto now_system = std::chrono::system_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [id, slot] : loaded_) {
    LoadedInfo info;
    info.id = id;
    info.dir = slot.model->dir;
    info.bytes = slot.model->bytes;
    info.context_length = slot.model->scheduler->slot_capacity();
    info.model_type = slot.model->pipeline->model_type();
    info.expires_never = slot.keep_alive.count() < 0;
    const auto left = slot.keep_alive -
                      std::chrono::duration_cast<std::chrono::seconds>(now_steady - slot.last_used);
    info.expires_at = now_system + std::max(left, std::chrono::seconds(0));
    info.stats = slot.model->scheduler->stats();
    out.push_back(std::move(info));
  }
  return out;
}

bool ModelManager::is_loaded(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.count(id) > 0;
}

bool ModelManager::unload(const std::string& id) {
  std::shared_ptr<LoadedModel> doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = loaded_.find(id);
    if (it == loaded_.end()) return false;
    doomed = std::move(it->second.model);
    loaded_.erase(it);
  }
  return true;
}

void ModelManager::remove(const std::string& name) {
  const ModelEntry entry = resolve(name);
  if (entry.id == pinned_id_) {
    throw InvalidInput("model '" + entry.id + "' is the --model directory " + entry.dir +
                       "; it is served, not managed, and is never deleted");
  }
  const auto root = fs::weakly_canonical(options_.models_dir);
  const auto target = fs::weakly_canonical(entry.dir);
  if (target.parent_path() != root) {
    throw InvalidInput("model '" + entry.id + "' resolves to " + target.string() +
                       ", outside the models directory " + root.string() + "; not deleted");
  }
  unload(entry.id);
  std::error_code ec;
  fs::remove_all(target, ec);
  if (ec) throw InternalError("cannot delete " + target.string() + ": " + ec.message());
}

void ModelManager::collect_idle(std::chrono::steady_clock::time_point now) {
  std::vector<std::shared_ptr<LoadedModel>> doomed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      auto& slot = it->second;
      if (slot.keep_alive.count() < 0) {
        ++it;
      } else if (!idle_locked(slot)) {
        slot.last_used = std::max(slot.last_used, now);  // keep-alive counts from the last use
        ++it;
      } else if (now - slot.last_used >= slot.keep_alive) {
        doomed.push_back(std::move(slot.model));
        it = loaded_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace mofa::runtime
