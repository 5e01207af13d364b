#include "text/decoder.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/normalizer.h"
#include "text/unicode.h"

namespace mofa::text {

using nlohmann::json;

namespace {

// Maps each token's stand-in characters back to bytes; a token holding a character outside the
// alphabet (an added token such as "<｜begin▁of▁sentence｜>") keeps its own bytes.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      const size_t mark = bytes.size();
      size_t i = 0;
      bool ok = true;
      while (i < t.size()) {
        int b = byte_level_decode(utf8_next(t, i));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!ok) {
        bytes.resize(mark);
        bytes.append(t);
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8_valid_prefix(pending) == pending.size()) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = parse_byte_token(t);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  // "<0xAB>" -> 0xAB, anything else -> -1.
  static int parse_byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0;
      for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0; ++k) {
        b += content_.size();
      }
      size_t e = t.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k) {
        e -= content_.size();
      }
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// The decoder's Replace has the normalizer's shape and meaning, so it reuses that code.
class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const std::string& where)
      : replace_(normalizer_from_json(j, where)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = replace_->normalize(std::move(t));
  }

 private:
  std::unique_ptr<Normalizer> replace_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const auto& t = tokens[i];
      size_t pos = 0, found;
      while ((found = t.find(replacement_, pos)) != std::string::npos) {
        out.append(t, pos, found - pos);
        out.push_back(' ');
        pos = found + replacement_.size();
      }
      out.append(t, pos, std::string::npos);
      if (i == 0 && strip_first_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> items)
      : items_(std::move(items)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};

}  // namespace

std::unique_ptr<Decoder> decoder_from_json(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw InvalidInput(where + " must be an object with a string 'type'");
  }
  const auto type = j["type"].get<std::string>();
  try {
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
      return std::make_unique<StripDecoder>(j.at("content").get<std::string>(),
                                            j.value("start", size_t{0}),
                                            j.value("stop", size_t{0}));
    }
    if (type == "Replace") return std::make_unique<ReplaceDecoder>(j, where);
    if (type == "Metaspace") {
      bool strip_first = j.value("add_prefix_space", true);
      if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
        strip_first = j["prepend_scheme"].get<std::string>() != "never";
      }
      return std::make_unique<MetaspaceDecoder>(j.value("replacement", std::string("\u2581")),
                                                strip_first);
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Decoder>> items;
      const auto& list = j.at("decoders");
      for (size_t i = 0; i < list.size(); ++i) {
        auto d = decoder_from_json(list[i], where + ".decoders[" + std::to_string(i) + "]");
        if (d) items.push_back(std::move(d));
      }
      return std::make_unique<SequenceDecoder>(std::move(items));
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + " (" + type + "): " + e.what());
  }
  throw InvalidInput(where + ".type '" + type + "' is not supported");
}

}  // namespace mofa::text
