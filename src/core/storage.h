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

// Read-only private mapping of a whole file; throws InvalidInput naming the path on failure.
std::shared_ptr<Storage> storage_map_file(const std::string& path);

}  // namespace mofa
