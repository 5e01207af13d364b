#pragma once
// MLX affine quantization of a float matrix, bit-exact with mlx.core.quantize (mode "affine"),
// so `mofa quantize` writes what mlx-lm's convert writes.
#include <cstdint>

#include "core/tensor.h"
#include "core/weight.h"

namespace mofa::io {

struct QuantizedMatrix {
  Tensor w;       // u32 [rows, cols * bits / 32]: codes as a little-endian bit stream per row
  Tensor scales;  // [rows, cols / group_size] in scale_dtype
  Tensor biases;  // same
};

// w: [rows, cols] f32 values (already in the model's dtype precision). cols must be a multiple
// of group_size and rows*bits of 32-bit words; throws InvalidInput otherwise.
QuantizedMatrix mlx_quantize(const float* w, int64_t rows, int64_t cols, QuantSpec spec,
                             DType scale_dtype);

}  // namespace mofa::io
