#include "runtime/bundled_model.h"

#include <cstdlib>
#include <filesystem>

namespace mofa::runtime {
namespace {

bool is_model_dir(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p / "config.json", ec);
}

}  // namespace

std::string bundled_model_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("MOFA_BUNDLED_MODEL"); env && *env)
    return is_model_dir(env) ? std::string(env) : std::string();
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "mofa" / "models" / kBundledModelId;
    if (is_model_dir(installed)) return installed.string();
  }
#ifdef MOFA_SOURCE_MODELS_DIR
  fs::path source = fs::path(MOFA_SOURCE_MODELS_DIR) / kBundledModelId;
  if (is_model_dir(source)) return source.string();
#endif
  return {};
}

}  // namespace mofa::runtime
