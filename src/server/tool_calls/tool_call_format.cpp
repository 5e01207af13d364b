#include "server/tool_calls/tool_call_format.h"

namespace mofa::server::tool_calls {

const char* tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::hermes:
      return "hermes";
    case ToolCallFormat::mistral:
      return "mistral";
    case ToolCallFormat::llama3:
      return "llama3";
    case ToolCallFormat::glm4:
      return "glm4";
  }
  return "hermes";
}

ToolCallFormat detect_tool_call_format(std::string_view model_type, std::string_view prompt) {
  auto has = [&](std::string_view marker) { return prompt.find(marker) != std::string_view::npos; };
  if (has("<tool_call>")) return ToolCallFormat::hermes;
  if (has("[AVAILABLE_TOOLS]") || has("[TOOL_CALLS]")) return ToolCallFormat::mistral;
  if (has("<|start_header_id|>") && (has("\"parameters\"") || has("<|python_tag|>")))
    return ToolCallFormat::llama3;
  if (prompt.rfind("[gMASK]<sop>", 0) == 0) return ToolCallFormat::glm4;
  if (model_type == "mistral" || model_type == "mixtral") return ToolCallFormat::mistral;
  if (model_type == "llama") {
    // Llama-3 templates use header tokens; older Llama-2-style ones fall back to hermes.
    return has("<|start_header_id|>") ? ToolCallFormat::llama3 : ToolCallFormat::hermes;
  }
  if (model_type == "glm4" || model_type == "glm" || model_type == "chatglm")
    return ToolCallFormat::glm4;
  return ToolCallFormat::hermes;
}

std::vector<std::string> tool_call_special_tokens(ToolCallFormat format) {
  std::vector<std::string> out = {"<think>", "</think>"};
  switch (format) {
    case ToolCallFormat::hermes:
      out.insert(out.end(), {"<tool_call>", "</tool_call>"});
      break;
    case ToolCallFormat::mistral:
      out.insert(out.end(), {"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"});
      break;
    case ToolCallFormat::llama3:
      out.push_back("<|python_tag|>");
      break;
    case ToolCallFormat::glm4:
      break;
  }
  return out;
}

bool prompt_opens_reasoning(std::string_view prompt) {
  const size_t open = prompt.rfind("<think>");
  if (open == std::string_view::npos) return false;
  // Only a tag that ends the prompt counts: one in a system message is just text.
  return prompt.find_first_not_of(" \t\r\n", open + 7) == std::string_view::npos;
}

}  // namespace mofa::server::tool_calls
