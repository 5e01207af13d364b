#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "core/error.h"

namespace mofa::io {
namespace {

// Headers of real checkpoints are kilobytes to a few megabytes; anything larger is corrupt.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// Entries nest three deep (root, entry, shape); a deeper document is not a safetensors header.
constexpr int kMaxJsonDepth = 16;

struct DTypeEntry {
  const char* name;
  int bits;   // storage bits per element
  bool mofa;  // whether core has a DType for it
  DType dtype;
};

// Every dtype of the safetensors spec, with its width so that sizes validate even for the ones
// mofa cannot compute with.
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", 8, true, DType::boolean}, {"U8", 8, true, DType::u8},
    {"I8", 8, false, DType::u8},       {"F8_E5M2", 8, false, DType::u8},
    {"F8_E4M3", 8, false, DType::u8},  {"F8_E8M0", 8, false, DType::u8},
    {"F4", 4, false, DType::u8},       {"F6_E2M3", 6, false, DType::u8},
    {"F6_E3M2", 6, false, DType::u8},  {"I16", 16, false, DType::u8},
    {"U16", 16, false, DType::u8},     {"F16", 16, true, DType::f16},
    {"BF16", 16, true, DType::bf16},   {"I32", 32, true, DType::i32},
    {"U32", 32, true, DType::u32},     {"F32", 32, true, DType::f32},
    {"F64", 64, false, DType::u8},     {"I64", 64, true, DType::i64},
    {"U64", 64, false, DType::u8},
};

const DTypeEntry* find_dtype(const std::string& s) {
  for (const auto& e : kDTypes)
    if (s == e.name) return &e;
  return nullptr;
}

std::string json_type(const nlohmann::json& j) {
  if (j.is_number_unsigned() || j.is_number_integer()) return "integer";
  return j.type_name();
}

// A name or parser message fit for an error line: control bytes escaped, length capped, since a
// hostile header can hold megabyte-long or multi-line keys.
std::string printable(const std::string& s, size_t cap = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < cap; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() >= cap) out += "...";
  return out;
}

// A non-negative JSON integer that fits in int64; false for anything else.
bool as_count(const nlohmann::json& j, uint64_t& out) {
  if (!j.is_number_unsigned()) return false;
  out = j.get<uint64_t>();
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

// The file's first 8 bytes: the header length, little-endian.
uint64_t header_length(const unsigned char* b) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | b[i];
  return n;
}

// Where the tensor data of the file at `path` starts (8 + its header length), read ahead of the
// whole file so that the data can be placed on a cache-line boundary; 0 when the first bytes
// cannot tell (open() then reports what is wrong from the whole file).
size_t data_start(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[8];
  if (!in.read(reinterpret_cast<char*>(b), sizeof(b))) return 0;
  const uint64_t header_len = header_length(b);
  return header_len <= kMaxHeaderBytes ? 8 + static_cast<size_t>(header_len) : 0;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path,
                                                       FileResidency residency) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const std::string where = "[safetensors] " + path + ": ";
  auto fail = [&](const std::string& why) { throw InvalidInput(where + why); };

  f->storage_ =
      storage_open_file(path, residency, residency == FileResidency::memory ? data_start(path) : 0);
  const size_t size = f->storage_->size();
  if (size < 8)
    fail("file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  const auto* bytes = reinterpret_cast<const unsigned char*>(f->storage_->data());
  const uint64_t header_len = header_length(bytes);
  if (header_len > kMaxHeaderBytes)
    fail("header length " + std::to_string(header_len) + " is absurd (limit " +
         std::to_string(kMaxHeaderBytes) + " bytes); not a safetensors file?");
  if (header_len > size - 8)
    fail("header length " + std::to_string(header_len) + " exceeds the " +
         std::to_string(size - 8) + " bytes after the length field (truncated file?)");
  f->data_offset_ = 8 + static_cast<size_t>(header_len);
  const size_t data_size = size - f->data_offset_;

  nlohmann::json header;
  std::set<std::string> top_keys;
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  try {
    auto check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (depth > kMaxJsonDepth)
        throw InvalidInput(where + "header JSON nests deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
      // JSON parsers keep one of two duplicate keys silently; a tensor must mean one thing.
      if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
          !top_keys.insert(parsed.get<std::string>()).second)
        throw InvalidInput(where + "tensor '" + printable(parsed.get<std::string>()) +
                           "' appears twice in the header");
      return true;
    };
    header = nlohmann::json::parse(text, text + header_len, check);
  } catch (const nlohmann::json::exception& e) {
    fail("header is not valid JSON: " + printable(e.what(), 300));
  }
  if (!header.is_object()) fail("header must be a JSON object, got " + json_type(header));

  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ must be an object, got " + json_type(entry));
      f->metadata_ = entry;
      continue;
    }
    const std::string tw = "tensor '" + printable(name) + "': ";
    if (!entry.is_object()) fail(tw + "entry must be an object, got " + json_type(entry));
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end()) fail(tw + "missing 'dtype'");
    if (sh == entry.end()) fail(tw + "missing 'shape'");
    if (off == entry.end()) fail(tw + "missing 'data_offsets'");
    if (!dt->is_string()) fail(tw + "'dtype' must be a string, got " + json_type(*dt));
    if (!sh->is_array()) fail(tw + "'shape' must be an array, got " + json_type(*sh));
    if (!off->is_array()) fail(tw + "'data_offsets' must be an array, got " + json_type(*off));
    if (sh->size() > Shape::kMaxRank)
      fail(tw + "shape " + sh->dump() + " has " + std::to_string(sh->size()) +
           " dimensions; at most " + std::to_string(Shape::kMaxRank) + " are supported");

    TensorInfo info;
    info.dtype = dt->get<std::string>();
    const DTypeEntry* de = find_dtype(info.dtype);
    if (!de) fail(tw + "unknown dtype '" + info.dtype + "'");

    // numel * bits, overflow-checked: a hostile shape must not wrap into a small size.
    unsigned __int128 total_bits = static_cast<unsigned>(de->bits);
    for (const auto& d : *sh) {
      if (d.is_number_integer() && !d.is_number_unsigned())
        fail(tw + "negative dimension " + d.dump() + " in shape " + sh->dump());
      uint64_t v = 0;
      if (!as_count(d, v))
        fail(tw + "shape entries must be non-negative integers, got " + d.dump() + " in " +
             sh->dump());
      info.shape.push_back(static_cast<int64_t>(v));
      total_bits *= v;
      if (total_bits > (static_cast<unsigned __int128>(1) << 70))
        fail(tw + "shape " + sh->dump() + " is impossibly large");
    }
    if (off->size() != 2) fail(tw + "'data_offsets' must be [begin, end], got " + off->dump());
    uint64_t begin = 0, end = 0;
    if (!as_count((*off)[0], begin) || !as_count((*off)[1], end))
      fail(tw + "'data_offsets' must be two non-negative integers, got " + off->dump());
    if (begin > end) fail(tw + "data_offsets " + off->dump() + " have begin > end");
    if (end > data_size)
      fail(tw + "data_offsets " + off->dump() + " end beyond the data section of " +
           std::to_string(data_size) + " bytes (truncated file?)");
    if (total_bits % 8 != 0)
      fail(tw + "shape " + sh->dump() + " of " + info.dtype + " is not a whole number of bytes");
    const uint64_t want = static_cast<uint64_t>(total_bits / 8);
    if (end - begin != want)
      fail(tw + "data_offsets " + off->dump() + " span " + std::to_string(end - begin) +
           " bytes but " + info.dtype + " " + shape_str(info.shape) + " needs " +
           std::to_string(want));
    info.begin = static_cast<size_t>(begin);
    info.end = static_cast<size_t>(end);
    f->tensors_.emplace(name, std::move(info));
  }

  // Overlap check: sorted by begin, each non-empty tensor must start at or after the previous end.
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  order.reserve(f->tensors_.size());
  for (const auto& [name, info] : f->tensors_)
    if (info.end > info.begin) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& prev = *order[i - 1].second;
    const TensorInfo& cur = *order[i].second;
    if (cur.begin < prev.end)
      fail("tensor '" + printable(*order[i].first) + "' bytes [" + std::to_string(cur.begin) +
           ", " + std::to_string(cur.end) + ") overlap tensor '" + printable(*order[i - 1].first) +
           "' bytes [" + std::to_string(prev.begin) + ", " + std::to_string(prev.end) + ")");
  }
  return f;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw InvalidInput("[safetensors] " + path_ + ": no tensor '" + name + "'");
  return it->second;
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorInfo& ti = info(name);
  const DTypeEntry* de = find_dtype(ti.dtype);
  if (!de->mofa)
    throw Unsupported("[safetensors] " + path_ + ": tensor '" + name + "' has dtype " + ti.dtype +
                      ", which mofa cannot compute with");
  const size_t offset = data_offset_ + ti.begin;
  const size_t elem = dtype_size(de->dtype);
  const auto addr = reinterpret_cast<uintptr_t>(storage_->data() + offset);
  if (addr % elem == 0) return Tensor(storage_, offset, de->dtype, ti.shape);

  std::lock_guard<std::mutex> lock(copies_mutex_);
  auto& copy = copies_[name];
  if (!copy) {
    copy = storage_allocate(ti.end - ti.begin);
    std::memcpy(copy->mutable_data(), storage_->data() + offset, ti.end - ti.begin);
  }
  return Tensor(copy, 0, de->dtype, ti.shape);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  return out;
}

}  // namespace mofa::io
