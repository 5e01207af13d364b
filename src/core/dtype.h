#pragma once
// Element types of stored tensors. Activations are always f32; weights keep their file dtype.
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mofa {

// q8_0 is a KV-cache type of 34-byte blocks (core/kv_rows.h); its tensors count bytes.
enum class DType : uint8_t { f32, f16, bf16, i32, u32, u8, i64, boolean, q8_0 };

// Bytes per element.
size_t dtype_size(DType t);
// Our short name ("f32", "bf16", ...).
std::string_view dtype_name(DType t);
// Parses a safetensors dtype string ("F32", "BF16", "U32", ...); throws InvalidInput otherwise.
DType dtype_from_safetensors(std::string_view s);
// True for f32, f16 and bf16.
bool dtype_is_float(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as torch and MLX do; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace mofa
