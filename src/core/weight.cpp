#include "core/weight.h"

#include "core/error.h"

namespace mofa {

size_t Weight::bytes() const {
  size_t n = w.nbytes();
  if (quantized()) n += scales.nbytes() + biases.nbytes();
  return n;
}

Weight weight_dense(Tensor w, std::string name) {
  if (w.ndim() != 2 || !dtype_is_float(w.dtype()))
    throw InvalidInput("weight '" + name + "' must be a 2-D float tensor, got " +
                       std::string(dtype_name(w.dtype())) + " " + shape_str(w.shape()));
  Weight out;
  out.rows = w.dim(0);
  out.cols = w.dim(1);
  out.w = std::move(w);
  out.name = std::move(name);
  return out;
}

Weight weight_quantized(Tensor w, Tensor scales, Tensor biases, QuantSpec spec, std::string name) {
  auto fail = [&](const std::string& why) {
    throw InvalidInput("quantized weight '" + name + "' (bits=" + std::to_string(spec.bits) +
                       ", group_size=" + std::to_string(spec.group_size) + "): " + why);
  };
  if (spec.bits != 2 && spec.bits != 3 && spec.bits != 4 && spec.bits != 5 && spec.bits != 6 &&
      spec.bits != 8)
    fail("unsupported bit width");
  if (spec.group_size != 32 && spec.group_size != 64 && spec.group_size != 128)
    fail("unsupported group size");
  if (w.dtype() != DType::u32 || w.ndim() != 2)
    fail("weight must be a 2-D u32 tensor, got " + std::string(dtype_name(w.dtype())) + " " +
         shape_str(w.shape()));
  int64_t rows = w.dim(0);
  int64_t cols = w.dim(1) * 32 / spec.bits;
  if (w.dim(1) * 32 % spec.bits != 0) fail("packed width does not hold whole codes");
  if (cols % spec.group_size != 0) fail("columns " + std::to_string(cols) + " not a multiple of group size");
  Shape sshape{rows, cols / spec.group_size};
  if (scales.shape() != sshape || biases.shape() != sshape)
    fail("scales " + shape_str(scales.shape()) + " / biases " + shape_str(biases.shape()) +
         " must be " + shape_str(sshape));
  if (!dtype_is_float(scales.dtype()) || biases.dtype() != scales.dtype())
    fail("scales and biases must share one float dtype");
  Weight out;
  out.rows = rows;
  out.cols = cols;
  out.w = std::move(w);
  out.scales = std::move(scales);
  out.biases = std::move(biases);
  out.quant = spec;
  out.name = std::move(name);
  return out;
}

void weight_row_f32(const Weight& w, int64_t r, float* out) {
  if (!w.quantized()) {
    const int64_t base = r * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) out[c] = w.w.get_f32(base + c);
    return;
  }
  const int bits = w.quant.bits, gs = w.quant.group_size;
  const uint32_t* words = w.w.data<uint32_t>() + r * w.w.dim(1);
  const int64_t groups = w.cols / gs;
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t c = 0; c < w.cols; ++c) {
    uint64_t bit = static_cast<uint64_t>(c) * bits;
    uint64_t word = bit / 32, shift = bit % 32;
    uint64_t v = words[word] >> shift;
    if (shift + bits > 32) v |= static_cast<uint64_t>(words[word + 1]) << (32 - shift);
    uint32_t code = static_cast<uint32_t>(v) & mask;
    int64_t g = r * groups + c / gs;
    out[c] = w.scales.get_f32(g) * static_cast<float>(code) + w.biases.get_f32(g);
  }
}

}  // namespace mofa
