#pragma once
// Command-line flags that `mofa-server` and the `mofa` commands share, declared once so their
// names, help and checks cannot drift apart.
#include <CLI/CLI.hpp>
#include <string>

namespace mofa::server {

// --cache-type-k and --cache-type-v (f32 or f16; empty keeps the default of the matmul mode).
void add_cache_type_flags(CLI::App* cmd, std::string* k, std::string* v);

// --threads / -t: compute threads, 0 for every core. More than kMaxThreads is refused: a pool of
// tens of thousands of spinning threads on a laptop's cores never finishes a step.
inline constexpr int kMaxThreads = 1024;
void add_threads_flag(CLI::App* cmd, int* threads);

// --mmap: map the weight files instead of reading them into huge-page memory.
void add_mmap_flag(CLI::App* cmd, bool* mmap);

}  // namespace mofa::server
