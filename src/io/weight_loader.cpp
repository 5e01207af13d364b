#include "io/weight_loader.h"

#include <filesystem>

#include "core/error.h"

namespace mofa::io {
namespace {

std::string file_name(const WeightStore& store, const std::string& tensor) {
  return std::filesystem::path(store.file_of(tensor)).filename().string();
}

std::string describe(const WeightStore& store, const std::string& tensor) {
  return "tensor '" + tensor + "' in " + file_name(store, tensor);
}

Tensor require(const WeightStore& store, const std::string& name, const std::string& why) {
  if (!store.has(name))
    throw InvalidInput("[weights] " + store.dir() + ": missing tensor '" + name + "' (" + why +
                       ")");
  return store.get(name);
}

}  // namespace

Weight load_linear(const WeightStore& store, const ModelConfig& cfg, const std::string& prefix,
                   int64_t rows, int64_t cols) {
  const std::string wname = prefix + ".weight";
  const std::string sname = prefix + ".scales";
  const std::string bname = prefix + ".biases";
  Tensor w = require(
      store, wname,
      "linear layer " + prefix + " [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const std::string dims = "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";

  // MLX's own loader decides per module by the presence of scales; so do we.
  if (!store.has(sname)) {
    if (!dtype_is_float(w.dtype()))
      throw InvalidInput("[weights] " + describe(store, wname) + " has dtype " +
                         std::string(dtype_name(w.dtype())) + " " + shape_str(w.shape()) +
                         " but has no " + sname + " to dequantize it with; config.json implies a " +
                         "dense float " + dims);
    if (w.shape() != Shape{rows, cols})
      throw InvalidInput("[weights] " + describe(store, wname) + " has shape " +
                         shape_str(w.shape()) + " but config.json implies " + dims + " (dense " +
                         std::string(dtype_name(w.dtype())) + ")");
    return weight_dense(std::move(w), wname);
  }

  const QuantSpec q = cfg.quant_for(prefix);
  if (q.bits == 0)
    throw InvalidInput("[weights] " + describe(store, sname) + " marks " + prefix +
                       " as quantized, but " + cfg.path + " gives it no quantization");
  Tensor scales = store.get(sname);
  Tensor biases = require(store, bname, "MLX affine quantization needs biases beside " + sname);
  const std::string at =
      " at bits=" + std::to_string(q.bits) + ", group_size=" + std::to_string(q.group_size);
  if (cols % q.group_size != 0 || (cols * q.bits) % 32 != 0)
    throw InvalidInput("[weights] " + prefix + ": config.json implies " + dims + at + ", but " +
                       std::to_string(cols) +
                       " columns do not split into whole groups and 32-bit words");
  const Shape wshape{rows, cols * q.bits / 32};
  const Shape sshape{rows, cols / q.group_size};
  if (w.dtype() != DType::u32 || w.shape() != wshape)
    throw InvalidInput("[weights] " + describe(store, wname) + " has " +
                       std::string(dtype_name(w.dtype())) + " shape " + shape_str(w.shape()) +
                       " but config.json implies " + dims + at + ", stored as u32 " +
                       shape_str(wshape));
  for (const auto& [name, t] : {std::pair{sname, &scales}, std::pair{bname, &biases}}) {
    if (!dtype_is_float(t->dtype()) || t->shape() != sshape)
      throw InvalidInput("[weights] " + describe(store, name) + " has " +
                         std::string(dtype_name(t->dtype())) + " shape " + shape_str(t->shape()) +
                         " but config.json implies float " + shape_str(sshape) + " for " + dims +
                         at);
  }
  if (scales.dtype() != biases.dtype())
    throw InvalidInput("[weights] " + prefix + ": scales are " +
                       std::string(dtype_name(scales.dtype())) + " but biases are " +
                       std::string(dtype_name(biases.dtype())));
  return weight_quantized(std::move(w), std::move(scales), std::move(biases), q, wname);
}

Tensor load_vector(const WeightStore& store, const std::string& name, int64_t n) {
  Tensor t = require(store, name, "a vector of " + std::to_string(n));
  if (!dtype_is_float(t.dtype()) || t.shape() != Shape{n})
    throw InvalidInput("[weights] " + describe(store, name) + " has " +
                       std::string(dtype_name(t.dtype())) + " shape " + shape_str(t.shape()) +
                       " but config.json implies float [" + std::to_string(n) + "]");
  return t;
}

}  // namespace mofa::io
