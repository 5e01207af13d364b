#include "server/errors.h"
#include "server/generation.h"
#include "server/json_body.h"
#include "server/ollama/protocol.h"
#include "server/ollama/routes.h"
#include "server/openai/routes.h"
#include "server/stream.h"
#include "server/structured_output.h"
#include "server/tool_calls/tool_request.h"

namespace mofa::server::ollama {
namespace {

// The statistics of Ollama's final message.
void add_stats(json* out, const llm::Usage& usage, int64_t total_ns, double load_ms) {
  (*out)["total_duration"] = total_ns;
  (*out)["load_duration"] = static_cast<int64_t>(load_ms * 1e6);
  (*out)["prompt_eval_count"] = usage.prompt_tokens;
  (*out)["prompt_eval_duration"] = static_cast<int64_t>(usage.prefill_ms * 1e6);
  (*out)["eval_count"] = usage.completion_tokens;
  (*out)["eval_duration"] = static_cast<int64_t>(usage.decode_ms * 1e6);
}

json ollama_error_message(const HttpError& error) {
  return {{"error", error.what()}};
}

// Ollama's tool calls: arguments as an object.
json ollama_tool_calls(const std::vector<tool_calls::ToolCall>& calls) {
  json list = json::array();
  for (const auto& call : calls) {
    json arguments = json::parse(call.arguments, nullptr, false);
    if (arguments.is_discarded()) arguments = json::object();
    list.push_back(
        {{"id", call.id},
         {"function", {{"index", call.index}, {"name", call.name}, {"arguments", arguments}}}});
  }
  return list;
}

// `think`: a boolean, or an effort level ("low", "medium", "high") that also turns thinking on.
// Sets the template's enable_thinking (and reasoning_effort for a level).
void apply_think(const json& body, json* kwargs) {
  auto it = body.find("think");
  if (it == body.end() || it->is_null()) return;
  if (it->is_boolean()) {
    (*kwargs)["enable_thinking"] = it->get<bool>();
  } else if (it->is_string() && (*it == "low" || *it == "medium" || *it == "high")) {
    (*kwargs)["enable_thinking"] = true;
    (*kwargs)["reasoning_effort"] = *it;
  } else {
    throw HttpError(
        400, "'think' must be true, false, \"low\", \"medium\" or \"high\", got " + it->dump(),
        "invalid_request_error", "think");
  }
}

// Runs a prepared prompt and answers in Ollama's shape; `field` is "message" (chat) or
// "response" (generate).
void answer(ServerContext& context, std::shared_ptr<runtime::LoadedModel> model,
            std::vector<int32_t> ids, const llm::GenerateOptions& options,
            const tool_calls::OutputParserOptions& parse, bool stream, bool chat_shape,
            bool with_context, const std::string& requested_name, Response& response,
            double load_ms) {
  std::vector<int32_t> prompt_ids = ids;
  auto call = std::make_shared<GenerationCall>(context, model, std::move(ids), options,
                                               chat_shape ? "messages" : "prompt");
  auto base = [requested_name](bool done) {
    return json{{"model", requested_name},
                {"created_at", rfc3339(std::chrono::system_clock::now())},
                {"done", done}};
  };
  // Content, thinking (Ollama's name for reasoning) and tool calls, in the chat message or at
  // the top level of a generate answer.
  auto with_text = [chat_shape](json message, const tool_calls::ParsedDelta& parsed) {
    if (chat_shape) {
      json m = {{"role", "assistant"}, {"content", parsed.content}};
      if (!parsed.reasoning.empty()) m["thinking"] = parsed.reasoning;
      if (!parsed.calls.empty()) m["tool_calls"] = ollama_tool_calls(parsed.calls);
      message["message"] = std::move(m);
    } else {
      message["response"] = parsed.content;
      if (!parsed.reasoning.empty()) message["thinking"] = parsed.reasoning;
    }
    return message;
  };
  auto final_message = [=](const tool_calls::ParsedDelta& parsed, llm::FinishReason finish,
                           const llm::Usage& usage, int64_t total_ns,
                           const std::vector<int32_t>& generated) {
    json out = with_text(base(true), parsed);
    out["done_reason"] = finish_reason_text(finish);
    if (with_context) {
      json ctx = prompt_ids;
      for (int32_t id : generated) ctx.push_back(id);
      out["context"] = ctx;
    }
    add_stats(&out, usage, total_ns, load_ms);
    return out;
  };
  if (!stream) {
    GenerationResult result = call->collect();
    std::vector<int32_t> generated;
    for (const auto& token : result.tokens) generated.push_back(token.id);
    tool_calls::OutputParser parser(parse);
    parser.push(result.text);
    parser.finish();
    tool_calls::ParsedDelta whole;
    whole.content = parser.content();
    whole.reasoning = parser.reasoning();
    whole.calls = parser.calls();
    response.set_json(200, dump_json(final_message(whole, result.finish, result.usage,
                                                   call->elapsed_ns(), generated)));
    return;
  }
  response.content_type = "application/x-ndjson";
  response.stream = [call, base, with_text, final_message, parse](StreamWriter& writer) {
    std::vector<int32_t> generated;
    tool_calls::OutputParser parser(parse);
    StreamCallbacks callbacks;
    callbacks.on_token = [&](const llm::TokenEvent& token) {
      std::vector<json> out;
      if (token.id >= 0) generated.push_back(token.id);
      const auto parsed = parser.push(token.text);
      if (!parsed.empty()) out.push_back(with_text(base(false), parsed));
      return out;
    };
    callbacks.on_done = [&](const runtime::StreamEvent& done) {
      std::vector<json> out;
      const auto parsed = parser.finish();
      if (!parsed.empty()) out.push_back(with_text(base(false), parsed));
      out.push_back(final_message({}, done.finish, done.usage, call->elapsed_ns(), generated));
      return out;
    };
    callbacks.on_error = ollama_error_message;
    pump_stream(writer, *call, StreamFormat::ndjson, {}, callbacks);
  };
}

// Ollama answers a request without a prompt by loading (or, with keep_alive 0, unloading) the
// model.
bool answer_load_only(ServerContext& context, const std::string& name,
                      std::optional<std::chrono::seconds> keep_alive, bool chat_shape,
                      Response& response) {
  json out = {{"model", name}, {"created_at", rfc3339(std::chrono::system_clock::now())}};
  if (keep_alive && keep_alive->count() == 0) {
    const auto entry = context.models->resolve(name);
    context.models->unload(entry.id);
    out["done_reason"] = "unload";
  } else {
    context.acquire(name, keep_alive);
    out["done_reason"] = "load";
  }
  if (chat_shape)
    out["message"] = {{"role", "assistant"}, {"content", ""}};
  else
    out["response"] = "";
  out["done"] = true;
  response.set_json(200, dump_json(out));
  return true;
}

}  // namespace

void chat(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const std::string name = model_field(body);
  if (name.empty()) throw HttpError(400, "model is required", "invalid_request_error", "model");
  const auto keep_alive = parse_keep_alive_field(body);
  llm::GenerateOptions options = parse_options(body);
  apply_ollama_format(body, request.body, &options);
  const bool stream = parse_stream(body);
  auto messages_it = body.find("messages");
  if (messages_it == body.end() || messages_it->is_null() ||
      (messages_it->is_array() && messages_it->empty())) {
    answer_load_only(context, name, keep_alive, true, response);
    return;
  }
  json messages = json::array();
  for (const auto& message : *messages_it) {
    if (message.is_object() && message.contains("images") && !message["images"].empty()) {
      throw HttpError(400, "images are not supported by this model", "invalid_request_error",
                      "messages");
    }
    messages.push_back(message);
  }
  messages = openai::normalize_messages(messages);
  const tool_calls::ToolRequest tool_request = tool_calls::parse_ollama_tool_request(body);
  json kwargs = json::object();
  apply_think(body, &kwargs);

  const auto t0 = std::chrono::steady_clock::now();
  const bool was_loaded = context.models->is_loaded(name) ||
                          context.models->is_loaded(context.models->resolve(name).id);
  auto model = context.acquire(name, keep_alive);
  const double load_ms =
      was_loaded ? 0.0
                 : std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
  const std::string prompt =
      tool_calls::render_chat_prompt(*model->pipeline, messages, tool_request, kwargs);
  const auto parse =
      tool_calls::output_parser_options(model->pipeline->model_type(), prompt, tool_request);
  options.keep_special_tokens = tool_calls::tool_call_special_tokens(parse.format);
  auto ids = model->pipeline->tokenize(prompt, false, true);
  answer(context, model, std::move(ids), options, parse, stream, true, false, name, response,
         load_ms);
}

void generate(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const std::string name = model_field(body);
  if (name.empty()) throw HttpError(400, "model is required", "invalid_request_error", "model");
  const auto keep_alive = parse_keep_alive_field(body);
  llm::GenerateOptions options = parse_options(body);
  apply_ollama_format(body, request.body, &options);
  const bool stream = parse_stream(body);
  const std::string prompt = opt_string(body, "prompt").value_or("");
  const std::string system = opt_string(body, "system").value_or("");
  const bool raw = opt_bool(body, "raw").value_or(false);
  if (auto images = body.find("images");
      images != body.end() && !images->is_null() && !images->empty()) {
    throw HttpError(400, "images are not supported by this model", "invalid_request_error",
                    "images");
  }
  if (auto suffix = opt_string(body, "suffix"); suffix && !suffix->empty()) {
    throw HttpError(400, "'suffix' (fill-in-the-middle) is not supported", "invalid_request_error",
                    "suffix");
  }
  if (prompt.empty()) {
    answer_load_only(context, name, keep_alive, false, response);
    return;
  }
  json kwargs = json::object();
  apply_think(body, &kwargs);

  const auto t0 = std::chrono::steady_clock::now();
  const bool was_loaded = context.models->is_loaded(name) ||
                          context.models->is_loaded(context.models->resolve(name).id);
  auto model = context.acquire(name, keep_alive);
  const double load_ms =
      was_loaded ? 0.0
                 : std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
  std::vector<int32_t> ids;
  std::string prompt_text;  // the formatted prompt, which says whether reasoning is open
  // "context" from a previous answer continues that conversation.
  if (auto ctx = body.find("context"); ctx != body.end() && ctx->is_array()) {
    for (const auto& id : *ctx) {
      if (!id.is_number_integer()) {
        throw HttpError(400, "'context' must be a list of token ids", "invalid_request_error",
                        "context");
      }
      ids.push_back(id.get<int32_t>());
    }
  }
  if (raw) {
    auto more = model->pipeline->tokenize(prompt, ids.empty(), true);
    ids.insert(ids.end(), more.begin(), more.end());
  } else {
    json messages = json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", prompt}});
    prompt_text = model->pipeline->apply_chat_template(messages, json::array(), true, kwargs);
    auto more = model->pipeline->tokenize(prompt_text, false, true);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  // Raw prompts are the client's own format: the answer is passed through untouched.
  auto parse = tool_calls::output_parser_options(model->pipeline->model_type(), prompt_text,
                                                 tool_calls::ToolRequest());
  parse.reasoning = !raw;
  answer(context, model, std::move(ids), options, parse, stream, false, true, name, response,
         load_ms);
}

}  // namespace mofa::server::ollama
