#include <gtest/gtest.h>

#include "server_fixture.h"

namespace mofa::server {
namespace {

using nlohmann::json;
using testing::ServerFixture;

json chat_body(json extra = json::object()) {
  json body = {{"model", "tiny"},
               {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  body.update(extra);
  return body;
}

void expect_final_stats(const json& message) {
  EXPECT_EQ(message["done"], true);
  EXPECT_TRUE(message["done_reason"].is_string());
  for (const char* key : {"total_duration", "load_duration", "prompt_eval_count",
                          "prompt_eval_duration", "eval_count", "eval_duration"}) {
    EXPECT_TRUE(message[key].is_number_integer()) << key << " in " << message.dump();
  }
}

TEST(OllamaChat, StreamsNdjsonByDefault) {
  ServerFixture f;
  const auto reply = f.post("/api/chat", chat_body());
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/x-ndjson");
  const auto lines = reply.ndjson();
  ASSERT_GE(lines.size(), 2u);
  std::string content;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "tiny");
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
    EXPECT_TRUE(lines[i]["created_at"].is_string());
    content += lines[i]["message"]["content"].get<std::string>();
  }
  EXPECT_EQ(content, f.engine.answer);
  expect_final_stats(lines.back());
  EXPECT_EQ(lines.back()["done_reason"], "stop");
  EXPECT_EQ(lines.back()["prompt_eval_count"], 21);
  EXPECT_EQ(lines.back()["eval_count"], static_cast<int>(f.engine.answer.size()) + 1);
}

TEST(OllamaChat, NonStreamingWithOptions) {
  ServerFixture f;
  const auto reply =
      f.post("/api/chat", chat_body({{"stream", false},
                                     {"options", {{"num_predict", 4}, {"temperature", 0}}},
                                     {"keep_alive", "5m"},
                                     {"format", "json"}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = reply.json_body();
  EXPECT_EQ(body["message"]["content"], "Hell");
  EXPECT_EQ(body["done_reason"], "length");
  expect_final_stats(body);
}

TEST(OllamaChat, ErrorsUseOllamasShape) {
  ServerFixture f;
  auto reply = f.post("/api/chat", chat_body({{"model", "missing"}}));
  EXPECT_EQ(reply.status, 404);
  EXPECT_TRUE(reply.json_body()["error"].is_string());
  reply = f.post("/api/chat", chat_body({{"options", {{"temperature", "hot"}}}}));
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.json_body()["error"].get<std::string>().find("temperature"), std::string::npos);
  reply = f.post("/api/chat", chat_body({{"keep_alive", "soon"}}));
  EXPECT_EQ(reply.status, 400);
  reply = f.call("POST", "/api/chat", "{oops");
  EXPECT_EQ(reply.status, 400);
  EXPECT_TRUE(reply.json_body()["error"].is_string());
}

TEST(OllamaGenerate, RawAndTemplatedPromptsAndContext) {
  ServerFixture f;
  auto reply = f.post("/api/generate", {{"model", "tiny"},
                                        {"prompt", "ab"},
                                        {"raw", true},
                                        {"stream", false},
                                        {"options", {{"num_predict", 2}}}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = reply.json_body();
  EXPECT_EQ(body["response"], "He");
  EXPECT_EQ(body["prompt_eval_count"], 2);
  EXPECT_EQ(body["context"], json::array({97, 98, 72, 101}));
  expect_final_stats(body);

  reply = f.post("/api/generate", {{"model", "tiny"}, {"prompt", "hi"}, {"system", "s"}});
  const auto lines = reply.ndjson();
  std::string text;
  for (const auto& line : lines) text += line["response"].get<std::string>();
  EXPECT_EQ(text, f.engine.answer);
  EXPECT_EQ(lines.back()["done"], true);
}

TEST(OllamaGenerate, EmptyPromptLoadsAndKeepAliveZeroUnloads) {
  ServerFixture f;
  auto reply = f.post("/api/generate", {{"model", "tiny"}});
  EXPECT_EQ(reply.json_body()["done_reason"], "load");
  EXPECT_TRUE(f.models->is_loaded("tiny"));
  reply = f.post("/api/generate", {{"model", "tiny"}, {"keep_alive", 0}});
  EXPECT_EQ(reply.json_body()["done_reason"], "unload");
  EXPECT_FALSE(f.models->is_loaded("tiny"));
}

TEST(OllamaModels, TagsShowPsVersionDelete) {
  ServerFixture f;
  auto tags = f.call("GET", "/api/tags").json_body();
  ASSERT_EQ(tags["models"].size(), 1u);
  EXPECT_EQ(tags["models"][0]["name"], "tiny");
  EXPECT_EQ(tags["models"][0]["details"]["family"], "fake");
  EXPECT_EQ(tags["models"][0]["details"]["quantization_level"], "F32");
  EXPECT_TRUE(tags["models"][0]["size"].is_number());

  EXPECT_EQ(f.call("GET", "/api/ps").json_body()["models"].size(), 0u);
  f.post("/api/generate", {{"model", "tiny"}});
  const auto ps = f.call("GET", "/api/ps").json_body();
  ASSERT_EQ(ps["models"].size(), 1u);
  EXPECT_EQ(ps["models"][0]["name"], "tiny");
  EXPECT_TRUE(ps["models"][0]["expires_at"].is_string());

  const auto show = f.post("/api/show", {{"model", "tiny"}});
  ASSERT_EQ(show.status, 200);
  EXPECT_EQ(show.json_body()["model_info"]["general.architecture"], "fake");
  EXPECT_EQ(show.json_body()["model_info"]["fake.context_length"], 128);
  EXPECT_EQ(f.post("/api/show", {{"model", "nope"}}).status, 404);

  EXPECT_TRUE(f.call("GET", "/api/version").json_body()["version"].is_string());

  EXPECT_EQ(f.call("DELETE", "/api/delete", json({{"model", "nope"}}).dump()).status, 404);
  EXPECT_EQ(f.call("DELETE", "/api/delete", json({{"model", "tiny"}}).dump()).status, 200);
  EXPECT_EQ(f.call("GET", "/api/tags").json_body()["models"].size(), 0u);
}

TEST(OllamaPull, StreamsProgressThenSuccess) {
  ServerFixture f;
  const auto reply = f.post("/api/pull", {{"model", "qwen2.5-0.5b-instruct"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto lines = reply.ndjson();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front()["status"], "pulling manifest");
  EXPECT_EQ(lines.back()["status"], "success");
  EXPECT_TRUE(f.models->list().size() == 2u);
  const auto bad = f.post("/api/pull", {{"model", "../evil"}, {"stream", false}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.json_body()["error"].is_string());
}

}  // namespace
}  // namespace mofa::server
