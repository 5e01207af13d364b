#pragma once
// A bump allocator over one buffer sized at load time: activations for a forward pass are carved
// from it and released all at once with reset(), so the token loop never calls malloc.
#include <cstddef>
#include <memory>

#include "core/tensor.h"

namespace mofa {

class Arena {
 public:
  Arena() = default;
  explicit Arena(size_t capacity_bytes);

  // A contiguous tensor of `shape`, 64-byte aligned, contents unspecified; throws InternalError
  // when the arena is exhausted (its size is computed at load time, so that is our bug).
  Tensor alloc(DType dtype, Shape shape);
  void reset() { used_ = 0; }
  // Frees everything allocated after used() returned `mark`.
  void rewind(size_t mark) { used_ = mark < used_ ? mark : used_; }
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  size_t high_water() const { return high_water_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t capacity_ = 0;
  size_t used_ = 0;
  size_t high_water_ = 0;
};

}  // namespace mofa
