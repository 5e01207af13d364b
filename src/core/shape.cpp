#include "core/shape.h"

#include "core/error.h"

namespace mofa {

Shape::Shape(size_t rank, int64_t value) {
  for (size_t i = 0; i < rank; ++i) push_back(value);
}

void Shape::push_back(int64_t d) {
  if (rank_ == kMaxRank)
    throw_internal("shape", "more than " + std::to_string(kMaxRank) + " dimensions");
  dims_[rank_++] = d;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

}  // namespace mofa
