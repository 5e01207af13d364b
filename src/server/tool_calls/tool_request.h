#pragma once
// The tool side of a chat request: `tools`, `tool_choice` and `parallel_tool_calls` read and
// checked, assistant `tool_calls` in the history made renderable, and the output parser and
// grammar a generation needs.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/llm/generate.h"
#include "server/tool_calls/output_parser.h"

namespace mofa::text {
class Grammar;
}

namespace mofa::server::tool_calls {

enum class ToolChoice { none, automatic, required, named };

struct ToolRequest {
  nlohmann::json tools = nlohmann::json::array();  // as the client sent them, validated
  ToolChoice choice = ToolChoice::none;
  std::string named;  // ToolChoice::named: the function that must be called
  bool parallel = true;

  // What the chat template gets: no tools under tool_choice "none".
  nlohmann::json rendered_tools() const;
  bool parse_calls() const { return choice != ToolChoice::none; }
  std::vector<std::string> names() const;
};

// OpenAI's fields. Throws HttpError 400 naming the field: tools that are not function
// definitions, an unknown tool_choice, a named function that is not among the tools,
// "required" without tools.
ToolRequest parse_openai_tool_request(const nlohmann::json& body);
// Ollama's `tools` (always "auto").
ToolRequest parse_ollama_tool_request(const nlohmann::json& body);

// Checks an assistant message's `tool_calls` and rewrites them as templates expect:
// {"id"?, "type": "function", "function": {"name", "arguments": <object>}}. Arguments arrive as
// a JSON string (OpenAI) or an object (Ollama); templates index and `tojson` them as a mapping,
// so strings are parsed (as llama.cpp does). `where` is the message's path for errors
// ("messages[2]").
void normalize_tool_calls(nlohmann::json* message, const std::string& where);

// The chat prompt with the request's tools. Templates that read the tool list from a message
// instead of the `tools` variable (glm-4-9b-chat's: item['tools'] on a system message, calls as
// an assistant message whose metadata is the function name, results in the "observation" role)
// get the conversation in that form, as THUDM's own API server sends it.
std::string render_chat_prompt(const llm::LlmPipeline& pipeline, const nlohmann::json& messages,
                               const ToolRequest& request, const nlohmann::json& kwargs);

// The parser for one answer: the model's format (from model_type and the rendered prompt),
// whether tools are parsed, and whether the prompt left a <think> block open.
OutputParserOptions output_parser_options(const std::string& model_type, const std::string& prompt,
                                          const ToolRequest& request);

// For tool_choice "required" or a named function: a grammar that makes the model write calls
// in `format` (one, or several when parallel calls are allowed), each to a declared function
// with arguments valid against its `parameters` schema. Null for "none" and "auto". When the
// prompt opened a <think> block (`in_reasoning`) the reasoning is closed first; otherwise the
// calls start at once. Throws HttpError 400 naming the tool whose schema cannot be turned into
// a grammar.
std::shared_ptr<const text::Grammar> tool_call_grammar(const ToolRequest& request,
                                                       ToolCallFormat format, bool in_reasoning);

}  // namespace mofa::server::tool_calls
