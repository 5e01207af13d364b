#include "io/safetensors_writer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace mofa::io {
namespace {

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f16:
      return "F16";
    case DType::bf16:
      return "BF16";
    case DType::i32:
      return "I32";
    case DType::u32:
      return "U32";
    case DType::u8:
      return "U8";
    case DType::i64:
      return "I64";
    case DType::boolean:
      return "BOOL";
    case DType::q8_0:
      break;  // a KV-cache type only
  }
  return "?";
}

}  // namespace

void safetensors_write(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const nlohmann::json& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.is_contiguous())
      throw InternalError("[safetensors_write] tensor '" + name + "' is not contiguous");
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InvalidInput("[safetensors_write] cannot create '" + tmp + "'");
    uint64_t n = h.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(le), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : tensors)
      out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw InvalidInput("[safetensors_write] writing '" + tmp + "' failed (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace mofa::io
