#pragma once
// Writes tensors to a .safetensors file (8-byte header size, JSON header, data), via a temporary
// name and an atomic rename so a failed write never leaves a truncated model file.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace mofa::io {

void safetensors_write(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const nlohmann::json& metadata = nlohmann::json::object());

}  // namespace mofa::io
