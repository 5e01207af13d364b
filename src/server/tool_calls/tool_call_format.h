#pragma once
// How a model family writes tool calls in its output, chosen from what its chat template put in
// the prompt (the instructions it gives the model) and, failing that, from config.json's
// model_type.
#include <string>
#include <string_view>
#include <vector>

namespace mofa::server::tool_calls {

enum class ToolCallFormat {
  // Hermes / Qwen2.5 / Qwen3 / QwQ: <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>,
  // once per call.
  hermes,
  // Mistral: [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] (v0.3, Nemo) or
  // [TOOL_CALLS]name[ARGS]{...} per call (Small 3.2, Devstral).
  mistral,
  // Llama 3.1 / 3.2 / 3.3: the whole message is {"name": ..., "parameters": {...}}, optionally
  // after <|python_tag|>.
  llama3,
  // GLM-4 (glm-4-9b-chat): the message is the function name on its own line, then its JSON
  // arguments.
  glm4,
};

const char* tool_call_format_name(ToolCallFormat format);

// The format for a model: markers in the rendered prompt first (a template that renders tools
// says how calls look), then model_type; ChatML-style models (the default) use hermes.
ToolCallFormat detect_tool_call_format(std::string_view model_type, std::string_view prompt);

// Special tokens the format's markers are made of; the detokenizer must keep them in the output
// text (it drops special tokens otherwise). Includes the reasoning markers.
std::vector<std::string> tool_call_special_tokens(ToolCallFormat format);

// Whether the prompt ends inside an open <think> block (templates such as Qwen3-Thinking-2507's
// or DeepSeek-R1's put "<think>\n" in the generation prompt), so the answer starts as reasoning.
bool prompt_opens_reasoning(std::string_view prompt);

}  // namespace mofa::server::tool_calls
