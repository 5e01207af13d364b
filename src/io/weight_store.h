#pragma once
// Every tensor of a model directory, across shards, each a zero-copy view of its mapped file.
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"

namespace mofa::io {

class WeightStore {
 public:
  // Opens model.safetensors.index.json (its weight_map) if present, else model.safetensors, else
  // every *.safetensors in `dir`; throws InvalidInput naming the directory and file on any defect.
  static WeightStore open_dir(const std::string& dir,
                              FileResidency residency = FileResidency::mapped);
  // A store over the given files (names must be unique across them); `dir` is for messages.
  static WeightStore open_files(const std::string& dir, const std::vector<std::string>& paths,
                                FileResidency residency = FileResidency::mapped);

  const std::string& dir() const { return dir_; }
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  // The tensor `name`; throws InvalidInput naming the tensor and the directory if missing.
  Tensor get(const std::string& name) const;
  // The validated header entry of `name`; throws like get().
  const TensorInfo& info(const std::string& name) const;
  // Path of the file holding `name`; throws like get().
  const std::string& file_of(const std::string& name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  // Sum of the stored bytes of all tensors.
  size_t total_bytes() const;
  // The opened files, in the order they were opened.
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  const SafetensorsFile& file_holding(const std::string& name) const;

  std::string dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, size_t> where_;  // tensor name -> index into files_
};

}  // namespace mofa::io
