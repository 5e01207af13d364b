#pragma once
// A tensor's dimensions (or strides, in elements), held inline. Every view, reshape and arena
// allocation of a forward pass makes one or two of these, so they must not allocate: as
// std::vectors they cost about 850 heap allocations per decoded token of Qwen2.5-0.5B.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>

namespace mofa {

class Shape {
 public:
  // More dimensions than any model here uses (5: MoE expert stacks, batched attention scores).
  static constexpr size_t kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : Shape(dims.begin(), dims.end()) {}
  // `rank` dimensions, each `value` (strides to be filled in, say).
  explicit Shape(size_t rank, int64_t value = 0);
  template <std::input_iterator It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  size_t size() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  int64_t& operator[](size_t i) { return dims_[i]; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t front() const { return dims_[0]; }
  int64_t back() const { return dims_[rank_ - 1]; }
  int64_t& back() { return dims_[rank_ - 1]; }
  int64_t* begin() { return dims_.data(); }
  int64_t* end() { return dims_.data() + rank_; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }
  const int64_t* data() const { return dims_.data(); }

  // Throws InternalError past kMaxRank; input that names a rank (a safetensors header) checks it
  // first and says what is wrong with the file.
  void push_back(int64_t d);

  friend bool operator==(const Shape& a, const Shape& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  size_t rank_ = 0;
};

// "[2, 3, 4]"
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

}  // namespace mofa
