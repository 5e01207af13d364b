// `mofa list`: the models in the models dir, with their size and the hub repo they came from.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/mofa/command.h"
#include "runtime/hub_installed.h"
#include "runtime/settings.h"

namespace mofa::cli {
namespace {

struct ListFlags {
  std::string models_dir;
  bool json = false;
};

std::string human(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void list(const ListFlags& f) {
  const std::string dir = f.models_dir.empty()
                              ? runtime::load_settings(runtime::default_home()).models_dir
                              : f.models_dir;
  const auto models = runtime::list_installed_models(dir);
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : models) {
      out.push_back({{"id", m.id},
                     {"dir", m.dir},
                     {"bytes", m.bytes},
                     {"repo", m.repo},
                     {"commit", m.commit}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (models.empty()) {
    std::printf("no models in %s (download one with `mofa pull owner/name`)\n", dir.c_str());
    return;
  }
  size_t w = 2;
  for (const auto& m : models) w = std::max(w, m.id.size());
  std::printf("%-*s  %10s  %s\n", static_cast<int>(w), "ID", "SIZE", "REPO");
  for (const auto& m : models) {
    std::printf("%-*s  %10s  %s\n", static_cast<int>(w), m.id.c_str(),
                human(static_cast<double>(m.bytes)).c_str(), m.repo.empty() ? "-" : m.repo.c_str());
  }
}

const CommandRegistration reg("list", [](CLI::App& app) {
  auto flags = std::make_shared<ListFlags>();
  auto* cmd = app.add_subcommand("list", "list downloaded models with their size");
  cmd->add_option("--models-dir", flags->models_dir, "models dir (default $MOFA_HOME/models)");
  cmd->add_flag("--json", flags->json, "print a JSON array");
  cmd->callback([flags] { list(*flags); });
});

}  // namespace
}  // namespace mofa::cli
