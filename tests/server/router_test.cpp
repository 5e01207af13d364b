#include "server/router.h"

#include <gtest/gtest.h>

#include "server/json_body.h"
#include "server_fixture.h"

namespace mofa::server {
namespace {

using testing::ServerFixture;

void expect_openai_error(const testing::Reply& reply, int status, const std::string& code = "",
                         const std::string& param = "") {
  EXPECT_EQ(reply.status, status) << reply.body;
  const auto body = reply.json_body();
  ASSERT_TRUE(body.contains("error")) << reply.body;
  const auto& error = body["error"];
  EXPECT_TRUE(error["message"].is_string());
  EXPECT_TRUE(error["type"].is_string());
  EXPECT_TRUE(error.contains("param"));
  EXPECT_TRUE(error.contains("code"));
  if (!code.empty()) {
    EXPECT_EQ(error["code"], code) << reply.body;
  }
  if (!param.empty()) {
    EXPECT_EQ(error["param"], param) << reply.body;
  }
}

TEST(Router, UnknownRouteIs404AndWrongMethodIs405) {
  ServerFixture f;
  expect_openai_error(f.call("GET", "/v1/nothing"), 404, "not_found");
  expect_openai_error(f.call("GET", "/v1/chat/completions"), 405, "method_not_allowed");
  const auto ollama = f.call("GET", "/api/nothing");
  EXPECT_EQ(ollama.status, 404);
  EXPECT_TRUE(ollama.json_body()["error"].is_string());
}

TEST(Router, BadJsonAndWrongTopLevelAre400) {
  ServerFixture f;
  expect_openai_error(f.call("POST", "/v1/chat/completions", "{not json"), 400);
  expect_openai_error(f.call("POST", "/v1/chat/completions", "[1, 2]"), 400);
  expect_openai_error(f.call("POST", "/v1/chat/completions", ""), 400);
}

TEST(Router, DeeplyNestedJsonIsRefusedBeforeParsing) {
  ServerFixture f;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto reply = f.call("POST", "/v1/chat/completions", "{\"a\":" + deep + "}");
  expect_openai_error(reply, 400);
  EXPECT_NE(reply.json_body()["error"]["message"].get<std::string>().find("nests"),
            std::string::npos);
}

TEST(Router, BodyOverTheLimitIs413) {
  RouterOptions options;
  options.max_body = 100;
  ServerFixture f(options);
  expect_openai_error(f.call("POST", "/v1/chat/completions", std::string(101, ' ')), 413,
                      "request_too_large");
}

TEST(Router, ApiKeyGuardsEveryRouteButHealth) {
  RouterOptions options;
  options.api_key = "secret";
  ServerFixture f(options);
  expect_openai_error(f.call("GET", "/v1/models"), 401, "invalid_api_key");
  expect_openai_error(f.call("GET", "/v1/models", "", {{"Authorization", "Bearer wrong"}}), 401);
  const auto ollama = f.call("GET", "/api/tags");
  EXPECT_EQ(ollama.status, 401);
  EXPECT_TRUE(ollama.json_body()["error"].is_string());
  EXPECT_EQ(f.call("GET", "/v1/models", "", {{"authorization", "Bearer secret"}}).status, 200);
  EXPECT_EQ(f.call("GET", "/health").status, 200);
}

TEST(Router, CorsHeadersAndPreflight) {
  RouterOptions options;
  options.cors_origin = "http://app.example";
  ServerFixture f(options);
  const auto preflight =
      f.call("OPTIONS", "/v1/chat/completions", "", {{"Origin", "http://app.example"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers.at("Access-Control-Allow-Origin"), "http://app.example");
  const auto other = f.call("GET", "/health", "", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(other.headers.count("Access-Control-Allow-Origin"), 0u);
}

TEST(Router, PathParametersArePercentDecodedAndTakeTheRest) {
  Router router({});
  std::string seen;
  router.add("GET", "/v1/models/{id*}", ErrorStyle::openai, [&](const Request& r, Response& out) {
    seen = r.params.at("id");
    out.set_json(200, "{}");
  });
  Request request;
  request.method = "GET";
  request.path = "/v1/models/mlx-community/Qwen%2B1";
  Response response;
  router.dispatch(request, response);
  EXPECT_EQ(seen, "mlx-community/Qwen+1");
}

TEST(JsonBody, FieldReadersNameTheFieldAndType) {
  const auto body = parse_json_object(R"({"a": "x", "b": 1.5, "c": 3, "d": true})");
  EXPECT_EQ(opt_string(body, "a"), "x");
  EXPECT_EQ(opt_number(body, "b"), 1.5);
  EXPECT_EQ(opt_int(body, "c"), 3);
  EXPECT_EQ(opt_bool(body, "d"), true);
  EXPECT_FALSE(opt_int(body, "missing").has_value());
  try {
    opt_int(body, "b");
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "b");
  }
  EXPECT_THROW(opt_bool(body, "a"), HttpError);
}

}  // namespace
}  // namespace mofa::server
