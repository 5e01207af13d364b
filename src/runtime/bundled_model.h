#pragma once
// mofa-tiny, the small model that ships with MOFA Local so a fresh install works offline: where
// its files are.
#include <string>

namespace mofa::runtime {

inline constexpr const char* kBundledModelId = "mofa-tiny";

// The bundled model's directory: $MOFA_BUNDLED_MODEL, else <executable>/../share/mofa/models/
// mofa-tiny (an installed tree), else the source tree's models/mofa-tiny; "" when none exists.
std::string bundled_model_dir();

}  // namespace mofa::runtime
