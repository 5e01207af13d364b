#include "runtime/hub_sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <vector>

#include "core/error.h"

namespace mofa::runtime {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  check_internal(state_->ctx != nullptr, "sha256", "EVP_MD_CTX_new failed");
  reset();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(state_->ctx);
}

void Sha256::reset() {
  check_internal(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1, "sha256",
                 "EVP_DigestInit_ex failed");
}

void Sha256::update(const void* data, size_t n) {
  if (n == 0) return;
  check_internal(EVP_DigestUpdate(state_->ctx, data, n) == 1, "sha256", "EVP_DigestUpdate failed");
}

std::string Sha256::hex_digest() const {
  // Finalising consumes a context, so digest a copy and keep hashing possible.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  check_internal(copy != nullptr && EVP_MD_CTX_copy_ex(copy, state_->ctx) == 1, "sha256",
                 "EVP_MD_CTX_copy_ex failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const int ok = EVP_DigestFinal_ex(copy, digest, &len);
  EVP_MD_CTX_free(copy);
  check_internal(ok == 1 && len == 32, "sha256", "EVP_DigestFinal_ex failed");
  static const char* hex = "0123456789abcdef";
  std::string out(64, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

std::string sha256_file(const std::string& path, long long limit, Sha256* hasher) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw InvalidInput("[sha256] cannot open '" + path + "' for reading");
  Sha256 local;
  std::vector<char> buf(1 << 20);
  long long left = limit;
  while (limit < 0 || left > 0) {
    size_t want = buf.size();
    if (limit >= 0 && static_cast<long long>(want) > left) want = static_cast<size_t>(left);
    const size_t got = std::fread(buf.data(), 1, want, f);
    if (got == 0) break;
    local.update(buf.data(), got);
    if (hasher) hasher->update(buf.data(), got);
    left -= static_cast<long long>(got);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw InvalidInput("[sha256] read error on '" + path + "'");
  return local.hex_digest();
}

}  // namespace mofa::runtime
