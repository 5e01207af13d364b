#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/json_body.h"
#include "server/openai/protocol.h"
#include "server/openai/routes.h"
#include "server/stream.h"

namespace mofa::server::openai {

json normalize_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) {
    throw HttpError(400, "'messages' must be a non-empty list of messages", "invalid_request_error",
                    "messages");
  }
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) {
      throw HttpError(400, where + " must be an object, got " + message.type_name(),
                      "invalid_request_error", where);
    }
    auto role_it = message.find("role");
    if (role_it == message.end() || !role_it->is_string()) {
      throw HttpError(400, where + ".role must be a string", "invalid_request_error",
                      where + ".role");
    }
    std::string role = role_it->get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      throw HttpError(
          400,
          where + ".role '" + role + "' is not one of system, developer, user, assistant, tool",
          "invalid_request_error", where + ".role");
    }
    json normalized = message;
    normalized["role"] = role;
    auto content_it = message.find("content");
    if (content_it == message.end() || content_it->is_null()) {
      if (role != "assistant") {
        throw HttpError(400, where + ".content is missing", "invalid_request_error",
                        where + ".content");
      }
      normalized["content"] = "";
    } else if (content_it->is_array()) {
      std::string text;
      for (size_t j = 0; j < content_it->size(); ++j) {
        const auto& part = (*content_it)[j];
        const std::string part_where = where + ".content[" + std::to_string(j) + "]";
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
          throw HttpError(400, part_where + " must be an object with a 'type'",
                          "invalid_request_error", part_where);
        }
        const auto type = part["type"].get<std::string>();
        if (type != "text") {
          throw HttpError(
              400, part_where + " has type '" + type + "'; this model accepts only text parts",
              "invalid_request_error", part_where, "unsupported");
        }
        if (!part.contains("text") || !part["text"].is_string()) {
          throw HttpError(400, part_where + ".text must be a string", "invalid_request_error",
                          part_where + ".text");
        }
        text += part["text"].get<std::string>();
      }
      normalized["content"] = text;
    } else if (!content_it->is_string()) {
      throw HttpError(400,
                      where + ".content must be a string or a list of text parts, got " +
                          content_it->type_name(),
                      "invalid_request_error", where + ".content");
    }
    out.push_back(std::move(normalized));
  }
  return out;
}

void chat_completions(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const auto model_name = opt_string(body, "model");
  const json messages = normalize_messages(body.contains("messages") ? body["messages"] : json());
  llm::GenerateOptions options = parse_generate_options(body);
  const StreamChoice stream = parse_stream(body);
  const bool logprobs = opt_bool(body, "logprobs").value_or(false);
  if (auto top = opt_int(body, "top_logprobs")) {
    check_range("top_logprobs", static_cast<double>(*top), 0, 20);
    if (!logprobs && *top > 0) {
      throw HttpError(400, "'top_logprobs' needs 'logprobs': true", "invalid_request_error",
                      "top_logprobs");
    }
    options.sampling.top_logprobs = static_cast<int>(*top);
  }
  options.sampling.logprobs = logprobs;
  json tools = json::array();
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) {
      throw HttpError(400, std::string("'tools' must be a list, got ") + it->type_name(),
                      "invalid_request_error", "tools");
    }
    tools = *it;
  }
  json kwargs = json::object();
  if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw HttpError(400, "'chat_template_kwargs' must be an object", "invalid_request_error",
                      "chat_template_kwargs");
    }
    kwargs = *it;
  }
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_object() || it->value("type", "") != "text") {
      throw HttpError(400,
                      "'response_format' other than {\"type\": \"text\"} is not supported: "
                      "constrained decoding is not implemented",
                      "invalid_request_error", "response_format", "unsupported");
    }
  }

  auto model = context.acquire(model_name);
  const std::string prompt = model->pipeline->apply_chat_template(messages, tools, true, kwargs);
  auto ids = model->pipeline->tokenize(prompt, false, true);
  auto call = std::make_shared<GenerationCall>(context, model, std::move(ids), options, "messages");

  const std::string id = random_id("chatcmpl-");
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string model_id = model->id;

  if (!stream.stream) {
    GenerationResult result = call->collect();
    json choice = {{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", result.text}}},
                   {"logprobs", logprobs ? chat_logprobs_json(result.tokens) : json(nullptr)},
                   {"finish_reason", finish_reason_text(result.finish)}};
    json out = {{"id", id},
                {"object", "chat.completion"},
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
  response.stream = [call, id, created, model_id, logprobs,
                     include_usage = stream.include_usage](StreamWriter& writer) {
    auto chunk = [&](json delta, json finish, json logprob) {
      json c = {{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", model_id},
                {"system_fingerprint", system_fingerprint()},
                {"choices", json::array({{{"index", 0},
                                          {"delta", std::move(delta)},
                                          {"logprobs", std::move(logprob)},
                                          {"finish_reason", std::move(finish)}}})}};
      if (include_usage) c["usage"] = nullptr;
      return c;
    };
    StreamCallbacks callbacks;
    callbacks.on_token = [&](const llm::TokenEvent& token) {
      std::vector<json> out;
      const bool has_logprob = logprobs && token.id >= 0;
      if (token.text.empty() && !has_logprob) return out;
      json lp = has_logprob ? json{{"content", json::array({chat_logprob_entry(token)})},
                                   {"refusal", nullptr}}
                            : json(nullptr);
      out.push_back(chunk({{"content", token.text}}, nullptr, std::move(lp)));
      return out;
    };
    callbacks.on_done = [&](const runtime::StreamEvent& done) {
      std::vector<json> out;
      out.push_back(chunk(json::object(), finish_reason_text(done.finish), nullptr));
      if (include_usage) {
        out.push_back({{"id", id},
                       {"object", "chat.completion.chunk"},
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
    pump_stream(writer, *call, StreamFormat::sse,
                {chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)}, callbacks);
  };
}

}  // namespace mofa::server::openai
