#pragma once
// Shared argument checks for ops/: each throws InvalidInput naming the op, the argument and the
// offending values.
#include <string>

#include "core/tensor.h"

namespace mofa::ops::detail {

// `t` must be a defined, contiguous f32 tensor.
void check_f32(const char* op, const char* arg, const Tensor& t);
// `t` must be contiguous f32 with `numel` elements, or undefined (then it is allocated as `shape`).
void prepare_output(const char* op, const char* arg, Tensor& t, const Shape& shape);
// Throws InvalidInput "[op] what".
[[noreturn]] void fail(const char* op, const std::string& what);

}  // namespace mofa::ops::detail
