#include "core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/cache_line.h"
#include "core/error.h"

namespace mofa {
namespace {

class OwnedStorage final : public Storage {
 public:
  explicit OwnedStorage(size_t bytes) : size_(bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    data_ = static_cast<std::byte*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded));
    if (!data_) throw std::bad_alloc();
    std::memset(data_, 0, rounded == 0 ? 64 : rounded);
  }
  ~OwnedStorage() override { std::free(data_); }
  const std::byte* data() const override { return data_; }
  size_t size() const override { return size_; }
  std::byte* mutable_data() override { return data_; }

 private:
  std::byte* data_;
  size_t size_;
};

// A mapping owned by this object: `size` bytes of content at `addr`, unmapped as `map_bytes`.
class MappedStorage final : public Storage {
 public:
  // The bytes start `offset` bytes into the mapping at addr.
  MappedStorage(void* addr, size_t size, size_t map_bytes, bool writable = false, size_t offset = 0)
      : addr_(addr), size_(size), map_bytes_(map_bytes), writable_(writable), offset_(offset) {}
  ~MappedStorage() override {
    if (addr_ && map_bytes_) munmap(addr_, map_bytes_);
  }
  const std::byte* data() const override { return static_cast<const std::byte*>(addr_) + offset_; }
  size_t size() const override { return size_; }
  std::byte* mutable_data() override {
    return writable_ ? static_cast<std::byte*>(addr_) + offset_ : nullptr;
  }

 private:
  void* addr_;
  size_t size_;
  size_t map_bytes_;
  bool writable_;
  size_t offset_;
};

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kLineBytes = static_cast<size_t>(kCacheLineBytes);

// Anonymous memory of at least `bytes`, starting on a 2 MiB boundary so that the kernel can back
// all of it with huge pages; null if it cannot be reserved.
void* reserve_huge_aligned(size_t bytes, size_t& map_bytes) {
  map_bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  const size_t over = map_bytes + kHugePage;
  void* raw = mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + over;
  if (end > aligned + map_bytes)
    munmap(reinterpret_cast<void*>(aligned + map_bytes), end - aligned - map_bytes);
  void* addr = reinterpret_cast<void*>(aligned);
  // Best effort: where transparent huge pages are off this is refused and 4 KiB pages remain.
#ifdef MADV_HUGEPAGE
  madvise(addr, map_bytes, MADV_HUGEPAGE);
#endif
  return addr;
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` and returns its size; throws InvalidInput naming it.
size_t open_sized(const std::string& path, int& fd_out) {
  fd_out = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_out < 0) throw InvalidInput("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd_out, &st) != 0) {
    const int err = errno;
    ::close(fd_out);
    fd_out = -1;
    throw InvalidInput("cannot stat '" + path + "': " + std::strerror(err));
  }
  return static_cast<size_t>(st.st_size);
}

std::shared_ptr<Storage> map_fd(const std::string& path, int fd, size_t size) {
  void* addr = nullptr;
  if (size > 0) {
    addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED)
      throw InvalidInput("cannot map '" + path + "': " + std::strerror(errno));
  }
  return std::make_shared<MappedStorage>(addr, size, size);
}

}  // namespace

std::shared_ptr<Storage> storage_allocate(size_t bytes) {
  return std::make_shared<OwnedStorage>(bytes);
}

std::shared_ptr<Storage> storage_allocate_huge(size_t bytes) {
  size_t map_bytes = 0;
  void* addr = bytes > 0 ? reserve_huge_aligned(bytes, map_bytes) : nullptr;
  if (!addr) return storage_allocate(bytes);
  return std::make_shared<MappedStorage>(addr, bytes, map_bytes, /*writable=*/true);
}

std::shared_ptr<Storage> storage_map_file(const std::string& path) {
  int raw_fd = -1;
  const size_t size = open_sized(path, raw_fd);
  FileDescriptor fd(raw_fd);
  return map_fd(path, fd.get(), size);
}

std::shared_ptr<Storage> storage_open_file(const std::string& path, FileResidency residency,
                                           size_t aligned_at) {
  if (residency == FileResidency::mapped) return storage_map_file(path);
  int raw_fd = -1;
  const size_t size = open_sized(path, raw_fd);
  FileDescriptor fd(raw_fd);
  const size_t pad = (kLineBytes - aligned_at % kLineBytes) % kLineBytes;
  size_t map_bytes = 0;
  void* addr = size > 0 ? reserve_huge_aligned(size + pad, map_bytes) : nullptr;
  if (!addr) return map_fd(path, fd.get(), size);
  auto storage = std::make_shared<MappedStorage>(addr, size, map_bytes, false, pad);
  auto* dst = static_cast<char*>(addr) + pad;
  size_t done = 0;
  while (done < size) {
    const size_t want = std::min<size_t>(size - done, size_t{64} << 20);
    const ssize_t got = ::pread(fd.get(), dst + done, want, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw InvalidInput("cannot read '" + path + "': " + std::strerror(errno));
    if (got == 0)
      throw InvalidInput("'" + path + "' shrank while it was read (" + std::to_string(done) +
                         " of " + std::to_string(size) + " bytes)");
    done += static_cast<size_t>(got);
  }
  mprotect(addr, map_bytes, PROT_READ);
  return storage;
}

}  // namespace mofa
