#include "core/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

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

class MappedStorage final : public Storage {
 public:
  MappedStorage(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~MappedStorage() override {
    if (addr_ && size_) munmap(addr_, size_);
  }
  const std::byte* data() const override { return static_cast<const std::byte*>(addr_); }
  size_t size() const override { return size_; }
  std::byte* mutable_data() override { return nullptr; }

 private:
  void* addr_;
  size_t size_;
};

}  // namespace

std::shared_ptr<Storage> storage_allocate(size_t bytes) {
  return std::make_shared<OwnedStorage>(bytes);
}

std::shared_ptr<Storage> storage_map_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InvalidInput("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw InvalidInput("cannot stat '" + path + "': " + std::strerror(err));
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw InvalidInput("cannot map '" + path + "': " + std::strerror(err));
    }
  }
  ::close(fd);
  return std::make_shared<MappedStorage>(addr, size);
}

}  // namespace mofa
