#pragma once
// The model catalog: the models MOFA Local knows how to download and serve (the seed's list).
#include <cstdint>
#include <string>
#include <vector>

namespace mofa::runtime {

struct CatalogEntry {
  std::string id;        // stable catalog id, e.g. "qwen2.5-0.5b-instruct"
  std::string name;      // display name
  std::string category;  // "LLM", "VLM", "ASR", "TTS", "Image Gen"
  std::string repo;      // Hugging Face repository
  std::string size;      // approximate download size as shown to users
  uint64_t size_bytes = 0;
  bool bundled = false;  // ships with MOFA Local (no download); repo is empty
};

const std::vector<CatalogEntry>& model_catalog();

// The entry with this catalog id, or nullptr.
const CatalogEntry* find_catalog_entry(const std::string& id);

// The folder a repository downloads into under the models directory: its last path component.
std::string repo_folder_name(const std::string& repo);

}  // namespace mofa::runtime
