#include "pipelines/llm/stop_strings.h"

#include <gtest/gtest.h>

namespace mofa::llm {
namespace {

std::string feed(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += s.push(p);
  return out + s.flush();
}

TEST(StopStrings, NoStopsPassesEverythingThrough) {
  StopStrings s({});
  EXPECT_EQ(s.push("hello"), "hello");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, StopAcrossTokenBoundaryIsNeverEmitted) {
  StopStrings s({"</end>"});
  EXPECT_EQ(s.push("abc</"), "abc");  // "</" may start the stop string: held back
  EXPECT_EQ(s.push("en"), "");
  EXPECT_EQ(s.push("d>tail"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, FalseAlarmIsReleased) {
  StopStrings s({"</end>"});
  EXPECT_EQ(feed(s, {"a</e", "x"}), "a</ex");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStrings s({"world", "lo w"});
  EXPECT_EQ(feed(s, {"hel", "lo world"}), "hel");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, HeldBackTailIsFlushedAtTheEnd) {
  StopStrings s({"STOP"});
  EXPECT_EQ(s.push("xST"), "x");
  EXPECT_EQ(s.flush(), "ST");
}

TEST(StopStrings, NothingAfterStop) {
  StopStrings s({"\n\n"});
  EXPECT_EQ(s.push("a\n\nb"), "a");
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.flush(), "");
}

}  // namespace
}  // namespace mofa::llm
