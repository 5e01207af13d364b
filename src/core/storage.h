#pragma once
// Bytes behind tensors: an owned aligned buffer or a read-only memory-mapped file region.
#include <cstddef>
#include <memory>
#include <string>

namespace mofa {

class Storage {
 public:
  virtual ~Storage() = default;
  virtual const std::byte* data() const = 0;
  virtual size_t size() const = 0;
  // Null for read-only storage (memory-mapped weights).
  virtual std::byte* mutable_data() = 0;
};

// A zero-filled, 64-byte aligned buffer.
std::shared_ptr<Storage> storage_allocate(size_t bytes);

// The same in anonymous memory on a 2 MiB boundary that the kernel may back with huge pages, as
// weights read with FileResidency::memory are: for buffers streamed like weights (benchmarks).
std::shared_ptr<Storage> storage_allocate_huge(size_t bytes);

// How a file's bytes are held. mapped: a read-only private mapping, paged in on first touch (fast
// to open, shares the page cache, lets the kernel drop pages under memory pressure). memory: read
// once into anonymous memory that the kernel may back with 2 MiB pages; weights that are streamed
// every token then cost far fewer TLB misses (decode of a 7B-shape model ran ~16% faster).
enum class FileResidency { mapped, memory };

// A whole file, read-only; throws InvalidInput naming the path on failure. `memory` falls back to
// a mapping when the anonymous memory cannot be reserved. In `memory`, the file's byte
// `aligned_at` lands on a 64-byte boundary (a mapping keeps the file's own alignment): the
// tensors of a safetensors file start wherever its header ends, and rows read with 64-byte
// vectors that straddle two cache lines stream more slowly.
std::shared_ptr<Storage> storage_open_file(const std::string& path, FileResidency residency,
                                           size_t aligned_at = 0);

// Read-only private mapping of a whole file.
std::shared_ptr<Storage> storage_map_file(const std::string& path);

}  // namespace mofa
