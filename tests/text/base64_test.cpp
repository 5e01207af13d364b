#include "text/base64.h"

#include <gtest/gtest.h>

namespace mofa::text {
namespace {

TEST(Base64, DecodesRfc4648VectorsWithAndWithoutPadding) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},           {"Zg==", "f"},         {"Zm8=", "fo"},         {"Zm9v", "foo"},
      {"Zm9vYg", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"}, {"/+8A", "\xff\xef"},
  };
  for (const auto& [in, want] : cases) {
    auto got = base64_decode(in);
    ASSERT_TRUE(got.has_value()) << in;
    EXPECT_EQ(*got, std::string(want, std::char_traits<char>::length(want)) +
                        (std::string(in) == "/+8A" ? std::string(1, '\0') : ""))
        << in;
  }
}

TEST(Base64, RejectsWhatIsNotBase64) {
  for (const char* bad : {"Z", "Zm9=v", "Zm 9v", "Zm9v!", "Zg=", "Zm9vY===", "====="})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

}  // namespace
}  // namespace mofa::text
