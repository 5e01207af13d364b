// ChatTemplate: where a model's template comes from, the variables it is rendered with, and real
// templates (tests/text/templates/) rendered to the exact prompts transformers produces.
#include "text/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace mofa::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/templates/" + name,
                   std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch model directory removed when the test ends.
class ModelDir {
 public:
  ModelDir() {
    path_ =
        fs::temp_directory_path() /
        ("mofa_chat_template_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ModelDir() { fs::remove_all(path_); }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

const json kUserHello = json::array({{{"role", "user"}, {"content", "Hello"}}});

TEST(ChatTemplateLoad, PrefersChatTemplateJinjaOverTheOthers) {
  ModelDir dir;
  dir.write("chat_template.jinja", "jinja:{{ messages[0].content }}\n");
  dir.write("chat_template.json", R"({"chat_template": "json"})");
  dir.write("tokenizer_config.json", R"({"chat_template": "config", "eos_token": "</s>"})");
  ChatTemplate t = ChatTemplate::load(dir.path());
  EXPECT_FALSE(t.is_fallback());
  EXPECT_EQ(t.render(kUserHello, json(), false, json::object()), "jinja:Hello");
  EXPECT_EQ(t.eos_token(), "</s>");
}

TEST(ChatTemplateLoad, ReadsChatTemplateJsonThenTokenizerConfig) {
  ModelDir dir;
  dir.write("chat_template.json", R"({"chat_template": "from-json {{ eos_token }}"})");
  dir.write("tokenizer_config.json", R"({"chat_template": "config", "eos_token": "<e>"})");
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(kUserHello, json(), false, json::object()),
            "from-json <e>");
  ModelDir only_config;
  only_config.write(
      "tokenizer_config.json",
      R"({"chat_template": "{{ bos_token }}cfg", "bos_token": {"__type": "AddedToken", "content": "<s>"}})");
  ChatTemplate t = ChatTemplate::load(only_config.path());
  EXPECT_EQ(t.bos_token(), "<s>");
  EXPECT_EQ(t.render(kUserHello, json(), false, json::object()), "<s>cfg");
}

TEST(ChatTemplateLoad, NamedTemplatesUseToolUseOnlyWithTools) {
  ModelDir dir;
  dir.write("tokenizer_config.json", R"({"chat_template": [
      {"name": "default", "template": "plain"},
      {"name": "tool_use", "template": "tools={{ tools|length }}"}]})");
  ChatTemplate t = ChatTemplate::load(dir.path());
  EXPECT_EQ(t.render(kUserHello, json(), false, json::object()), "plain");
  EXPECT_EQ(t.render(kUserHello, json::array(), false, json::object()), "plain");
  json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(t.render(kUserHello, tools, false, json::object()), "tools=1");
}

TEST(ChatTemplateLoad, NoTemplateFallsBackToChatMl) {
  ModelDir dir;
  dir.write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  ChatTemplate t = ChatTemplate::load(dir.path());
  EXPECT_TRUE(t.is_fallback());
  EXPECT_EQ(t.render(kUserHello, json(), true, json::object()),
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateLoad, MalformedFilesAreInvalidInput) {
  ModelDir bad_json;
  bad_json.write("tokenizer_config.json", "{not json");
  EXPECT_THROW(ChatTemplate::load(bad_json.path()), InvalidInput);
  ModelDir bad_syntax;
  bad_syntax.write("chat_template.jinja", "{% if %}");
  try {
    ChatTemplate::load(bad_syntax.path());
    FAIL() << "expected a syntax error";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("chat template: syntax error at line 1"));
  }
  ModelDir no_default;
  no_default.write("tokenizer_config.json",
                   R"({"chat_template": [{"name": "rag", "template": "x"}]})");
  EXPECT_THROW(ChatTemplate::load(no_default.path()), InvalidInput);
}

TEST(ChatTemplateRender, VariablesAreThoseTransformersPasses) {
  ChatTemplate t = ChatTemplate::from_string(
      "{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ bos_token }}"
      "|{{ eos_token }}|{{ enable_thinking }}|{{ custom }}",
      "<s>", "</s>");
  EXPECT_EQ(t.render(kUserHello, json(), true, {{"enable_thinking", false}, {"custom", 3}}),
            "True|True|True|<s>|</s>|False|3");
  // An empty tool list reaches the template as None, like no tools.
  EXPECT_EQ(t.render(kUserHello, json::array(), false, json::object()).substr(0, 5), "True|");
}

TEST(ChatTemplateRender, RaiseExceptionCarriesTheTemplatesMessage) {
  ChatTemplate t = ChatTemplate::from_string("{{ raise_exception('roles must alternate') }}");
  try {
    t.render(kUserHello, json(), false, json::object());
    FAIL() << "expected raise_exception to throw";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "chat template: roles must alternate");
  }
}

TEST(ChatTemplateRender, EngineErrorsArePrefixedAndLocated) {
  ChatTemplate t = ChatTemplate::from_string("line\n{{ messages[0].content + 1 }}");
  try {
    t.render(kUserHello, json(), false, json::object());
    FAIL() << "expected a type error";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(), "chat template: can only concatenate str (not \"int\") to str (line 2)");
  }
}

TEST(ChatTemplateRender, StrftimeNowFormatsTheCurrentDate) {
  ChatTemplate t = ChatTemplate::from_string("{{ strftime_now('%Y') }}");
  std::string year = t.render(kUserHello, json(), false, json::object());
  ASSERT_EQ(year.size(), 4u);
  EXPECT_GE(std::stoi(year), 2024);
}

TEST(ChatTemplateRender, OrderedJsonKeepsToolSchemaKeyOrder) {
  ChatTemplate t =
      ChatTemplate::from_string("{% for tool in tools %}{{ tool|tojson }}{% endfor %}");
  ordered_json tools = ordered_json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(t.render(ordered_json::array(), tools, false, ordered_json::object()),
            R"({"type": "function", "function": {"name": "f"}})");
}

const char* kQwen25Expected =
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";

TEST(ChatTemplateReal, Qwen25DefaultSystemPrompt) {
  ChatTemplate t =
      ChatTemplate::from_string(read_template("qwen2.5-instruct.jinja"), "", "<|im_end|>");
  json messages = json::array({{{"role", "user"}, {"content", "What is 2+2?"}}});
  EXPECT_EQ(t.render(messages, json(), true, json::object()), kQwen25Expected);
}

TEST(ChatTemplateReal, Qwen25ToolsAndToolCalls) {
  ChatTemplate t =
      ChatTemplate::from_string(read_template("qwen2.5-instruct.jinja"), "", "<|im_end|>");
  ordered_json tools = ordered_json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
  ordered_json messages = ordered_json::parse(R"([
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "18C"}])");
  EXPECT_EQ(
      t.render(messages, tools, true, ordered_json::object()),
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n"
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
      "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
      "{\"type\": "
      "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}\n</tools>\n\n"
      "For each function call, return a json object with function name and arguments within "
      "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
      "<args-json-object>}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
      "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n");
}

TEST(ChatTemplateReal, Qwen3ThinkingSwitchAndReasoningContent) {
  ChatTemplate t = ChatTemplate::from_string(read_template("qwen3.jinja"), "", "<|im_end|>");
  json messages = json::array({{{"role", "user"}, {"content", "Hi"}}});
  EXPECT_EQ(t.render(messages, json(), true, {{"enable_thinking", false}}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(t.render(messages, json(), true, {{"enable_thinking", true}}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  json history = json::array(
      {{{"role", "user"}, {"content", "Hi"}},
       {{"role", "assistant"}, {"content", "Hello!"}, {"reasoning_content", "Greet back."}}});
  EXPECT_EQ(
      t.render(history, json(), false, json::object()),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nGreet back.\n</think>\n\n"
      "Hello!<|im_end|>\n");
}

TEST(ChatTemplateReal, MistralRejectsNonAlternatingRoles) {
  ChatTemplate t =
      ChatTemplate::from_string(read_template("mistral-7b-instruct-v0.2.jinja"), "<s>", "</s>");
  json ok = json::array({{{"role", "system"}, {"content", "Be brief."}},
                         {{"role", "user"}, {"content", "Hi"}},
                         {{"role", "assistant"}, {"content", "Hello"}},
                         {{"role", "user"}, {"content", "Bye"}}});
  EXPECT_EQ(t.render(ok, json(), false, json::object()),
            "<s> [INST] Be brief.\n\nHi [/INST] Hello</s> [INST] Bye [/INST]");
  json bad =
      json::array({{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}});
  try {
    t.render(bad, json(), false, json::object());
    FAIL() << "expected raise_exception";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(),
                 "chat template: After the optional system message, conversation roles must "
                 "alternate user/assistant/user/assistant/...");
  }
}

TEST(ChatTemplateReal, MistralV03ToolCallsAndResults) {
  // Prompt as transformers renders it for mistralai/Mistral-7B-Instruct-v0.3 (checked against
  // Python's jinja2 by tests/reference/template_jinja2_reference.sh, conversation 30).
  ChatTemplate t =
      ChatTemplate::from_string(read_template("mistral-7b-instruct-v0.3.jinja"), "<s>", "</s>");
  ordered_json tools = ordered_json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
  ordered_json messages = ordered_json::parse(R"([
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "abcDEF123", "content": "18C"}])");
  EXPECT_EQ(t.render(messages, tools, true, ordered_json::object()),
            "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": "
            "\"get_weather\", \"description\": \"Weather.\", \"parameters\": {\"type\": "
            "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]"
            "[/AVAILABLE_TOOLS][INST] Weather in Paris?[/INST][TOOL_CALLS] [{\"name\": "
            "\"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]</s>"
            "[TOOL_RESULTS] {\"content\": 18C, \"call_id\": \"abcDEF123\"}[/TOOL_RESULTS]");
  messages[2]["tool_calls"][0]["id"] = "call_1";
  try {
    t.render(messages, tools, true, ordered_json::object());
    FAIL() << "expected raise_exception";
  } catch (const InvalidInput& e) {
    EXPECT_STREQ(e.what(),
                 "chat template: Tool call IDs should be alphanumeric strings with length 9!");
  }
}

TEST(ChatTemplateReal, MiniCpm4IsPlainChatMl) {
  ChatTemplate t = ChatTemplate::from_string(read_template("minicpm4.jinja"), "<s>", "<|im_end|>");
  json messages =
      json::array({{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", "Hi"}}});
  EXPECT_EQ(t.render(messages, json(), true, json::object()),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(t.render(messages, json(), false, json::object()),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplateReal, EveryCollectedTemplateParses) {
  for (const auto& entry :
       fs::directory_iterator(std::string(MOFA_SOURCE_DIR) + "/tests/text/templates")) {
    if (entry.path().extension() != ".jinja") continue;
    EXPECT_NO_THROW(ChatTemplate::from_string(read_template(entry.path().filename().string())))
        << entry.path();
  }
}

}  // namespace
}  // namespace mofa::text
