#include "runtime/catalog.h"

namespace mofa::runtime {

const std::vector<CatalogEntry>& model_catalog() {
  static const std::vector<CatalogEntry> entries = {
      {"qwen2.5-0.5b-instruct", "Qwen2.5-0.5B Instruct", "LLM",
       "mlx-community/Qwen2.5-0.5B-Instruct-4bit", "~400MB", 400000000ull},
      {"qwen3-4b-bf16", "Qwen3-4B", "LLM", "mlx-community/Qwen3-4B-bf16", "~8GB", 8000000000ull},
      {"mistral-7b-instruct-4bit", "Mistral-7B Instruct", "LLM",
       "mlx-community/Mistral-7B-Instruct-v0.2-4bit", "~4GB", 4000000000ull},
      {"glm4-9b-chat-4bit", "GLM-4-9B Chat", "LLM", "mlx-community/glm-4-9b-chat-4bit", "~5GB",
       5000000000ull},
      {"mixtral-8x7b-instruct-4bit", "Mixtral-8x7B Instruct", "LLM",
       "mlx-community/Mixtral-8x7B-Instruct-v0.1-4bit", "~26GB", 26000000000ull},
      {"minicpm-sala-9b-8bit", "MiniCPM-SALA 9B", "LLM", "moxin-org/MiniCPM4-SALA-9B-8bit-mlx",
       "~9.6GB", 9600000000ull},
      {"moxin-7b-vlm-8bit", "Moxin-7B VLM", "VLM", "moxin-org/Moxin-7B-VLM-8bit-mlx", "~10GB",
       10000000000ull},
      {"funasr-paraformer", "FunASR Paraformer", "ASR", "OminiX-ai/paraformer-mlx", "~500MB",
       500000000ull},
      {"gpt-sovits", "GPT-SoVITS", "TTS", "OminiX-ai/gpt-sovits-mlx", "~2GB", 2000000000ull},
      {"zimage-turbo", "Z-Image-Turbo", "Image Gen", "uqer1244/MLX-z-image", "~8GB", 8000000000ull},
      {"flux-klein-4b", "FLUX.2-klein-4B", "Image Gen", "black-forest-labs/FLUX.2-klein-4B",
       "~13GB", 13000000000ull},
      // Ships with MOFA Local (models/mofa-tiny); never downloaded.
      {"mofa-tiny", "MOFA Tiny (built in, offline)", "LLM", "", "~23MB", 23000000ull, true},
  };
  return entries;
}

const CatalogEntry* find_catalog_entry(const std::string& id) {
  for (const auto& entry : model_catalog()) {
    if (entry.id == id) return &entry;
  }
  return nullptr;
}

std::string repo_folder_name(const std::string& repo) {
  const auto slash = repo.rfind('/');
  return slash == std::string::npos ? repo : repo.substr(slash + 1);
}

}  // namespace mofa::runtime
