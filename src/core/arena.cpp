#include "core/arena.h"

#include "core/error.h"

namespace mofa {

Arena::Arena(size_t capacity_bytes)
    : storage_(storage_allocate(capacity_bytes)), capacity_(capacity_bytes) {}

Tensor Arena::alloc(DType dtype, Shape shape) {
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  size_t start = (used_ + 63) / 64 * 64;
  check_internal(storage_ && start + bytes <= capacity_, "arena", [&] {
    return "need " + std::to_string(start + bytes) + " bytes, capacity " +
           std::to_string(capacity_);
  });
  used_ = start + bytes;
  if (used_ > high_water_) high_water_ = used_;
  return Tensor(storage_, start, dtype, std::move(shape));
}

}  // namespace mofa
