#pragma once
// Splitting the rows of several products of one x (linear_shared) over the pool as one region.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/kernels/dispatch.h"
#include "core/thread_pool.h"

namespace mofa::kernels::cpu {

// Runs fn(product, r0, r1) over every product's rows in one parallel region. The products' rows
// are laid end to end, each padded to a multiple of `align`, so the pool's chunks stay aligned
// within a product.
// At most kMaxSharedProducts products (ops::linear_shared's limit), so the offsets need no heap.
constexpr int kMaxSharedProducts = 32;

template <typename Fn>
void for_shared_rows(const LinearOut* outs, int n, int64_t align, Fn&& fn) {
  if (n > kMaxSharedProducts)
    throw InternalError("[linear_shared] " + std::to_string(n) + " products (at most " +
                        std::to_string(kMaxSharedProducts) + ")");
  std::array<int64_t, kMaxSharedProducts + 1> off{};
  for (int i = 0; i < n; ++i) off[i + 1] = off[i] + (outs[i].w.rows + align - 1) / align * align;
  thread_pool_global().parallel_for(
      off[n],
      [&](int64_t b, int64_t e, int) {
        for (int i = 0; i < n; ++i) {
          const int64_t lo = std::max(b, off[i]);
          const int64_t hi = std::min(e, off[i] + outs[i].w.rows);
          if (lo < hi) fn(i, lo - off[i], hi - off[i]);
        }
      },
      align);
}

}  // namespace mofa::kernels::cpu
