// Which files of a repo a download takes, and which names are safe: pure functions, no I/O.
#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "runtime/hub_download.h"

namespace mofa::runtime {

bool hub_pattern_matches(const std::string& pattern, const std::string& path) {
  std::string p = pattern;
  if (!p.empty() && p.back() == '/') p += '*';  // "onnx/" means everything under onnx/
  return ::fnmatch(p.c_str(), path.c_str(), 0) == 0;
}

std::vector<HubFile> select_files(const std::vector<HubFile>& files,
                                  const DownloadRequest& request) {
  static const std::vector<std::string> kOtherFormats = {
      ".gitattributes", "*.gguf",        "*.onnx",    "*.onnx_data", "*.onnx.data",
      "onnx/*",         "*.h5",          "*.msgpack", "*.tflite",    "*.ot",
      "*.mlmodel",      "*.mlpackage/*", "coreml/*",  "openvino/*"};
  static const std::vector<std::string> kTorchWeights = {"*.bin", "*.pth", "*.pt", "*.ckpt"};
  const bool has_safetensors = std::any_of(files.begin(), files.end(), [](const HubFile& f) {
    return hub_pattern_matches("*.safetensors", f.path);
  });
  auto any_match = [](const std::vector<std::string>& patterns, const std::string& path) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return hub_pattern_matches(p, path); });
  };
  std::vector<HubFile> out;
  for (const auto& f : files) {
    if (!request.allow_patterns.empty() && !any_match(request.allow_patterns, f.path)) continue;
    if (any_match(request.ignore_patterns, f.path)) continue;
    if (!request.all_files) {
      if (any_match(kOtherFormats, f.path)) continue;
      if (has_safetensors && any_match(kTorchWeights, f.path)) continue;
    }
    out.push_back(f);
  }
  return out;
}

bool repo_id_is_valid(const std::string& repo) {
  if (repo.empty() || repo.size() > 200) return false;
  if (repo.find("--") != std::string::npos || repo.find("..") != std::string::npos) return false;
  const auto slash = repo.find('/');
  if (slash != std::string::npos && repo.find('/', slash + 1) != std::string::npos) return false;
  auto part_ok = [](const std::string& part) {
    if (part.empty() || part.size() > 96) return false;
    auto word = [](unsigned char c) { return std::isalnum(c) || c == '_'; };
    if (!word(part.front()) || !word(part.back())) return false;
    return std::all_of(part.begin(), part.end(),
                       [&](unsigned char c) { return word(c) || c == '-' || c == '.'; });
  };
  if (slash == std::string::npos) return part_ok(repo);
  return part_ok(repo.substr(0, slash)) && part_ok(repo.substr(slash + 1));
}

std::string model_id_from_repo(const std::string& repo) {
  const auto slash = repo.rfind('/');
  return slash == std::string::npos ? repo : repo.substr(slash + 1);
}

bool model_id_is_safe(const std::string& id) {
  if (id.empty() || id.size() > 200 || id.front() == '.') return false;
  if (id.find("..") != std::string::npos) return false;
  return std::none_of(id.begin(), id.end(), [](unsigned char c) {
    return c == '/' || c == '\\' || c < 0x20 || c == 0x7f;
  });
}

}  // namespace mofa::runtime
