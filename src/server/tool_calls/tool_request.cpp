#include "server/tool_calls/tool_request.h"

#include <algorithm>

#include "server/errors.h"
#include "text/grammar.h"
#include "text/json_schema_grammar.h"

namespace mofa::server::tool_calls {

using nlohmann::json;

namespace {

HttpError bad(const std::string& message, const std::string& param) {
  return HttpError(400, message, "invalid_request_error", param);
}

// OpenAI's rule for function names (^[a-zA-Z0-9_-]{1,64}$), with '.' allowed as well; the names
// go verbatim into prompts and grammars.
bool valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

json validated_tools(const json& body) {
  auto it = body.find("tools");
  if (it == body.end() || it->is_null()) return json::array();
  if (!it->is_array())
    throw bad(std::string("'tools' must be a list of tool definitions, got ") + it->type_name(),
              "tools");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& tool = (*it)[i];
    const std::string where = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) throw bad(where + " must be an object", where);
    if (auto type = tool.find("type"); type != tool.end() && *type != "function")
      throw bad(where + ".type must be \"function\"", where + ".type");
    auto fn = tool.find("function");
    if (fn == tool.end() || !fn->is_object())
      throw bad(where + ".function must be an object", where + ".function");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || !valid_function_name(name->get<std::string>()))
      throw bad(where + ".function.name must be 1 to 64 letters, digits, '_', '-' or '.' (got " +
                    (name == fn->end() ? std::string("nothing") : name->dump()) + ")",
                where + ".function.name");
    if (auto params = fn->find("parameters");
        params != fn->end() && !params->is_null() && !params->is_object())
      throw bad(where + ".function.parameters must be a JSON Schema object",
                where + ".function.parameters");
  }
  return *it;
}

// A GBNF string literal for `text`.
std::string literal(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace

json ToolRequest::rendered_tools() const {
  return choice == ToolChoice::none ? json::array() : tools;
}

std::vector<std::string> ToolRequest::names() const {
  std::vector<std::string> out;
  for (const auto& tool : tools) out.push_back(tool["function"]["name"].get<std::string>());
  return out;
}

ToolRequest parse_openai_tool_request(const json& body) {
  ToolRequest request;
  request.tools = validated_tools(body);
  request.choice = request.tools.empty() ? ToolChoice::none : ToolChoice::automatic;
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    if (it->is_string() && *it == "none") {
      request.choice = ToolChoice::none;
    } else if (it->is_string() && *it == "auto") {
      // "auto" without tools: there is nothing to call.
    } else if (it->is_string() && *it == "required") {
      if (request.tools.empty())
        throw bad("'tool_choice' \"required\" needs 'tools'", "tool_choice");
      request.choice = ToolChoice::required;
    } else if (it->is_object()) {
      const auto fn = it->find("function");
      if (it->value("type", "") != "function" || fn == it->end() || !fn->is_object() ||
          !fn->contains("name") || !(*fn)["name"].is_string())
        throw bad(
            "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": "
            "\"function\", \"function\": {\"name\": ...}}",
            "tool_choice");
      request.named = (*fn)["name"].get<std::string>();
      const auto names = request.names();
      if (std::find(names.begin(), names.end(), request.named) == names.end())
        throw bad("'tool_choice' names function '" + request.named + "', which is not in 'tools'",
                  "tool_choice");
      request.choice = ToolChoice::named;
    } else {
      throw bad(
          "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": "
          "\"function\", \"function\": {\"name\": ...}}, got " +
              it->dump(),
          "tool_choice");
    }
  }
  if (auto it = body.find("parallel_tool_calls"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw bad(std::string("'parallel_tool_calls' must be a boolean, got ") + it->type_name(),
                "parallel_tool_calls");
    request.parallel = it->get<bool>();
  }
  return request;
}

ToolRequest parse_ollama_tool_request(const json& body) {
  ToolRequest request;
  request.tools = validated_tools(body);
  request.choice = request.tools.empty() ? ToolChoice::none : ToolChoice::automatic;
  return request;
}

void normalize_tool_calls(json* message, const std::string& where) {
  auto it = message->find("tool_calls");
  if (it == message->end()) return;
  if (it->is_null()) {
    message->erase(it);
    return;
  }
  const std::string field = where + ".tool_calls";
  if ((*message)["role"] != "assistant")
    throw bad(field + " is only allowed in assistant messages", field);
  if (!it->is_array()) throw bad(field + " must be a list", field);
  json calls = json::array();
  for (size_t j = 0; j < it->size(); ++j) {
    const json& call = (*it)[j];
    const std::string at = field + "[" + std::to_string(j) + "]";
    if (!call.is_object()) throw bad(at + " must be an object", at);
    auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object())
      throw bad(at + ".function must be an object", at + ".function");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
      throw bad(at + ".function.name must be a non-empty string", at + ".function.name");
    json arguments = json::object();
    if (auto args = fn->find("arguments"); args != fn->end() && !args->is_null()) {
      const std::string error =
          at + ".function.arguments must be a JSON object (as a string or an object)";
      if (args->is_object()) {
        arguments = *args;
      } else if (!args->is_string()) {
        throw bad(error, at + ".function.arguments");
      } else if (args->get<std::string>().find_first_not_of(" \t\r\n") != std::string::npos) {
        // (Some clients send "" for a call without arguments: that stays {}.)
        arguments = json::parse(args->get<std::string>(), nullptr, false);
        if (arguments.is_discarded() || !arguments.is_object())
          throw bad(error, at + ".function.arguments");
      }
    }
    json out = {{"type", "function"}, {"function", {{"name", *name}, {"arguments", arguments}}}};
    if (auto id = call.find("id"); id != call.end() && id->is_string()) out["id"] = *id;
    calls.push_back(std::move(out));
  }
  *it = std::move(calls);
}

namespace {

// glm-4-9b-chat's conversation form: tools on a leading system message, one assistant message
// per call ({"metadata": name, "content": arguments}), tool results as "observation".
json glm4_message_form(const json& messages, const json& tools) {
  json out = json::array();
  json system = {{"role", "system"}, {"content", ""}, {"tools", tools}};
  size_t first = 0;
  if (!messages.empty() && messages[0]["role"] == "system") {
    system["content"] = messages[0]["content"];
    first = 1;
  }
  out.push_back(std::move(system));
  for (size_t i = first; i < messages.size(); ++i) {
    const json& m = messages[i];
    if (m["role"] == "assistant" && m.contains("tool_calls")) {
      if (!m["content"].get<std::string>().empty())
        out.push_back({{"role", "assistant"}, {"metadata", ""}, {"content", m["content"]}});
      for (const auto& call : m["tool_calls"]) {
        out.push_back({{"role", "assistant"},
                       {"metadata", call["function"]["name"]},
                       {"content", call["function"]["arguments"].dump()}});
      }
    } else if (m["role"] == "tool") {
      out.push_back({{"role", "observation"}, {"metadata", ""}, {"content", m["content"]}});
    } else {
      json copy = m;
      if (!copy.contains("metadata")) copy["metadata"] = "";
      out.push_back(std::move(copy));
    }
  }
  return out;
}

}  // namespace

std::string render_chat_prompt(const llm::LlmPipeline& pipeline, const json& messages,
                               const ToolRequest& request, const json& kwargs) {
  const json tools = request.rendered_tools();
  std::string prompt = pipeline.apply_chat_template(messages, tools, true, kwargs);
  if (tools.empty() || prompt.rfind("[gMASK]<sop>", 0) != 0) return prompt;
  // A GLM template that showed the tools already reads the `tools` variable.
  if (prompt.find("\"" + tools[0]["function"]["name"].get<std::string>() + "\"") !=
      std::string::npos)
    return prompt;
  return pipeline.apply_chat_template(glm4_message_form(messages, tools), json::array(), true,
                                      kwargs);
}

OutputParserOptions output_parser_options(const std::string& model_type, const std::string& prompt,
                                          const ToolRequest& request) {
  OutputParserOptions options;
  options.format = detect_tool_call_format(model_type, prompt);
  options.tools = request.parse_calls();
  options.reasoning = true;
  options.starts_in_reasoning = prompt_opens_reasoning(prompt);
  options.parallel = request.parallel;
  options.tool_names = request.names();
  return options;
}

std::shared_ptr<const text::Grammar> tool_call_grammar(const ToolRequest& request,
                                                       ToolCallFormat format, bool in_reasoning) {
  if (request.choice != ToolChoice::required && request.choice != ToolChoice::named) return nullptr;
  const char* args_key = format == ToolCallFormat::llama3 ? "parameters" : "arguments";
  std::string rules;
  std::string functions;
  for (size_t i = 0; i < request.tools.size(); ++i) {
    const json& fn = request.tools[i]["function"];
    const std::string name = fn["name"].get<std::string>();
    if (request.choice == ToolChoice::named && name != request.named) continue;
    const std::string rule = "tool" + std::to_string(i);
    json schema = fn.value("parameters", json::object());
    if (schema.is_null() || schema.empty()) schema = {{"type", "object"}};
    try {
      rules += text::json_schema_to_gbnf(schema, rule + "-args") + "\n";
    } catch (const std::exception& e) {
      const std::string where = "tools[" + std::to_string(i) + "].function.parameters";
      throw HttpError(400, where + " cannot constrain a tool call: " + e.what(),
                      "invalid_request_error", where, "unsupported");
    }
    if (format == ToolCallFormat::glm4) {
      rules += rule + " ::= " + literal(name + "\n") + " " + rule + "-args\n";
    } else {
      rules += rule + " ::= " + literal("{\"name\": \"" + name + "\", \"" + args_key + "\": ") +
               " " + rule + "-args \"}\"\n";
    }
    functions += (functions.empty() ? "" : " | ") + rule;
  }
  const bool many = request.parallel && request.choice == ToolChoice::required;
  std::string calls;
  switch (format) {
    case ToolCallFormat::hermes:
      rules += "call ::= \"<tool_call>\\n\" function \"\\n</tool_call>\"\n";
      calls = many ? "call (\"\\n\" call)*" : "call";
      break;
    case ToolCallFormat::mistral:
      calls = many ? "\"[TOOL_CALLS][\" function (\", \" function)* \"]\""
                   : "\"[TOOL_CALLS][\" function \"]\"";
      break;
    case ToolCallFormat::llama3:
      calls = many ? "function (\"; \" function)*" : "function";
      break;
    case ToolCallFormat::glm4:
      calls = many ? "function (\"\\n\" function)*" : "function";
      break;
  }
  rules += "function ::= " + functions + "\n";
  if (in_reasoning) {
    // The prompt opened a <think> block: it must be closed before the calls. The reasoning
    // avoids '<' so it cannot fake the closing tag.
    rules += "think-body ::= [^<]* \"</think>\" [ \\n]*\n";
    rules += "root ::= think-body " + calls + "\n";
  } else {
    rules += "root ::= " + calls + "\n";
  }
  try {
    return text::Grammar::parse(rules);
  } catch (const std::exception& e) {
    throw HttpError(500, std::string("tool call grammar: ") + e.what(), "server_error");
  }
}

}  // namespace mofa::server::tool_calls
