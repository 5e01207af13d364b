#include "core/cli_aliases.h"

#include <string_view>

namespace mofa {
namespace {

struct Alias {
  std::string_view short_form;
  std::string_view long_form;
};

constexpr Alias kAliases[] = {
    {"-ctk", "--cache-type-k"},
    {"-ctv", "--cache-type-v"},
};

}  // namespace

std::vector<std::string> expand_cli_aliases(int argc, const char* const* argv) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(argc));
  bool positional_only = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i > 0 && !positional_only) {
      if (arg == "--") positional_only = true;
      for (const Alias& alias : kAliases) {
        if (arg == alias.short_form) arg = alias.long_form;
      }
    }
    out.emplace_back(arg);
  }
  return out;
}

ExpandedArgs::ExpandedArgs(int argc, const char* const* argv)
    : args_(expand_cli_aliases(argc, argv)) {
  pointers_.reserve(args_.size());
  for (const std::string& arg : args_) pointers_.push_back(arg.c_str());
}

}  // namespace mofa
