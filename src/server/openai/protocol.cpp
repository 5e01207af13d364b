#include "server/openai/protocol.h"

#include "server/errors.h"
#include "server/json_body.h"
#include "server/server_context.h"

namespace mofa::server::openai {

llm::GenerateOptions parse_generate_options(const json& body) {
  llm::GenerateOptions options;
  auto& s = options.sampling;
  if (auto n = opt_int(body, "n"); n && *n != 1) {
    throw HttpError(
        400, "'n' must be 1: this server returns one choice per request, got " + std::to_string(*n),
        "invalid_request_error", "n");
  }
  if (auto v = opt_number(body, "temperature")) {
    check_range("temperature", *v, 0.0, 2.0);
    s.temperature = static_cast<float>(*v);
  }
  if (auto v = opt_number(body, "top_p")) {
    check_range("top_p", *v, 0.0, 1.0);
    s.top_p = static_cast<float>(*v);
  }
  if (auto v = opt_int(body, "top_k")) {
    check_range("top_k", static_cast<double>(*v), 0, 1e9);
    s.top_k = static_cast<int>(*v);
  }
  if (auto v = opt_number(body, "min_p")) {
    check_range("min_p", *v, 0.0, 1.0);
    s.min_p = static_cast<float>(*v);
  }
  if (auto v = opt_number(body, "presence_penalty")) {
    check_range("presence_penalty", *v, -2.0, 2.0);
    s.presence_penalty = static_cast<float>(*v);
  }
  if (auto v = opt_number(body, "frequency_penalty")) {
    check_range("frequency_penalty", *v, -2.0, 2.0);
    s.frequency_penalty = static_cast<float>(*v);
  }
  if (auto v = opt_number(body, "repetition_penalty")) {
    check_range("repetition_penalty", *v, 0.01, 10.0);
    s.repetition_penalty = static_cast<float>(*v);
  }
  if (auto v = opt_int(body, "seed")) {
    s.seed = static_cast<uint64_t>(*v);
    s.has_seed = true;
  }
  auto max_tokens = opt_int(body, "max_completion_tokens");
  const char* max_key = "max_completion_tokens";
  if (!max_tokens) {
    max_tokens = opt_int(body, "max_tokens");
    max_key = "max_tokens";
  }
  if (max_tokens) {
    check_range(max_key, static_cast<double>(*max_tokens), 0, 1e9);  // 0: score only
    options.max_tokens = static_cast<int>(*max_tokens);
  }
  if (auto v = opt_bool(body, "ignore_eos")) options.ignore_eos = *v;
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      if (!it->get<std::string>().empty()) options.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > 16) {
        throw HttpError(400,
                        "'stop' holds " + std::to_string(it->size()) + " strings; the limit is 16",
                        "invalid_request_error", "stop");
      }
      for (const auto& item : *it) {
        if (!item.is_string()) {
          throw HttpError(400,
                          std::string("'stop' must be a string or a list of strings, found a ") +
                              item.type_name() + " in the list",
                          "invalid_request_error", "stop");
        }
        if (!item.get<std::string>().empty()) options.stop.push_back(item.get<std::string>());
      }
    } else {
      throw HttpError(
          400, std::string("'stop' must be a string or a list of strings, got ") + it->type_name(),
          "invalid_request_error", "stop");
    }
  }
  return options;
}

StreamChoice parse_stream(const json& body) {
  StreamChoice choice;
  choice.stream = opt_bool(body, "stream").value_or(false);
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw HttpError(400,
                      std::string("'stream_options' must be an object, got ") + it->type_name(),
                      "invalid_request_error", "stream_options");
    }
    choice.include_usage = opt_bool(*it, "include_usage").value_or(false);
  }
  return choice;
}

json usage_json(const llm::Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

namespace {
json bytes_of(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}
}  // namespace

json chat_logprob_entry(const llm::TokenEvent& token) {
  json top = json::array();
  for (const auto& alt : token.top) {
    top.push_back({{"token", alt.text}, {"logprob", alt.logprob}, {"bytes", bytes_of(alt.text)}});
  }
  return {{"token", token.chosen.text},
          {"logprob", token.chosen.logprob},
          {"bytes", bytes_of(token.chosen.text)},
          {"top_logprobs", top}};
}

json chat_logprobs_json(const std::vector<llm::TokenEvent>& tokens) {
  json content = json::array();
  for (const auto& token : tokens) content.push_back(chat_logprob_entry(token));
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs_json(const std::vector<llm::TokenEvent>& tokens, size_t offset0) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  size_t offset = offset0;
  for (const auto& token : tokens) {
    // An echoed prompt's first token was not predicted from anything: null, as OpenAI sends.
    const bool scored = token.chosen.id >= 0;
    const std::string& text = scored ? token.chosen.text : token.text;
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(scored ? json(token.chosen.logprob) : json(nullptr));
    json top = json::object();
    for (const auto& alt : token.top) top[alt.text] = alt.logprob;
    out["top_logprobs"].push_back(scored ? top : json(nullptr));
    out["text_offset"].push_back(offset);
    offset += text.size();
  }
  return out;
}

std::string system_fingerprint() {
  return std::string("mofa-") + server_version();
}

}  // namespace mofa::server::openai
