#include <ctime>

#include "server/errors.h"
#include "server/generation.h"
#include "server/json_body.h"
#include "server/openai/protocol.h"
#include "server/openai/routes.h"
#include "server/stream.h"
#include "server/structured_output.h"
#include "server/tool_calls/tool_request.h"

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
    tool_calls::normalize_tool_calls(&normalized, where);
    out.push_back(std::move(normalized));
  }
  return out;
}

namespace {

// The answer's message: content (null when the answer is only calls), reasoning_content when
// the model reasoned, tool_calls with arguments as a JSON string.
json assistant_message(const tool_calls::OutputParser& parser) {
  json message = {{"role", "assistant"}};
  const bool calls = !parser.calls().empty();
  message["content"] = calls && parser.content().empty() ? json(nullptr) : json(parser.content());
  if (!parser.reasoning().empty()) message["reasoning_content"] = parser.reasoning();
  if (calls) {
    json list = json::array();
    for (const auto& call : parser.calls()) {
      list.push_back({{"id", call.id},
                      {"type", "function"},
                      {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    message["tool_calls"] = std::move(list);
  }
  return message;
}

// "tool_calls" once the model called a tool, else "stop" / "length".
json chat_finish_reason(llm::FinishReason finish, size_t calls) {
  if (calls > 0 && finish != llm::FinishReason::cancelled) return "tool_calls";
  return finish_reason_text(finish);
}

// Stream deltas as OpenAI sends them: reasoning and content pieces, and for each call a first
// delta with its index, id, type and name (arguments ""), then one with the arguments.
std::vector<json> delta_messages(const tool_calls::ParsedDelta& parsed) {
  std::vector<json> out;
  if (!parsed.reasoning.empty()) out.push_back({{"reasoning_content", parsed.reasoning}});
  if (!parsed.content.empty()) out.push_back({{"content", parsed.content}});
  for (const auto& call : parsed.calls) {
    out.push_back(
        {{"tool_calls", json::array({{{"index", call.index},
                                      {"id", call.id},
                                      {"type", "function"},
                                      {"function", {{"name", call.name}, {"arguments", ""}}}}})}});
    out.push_back({{"tool_calls", json::array({{{"index", call.index},
                                                {"function", {{"arguments", call.arguments}}}}})}});
  }
  return out;
}

}  // namespace

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
  const tool_calls::ToolRequest tool_request = tool_calls::parse_openai_tool_request(body);
  // llama.cpp's reasoning_format: "none" leaves <think> blocks in the content.
  bool split_reasoning = true;
  if (auto format = opt_string(body, "reasoning_format")) {
    if (*format != "none" && *format != "auto" && *format != "deepseek") {
      throw HttpError(
          400,
          "'reasoning_format' must be \"auto\", \"deepseek\" or \"none\", got \"" + *format + "\"",
          "invalid_request_error", "reasoning_format");
    }
    split_reasoning = *format != "none";
  }
  json kwargs = json::object();
  if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) {
      throw HttpError(400, "'chat_template_kwargs' must be an object", "invalid_request_error",
                      "chat_template_kwargs");
    }
    kwargs = *it;
  }
  apply_openai_structured_output(body, request.body, &options);

  auto model = context.acquire(model_name);
  const std::string prompt =
      tool_calls::render_chat_prompt(*model->pipeline, messages, tool_request, kwargs);
  auto parser_options =
      tool_calls::output_parser_options(model->pipeline->model_type(), prompt, tool_request);
  parser_options.reasoning = split_reasoning;
  options.keep_special_tokens = tool_calls::tool_call_special_tokens(parser_options.format);
  if (auto grammar = tool_calls::tool_call_grammar(tool_request, parser_options.format,
                                                   parser_options.starts_in_reasoning)) {
    options.grammar = std::move(grammar);
  }
  auto ids = model->pipeline->tokenize(prompt, false, true);
  auto call = std::make_shared<GenerationCall>(context, model, std::move(ids), options, "messages");

  const std::string id = random_id("chatcmpl-");
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string model_id = model->id;

  if (!stream.stream) {
    GenerationResult result = call->collect();
    tool_calls::OutputParser parser(parser_options);
    parser.push(result.text);
    parser.finish();
    json choice = {{"index", 0},
                   {"message", assistant_message(parser)},
                   {"logprobs", logprobs ? chat_logprobs_json(result.tokens) : json(nullptr)},
                   {"finish_reason", chat_finish_reason(result.finish, parser.calls().size())}};
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
  response.stream = [call, id, created, model_id, logprobs, parser_options,
                     include_usage = stream.include_usage](StreamWriter& writer) {
    tool_calls::OutputParser parser(parser_options);
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
      json lp = has_logprob ? json{{"content", json::array({chat_logprob_entry(token)})},
                                   {"refusal", nullptr}}
                            : json(nullptr);
      auto deltas = delta_messages(parser.push(token.text));
      if (deltas.empty() && has_logprob) deltas.push_back({{"content", ""}});
      for (auto& delta : deltas) {
        out.push_back(chunk(std::move(delta), nullptr, std::move(lp)));
        lp = nullptr;
      }
      return out;
    };
    callbacks.on_done = [&](const runtime::StreamEvent& done) {
      std::vector<json> out;
      for (auto& delta : delta_messages(parser.finish()))
        out.push_back(chunk(std::move(delta), nullptr, nullptr));
      out.push_back(
          chunk(json::object(), chat_finish_reason(done.finish, parser.calls().size()), nullptr));
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
