#include "core/cli_aliases.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mofa {
namespace {

TEST(CliAliases, SpellsLlamaCppShortFlagsAsOurLongOnes) {
  const char* argv[] = {"mofa", "bench", "-ctk", "f16", "-ctv", "f32", "-c", "512"};
  EXPECT_EQ(expand_cli_aliases(8, argv),
            (std::vector<std::string>{"mofa", "bench", "--cache-type-k", "f16", "--cache-type-v",
                                      "f32", "-c", "512"}));
}

TEST(CliAliases, LeavesProgramNameAndArgumentsAfterDoubleDashAlone) {
  const char* argv[] = {"-ctk", "run", "--", "-ctk"};
  EXPECT_EQ(expand_cli_aliases(4, argv), (std::vector<std::string>{"-ctk", "run", "--", "-ctk"}));
}

}  // namespace
}  // namespace mofa
