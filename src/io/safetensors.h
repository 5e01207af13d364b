#pragma once
// A memory-mapped safetensors file: an 8-byte little-endian header length N, N bytes of JSON
// describing every tensor (dtype, shape, data_offsets relative to the data section), then the
// data section. open() validates the whole header once, so get() never reads out of bounds.
//
// Alignment: safetensors guarantees no alignment of tensor data (the header length and every
// tensor's size are arbitrary). get() returns a zero-copy view into the mapping when the data is
// aligned to its element size (which every common writer produces); an element-misaligned tensor
// is copied once into an owned 64-byte aligned buffer so that typed pointers are never misaligned.
// Zero-copy views are NOT 64-byte (SIMD-width) aligned: kernels must use unaligned vector loads.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/storage.h"
#include "core/tensor.h"

namespace mofa::io {

// One header entry, as validated by open().
struct TensorInfo {
  std::string dtype;  // the safetensors spelling: "F32", "BF16", "U32", ...
  Shape shape;
  size_t begin = 0;  // data_offsets, relative to the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws InvalidInput naming the file (and tensor) on any defect.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path,
                                               FileResidency residency = FileResidency::mapped);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // A view of tensor `name` (see the alignment note above); throws InvalidInput if absent and
  // Unsupported for a valid safetensors dtype mofa has no DType for (F64, I8, F8_E4M3, ...).
  Tensor get(const std::string& name) const;
  // The validated header entry of `name`; throws InvalidInput if absent.
  const TensorInfo& info(const std::string& name) const;
  // Tensor names in sorted order.
  std::vector<std::string> names() const;
  // The "__metadata__" object, or an empty object.
  const nlohmann::json& metadata() const { return metadata_; }
  // Byte offset of the data section within the file (8 + header length).
  size_t data_offset() const { return data_offset_; }
  // Total bytes of the mapped file.
  size_t file_size() const { return storage_->size(); }

 private:
  SafetensorsFile() = default;

  std::string path_;
  std::shared_ptr<Storage> storage_;
  size_t data_offset_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  nlohmann::json metadata_ = nlohmann::json::object();
  // Owned copies of element-misaligned tensors, made on first get().
  mutable std::mutex copies_mutex_;
  mutable std::map<std::string, std::shared_ptr<Storage>> copies_;
};

}  // namespace mofa::io
