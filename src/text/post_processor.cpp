#include "text/post_processor.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mofa::text {

using nlohmann::json;

namespace {

class AffixProcessor : public PostProcessor {
 public:
  AffixProcessor(std::vector<int32_t> prefix, std::vector<int32_t> suffix)
      : prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    std::vector<int32_t> out;
    out.reserve(prefix_.size() + ids.size() + suffix_.size());
    out.insert(out.end(), prefix_.begin(), prefix_.end());
    out.insert(out.end(), ids.begin(), ids.end());
    out.insert(out.end(), suffix_.begin(), suffix_.end());
    return out;
  }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

class IdentityProcessor : public PostProcessor {
 public:
  std::vector<int32_t> process(std::vector<int32_t> ids) const override { return ids; }
};

class SequenceProcessor : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> items)
      : items_(std::move(items)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids) const override {
    for (const auto& p : items_) ids = p->process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> items_;
};

// TemplateProcessing's "single" template: pieces are either the sequence or special tokens whose
// ids come from the "special_tokens" table.
std::unique_ptr<PostProcessor> template_processing(const json& j, const std::string& where) {
  const auto& single = j.at("single");
  const auto& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
  std::vector<int32_t> prefix, suffix;
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const auto& piece = single[i];
    const std::string at = where + ".single[" + std::to_string(i) + "]";
    if (piece.contains("Sequence")) {
      if (seen_sequence) throw InvalidInput(at + ": a single template holds one sequence");
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const auto name = piece["SpecialToken"].at("id").get<std::string>();
      if (!specials.contains(name)) {
        throw InvalidInput(at + ": special token '" + name + "' is missing from special_tokens");
      }
      for (const auto& id : specials[name].at("ids")) {
        (seen_sequence ? suffix : prefix).push_back(id.get<int32_t>());
      }
    } else {
      throw InvalidInput(at + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) throw InvalidInput(where + ".single has no Sequence");
  return std::make_unique<AffixProcessor>(std::move(prefix), std::move(suffix));
}

// RobertaProcessing / BertProcessing: {"cls": [token, id], "sep": [token, id]}.
std::unique_ptr<PostProcessor> cls_sep_processing(const json& j) {
  auto cls = j.at("cls").at(1).get<int32_t>();
  auto sep = j.at("sep").at(1).get<int32_t>();
  return std::make_unique<AffixProcessor>(std::vector<int32_t>{cls}, std::vector<int32_t>{sep});
}

}  // namespace

std::unique_ptr<PostProcessor> make_affix_post_processor(std::vector<int32_t> prefix,
                                                         std::vector<int32_t> suffix) {
  return std::make_unique<AffixProcessor>(std::move(prefix), std::move(suffix));
}

std::unique_ptr<PostProcessor> post_processor_from_json(const json& j, const std::string& where,
                                                        const TokenLookup& lookup) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw InvalidInput(where + " must be an object with a string 'type'");
  }
  const auto type = j["type"].get<std::string>();
  try {
    if (type == "TemplateProcessing") {
      if (j.contains("special_tokens")) {
        for (auto it = j["special_tokens"].begin(); it != j["special_tokens"].end(); ++it) {
          const auto& tokens = it.value().at("tokens");
          const auto& ids = it.value().at("ids");
          for (size_t k = 0; k < tokens.size() && k < ids.size(); ++k) {
            auto found = lookup(tokens[k].get<std::string>());
            if (!found || *found != ids[k].get<int32_t>()) {
              throw InvalidInput(where + ".special_tokens['" + it.key() + "']: token '" +
                                 tokens[k].get<std::string>() + "' does not have id " +
                                 std::to_string(ids[k].get<int32_t>()));
            }
          }
        }
      }
      return template_processing(j, where);
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") return cls_sep_processing(j);
    if (type == "ByteLevel") return std::make_unique<IdentityProcessor>();
    if (type == "Sequence") {
      std::vector<std::unique_ptr<PostProcessor>> items;
      const auto& list = j.at("processors");
      for (size_t i = 0; i < list.size(); ++i) {
        auto p = post_processor_from_json(list[i], where + ".processors[" + std::to_string(i) + "]",
                                          lookup);
        if (p) items.push_back(std::move(p));
      }
      return std::make_unique<SequenceProcessor>(std::move(items));
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + " (" + type + "): " + e.what());
  }
  throw InvalidInput(where + ".type '" + type + "' is not supported");
}

}  // namespace mofa::text
