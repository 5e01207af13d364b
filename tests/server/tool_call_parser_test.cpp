// The tool-call parser on crafted model outputs of every family: single and parallel calls,
// malformed JSON, calls inside code fences, and the same answers fed whole, one byte at a time and
// in random pieces (the result never depends on how the text was split).
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "server/tool_calls/json_scan.h"
#include "server/tool_calls/output_parser.h"
#include "server/tool_calls/tool_call_format.h"

namespace mofa::server::tool_calls {
namespace {

using nlohmann::json;

struct Parsed {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> calls;
  int deltas_with_calls = 0;
};

Parsed parse_pieces(const OutputParserOptions& options, const std::vector<std::string>& pieces) {
  OutputParser parser(options);
  Parsed out;
  auto take = [&](const ParsedDelta& d) {
    out.content += d.content;
    out.reasoning += d.reasoning;
    for (const auto& call : d.calls) out.calls.push_back(call);
    if (!d.calls.empty()) ++out.deltas_with_calls;
  };
  for (const auto& piece : pieces) take(parser.push(piece));
  take(parser.finish());
  // The totals the parser keeps agree with the deltas it handed out.
  EXPECT_EQ(parser.content(), out.content);
  EXPECT_EQ(parser.reasoning(), out.reasoning);
  EXPECT_EQ(parser.calls().size(), out.calls.size());
  return out;
}

// Parses `text` whole, byte by byte and in 20 random splits; all must agree. Returns the result.
Parsed parse_all_ways(const OutputParserOptions& options, const std::string& text) {
  const Parsed whole = parse_pieces(options, {text});
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  std::vector<Parsed> others = {parse_pieces(options, bytes)};
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> pieces;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t n = std::uniform_int_distribution<size_t>(1, 9)(rng);
      pieces.push_back(text.substr(pos, n));
      pos += n;
    }
    others.push_back(parse_pieces(options, pieces));
  }
  for (const auto& other : others) {
    EXPECT_EQ(other.content, whole.content) << text;
    EXPECT_EQ(other.reasoning, whole.reasoning) << text;
    EXPECT_EQ(other.calls.size(), whole.calls.size()) << text;
    for (size_t i = 0; i < std::min(other.calls.size(), whole.calls.size()); ++i) {
      EXPECT_EQ(other.calls[i].name, whole.calls[i].name);
      EXPECT_EQ(other.calls[i].arguments, whole.calls[i].arguments);
      EXPECT_EQ(other.calls[i].index, whole.calls[i].index);
    }
  }
  return whole;
}

OutputParserOptions with_tools(ToolCallFormat format) {
  OutputParserOptions options;
  options.format = format;
  options.tools = true;
  return options;
}

void expect_call(const ToolCall& call, int index, const std::string& name, const json& args,
                 bool mistral_id = false) {
  EXPECT_EQ(call.index, index);
  EXPECT_EQ(call.name, name);
  EXPECT_EQ(json::parse(call.arguments), args) << call.arguments;
  if (mistral_id) {
    EXPECT_EQ(call.id.size(), 9u) << call.id;
  } else {
    EXPECT_EQ(call.id.rfind("call_", 0), 0u) << call.id;
    EXPECT_EQ(call.id.size(), 29u) << call.id;
  }
}

TEST(JsonScan, FindsTheEndOfNestedValuesAndRejectsMismatches) {
  EXPECT_EQ(json_scan_value(R"({"a": "}", "b": [1, {"c": "\"]"}]} tail)", 0).end, 34u);
  EXPECT_EQ(json_scan_value(R"([1, 2)", 0).state, JsonScanState::incomplete);
  EXPECT_EQ(json_scan_value(R"({"a": ])", 0).state, JsonScanState::invalid);
  EXPECT_EQ(json_scan_value("hello", 0).state, JsonScanState::invalid);
}

TEST(ToolCallFormat, ChosenFromThePromptThenTheModelType) {
  EXPECT_EQ(detect_tool_call_format("llama", "...<tool_call>\n{\"name\"..."),
            ToolCallFormat::hermes);
  EXPECT_EQ(detect_tool_call_format("qwen3", "[AVAILABLE_TOOLS][...][/AVAILABLE_TOOLS]"),
            ToolCallFormat::mistral);
  EXPECT_EQ(detect_tool_call_format("llama",
                                    "<|start_header_id|>user<|end_header_id|>\n\nRespond in the "
                                    "format {\"name\": function name, \"parameters\": ...}"),
            ToolCallFormat::llama3);
  EXPECT_EQ(detect_tool_call_format("glm4", "[gMASK]<sop><|user|>\nhi<|assistant|>"),
            ToolCallFormat::glm4);
  EXPECT_EQ(detect_tool_call_format("mistral", "[INST] hi [/INST]"), ToolCallFormat::mistral);
  EXPECT_EQ(detect_tool_call_format("qwen2", "<|im_start|>user\nhi"), ToolCallFormat::hermes);
  EXPECT_EQ(detect_tool_call_format("fake", "<|im_start|>user\nhi"), ToolCallFormat::hermes);
  EXPECT_EQ(detect_tool_call_format("llama", "<s>[INST] hi [/INST]"), ToolCallFormat::hermes);
}

// --- Hermes / Qwen ---

TEST(HermesCalls, SingleCallWithTextAroundIt) {
  const auto r = parse_all_ways(
      with_tools(ToolCallFormat::hermes),
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\", \"unit\": \"c\"}}\n</tool_call>");
  EXPECT_EQ(r.content, "Let me check.\n");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "get_weather", {{"city", "Paris"}, {"unit", "c"}});
  // Keys keep the model's order (the arguments string is what the model wrote, compacted).
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris","unit":"c"})");
}

TEST(HermesCalls, ParallelCallsAndParallelOff) {
  const std::string text =
      "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>\n";
  auto r = parse_all_ways(with_tools(ToolCallFormat::hermes), text);
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 2u);
  expect_call(r.calls[0], 0, "a", {{"x", 1}});
  expect_call(r.calls[1], 1, "b", json::object());
  EXPECT_NE(r.calls[0].id, r.calls[1].id);

  auto options = with_tools(ToolCallFormat::hermes);
  options.parallel = false;
  r = parse_all_ways(options, text);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "a");
  EXPECT_EQ(r.content, "");
}

TEST(HermesCalls, MalformedCallsAreContent) {
  const auto options = with_tools(ToolCallFormat::hermes);
  // Bad JSON.
  std::string text = "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": }}\n</tool_call>";
  auto r = parse_all_ways(options, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
  // No name; arguments that are not an object.
  text =
      "<tool_call>{\"arguments\": {}}</tool_call> and <tool_call>{\"name\": \"a\", "
      "\"arguments\": [1]}</tool_call>";
  r = parse_all_ways(options, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
  // Prose that mentions the tag.
  text = "Use <tool_call> tags to call tools.";
  r = parse_all_ways(options, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
  // Cut off by max_tokens in the middle of the call.
  text = "<tool_call>\n{\"name\": \"a\", \"argu";
  r = parse_all_ways(options, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
  // A malformed call does not hide a good one after it.
  text = "<tool_call>{oops}</tool_call><tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>";
  r = parse_all_ways(options, text);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "b");
  EXPECT_EQ(r.content, "<tool_call>{oops}</tool_call>");
}

TEST(HermesCalls, AnswerEndingBeforeTheClosingTagStillCalls) {
  const auto r = parse_all_ways(with_tools(ToolCallFormat::hermes),
                                "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": \"x\"}}\n");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "a", {{"q", "x"}});
}

TEST(HermesCalls, CallsInsideCodeFencesAreContent) {
  const std::string text =
      "Here is how a call looks:\n```\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n"
      "</tool_call>\n```\nDone.";
  auto r = parse_all_ways(with_tools(ToolCallFormat::hermes), text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
  // After the fence closes, a real call is a call again.
  r = parse_all_ways(with_tools(ToolCallFormat::hermes),
                     text + "\n<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "b");
  EXPECT_EQ(r.content, text + "\n");
}

TEST(HermesCalls, WithoutToolsMarkersAreContent) {
  OutputParserOptions options;
  options.format = ToolCallFormat::hermes;
  const std::string text = "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>";
  const auto r = parse_all_ways(options, text);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, text);
}

TEST(HermesCalls, ReasoningThenCall) {
  const auto r = parse_all_ways(
      with_tools(ToolCallFormat::hermes),
      "<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n{\"name\": \"w\", "
      "\"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>");
  EXPECT_EQ(r.reasoning, "The user wants the weather.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "w", {{"city", "Oslo"}});
}

TEST(HermesCalls, ContentIsNotHeldBackLongerThanAMarkerCouldNeed) {
  OutputParser parser(with_tools(ToolCallFormat::hermes));
  EXPECT_EQ(parser.push("Hello <tool").content, "Hello ");
  EXPECT_EQ(parser.push("box> and more").content, "<toolbox> and more");
  EXPECT_EQ(parser.finish().content, "");
}

// --- Mistral ---

TEST(MistralCalls, JsonListSingleAndParallel) {
  auto r = parse_all_ways(with_tools(ToolCallFormat::mistral),
                          "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                          "\"Paris\"}}]");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "get_weather", {{"city", "Paris"}}, true);
  EXPECT_EQ(r.content, "");

  r = parse_all_ways(with_tools(ToolCallFormat::mistral),
                     " [TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"x\": [1, 2]}}, "
                     "{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": true}\"}]");
  ASSERT_EQ(r.calls.size(), 2u);
  expect_call(r.calls[0], 0, "a", {{"x", {1, 2}}}, true);
  expect_call(r.calls[1], 1, "b", {{"y", true}}, true);
  EXPECT_EQ(r.content, " ");
}

TEST(MistralCalls, KeepsTheIdTheModelWrote) {
  const auto r =
      parse_all_ways(with_tools(ToolCallFormat::mistral),
                     "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}, \"id\": \"abcDEF123\"}]");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].id, "abcDEF123");
}

TEST(MistralCalls, NameArgsFormSingleAndParallel) {
  auto r = parse_all_ways(with_tools(ToolCallFormat::mistral),
                          "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "get_weather", {{"city", "Paris"}}, true);

  r = parse_all_ways(with_tools(ToolCallFormat::mistral),
                     "[TOOL_CALLS]a[ARGS]{\"x\": 1}[TOOL_CALLS]b[CALL_ID]id42[ARGS]{}");
  ASSERT_EQ(r.calls.size(), 2u);
  expect_call(r.calls[0], 0, "a", {{"x", 1}}, true);
  EXPECT_EQ(r.calls[1].name, "b");
  EXPECT_EQ(r.calls[1].id, "id42");
  EXPECT_EQ(r.content, "");
}

TEST(MistralCalls, MalformedAndFencedAreContent) {
  const auto options = with_tools(ToolCallFormat::mistral);
  for (const std::string& text : {
           std::string("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1,}}]"),
           std::string("[TOOL_CALLS][{\"arguments\": {}}]"),
           std::string("[TOOL_CALLS]get weather[ARGS]{}"),
           std::string("[TOOL_CALLS]a[ARGS]{\"x\": "),
           std::string("[TOOL_CALLS]"),
           std::string("```\n[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}]\n```"),
       }) {
    const auto r = parse_all_ways(options, text);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
}

// --- Llama 3 ---

TEST(Llama3Calls, JsonMessageWithParametersOrArguments) {
  auto r = parse_all_ways(with_tools(ToolCallFormat::llama3),
                          "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "get_weather", {{"city", "Paris"}});
  EXPECT_EQ(r.content, "");

  r = parse_all_ways(with_tools(ToolCallFormat::llama3),
                     "<|python_tag|>{\"name\": \"a\", \"arguments\": {\"q\": \"x\"}}");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "a", {{"q", "x"}});
}

TEST(Llama3Calls, ParallelCallsSeparatedBySemicolons) {
  const auto r = parse_all_ways(
      with_tools(ToolCallFormat::llama3),
      "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"n\": 2}}");
  ASSERT_EQ(r.calls.size(), 2u);
  expect_call(r.calls[0], 0, "a", json::object());
  expect_call(r.calls[1], 1, "b", {{"n", 2}});
  EXPECT_EQ(r.content, "");
}

TEST(Llama3Calls, JsonThatIsNotACallAndLaterJsonAreContent) {
  const auto options = with_tools(ToolCallFormat::llama3);
  for (const std::string& text : {
           std::string("{\"answer\": 42}"),
           std::string("{\"name\": \"a\", \"parameters\": {\"x\": }"),
           std::string("The call would be {\"name\": \"a\", \"parameters\": {}}"),
           std::string("```json\n{\"name\": \"a\", \"parameters\": {}}\n```"),
       }) {
    const auto r = parse_all_ways(options, text);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
  // Code for the built-in interpreter after <|python_tag|> is content without the tag.
  const auto r = parse_all_ways(options, "<|python_tag|>print(1)");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "print(1)");
}

// --- GLM-4 ---

TEST(Glm4Calls, NameLineThenArguments) {
  auto options = with_tools(ToolCallFormat::glm4);
  options.tool_names = {"get_weather", "search"};
  auto r = parse_all_ways(options, "get_weather\n{\"city\": \"Beijing\"}");
  ASSERT_EQ(r.calls.size(), 1u);
  expect_call(r.calls[0], 0, "get_weather", {{"city", "Beijing"}});
  EXPECT_EQ(r.content, "");

  r = parse_all_ways(options, "\nsearch\n{\"q\": \"a\"}\nget_weather\n{\"city\": \"b\"}");
  ASSERT_EQ(r.calls.size(), 2u);
  expect_call(r.calls[0], 0, "search", {{"q", "a"}});
  expect_call(r.calls[1], 1, "get_weather", {{"city", "b"}});
}

TEST(Glm4Calls, UnknownNamesProseAndBadJsonAreContent) {
  auto options = with_tools(ToolCallFormat::glm4);
  options.tool_names = {"get_weather"};
  for (const std::string& text : {
           std::string("Sure\n{\"city\": \"Beijing\"}"),
           std::string("get_weather\n{\"city\": }"),
           std::string("get_weather\nIt is sunny."),
           std::string("The weather is fine."),
           std::string("```\nget_weather\n{\"city\": \"x\"}\n```"),
       }) {
    const auto r = parse_all_ways(options, text);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
}

}  // namespace
}  // namespace mofa::server::tool_calls
