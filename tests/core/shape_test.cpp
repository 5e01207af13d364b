#include "core/shape.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace mofa {
namespace {

TEST(Shape, HoldsItsDimensionsInOrder) {
  const Shape s{2, 3, 4};
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], 2);
  EXPECT_EQ(s.back(), 4);
  EXPECT_EQ(std::vector<int64_t>(s.begin(), s.end()), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(shape_str(s), "[2, 3, 4]");
  EXPECT_EQ(shape_numel(s), 24);
  EXPECT_EQ(shape_numel(Shape{}), 1);
  EXPECT_EQ(Shape(s.begin() + 1, s.end()), (Shape{3, 4}));
  EXPECT_EQ(Shape(2, 7), (Shape{7, 7}));
}

TEST(Shape, ComparesRankAndDimensions) {
  EXPECT_EQ((Shape{2, 3}), (Shape{2, 3}));
  EXPECT_NE((Shape{2, 3}), (Shape{3, 2}));
  EXPECT_NE((Shape{2, 3}), (Shape{2, 3, 1}));
  EXPECT_NE(Shape{}, (Shape{1}));
}

TEST(Shape, RefusesMoreThanItsMaximumRank) {
  Shape s(Shape::kMaxRank, 1);
  EXPECT_EQ(s.size(), Shape::kMaxRank);
  try {
    s.push_back(1);
    FAIL() << "a dimension past kMaxRank was accepted";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("more than 8 dimensions"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mofa
