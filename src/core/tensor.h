#pragma once
// A strided view of typed elements over shared Storage (owned or memory-mapped).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace mofa {

class Tensor {
 public:
  Tensor() = default;
  // A view of `storage` at byte `offset`, contiguous with `shape`.
  Tensor(std::shared_ptr<Storage> storage, size_t offset, DType dtype, Shape shape);

  // A new zero-filled contiguous tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // A contiguous f32 tensor holding `values` (for tests and small tables).
  static Tensor from_f32(const std::vector<float>& values, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return storage_ != nullptr; }
  bool is_contiguous() const;
  bool writable() const { return storage_ && storage_->mutable_data() != nullptr; }

  const void* raw() const { return storage_->data() + offset_; }
  void* raw_mut();  // throws InternalError for read-only storage
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }
  template <typename T>
  T* data_mut() {
    return static_cast<T*>(raw_mut());
  }

  // Views sharing storage.
  Tensor reshape(Shape shape) const;                        // contiguous tensors only
  Tensor slice(int dim, int64_t begin, int64_t end) const;  // [begin, end) along dim
  Tensor row(int64_t i) const {
    return slice(0, i, i + 1).reshape(Shape(shape_.begin() + 1, shape_.end()));
  }

  // Element i of a contiguous tensor of any float dtype, widened to f32 (slow; tests, small
  // tables).
  float get_f32(int64_t i) const;
  // A contiguous f32 copy (widening f16/bf16); for tests and load-time conversion.
  Tensor to_f32() const;

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t offset() const { return offset_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  DType dtype_ = DType::f32;
  Shape shape_;
  Shape strides_;
};

}  // namespace mofa
