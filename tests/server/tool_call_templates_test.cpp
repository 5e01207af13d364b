// Tool definitions, assistant tool calls (arguments as OpenAI's JSON string) and tool results,
// normalized as the chat routes do, render through the real chat templates of each family; and
// what each template tells the model picks the parser format that reads its calls back.
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <sstream>

#include "runtime/fake_pipeline.h"
#include "server/openai/routes.h"
#include "server/tool_calls/output_parser.h"
#include "server/tool_calls/tool_request.h"
#include "text/chat_template.h"

namespace mofa::server {
namespace {

using nlohmann::json;

text::ChatTemplate load_template(const std::string& file, const std::string& bos,
                                 const std::string& eos) {
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/templates/" + file);
  std::stringstream source;
  source << in.rdbuf();
  EXPECT_FALSE(source.str().empty()) << file;
  return text::ChatTemplate::from_string(source.str(), bos, eos);
}

json request_body() {
  return json::parse(R"({
    "tools": [{"type": "function", "function": {"name": "get_weather",
      "description": "Weather in a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}}],
    "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "abcDEF123", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "abcDEF123", "content": "18C and sunny"}
    ]})");
}

struct Rendered {
  std::string prompt;
  tool_calls::OutputParserOptions parser;
};

Rendered render(const text::ChatTemplate& tmpl, const std::string& model_type) {
  const json body = request_body();
  const json messages = openai::normalize_messages(body["messages"]);
  const auto request = tool_calls::parse_openai_tool_request(body);
  Rendered out;
  out.prompt = tmpl.render(messages, request.rendered_tools(), true, json::object());
  out.parser = tool_calls::output_parser_options(model_type, out.prompt, request);
  return out;
}

// Parses `answer` with the options the prompt led to.
std::vector<tool_calls::ToolCall> read_back(const Rendered& r, const std::string& answer) {
  tool_calls::OutputParser parser(r.parser);
  parser.push(answer);
  parser.finish();
  return parser.calls();
}

TEST(ToolCallTemplates, Qwen3) {
  const auto r = render(load_template("qwen3.jinja", "", "<|im_end|>"), "qwen3");
  EXPECT_NE(r.prompt.find("\"name\": \"get_weather\""), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                          "{\"city\": \"Paris\"}}\n</tool_call>"),
            std::string::npos)
      << r.prompt;
  EXPECT_NE(r.prompt.find("<tool_response>\n18C and sunny\n</tool_response>"), std::string::npos);
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::hermes);
  const auto calls =
      read_back(r,
                "<think>\nok\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                "{\"city\": \"Oslo\"}}\n</tool_call>");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].arguments, "{\"city\":\"Oslo\"}");
}

TEST(ToolCallTemplates, Qwen25AndHermes3) {
  auto r = render(load_template("qwen2.5-instruct.jinja", "", "<|im_end|>"), "qwen2");
  EXPECT_NE(r.prompt.find("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"),
            std::string::npos)
      << r.prompt;
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::hermes);
  r = render(load_template("hermes-3-llama-3.1-tool_use.jinja", "<|begin_of_text|>", "<|im_end|>"),
             "llama");
  EXPECT_NE(r.prompt.find("get_weather"), std::string::npos);
  EXPECT_NE(r.prompt.find("18C and sunny"), std::string::npos);
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::hermes);
}

TEST(ToolCallTemplates, Llama31) {
  const auto r =
      render(load_template("llama-3.1-instruct.jinja", "<|begin_of_text|>", "<|eot_id|>"), "llama");
  EXPECT_NE(r.prompt.find("\"parameters\": {\"city\": \"Paris\"}"), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("<|start_header_id|>ipython<|end_header_id|>"), std::string::npos);
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::llama3);
  const auto calls =
      read_back(r, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "get_weather");
}

TEST(ToolCallTemplates, MistralNemo) {
  const auto r =
      render(load_template("mistral-nemo-instruct-2407.jinja", "<s>", "</s>"), "mistral");
  EXPECT_NE(r.prompt.find("[AVAILABLE_TOOLS]"), std::string::npos) << r.prompt;
  EXPECT_NE(r.prompt.find("[TOOL_CALLS]"), std::string::npos);
  EXPECT_NE(r.prompt.find("\"city\": \"Paris\""), std::string::npos);
  EXPECT_NE(r.prompt.find("\"call_id\": \"abcDEF123\""), std::string::npos);
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::mistral);
  const auto calls = read_back(
      r, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}}]");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].id.size(), 9u);  // what the template demands when the call comes back
}

TEST(ToolCallTemplates, MistralSmall32) {
  const auto r = render(load_template("mistral-small-3.2.jinja", "<s>", "</s>"), "mistral");
  EXPECT_NE(r.prompt.find("[TOOL_CALLS]get_weather"), std::string::npos) << r.prompt;
  EXPECT_EQ(r.parser.format, tool_calls::ToolCallFormat::mistral);
  const auto calls = read_back(r, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Lyon\"}");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].arguments, "{\"city\":\"Lyon\"}");
}

// A pipeline whose chat template is a real one (the rest is the fake's).
class TemplatePipeline : public mofa::testing::FakePipeline {
 public:
  TemplatePipeline(mofa::testing::FakeEngine& engine, text::ChatTemplate tmpl)
      : FakePipeline(engine, "glm"), tmpl_(std::move(tmpl)) {}
  std::string apply_chat_template(const json& messages, const json& tools, bool add_generation,
                                  const json& kwargs) const override {
    return tmpl_.render(messages, tools, add_generation, kwargs);
  }

 private:
  text::ChatTemplate tmpl_;
};

TEST(ToolCallTemplates, Glm4ReadsToolsCallsAndResultsFromMessages) {
  mofa::testing::FakeEngine engine;
  TemplatePipeline pipeline(engine, load_template("glm-4-9b-chat.jinja", "", "<|endoftext|>"));
  const json body = request_body();
  const auto request = tool_calls::parse_openai_tool_request(body);
  const std::string prompt = tool_calls::render_chat_prompt(
      pipeline, openai::normalize_messages(body["messages"]), request, json::object());
  EXPECT_EQ(prompt.rfind("[gMASK]<sop><|system|>\n", 0), 0u) << prompt;
  EXPECT_NE(prompt.find("## get_weather\n\n{\n"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("    \"name\": \"get_weather\",\n"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|user|>\nWeather in Paris?"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|assistant|>get_weather\n{\"city\":\"Paris\"}"), std::string::npos)
      << prompt;
  EXPECT_NE(prompt.find("<|observation|>\n18C and sunny<|assistant|>"), std::string::npos)
      << prompt;
  const auto options = tool_calls::output_parser_options("chatglm", prompt, request);
  EXPECT_EQ(options.format, tool_calls::ToolCallFormat::glm4);
  tool_calls::OutputParser parser(options);
  parser.push("get_weather\n{\"city\": \"Beijing\"}");
  parser.finish();
  ASSERT_EQ(parser.calls().size(), 1u);
  EXPECT_EQ(parser.calls()[0].arguments, "{\"city\":\"Beijing\"}");
}

TEST(ToolCallTemplates, ToolChoiceNoneRendersNoTools) {
  json body = request_body();
  body["tool_choice"] = "none";
  const auto request = tool_calls::parse_openai_tool_request(body);
  const auto tmpl = load_template("qwen3.jinja", "", "<|im_end|>");
  const std::string prompt = tmpl.render(openai::normalize_messages(body["messages"]),
                                         request.rendered_tools(), true, json::object());
  EXPECT_EQ(prompt.find("<tools>"), std::string::npos) << prompt;
  EXPECT_FALSE(request.parse_calls());
}

TEST(ToolCallTemplates, Qwen3EnableThinkingFalseClosesTheBlock) {
  const auto tmpl = load_template("qwen3.jinja", "", "<|im_end|>");
  const json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  const std::string off = tmpl.render(messages, json::array(), true, {{"enable_thinking", false}});
  EXPECT_NE(off.find("<think>\n\n</think>\n\n"), std::string::npos);
  EXPECT_FALSE(tool_calls::prompt_opens_reasoning(off));
  const std::string on = tmpl.render(messages, json::array(), true, json::object());
  EXPECT_EQ(on.find("<think>"), std::string::npos);
}

TEST(ToolCallTemplates, TemplatesThatOpenTheThinkBlockStartTheAnswerAsReasoning) {
  const json messages = json::array({{{"role", "user"}, {"content", "6*7?"}}});
  for (const auto& [file, bos, eos] : std::vector<std::array<std::string, 3>>{
           {"qwq-32b.jinja", "", "<|im_end|>"},
           {"deepseek-r1-distill-qwen.jinja", "<｜begin▁of▁sentence｜>",
            "<｜end▁of▁sentence｜>"}}) {
    const std::string prompt =
        load_template(file, bos, eos).render(messages, json::array(), true, json::object());
    const auto options =
        tool_calls::output_parser_options("qwen2", prompt, tool_calls::ToolRequest());
    EXPECT_TRUE(options.starts_in_reasoning) << file << ": " << prompt;
    tool_calls::OutputParser parser(options);
    parser.push("6 times 7 is 42.\n</think>\n\n42");
    parser.finish();
    EXPECT_EQ(parser.reasoning(), "6 times 7 is 42.") << file;
    EXPECT_EQ(parser.content(), "42") << file;
  }
}

TEST(ToolCallTemplates, RequiredToolChoiceGrammarsParseForEveryFormat) {
  json body = request_body();
  for (const json& choice :
       {json("required"), json{{"type", "function"}, {"function", {{"name", "get_weather"}}}}}) {
    body["tool_choice"] = choice;
    const auto request = tool_calls::parse_openai_tool_request(body);
    for (auto format : {tool_calls::ToolCallFormat::hermes, tool_calls::ToolCallFormat::mistral,
                        tool_calls::ToolCallFormat::llama3, tool_calls::ToolCallFormat::glm4}) {
      for (bool in_reasoning : {false, true}) {
        EXPECT_NE(tool_calls::tool_call_grammar(request, format, in_reasoning), nullptr)
            << tool_calls::tool_call_format_name(format);
      }
    }
  }
  body["tool_choice"] = "auto";
  EXPECT_EQ(tool_calls::tool_call_grammar(tool_calls::parse_openai_tool_request(body),
                                          tool_calls::ToolCallFormat::hermes, false),
            nullptr);
}

}  // namespace
}  // namespace mofa::server
