#pragma once
// OpenAI request fields shared by /v1/chat/completions and /v1/completions, and the response
// pieces both build (usage, logprobs).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/llm/generate.h"

namespace mofa::server::openai {

using nlohmann::json;

// Sampling and stopping fields (temperature, top_p, top_k, min_p, max_tokens /
// max_completion_tokens, stop, seed, penalties, ignore_eos, n). Throws HttpError 400 naming the
// field. Logprob fields are read by each endpoint (their types differ).
llm::GenerateOptions parse_generate_options(const json& body);

// `stream` and `stream_options.include_usage`.
struct StreamChoice {
  bool stream = false;
  bool include_usage = false;
};
StreamChoice parse_stream(const json& body);

json usage_json(const llm::Usage& usage);

// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs"}], "refusal": null}.
json chat_logprobs_json(const std::vector<llm::TokenEvent>& tokens);
// One entry of the chat "content" list.
json chat_logprob_entry(const llm::TokenEvent& token);

// Legacy completions logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
// offsets count bytes from `offset0`.
json completion_logprobs_json(const std::vector<llm::TokenEvent>& tokens, size_t offset0);

// The seed's response headers: "mofa-<version>".
std::string system_fingerprint();

}  // namespace mofa::server::openai
