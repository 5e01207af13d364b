#pragma once
// llama.cpp's multi-letter short flags, accepted by our command-line programs as spelled there.
// CLI11 only knows one-letter short options, so `-ctk f16` would otherwise parse as `-c tk`
// (a context size) and fail with a misleading error; users who come from llama-bench or
// llama-server type these out of habit.
#include <string>
#include <vector>

namespace mofa {

// The arguments with every llama.cpp alias spelled as our long flag ("-ctk" -> "--cache-type-k",
// "-ctv" -> "--cache-type-v"). Arguments after a lone "--" are left alone; argv[0] is kept.
std::vector<std::string> expand_cli_aliases(int argc, const char* const* argv);

// Owns the rewritten arguments and exposes them as argc/argv for CLI::App::parse.
class ExpandedArgs {
 public:
  ExpandedArgs(int argc, const char* const* argv);
  int argc() const { return static_cast<int>(pointers_.size()); }
  const char* const* argv() const { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<const char*> pointers_;
};

}  // namespace mofa
