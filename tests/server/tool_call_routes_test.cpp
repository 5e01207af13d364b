// Tool calls and reasoning through the routes: the fake model "answers" crafted outputs, and the
// OpenAI and Ollama endpoints must hand them back in their own shapes, streamed and not.
#include <gtest/gtest.h>

#include "server_fixture.h"

namespace mofa::server {
namespace {

using nlohmann::json;
using testing::ServerFixture;

const char* kCallAnswer =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

json weather_tool() {
  return {{"type", "function"},
          {"function",
           {{"name", "get_weather"},
            {"description", "Weather in a city"},
            {"parameters",
             {{"type", "object"},
              {"properties", {{"city", {{"type", "string"}}}}},
              {"required", {"city"}}}}}}};
}

json chat_body(json extra = json::object()) {
  json body = {{"model", "tiny"},
               {"messages", json::array({{{"role", "user"}, {"content", "weather in Paris?"}}})},
               {"tools", json::array({weather_tool()})}};
  body.update(extra);
  return body;
}

std::vector<json> sse_chunks(const testing::Reply& reply) {
  std::vector<json> out;
  for (const auto& data : reply.sse_data())
    if (data != "[DONE]") out.push_back(json::parse(data));
  return out;
}

TEST(ToolCallRoutes, OpenAIAnswerWithACall) {
  ServerFixture f;
  f.engine.answer = kCallAnswer;
  const auto reply = f.post("/v1/chat/completions", chat_body());
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto choice = reply.json_body()["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
  const auto call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(call["function"]["arguments"], "{\"city\":\"Paris\"}");
}

TEST(ToolCallRoutes, OpenAIStreamsCallDeltasLikeOpenAI) {
  ServerFixture f;
  f.engine.answer = std::string("Checking.") + kCallAnswer;
  const auto reply = f.post("/v1/chat/completions", chat_body({{"stream", true}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  std::string content;
  std::vector<json> call_deltas;
  json finish;
  for (const auto& chunk : sse_chunks(reply)) {
    const auto& c = chunk["choices"][0];
    const auto& delta = c["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (delta.contains("tool_calls")) call_deltas.push_back(delta["tool_calls"][0]);
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
  }
  EXPECT_EQ(content, "Checking.");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(call_deltas.size(), 2u);
  EXPECT_EQ(call_deltas[0]["index"], 0);
  EXPECT_EQ(call_deltas[0]["type"], "function");
  EXPECT_EQ(call_deltas[0]["function"]["name"], "get_weather");
  EXPECT_EQ(call_deltas[0]["function"]["arguments"], "");
  EXPECT_EQ(call_deltas[0]["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call_deltas[1]["index"], 0);
  EXPECT_FALSE(call_deltas[1].contains("id"));
  EXPECT_EQ(call_deltas[1]["function"]["arguments"], "{\"city\":\"Paris\"}");
}

TEST(ToolCallRoutes, ToolChoiceNoneAndNoToolsLeaveTheTextAlone) {
  ServerFixture f;
  f.engine.answer = kCallAnswer;
  for (const json& extra : {json{{"tool_choice", "none"}}, json{{"tools", nullptr}}}) {
    const auto reply = f.post("/v1/chat/completions", chat_body(extra));
    ASSERT_EQ(reply.status, 200) << reply.body;
    const auto choice = reply.json_body()["choices"][0];
    EXPECT_EQ(choice["message"]["content"], kCallAnswer);
    EXPECT_FALSE(choice["message"].contains("tool_calls"));
    EXPECT_EQ(choice["finish_reason"], "stop");
  }
}

TEST(ToolCallRoutes, MalformedCallIsContentNotAnError) {
  ServerFixture f;
  f.engine.answer =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
  auto reply = f.post("/v1/chat/completions", chat_body());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["content"], f.engine.answer);
  EXPECT_EQ(reply.json_body()["choices"][0]["finish_reason"], "stop");
  reply = f.post("/v1/chat/completions", chat_body({{"stream", true}}));
  std::string content;
  for (const auto& chunk : sse_chunks(reply)) {
    const auto& delta = chunk["choices"][0]["delta"];
    EXPECT_FALSE(delta.contains("tool_calls"));
    if (delta.contains("content")) content += delta["content"].get<std::string>();
  }
  EXPECT_EQ(content, f.engine.answer);
}

TEST(ToolCallRoutes, ParallelToolCallsFalseKeepsTheFirst) {
  ServerFixture f;
  f.engine.context = 1024;  // room for two calls spelled out byte by byte
  f.engine.answer = std::string(kCallAnswer) + "\n" + kCallAnswer;
  auto reply = f.post("/v1/chat/completions", chat_body());
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["tool_calls"].size(), 2u);
  reply = f.post("/v1/chat/completions", chat_body({{"parallel_tool_calls", false}}));
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["tool_calls"].size(), 1u);
}

TEST(ToolCallRoutes, ReasoningContentInMessageAndDeltas) {
  ServerFixture f;
  f.engine.answer = "<think>\nThe user says hi.\n</think>\n\nHello!";
  auto body = chat_body();
  body.erase("tools");
  auto reply = f.post("/v1/chat/completions", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto message = reply.json_body()["choices"][0]["message"];
  EXPECT_EQ(message["reasoning_content"], "The user says hi.");
  EXPECT_EQ(message["content"], "Hello!");

  body["stream"] = true;
  reply = f.post("/v1/chat/completions", body);
  std::string reasoning;
  std::string content;
  for (const auto& chunk : sse_chunks(reply)) {
    const auto& delta = chunk["choices"][0]["delta"];
    if (delta.contains("reasoning_content"))
      reasoning += delta["reasoning_content"].get<std::string>();
    if (delta.contains("content")) content += delta["content"].get<std::string>();
  }
  EXPECT_EQ(reasoning, "The user says hi.");
  EXPECT_EQ(content, "Hello!");

  // llama.cpp's reasoning_format "none" keeps the block in the content.
  body["stream"] = false;
  body["reasoning_format"] = "none";
  reply = f.post("/v1/chat/completions", body);
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["content"], f.engine.answer);
  EXPECT_FALSE(reply.json_body()["choices"][0]["message"].contains("reasoning_content"));
  body["reasoning_format"] = "verbose";
  EXPECT_EQ(f.post("/v1/chat/completions", body).status, 400);
}

TEST(ToolCallRoutes, HistoryWithCallsAndToolResultsIsAccepted) {
  ServerFixture f;
  auto body = chat_body();
  body["messages"] = json::array(
      {{{"role", "user"}, {"content", "weather in Paris?"}},
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         json::array(
             {{{"id", "call_1"},
               {"type", "function"},
               {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Paris\"}"}}}}})}},
       {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "18C"}}});
  const auto reply = f.post("/v1/chat/completions", body);
  EXPECT_EQ(reply.status, 200) << reply.body;
}

TEST(ToolCallRoutes, BadToolFieldsAre400NamingTheField) {
  ServerFixture f;
  struct Case {
    json extra;
    std::string param;
  };
  json bad_history = json::array(
      {{{"role", "user"}, {"content", "x"}},
       {{"role", "assistant"},
        {"tool_calls",
         json::array({{{"type", "function"},
                       {"function", {{"name", "get_weather"}, {"arguments", "{not json"}}}}})}}});
  const std::vector<Case> cases = {
      {{{"tools", "get_weather"}}, "tools"},
      {{{"tools", json::array({{{"type", "function"}, {"function", {{"name", "a b"}}}}})}},
       "tools[0].function.name"},
      {{{"tools", json::array({{{"type", "retrieval"}}})}}, "tools[0].type"},
      {{{"tool_choice", "sometimes"}}, "tool_choice"},
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}, "tool_choice"},
      {{{"tools", nullptr}, {"tool_choice", "required"}}, "tool_choice"},
      {{{"parallel_tool_calls", "yes"}}, "parallel_tool_calls"},
      {{{"messages", bad_history}}, "messages[1].tool_calls[0].function.arguments"},
  };
  for (const auto& c : cases) {
    const auto reply = f.post("/v1/chat/completions", chat_body(c.extra));
    EXPECT_EQ(reply.status, 400) << c.extra.dump() << " " << reply.body;
    EXPECT_EQ(reply.json_body()["error"]["param"], c.param) << reply.body;
  }
}

TEST(ToolCallRoutes, RequiredAndNamedToolChoiceAreAccepted) {
  ServerFixture f;
  f.engine.answer = kCallAnswer;
  for (const json& choice :
       {json("required"), json{{"type", "function"}, {"function", {{"name", "get_weather"}}}}}) {
    const auto reply = f.post("/v1/chat/completions", chat_body({{"tool_choice", choice}}));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.json_body()["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
              "get_weather");
  }
}

TEST(ToolCallRoutes, OllamaChatToolCallsAndThinking) {
  ServerFixture f;
  f.engine.context = 1024;
  f.engine.answer = std::string("<think>\nweather!\n</think>\n\n") + kCallAnswer;
  json body = {{"model", "tiny"},
               {"stream", false},
               {"think", true},
               {"messages", json::array({{{"role", "user"}, {"content", "weather?"}}})},
               {"tools", json::array({weather_tool()})}};
  auto reply = f.post("/api/chat", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto message = reply.json_body()["message"];
  EXPECT_EQ(message["thinking"], "weather!");
  EXPECT_EQ(message["content"], "");
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], json({{"city", "Paris"}}));

  body["stream"] = true;
  reply = f.post("/api/chat", body);
  std::string thinking;
  json calls = json::array();
  for (const auto& line : reply.ndjson()) {
    const auto& m = line["message"];
    if (m.contains("thinking")) thinking += m["thinking"].get<std::string>();
    if (m.contains("tool_calls"))
      for (const auto& c : m["tool_calls"]) calls.push_back(c);
  }
  EXPECT_EQ(thinking, "weather!");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["function"]["arguments"]["city"], "Paris");
  EXPECT_TRUE(reply.ndjson().back()["done"].get<bool>());
}

TEST(ToolCallRoutes, OllamaHistoryWithObjectArgumentsAndThinkLevels) {
  ServerFixture f;
  json body = {
      {"model", "tiny"},
      {"stream", false},
      {"think", "high"},
      {"messages",
       json::array({{{"role", "user"}, {"content", "weather?"}},
                    {{"role", "assistant"},
                     {"content", ""},
                     {"tool_calls", json::array({{{"function",
                                                   {{"name", "get_weather"},
                                                    {"arguments", {{"city", "Paris"}}}}}}})}},
                    {{"role", "tool"}, {"tool_name", "get_weather"}, {"content", "18C"}}})},
      {"tools", json::array({weather_tool()})}};
  EXPECT_EQ(f.post("/api/chat", body).status, 200);
  body["think"] = "very";
  const auto reply = f.post("/api/chat", body);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("think"), std::string::npos);
}

TEST(ToolCallRoutes, OllamaGenerateSplitsThinking) {
  ServerFixture f;
  f.engine.answer = "<think>\nhmm\n</think>\n\n42";
  const auto reply =
      f.post("/api/generate", {{"model", "tiny"}, {"prompt", "6*7?"}, {"stream", false}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["thinking"], "hmm");
  EXPECT_EQ(reply.json_body()["response"], "42");
}

}  // namespace
}  // namespace mofa::server
