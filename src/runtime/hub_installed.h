#pragma once
// The models the hub downloader installed: every visible folder of the models dir, with its size
// and, when it came from the hub, the repo and commit recorded in its ".mofa-hub.json".
#include <cstdint>
#include <string>
#include <vector>

namespace mofa::runtime {

// One folder of the models dir.
struct InstalledModel {
  std::string id;      // folder name
  std::string dir;     // <models_dir>/<id>
  int64_t bytes = 0;   // total size of its regular files
  std::string repo;    // hub repo it came from; empty when unknown
  std::string commit;  // hub commit it came from; empty when unknown
};

// Every folder of `models_dir` whose name is a safe model id (hidden staging folders are not),
// sorted by id; empty when the folder does not exist.
std::vector<InstalledModel> list_installed_models(const std::string& models_dir);

// Deletes <models_dir>/<id> (a symlink there is removed, never followed); throws InvalidInput for
// an unsafe id or one that is not installed.
void remove_installed_model(const std::string& models_dir, const std::string& id);

}  // namespace mofa::runtime
