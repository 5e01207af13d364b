#include "core/kv_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mofa {

bool kv_row_fits(DType t, int64_t n) {
  if (t == DType::q8_0) return n > 0 && n % kQ8Block == 0;
  return t == DType::f32 || t == DType::f16;
}

int64_t kv_row_units(DType t, int64_t n) {
  return t == DType::q8_0 ? n / kQ8Block * kQ8BlockBytes : n;
}

int64_t kv_row_values(DType t, int64_t units) {
  return t == DType::q8_0 ? units / kQ8BlockBytes * kQ8Block : units;
}

size_t kv_row_bytes(DType t, int64_t n) {
  return static_cast<size_t>(kv_row_units(t, n)) * dtype_size(t);
}

void kv_store_row(const float* x, int64_t n, DType t, void* out) {
  if (t == DType::f32) {
    std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
  } else if (t == DType::f16) {
    uint16_t* o = static_cast<uint16_t*>(out);
    for (int64_t c = 0; c < n; ++c) o[c] = f32_to_f16(x[c]);
  } else {
    uint8_t* block = static_cast<uint8_t*>(out);
    for (int64_t b = 0; b < n; b += kQ8Block, block += kQ8BlockBytes) {
      float amax = 0.0f;
      for (int64_t c = 0; c < kQ8Block; ++c) amax = std::max(amax, std::fabs(x[b + c]));
      // The codes divide by the scale as stored (f16), so dequantizing undoes exactly that.
      const uint16_t scale = f32_to_f16(amax / 127.0f);
      const float step = f16_to_f32(scale);
      const float inv = step > 0.0f ? 1.0f / step : 0.0f;
      std::memcpy(block, &scale, 2);
      for (int64_t c = 0; c < kQ8Block; ++c) {
        const float q = std::clamp(std::nearbyint(x[b + c] * inv), -127.0f, 127.0f);
        block[2 + c] = static_cast<uint8_t>(static_cast<int8_t>(q));
      }
    }
  }
}

void kv_load_row(const void* row, int64_t n, DType t, float* out) {
  if (t == DType::f32) {
    std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
  } else if (t == DType::f16) {
    const uint16_t* r = static_cast<const uint16_t*>(row);
    for (int64_t c = 0; c < n; ++c) out[c] = f16_to_f32(r[c]);
  } else {
    const uint8_t* block = static_cast<const uint8_t*>(row);
    for (int64_t b = 0; b < n; b += kQ8Block, block += kQ8BlockBytes) {
      uint16_t scale;
      std::memcpy(&scale, block, 2);
      const float step = f16_to_f32(scale);
      for (int64_t c = 0; c < kQ8Block; ++c)
        out[b + c] = step * static_cast<float>(static_cast<int8_t>(block[2 + c]));
    }
  }
}

}  // namespace mofa
