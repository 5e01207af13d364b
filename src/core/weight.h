#pragma once
// A linear layer's weight matrix [rows = out_features, cols = in_features], either dense float
// (f32/f16/bf16, used in place from the checkpoint) or MLX affine-quantized.
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace mofa {

// MLX affine quantization: each row of `w` (u32) is a little-endian bit stream of `bits`-bit
// codes (lowest bits first); value = scale * code + bias, one (scale, bias) per `group_size`
// consecutive columns.
struct QuantSpec {
  int bits = 0;         // 0 = not quantized; else 2, 3, 4, 5, 6 or 8
  int group_size = 0;   // 32, 64 or 128
};

struct Weight {
  Tensor w;       // dense: [rows, cols] float; quantized: u32 [rows, cols * bits / 32]
  Tensor scales;  // quantized only: [rows, cols / group_size], float dtype
  Tensor biases;  // quantized only: same as scales
  QuantSpec quant;
  int64_t rows = 0;
  int64_t cols = 0;
  std::string name;  // checkpoint name, for error messages

  bool quantized() const { return quant.bits != 0; }
  // Bytes read per full pass over the weight (bandwidth figures).
  size_t bytes() const;
};

// Builds a dense weight from a 2-D float tensor; throws InvalidInput naming `name` otherwise.
Weight weight_dense(Tensor w, std::string name);
// Builds a quantized weight, checking every shape against bits/group_size.
Weight weight_quantized(Tensor w, Tensor scales, Tensor biases, QuantSpec spec, std::string name);

// Dequantizes/widens row r into out[cols] (f32). Reference path: tests, embeddings.
void weight_row_f32(const Weight& w, int64_t r, float* out);

}  // namespace mofa
