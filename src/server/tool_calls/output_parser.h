#pragma once
// Splits a model's answer, as it streams in, into reasoning (<think> blocks), content and tool
// calls in the model family's format. Text is held back only while it could still be the start
// of a marker; a call is handed out once it is complete and its JSON valid, so a malformed call
// ends up as plain content and never half-announced. Markers inside ``` code fences are content.
// Knows nothing of HTTP: the OpenAI and Ollama routes shape its output.
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_calls/tool_call_format.h"

namespace mofa::server::tool_calls {

struct ToolCall {
  int index = 0;   // position among the answer's calls
  std::string id;  // "call_" + 24 random letters/digits, or the id the model wrote
  std::string name;
  std::string arguments;  // a JSON object as compact text, keys in the model's order
};

// What one piece of text (or the end of the answer) released.
struct ParsedDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> calls;  // calls completed by this piece
  bool empty() const { return reasoning.empty() && content.empty() && calls.empty(); }
};

struct OutputParserOptions {
  ToolCallFormat format = ToolCallFormat::hermes;
  bool tools = false;                // parse tool calls (false: markers are content)
  bool reasoning = true;             // split a leading <think>...</think> block off
  bool starts_in_reasoning = false;  // the prompt left a <think> open (prompt_opens_reasoning)
  bool parallel = true;              // false: keep only the first call
  // glm4 only: names that may start a call ("name\n{...}" is too common a shape to trust
  // otherwise). Empty: any name.
  std::vector<std::string> tool_names;
};

class OutputParser {
 public:
  explicit OutputParser(OutputParserOptions options);

  // Feeds the next piece of the answer.
  ParsedDelta push(std::string_view text);
  // Ends the answer: everything still held back is released (an unfinished call as content).
  ParsedDelta finish();

  // Totals so far.
  const std::string& content() const { return content_; }
  const std::string& reasoning() const { return reasoning_; }
  const std::vector<ToolCall>& calls() const { return calls_; }

 private:
  enum class Mode { start, reasoning, content, call };
  // What the text after a call marker should hold.
  enum class CallKind { hermes, mistral, llama_tag, llama_json, named_args };

  void run(bool final, ParsedDelta* out);
  bool step_start(bool final, ParsedDelta* out);
  bool step_reasoning(bool final, ParsedDelta* out);
  bool step_content(bool final, ParsedDelta* out);
  bool step_call(bool final, ParsedDelta* out);
  bool step_mistral(bool final, ParsedDelta* out);
  bool step_json_call(bool final, ParsedDelta* out);

  void emit_content(std::string text, ParsedDelta* out);
  void emit_reasoning(std::string text, ParsedDelta* out);
  // Adds a parsed call (dropped when parallel calls are off and one exists).
  void add_call(std::string name, std::string arguments, std::string id, ParsedDelta* out);
  // The call being read turned out not to be one: its text so far plus `n` bytes of buf_ are
  // content.
  void abandon_call(size_t n, ParsedDelta* out);
  // A call ended: go back to the state between calls.
  void end_call();
  std::vector<std::string_view> content_markers() const;

  OutputParserOptions options_;
  Mode mode_ = Mode::start;
  CallKind kind_ = CallKind::hermes;
  std::string buf_;       // text not yet handed out
  std::string call_raw_;  // text consumed by the call being read (markers, name)
  std::string call_name_;
  std::string call_id_;
  bool drop_ws_ = false;     // leading whitespace is dropped (after </think> or a call)
  bool after_call_ = false;  // the previous thing in the answer was a call
  bool said_anything_ = false;
  bool in_fence_ = false;
  std::string content_;
  std::string reasoning_;
  std::vector<ToolCall> calls_;
  int parsed_calls_ = 0;  // calls parsed, counting dropped ones
};

}  // namespace mofa::server::tool_calls
