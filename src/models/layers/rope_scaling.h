#pragma once
// Rotary embedding tables from config.json: rope_theta, partial_rotary_factor and the rope_scaling
// kinds of the families we serve (default, linear, llama3, yarn), as transformers computes them.
#include "core/ops/ops.h"
#include "io/model_config.h"

namespace mofa::models {

// Throws Unsupported for a rope_scaling type we do not implement (naming it).
ops::Rope rope_from_config(const io::ModelConfig& cfg, bool interleaved = false);

}  // namespace mofa::models
