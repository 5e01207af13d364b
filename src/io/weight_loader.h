#pragma once
// Loads checkpoint tensors into engine weights, checking every shape and dtype against what
// config.json implies, so that a mismatched checkpoint fails at load with the tensor named.
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "core/weight.h"
#include "io/model_config.h"
#include "io/weight_store.h"

namespace mofa::io {

// The linear layer at `prefix` ("model.layers.0.self_attn.q_proj") as a [rows, cols] weight:
// prefix.weight, plus prefix.scales / prefix.biases when present (MLX affine, quantized with
// cfg.quant_for(prefix)); throws InvalidInput naming tensor, file and expected shape on mismatch.
Weight load_linear(const WeightStore& store, const ModelConfig& cfg, const std::string& prefix,
                   int64_t rows, int64_t cols);

// The 1-D float tensor `name` of length n (norm weights, biases); throws InvalidInput otherwise.
Tensor load_vector(const WeightStore& store, const std::string& name, int64_t n);

}  // namespace mofa::io
