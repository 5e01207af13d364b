// `mofa rm`: deletes a downloaded model; only ever a folder directly inside the models dir.
#include <cstdio>
#include <string>

#include "apps/mofa/command.h"
#include "runtime/hub_installed.h"
#include "runtime/settings.h"

namespace mofa::cli {
namespace {

struct RmFlags {
  std::vector<std::string> ids;
  std::string models_dir;
};

const CommandRegistration reg("rm", [](CLI::App& app) {
  auto flags = std::make_shared<RmFlags>();
  auto* cmd = app.add_subcommand("rm", "delete downloaded models from the models dir");
  cmd->add_option("id", flags->ids, "model id(s), as `mofa list` shows them")->required();
  cmd->add_option("--models-dir", flags->models_dir, "models dir (default $MOFA_HOME/models)");
  cmd->callback([flags] {
    const std::string dir = flags->models_dir.empty()
                                ? runtime::load_settings(runtime::default_home()).models_dir
                                : flags->models_dir;
    for (const auto& id : flags->ids) {
      runtime::remove_installed_model(dir, id);
      std::printf("deleted %s\n", (dir + "/" + id).c_str());
    }
  });
});

}  // namespace
}  // namespace mofa::cli
