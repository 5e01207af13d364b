#include "core/ops/check.h"

#include "core/error.h"

namespace mofa::ops::detail {

void fail(const char* op, const std::string& what) {
  throw InvalidInput(std::string("[") + op + "] " + what);
}

void check_f32(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined()) fail(op, std::string(arg) + " is undefined");
  if (t.dtype() != DType::f32)
    fail(op, std::string(arg) + " must be f32, got " + std::string(dtype_name(t.dtype())));
  if (!t.is_contiguous())
    fail(op, std::string(arg) + " " + shape_str(t.shape()) + " is not contiguous");
}

void prepare_output(const char* op, const char* arg, Tensor& t, const Shape& shape) {
  if (!t.defined()) {
    t = Tensor::zeros(DType::f32, shape);
    return;
  }
  check_f32(op, arg, t);
  if (t.numel() != shape_numel(shape))
    fail(op, std::string(arg) + " " + shape_str(t.shape()) + " must hold " + shape_str(shape) +
                 " (" + std::to_string(shape_numel(shape)) + " elements)");
  if (!t.writable()) fail(op, std::string(arg) + " is read-only");
}

}  // namespace mofa::ops::detail
