#pragma once
// SHA-256 for verifying hub downloads (LFS files are addressed by their sha256), backed by
// OpenSSL's libcrypto so that no hash is hand-written.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace mofa::runtime {

// Incremental SHA-256: feed bytes in any number of chunks, then read the lowercase hex digest.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Adds `n` bytes at `data` to the hashed stream.
  void update(const void* data, size_t n);
  // Returns the digest of everything fed so far as 64 lowercase hex characters; the state is kept.
  std::string hex_digest() const;
  // Forgets every byte fed so far.
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Returns the lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Returns the lowercase hex SHA-256 of the first `limit` bytes of the file at `path` (all of it
// when `limit` < 0), feeding them into `hasher` too when it is not null; throws InvalidInput when
// unreadable.
std::string sha256_file(const std::string& path, long long limit = -1, Sha256* hasher = nullptr);

}  // namespace mofa::runtime
