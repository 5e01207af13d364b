#include "runtime/hub_installed.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/hub_download.h"

namespace mofa::runtime {
namespace {

namespace fs = std::filesystem;

int64_t folder_bytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

}  // namespace

std::vector<InstalledModel> list_installed_models(const std::string& models_dir) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  for (fs::directory_iterator it(models_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string id = it->path().filename().string();
    if (!model_id_is_safe(id) || !it->is_directory(ec)) continue;
    InstalledModel m;
    m.id = id;
    m.dir = it->path().string();
    m.bytes = folder_bytes(it->path());
    try {
      std::ifstream in(it->path() / ".mofa-hub.json");
      if (in) {
        const auto j = nlohmann::json::parse(in);
        m.repo = j.value("repo", "");
        m.commit = j.value("commit", "");
      }
    } catch (const nlohmann::json::exception&) {  // a damaged record only loses the repo column
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const InstalledModel& a, const InstalledModel& b) { return a.id < b.id; });
  return out;
}

void remove_installed_model(const std::string& models_dir, const std::string& id) {
  if (!model_id_is_safe(id)) {
    throw InvalidInput("[models] '" + id + "' is not a model id (a folder name inside " +
                       models_dir + "); nothing deleted");
  }
  const fs::path target = fs::path(models_dir) / id;
  std::error_code ec;
  const auto st = fs::symlink_status(target, ec);
  if (ec || !fs::exists(st)) {
    throw InvalidInput("[models] model '" + id + "' is not installed in " + models_dir);
  }
  if (fs::is_symlink(st)) {
    fs::remove(target, ec);
  } else {
    fs::remove_all(target, ec);
  }
  if (ec) throw InvalidInput("[models] cannot delete " + target.string() + ": " + ec.message());
}

}  // namespace mofa::runtime
