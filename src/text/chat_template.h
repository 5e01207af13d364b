#pragma once
// A model's chat template, loaded from its files and rendered with the variables transformers'
// apply_chat_template passes, so prompts match what the model was trained on byte for byte.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::text {

namespace jinja {
class Template;
}

class ChatTemplate {
 public:
  // From DIR: chat_template.jinja, else chat_template.json {"chat_template": ...}, else
  // tokenizer_config.json "chat_template" (a string, or a list of {"name", "template"}: "default"
  // is used, "tool_use" when tools are given); bos/eos tokens from tokenizer_config.json. With no
  // template at all, the ChatML fallback transformers used to apply (is_fallback() is true).
  static ChatTemplate load(const std::string& dir);
  // A template from its source text.
  static ChatTemplate from_string(std::string source, std::string bos_token = "",
                                  std::string eos_token = "");

  // Renders messages with transformers' variables: messages, tools (None when null or empty),
  // documents (None), add_generation_prompt, bos_token, eos_token, every kwargs entry as a
  // top-level variable, raise_exception and strftime_now. Template errors throw InvalidInput
  // starting with "chat template: ".
  std::string render(const nlohmann::json& messages, const nlohmann::json& tools,
                     bool add_generation_prompt, const nlohmann::json& kwargs) const;
  // The same with insertion-ordered JSON, which keeps the caller's key order in tojson output
  // (nlohmann::json sorts object keys; Python keeps them as given).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt, const nlohmann::ordered_json& kwargs) const;

  bool is_fallback() const { return fallback_; }
  // The template source in use without tools (for /api/show and debugging).
  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

 private:
  std::string source_;
  std::string tool_use_source_;
  std::shared_ptr<const jinja::Template> template_;
  std::shared_ptr<const jinja::Template> tool_use_template_;
  std::string bos_token_;
  std::string eos_token_;
  bool fallback_ = false;
};

}  // namespace mofa::text
