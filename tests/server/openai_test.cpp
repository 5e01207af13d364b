#include <gtest/gtest.h>

#include <set>

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

TEST(ChatCompletions, AnswersInOpenAIShapeWithUsage) {
  ServerFixture f;
  const auto reply = f.post("/v1/chat/completions", chat_body());
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = reply.json_body();
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["model"], "tiny");
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(body["choices"].size(), 1u);
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], f.engine.answer);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  // ChatML: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n" = 1+5+2+1+1 + 1+10 tokens.
  EXPECT_EQ(body["usage"]["prompt_tokens"], 21);
  EXPECT_EQ(body["usage"]["completion_tokens"], static_cast<int>(f.engine.answer.size()) + 1);
  EXPECT_EQ(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"].get<int>() +
                                               body["usage"]["completion_tokens"].get<int>());
}

TEST(ChatCompletions, ContentPartsMaxTokensAndStop) {
  ServerFixture f;
  auto body = chat_body({{"max_tokens", 4}});
  body["messages"] = json::array({{{"role", "system"}, {"content", "be brief"}},
                                  {{"role", "user"},
                                   {"content", json::array({{{"type", "text"}, {"text", "h"}},
                                                            {{"type", "text"}, {"text", "i"}}})}}});
  auto reply = f.post("/v1/chat/completions", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["content"], "Hell");
  EXPECT_EQ(reply.json_body()["choices"][0]["finish_reason"], "length");

  reply = f.post("/v1/chat/completions", chat_body({{"stop", "from"}}));
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["content"], "Hello ");
  EXPECT_EQ(reply.json_body()["choices"][0]["finish_reason"], "stop");
  reply = f.post("/v1/chat/completions", chat_body({{"stop", json::array({"zzz", "lo"})}}));
  EXPECT_EQ(reply.json_body()["choices"][0]["message"]["content"], "Hel");
}

TEST(ChatCompletions, FieldErrorsAre400NamingTheField) {
  ServerFixture f;
  struct Case {
    json extra;
    std::string param;
  };
  const std::vector<Case> cases = {
      {{{"temperature", "hot"}}, "temperature"},
      {{{"temperature", 3.5}}, "temperature"},
      {{{"max_tokens", "ten"}}, "max_tokens"},
      {{{"max_tokens", -1}}, "max_tokens"},
      {{{"top_p", 2}}, "top_p"},
      {{{"stop", 5}}, "stop"},
      {{{"stream", "yes"}}, "stream"},
      {{{"n", 2}}, "n"},
      {{{"messages", "hi"}}, "messages"},
      {{{"messages", json::array()}}, "messages"},
      {{{"messages", json::array({{{"role", "wizard"}, {"content", "x"}}})}}, "messages[0].role"},
      {{{"messages", json::array({{{"role", "user"}, {"content", 5}}})}}, "messages[0].content"},
      {{{"messages",
         json::array({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}})}},
       "messages[0].content[0]"},
      {{{"model", 7}}, "model"},
      {{{"top_logprobs", 3}}, "top_logprobs"},
  };
  for (const auto& c : cases) {
    const auto reply = f.post("/v1/chat/completions", chat_body(c.extra));
    EXPECT_EQ(reply.status, 400) << c.extra.dump() << " -> " << reply.body;
    EXPECT_EQ(reply.json_body()["error"]["param"], c.param) << c.extra.dump();
    EXPECT_EQ(reply.json_body()["error"]["type"], "invalid_request_error");
  }
}

TEST(ChatCompletions, UnknownModelIs404AndUnsafeIdIs400) {
  ServerFixture f;
  auto reply = f.post("/v1/chat/completions", chat_body({{"model", "missing"}}));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.json_body()["error"]["code"], "model_not_found");
  reply = f.post("/v1/chat/completions", chat_body({{"model", "../../etc"}}));
  EXPECT_EQ(reply.status, 400) << reply.body;
}

TEST(ChatCompletions, NoModelUsesTheDefaultAndWithoutOneIs400) {
  ServerFixture f;
  auto body = chat_body();
  body.erase("model");
  EXPECT_EQ(f.post("/v1/chat/completions", body).status, 200);
  f.context.default_model.clear();
  const auto reply = f.post("/v1/chat/completions", body);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.json_body()["error"]["param"], "model");
}

TEST(ChatCompletions, PromptLongerThanTheContextIs400NamingBothLengths) {
  ServerFixture f;
  const auto reply = f.post(
      "/v1/chat/completions",
      chat_body(
          {{"messages", json::array({{{"role", "user"}, {"content", std::string(200, 'x')}}})}}));
  EXPECT_EQ(reply.status, 400);
  const auto error = reply.json_body()["error"];
  EXPECT_EQ(error["code"], "context_length_exceeded");
  const auto message = error["message"].get<std::string>();
  EXPECT_NE(message.find("219 tokens"), std::string::npos) << message;
  EXPECT_NE(message.find("128"), std::string::npos) << message;
}

TEST(ChatCompletions, StreamingFollowsOpenAIsContract) {
  ServerFixture f;
  const auto reply =
      f.post("/v1/chat/completions",
             chat_body({{"stream", true}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/event-stream");
  const auto data = reply.sse_data();
  ASSERT_GE(data.size(), 4u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::set<std::string> ids;
  std::string content;
  int finish_count = 0, role_count = 0;
  json usage;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    const auto chunk = json::parse(data[i]);
    ids.insert(chunk["id"].get<std::string>());
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    ASSERT_TRUE(chunk.contains("usage"));
    if (chunk["choices"].empty()) {
      usage = chunk["usage"];
      EXPECT_EQ(i + 2, data.size()) << "the usage chunk comes last";
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    const auto& choice = chunk["choices"][0];
    if (choice["delta"].contains("role")) {
      ++role_count;
      EXPECT_EQ(i, 0u);
    }
    if (choice["delta"].contains("content"))
      content += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) {
      ++finish_count;
      EXPECT_EQ(choice["finish_reason"], "stop");
    }
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(role_count, 1);
  EXPECT_EQ(finish_count, 1);
  EXPECT_EQ(content, f.engine.answer);
  EXPECT_EQ(usage["completion_tokens"], static_cast<int>(f.engine.answer.size()) + 1);
}

TEST(ChatCompletions, StreamWithoutIncludeUsageHasNoUsageField) {
  ServerFixture f;
  const auto reply = f.post("/v1/chat/completions", chat_body({{"stream", true}}));
  const auto data = reply.sse_data();
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    EXPECT_FALSE(json::parse(data[i]).contains("usage"));
  }
}

TEST(ChatCompletions, ClientLeavingMidStreamCancelsAndFreesTheSlot) {
  runtime::SchedulerOptions scheduler;
  scheduler.parallel = 1;
  ServerFixture f({}, scheduler);
  f.engine.context = 1 << 20;
  // Five steps may run; the client reads the role chunk and two tokens, then goes away.
  f.engine.allow(5);
  const auto reply = f.call(
      "POST", "/v1/chat/completions",
      chat_body({{"stream", true}, {"ignore_eos", true}, {"max_tokens", 100000}}).dump(), {}, 3);
  EXPECT_EQ(reply.sse_data().size(), 3u);
  f.engine.open();
  auto model = f.models->acquire("tiny");
  while (model->scheduler->busy() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The step running when the client left finishes; no further step runs.
  EXPECT_LE(f.engine.log().size(), 7u);
  // The slot serves the next request.
  const auto next = f.post("/v1/chat/completions", chat_body({{"max_tokens", 2}}));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.json_body()["choices"][0]["message"]["content"], "He");
}

TEST(ChatCompletions, LogprobsAndTopLogprobs) {
  ServerFixture f;
  const auto reply =
      f.post("/v1/chat/completions",
             chat_body({{"logprobs", true}, {"top_logprobs", 2}, {"max_tokens", 3}}));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto content = reply.json_body()["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[0]["token"], "H");
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.25f);
  EXPECT_EQ(content[0]["bytes"], json::array({72}));
  EXPECT_EQ(content[0]["top_logprobs"].size(), 2u);
}

TEST(ChatCompletions, QueueFullAnswers503WithRetryAfter) {
  runtime::SchedulerOptions scheduler;
  scheduler.parallel = 1;
  scheduler.queue_capacity = 0;
  ServerFixture f({}, scheduler);
  f.engine.close();
  auto model = f.models->acquire("tiny");
  std::thread first([&] { f.post("/v1/chat/completions", chat_body({{"max_tokens", 1}})); });
  while (model->scheduler->stats().active == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto reply = f.post("/v1/chat/completions", chat_body());
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.json_body()["error"]["code"], "server_busy");
  EXPECT_GE(std::stoi(reply.headers.at("Retry-After")), 1);
  f.engine.open();
  first.join();
}

TEST(Completions, StringAndTokenIdPromptsWithLogprobsAndEcho) {
  ServerFixture f;
  auto reply = f.post("/v1/completions", {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 2}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto body = reply.json_body();
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["text"], "He");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 2);

  reply = f.post("/v1/completions", {{"model", "tiny"},
                                     {"prompt", json::array({97, 98, 99})},
                                     {"max_tokens", 3},
                                     {"logprobs", 1}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  body = reply.json_body();
  EXPECT_EQ(body["usage"]["prompt_tokens"], 3);
  const auto lp = body["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json::array({"H", "e", "l"}));
  EXPECT_EQ(lp["text_offset"], json::array({0, 1, 2}));
  EXPECT_EQ(lp["top_logprobs"][0].size(), 1u);

  reply = f.post("/v1/completions",
                 {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 2}, {"echo", true}});
  EXPECT_EQ(reply.json_body()["choices"][0]["text"], "abHe");
}

TEST(Completions, BadPromptsAre400) {
  ServerFixture f;
  for (const json& prompt : {json(5), json::array({"a", "b"}), json::array({1, "x"}),
                             json::array({-1}), json::array({100000})}) {
    const auto reply = f.post("/v1/completions", {{"model", "tiny"}, {"prompt", prompt}});
    EXPECT_EQ(reply.status, 400) << prompt.dump() << " -> " << reply.body;
    EXPECT_EQ(reply.json_body()["error"]["param"], "prompt");
  }
  EXPECT_EQ(f.post("/v1/completions", {{"model", "tiny"}}).status, 400);
}

TEST(Completions, StreamingEndsWithFinishReasonAndDone) {
  ServerFixture f;
  const auto reply =
      f.post("/v1/completions",
             {{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 5}, {"stream", true}});
  const auto data = reply.sse_data();
  ASSERT_GE(data.size(), 2u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::string text;
  int finishes = 0;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    const auto chunk = json::parse(data[i]);
    text += chunk["choices"][0]["text"].get<std::string>();
    if (!chunk["choices"][0]["finish_reason"].is_null()) ++finishes;
  }
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(finishes, 1);
}

TEST(Models, ListAndGetInOpenAIShape) {
  ServerFixture f;
  auto reply = f.call("GET", "/v1/models");
  ASSERT_EQ(reply.status, 200);
  auto body = reply.json_body();
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 1u);
  EXPECT_EQ(body["data"][0]["id"], "tiny");
  EXPECT_EQ(body["data"][0]["object"], "model");
  EXPECT_EQ(body["data"][0]["context_length"], 128);
  reply = f.call("GET", "/v1/models/tiny");
  EXPECT_EQ(reply.json_body()["id"], "tiny");
  EXPECT_EQ(f.call("GET", "/v1/models/nope").status, 404);
  EXPECT_EQ(f.call("GET", "/v1/models/..%2F..%2Fetc").status, 400);
}

}  // namespace
}  // namespace mofa::server
