#include "server/cli_flags.h"

namespace mofa::server {

void add_cache_type_flags(CLI::App* cmd, std::string* k, std::string* v) {
  cmd->add_option(
         "--cache-type-k", *k,
         "KV cache type of keys (also -ctk): f16 (default, as llama.cpp), f32 (default with "
         "--exact) or q8_0 (int8 per 32 values, about half of f16's memory)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
  cmd->add_option(
         "--cache-type-v", *v,
         "KV cache type of values (also -ctv): f16 (default), f32 (default with --exact) or "
         "q8_0")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}));
}

void add_threads_flag(CLI::App* cmd, int* threads) {
  cmd->add_option("--threads,-t", *threads, "compute threads (0, the default: every core)")
      ->check(CLI::Range(0, kMaxThreads));
}

void add_mmap_flag(CLI::App* cmd, bool* mmap) {
  cmd->add_flag("--mmap", *mmap,
                "map the weight files instead of reading them into huge-page memory (opens "
                "faster, pageable; decode is slower)");
}

}  // namespace mofa::server
