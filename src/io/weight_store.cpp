#include "io/weight_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"

namespace mofa::io {
namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

// A shard name from an index must stay inside the model directory.
bool is_plain_relative(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name))
    if (part == "..") return false;
  return true;
}

nlohmann::json read_json_file(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(where + "cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(where + path + " is not valid JSON: " + e.what());
  }
}

}  // namespace

WeightStore WeightStore::open_files(const std::string& dir, const std::vector<std::string>& paths,
                                    FileResidency residency) {
  WeightStore store;
  store.dir_ = dir;
  for (const auto& path : paths) {
    auto file = SafetensorsFile::open(path, residency);
    const size_t idx = store.files_.size();
    for (const auto& name : file->names()) {
      auto [it, inserted] = store.where_.emplace(name, idx);
      if (!inserted)
        throw InvalidInput("[weights] " + dir + ": tensor '" + name + "' appears in both " +
                           store.files_[it->second]->path() + " and " + path);
    }
    store.files_.push_back(std::move(file));
  }
  return store;
}

WeightStore WeightStore::open_dir(const std::string& dir, FileResidency residency) {
  const std::string where = "[weights] " + dir + ": ";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InvalidInput(where + "not a directory");
  const fs::path root(dir);

  const fs::path index_path = root / kIndexName;
  if (fs::exists(index_path, ec)) {
    const std::string ip = index_path.string();
    nlohmann::json index = read_json_file(ip, where);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw InvalidInput(where + ip + " has no \"weight_map\" object");
    // shard file -> tensors the index assigns to it, in a stable order.
    std::map<std::string, std::vector<std::string>> shards;
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string())
        throw InvalidInput(where + ip + ": weight_map entry for tensor '" + name +
                           "' must be a file name, got " + shard.dump());
      const std::string s = shard.get<std::string>();
      if (!is_plain_relative(s))
        throw InvalidInput(where + ip + ": weight_map points tensor '" + name + "' at '" + s +
                           "', outside the model directory");
      shards[s].push_back(name);
    }
    if (shards.empty()) throw InvalidInput(where + ip + " has an empty weight_map");

    WeightStore store;
    store.dir_ = dir;
    for (const auto& [shard, tensors] : shards) {
      const fs::path sp = root / shard;
      if (!fs::is_regular_file(sp, ec))
        throw InvalidInput(where + ip + ": weight_map points tensor '" + tensors.front() +
                           "' (and " + std::to_string(tensors.size() - 1) + " more) at '" + shard +
                           "', which does not exist");
      auto file = SafetensorsFile::open(sp.string(), residency);
      const size_t idx = store.files_.size();
      for (const auto& name : tensors) {
        if (!file->has(name))
          throw InvalidInput(where + ip + ": weight_map says tensor '" + name + "' is in '" +
                             shard + "', but that file has no such tensor");
        store.where_.emplace(name, idx);
      }
      store.files_.push_back(std::move(file));
    }
    return store;
  }

  const fs::path single = root / kSingleName;
  if (fs::is_regular_file(single, ec)) return open_files(dir, {single.string()}, residency);

  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".safetensors")
      paths.push_back(entry.path().string());
  }
  if (ec) throw InvalidInput(where + "cannot list the directory: " + ec.message());
  if (paths.empty())
    throw InvalidInput(where + "no " + kIndexName + ", " + kSingleName + " or *.safetensors files");
  std::sort(paths.begin(), paths.end());
  return open_files(dir, paths, residency);
}

const SafetensorsFile& WeightStore::file_holding(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) {
    // Names that differ only by a wrapper prefix ("language_model.") are the usual near miss.
    std::vector<std::string> near;
    for (const auto& [other, idx] : where_) {
      const std::string& longer = other.size() > name.size() ? other : name;
      const std::string& shorter = other.size() > name.size() ? name : other;
      if (longer.size() > shorter.size() &&
          longer.compare(longer.size() - shorter.size(), shorter.size(), shorter) == 0)
        near.push_back(other);
    }
    std::sort(near.begin(), near.end());
    std::string hint;
    for (size_t i = 0; i < near.size() && i < 3; ++i)
      hint += (i ? "', '" : "; similar: '") + near[i];
    if (!hint.empty()) hint += "'";
    throw InvalidInput("[weights] no tensor '" + name + "' in " + dir_ + " (" +
                       std::to_string(where_.size()) + " tensors in " +
                       std::to_string(files_.size()) + " files" + hint + ")");
  }
  return *files_[it->second];
}

Tensor WeightStore::get(const std::string& name) const {
  return file_holding(name).get(name);
}

const TensorInfo& WeightStore::info(const std::string& name) const {
  return file_holding(name).info(name);
}

const std::string& WeightStore::file_of(const std::string& name) const {
  return file_holding(name).path();
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, idx] : where_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

size_t WeightStore::total_bytes() const {
  size_t total = 0;
  for (const auto& [name, idx] : where_) {
    const TensorInfo& ti = files_[idx]->info(name);
    total += ti.end - ti.begin;
  }
  return total;
}

}  // namespace mofa::io
