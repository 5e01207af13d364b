#include "core/tensor.h"

#include <cstring>

#include "core/error.h"

namespace mofa {

static Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = acc;
    acc *= shape[i];
  }
  return strides;
}

Tensor::Tensor(std::shared_ptr<Storage> storage, size_t offset, DType dtype, Shape shape)
    : storage_(std::move(storage)),
      offset_(offset),
      dtype_(dtype),
      shape_(std::move(shape)),
      strides_(contiguous_strides(shape_)) {
  check_internal(offset_ + nbytes() <= storage_->size(), "tensor", [&] {
    return "view " + shape_str(shape_) + " at offset " + std::to_string(offset_) +
           " exceeds storage of " + std::to_string(storage_->size()) + " bytes";
  });
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(storage_allocate(bytes), 0, dtype, std::move(shape));
}

Tensor Tensor::from_f32(const std::vector<float>& values, Shape shape) {
  check_internal(
      static_cast<int64_t>(values.size()) == shape_numel(shape), "tensor",
      "from_f32 got " + std::to_string(values.size()) + " values for " + shape_str(shape));
  Tensor t = zeros(DType::f32, std::move(shape));
  std::memcpy(t.raw_mut(), values.data(), values.size() * sizeof(float));
  return t;
}

// Runs in every op's argument checks; Shape is inline, so the comparison allocates nothing.
bool Tensor::is_contiguous() const {
  return strides_ == contiguous_strides(shape_);
}

void* Tensor::raw_mut() {
  std::byte* base = storage_ ? storage_->mutable_data() : nullptr;
  check_internal(base != nullptr, "tensor", "write to read-only (memory-mapped) tensor");
  return base + offset_;
}

Tensor Tensor::reshape(Shape shape) const {
  check_internal(is_contiguous(), "reshape", "tensor is not contiguous");
  check_internal(shape_numel(shape) == numel(), "reshape", [&] {
    return shape_str(shape_) + " -> " + shape_str(shape) + " changes the element count";
  });
  Tensor t = *this;
  t.shape_ = std::move(shape);
  t.strides_ = contiguous_strides(t.shape_);
  return t;
}

Tensor Tensor::slice(int d, int64_t begin, int64_t end) const {
  if (d < 0) d += ndim();
  check_internal(d >= 0 && d < ndim() && begin >= 0 && begin <= end && end <= shape_[d], "slice",
                 [&] {
                   return "[" + std::to_string(begin) + ", " + std::to_string(end) + ") of dim " +
                          std::to_string(d) + " of " + shape_str(shape_);
                 });
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(begin * strides_[d]) * dtype_size(dtype_);
  t.shape_[d] = end - begin;
  return t;
}

float Tensor::get_f32(int64_t i) const {
  switch (dtype_) {
    case DType::f32:
      return data<float>()[i];
    case DType::bf16:
      return bf16_to_f32(data<uint16_t>()[i]);
    case DType::f16:
      return f16_to_f32(data<uint16_t>()[i]);
    case DType::i32:
      return static_cast<float>(data<int32_t>()[i]);
    case DType::u32:
      return static_cast<float>(data<uint32_t>()[i]);
    case DType::u8:
      return static_cast<float>(data<uint8_t>()[i]);
    case DType::i64:
      return static_cast<float>(data<int64_t>()[i]);
    case DType::boolean:
      return data<uint8_t>()[i] ? 1.f : 0.f;
    case DType::q8_0:
      break;  // blocks of codes and scales: no element is a value
  }
  check_internal(false, "get_f32", "a q8_0 tensor's elements are bytes of blocks");
  return 0.f;
}

Tensor Tensor::to_f32() const {
  check_internal(is_contiguous(), "to_f32", "tensor is not contiguous");
  Tensor out = zeros(DType::f32, shape_);
  float* o = out.data_mut<float>();
  int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) o[i] = get_f32(i);
  return out;
}

}  // namespace mofa
