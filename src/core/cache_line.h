#pragma once
// Bytes in one cache line of the CPUs we run on (x86-64, and the Arm64 cores of laptops and
// servers): the unit of a prefetch, and the alignment weights are placed on.
#include <cstdint>

namespace mofa {

inline constexpr int64_t kCacheLineBytes = 64;

}  // namespace mofa
