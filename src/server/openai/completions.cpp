#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/json_body.h"
#include "server/openai/protocol.h"
#include "server/openai/routes.h"
#include "server/stream.h"
#include "server/structured_output.h"

namespace mofa::server::openai {
namespace {

// The prompt is a string, a list of token ids, or a one-element list of either.
struct Prompt {
  std::string text;
  std::vector<int32_t> ids;
  bool is_ids = false;
};

Prompt parse_prompt(const json& body) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) {
    throw HttpError(400, "'prompt' is required", "invalid_request_error", "prompt");
  }
  json value = *it;
  if (value.is_array() && value.size() == 1 && (value[0].is_string() || value[0].is_array())) {
    value = json(value[0]);
  } else if (value.is_array() && !value.empty() && (value[0].is_string() || value[0].is_array())) {
    throw HttpError(400,
                    "'prompt' holds " + std::to_string(value.size()) +
                        " prompts; this server completes one prompt per request",
                    "invalid_request_error", "prompt");
  }
  Prompt prompt;
  if (value.is_string()) {
    prompt.text = value.get<std::string>();
    return prompt;
  }
  if (!value.is_array()) {
    throw HttpError(
        400,
        std::string("'prompt' must be a string or a list of token ids, got ") + value.type_name(),
        "invalid_request_error", "prompt");
  }
  prompt.is_ids = true;
  for (const auto& id : value) {
    if (!id.is_number_integer()) {
      throw HttpError(400,
                      std::string("'prompt' token ids must be integers, found a ") + id.type_name(),
                      "invalid_request_error", "prompt");
    }
    const auto v = id.get<int64_t>();
    if (v < 0 || v > INT32_MAX) {
      throw HttpError(400, "'prompt' token id " + std::to_string(v) + " is out of range",
                      "invalid_request_error", "prompt");
    }
    prompt.ids.push_back(static_cast<int32_t>(v));
  }
  return prompt;
}

}  // namespace

void completions(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const auto model_name = opt_string(body, "model");
  Prompt prompt = parse_prompt(body);
  llm::GenerateOptions options = parse_generate_options(body);
  const StreamChoice stream = parse_stream(body);
  const bool echo = opt_bool(body, "echo").value_or(false);
  int logprobs = -1;
  if (auto lp = opt_int(body, "logprobs")) {
    check_range("logprobs", static_cast<double>(*lp), 0, 20);
    logprobs = static_cast<int>(*lp);
    options.sampling.logprobs = true;
    options.sampling.top_logprobs = logprobs;
  }
  // echo + logprobs scores the prompt too (lm-eval-harness style, often with max_tokens 0).
  options.prompt_logprobs = echo && logprobs >= 0;
  apply_openai_structured_output(body, request.body, &options);
  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty()) {
    throw HttpError(400, "'suffix' (fill-in-the-middle) is not supported", "invalid_request_error",
                    "suffix", "unsupported");
  }

  auto model = context.acquire(model_name);
  if (prompt.is_ids) {
    const int64_t vocab = model->pipeline->vocab_size();
    for (int32_t id : prompt.ids) {
      if (id >= vocab) {
        throw HttpError(400,
                        "'prompt' token id " + std::to_string(id) +
                            " is outside the vocabulary of " + std::to_string(vocab) + " tokens",
                        "invalid_request_error", "prompt");
      }
    }
    prompt.text = model->pipeline->detokenize(prompt.ids);
  } else {
    prompt.ids = model->pipeline->tokenize(prompt.text, true, true);
  }
  const std::string echo_text = echo ? prompt.text : std::string();
  auto call =
      std::make_shared<GenerationCall>(context, model, std::move(prompt.ids), options, "prompt");
  const std::string id = random_id("cmpl-");
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string model_id = model->id;

  if (!stream.stream) {
    GenerationResult result = call->collect();
    json lp = nullptr;
    if (logprobs >= 0) {
      std::vector<llm::TokenEvent> scored = std::move(result.prompt);
      scored.insert(scored.end(), result.tokens.begin(), result.tokens.end());
      lp = completion_logprobs_json(scored, 0);
    }
    json choice = {{"text", echo_text + result.text},
                   {"index", 0},
                   {"logprobs", std::move(lp)},
                   {"finish_reason", finish_reason_text(result.finish)}};
    json out = {{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", model_id},
                {"system_fingerprint", system_fingerprint()},
                {"choices", json::array({choice})},
                {"usage", usage_json(result.usage)}};
    response.set_json(200, dump_json(out));
    return;
  }

  response.content_type = "text/event-stream";
  response.headers["Cache-Control"] = "no-cache";
  response.stream = [call, id, created, model_id, logprobs, echo_text,
                     include_usage = stream.include_usage](StreamWriter& writer) {
    size_t offset = 0;
    auto chunk = [&](const std::string& text, json finish, json lp) {
      json c = {{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", model_id},
                {"system_fingerprint", system_fingerprint()},
                {"choices", json::array({{{"text", text},
                                          {"index", 0},
                                          {"logprobs", std::move(lp)},
                                          {"finish_reason", std::move(finish)}}})}};
      if (include_usage) c["usage"] = nullptr;
      return c;
    };
    StreamCallbacks callbacks;
    const bool echo_scored = !echo_text.empty() && logprobs >= 0;
    callbacks.on_token = [&](const llm::TokenEvent& token) {
      std::vector<json> out;
      if (echo_scored && !token.prompt.empty()) {
        json prompt_lp = completion_logprobs_json(token.prompt, 0);
        for (const auto& t : prompt_lp["tokens"]) offset += t.get<std::string>().size();
        out.push_back(chunk(echo_text, nullptr, std::move(prompt_lp)));
      }
      const bool has_logprob = logprobs >= 0 && token.id >= 0;
      if (token.text.empty() && !has_logprob) return out;
      json lp = has_logprob ? completion_logprobs_json({token}, offset) : json(nullptr);
      if (has_logprob) offset += token.chosen.text.size();
      out.push_back(chunk(token.text, nullptr, std::move(lp)));
      return out;
    };
    callbacks.on_done = [&](const runtime::StreamEvent& done) {
      std::vector<json> out;
      out.push_back(chunk("", finish_reason_text(done.finish), nullptr));
      if (include_usage) {
        out.push_back({{"id", id},
                       {"object", "text_completion"},
                       {"created", created},
                       {"model", model_id},
                       {"system_fingerprint", system_fingerprint()},
                       {"choices", json::array()},
                       {"usage", usage_json(done.usage)}});
      }
      return out;
    };
    callbacks.on_error = [](const HttpError& error) {
      return json::parse(openai_error_body(error));
    };
    std::vector<json> first;
    if (!echo_text.empty() && !echo_scored) first.push_back(chunk(echo_text, nullptr, nullptr));
    pump_stream(writer, *call, StreamFormat::sse, first, callbacks);
  };
}

}  // namespace mofa::server::openai
