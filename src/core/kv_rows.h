#pragma once
// Rows of a KV cache in its element type: f32, f16, or q8_0. A cache tensor is
// [n_kv_heads, capacity, kv_row_units(type, head_dim)]: the last dimension counts values for f32
// and f16, and bytes for q8_0, whose rows are blocks of kQ8Block int8 codes each after its f16
// scale (the block layout llama.cpp's `-ctk q8_0` uses: 34 bytes per 32 values).
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace mofa {

constexpr int64_t kQ8Block = 32;
constexpr int64_t kQ8BlockBytes = 2 + kQ8Block;

// True when rows of n values can be kept as type t (q8_0 needs whole blocks).
bool kv_row_fits(DType t, int64_t n);
// Units of the cache tensor's last dimension for rows of n values.
int64_t kv_row_units(DType t, int64_t n);
// Values in a row of `units` units (the inverse of kv_row_units).
int64_t kv_row_values(DType t, int64_t units);
// Bytes of one row of n values.
size_t kv_row_bytes(DType t, int64_t n);
// Writes n values as one row of type t at `out` (rounded to f16, or quantized per block of 32 to
// int8 codes with scale max|x| / 127, as q8_0).
void kv_store_row(const float* x, int64_t n, DType t, void* out);
// Reads one row of n values of type t at `row` into out as f32.
void kv_load_row(const void* row, int64_t n, DType t, float* out);

}  // namespace mofa
