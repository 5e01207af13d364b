#include <gtest/gtest.h>

#include "server_fixture.h"

namespace mofa::server {
namespace {

using nlohmann::json;
using testing::ServerFixture;

TEST(Extras, TokenizeDetokenizeRoundTrip) {
  ServerFixture f;
  auto reply = f.post("/tokenize", {{"content", "<|im_start|>ab"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["tokens"], json::array({257, 97, 98}));
  reply = f.post("/tokenize", {{"content", "ab"}, {"with_pieces", true}});
  EXPECT_EQ(reply.json_body()["tokens"][1]["piece"], "b");
  reply = f.post("/detokenize", {{"tokens", json::array({257, 97, 98})}});
  EXPECT_EQ(reply.json_body()["content"], "<|im_start|>ab");
  EXPECT_EQ(f.post("/detokenize", {{"tokens", json::array({99999})}}).status, 400);
  EXPECT_EQ(f.post("/tokenize", {{"content", 5}}).status, 400);
}

TEST(Extras, ApplyTemplate) {
  ServerFixture f;
  const auto reply = f.post("/apply-template",
                            {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["prompt"], "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Extras, MetricsCountRequestsAndTokens) {
  ServerFixture f;
  f.post("/v1/chat/completions",
         {{"model", "tiny"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
  const auto reply = f.call("GET", "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type.rfind("text/plain", 0), 0u);
  const auto& text = reply.body;
  EXPECT_NE(text.find("mofa_requests_total{route=\"POST /v1/chat/completions\",status=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mofa_generated_tokens_total " + std::to_string(f.engine.answer.size() + 1)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mofa_prompt_tokens_total 21"), std::string::npos);
  EXPECT_NE(text.find("mofa_queue_depth 0"), std::string::npos);
  EXPECT_NE(text.find("mofa_time_to_first_token_seconds_count 1"), std::string::npos);
}

TEST(SeedRoutes, HealthAndCatalog) {
  ServerFixture f;
  EXPECT_EQ(f.call("GET", "/health").json_body()["status"], "ok");
  const auto catalog = f.call("GET", "/v1/catalog").json_body();
  // The seed's 11 entries, then the bundled mofa-tiny, which never needs a download.
  ASSERT_EQ(catalog["data"].size(), 12u);
  EXPECT_EQ(catalog["data"][11]["id"], "mofa-tiny");
  EXPECT_EQ(catalog["data"][11]["bundled"], true);
  EXPECT_EQ(catalog["data"][11]["downloaded"], true);
  EXPECT_EQ(catalog["data"][0]["id"], "qwen2.5-0.5b-instruct");
  EXPECT_EQ(catalog["data"][0]["repo"], "mlx-community/Qwen2.5-0.5B-Instruct-4bit");
  EXPECT_EQ(catalog["data"][0]["category"], "LLM");
  EXPECT_EQ(catalog["data"][0]["downloaded"], false);
}

TEST(SeedRoutes, DownloadByCatalogIdThenDelete) {
  ServerFixture f;
  auto reply = f.post("/v1/models/download", {{"catalog_id", "qwen2.5-0.5b-instruct"}});
  ASSERT_EQ(reply.status, 202) << reply.body;
  const std::string id = reply.json_body()["id"];
  EXPECT_EQ(reply.json_body()["model_id"], "Qwen2.5-0.5B-Instruct-4bit");
  const auto done = f.downloads->wait(id);
  EXPECT_EQ(done.state, runtime::DownloadState::completed);
  reply = f.call("GET", "/v1/models/download/" + id);
  EXPECT_EQ(reply.json_body()["status"], "completed");
  EXPECT_EQ(reply.json_body()["downloaded_bytes"], 10);
  EXPECT_EQ(f.call("GET", "/v1/catalog").json_body()["data"][0]["downloaded"], true);
  // The catalog id also names the model once downloaded.
  EXPECT_EQ(f.post("/v1/chat/completions",
                   {{"model", "qwen2.5-0.5b-instruct"},
                    {"max_tokens", 1},
                    {"messages", json::array({{{"role", "user"}, {"content", "x"}}})}})
                .status,
            200);
  reply = f.call("DELETE", "/v1/models/Qwen2.5-0.5B-Instruct-4bit");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json_body()["deleted"], true);
  EXPECT_FALSE(f.models->is_loaded("Qwen2.5-0.5B-Instruct-4bit"));
  EXPECT_EQ(f.call("GET", "/v1/catalog").json_body()["data"][0]["downloaded"], false);
}

TEST(SeedRoutes, DownloadCancelAndErrors) {
  ServerFixture f;
  f.block_downloads = true;
  auto reply = f.post("/v1/models/download", {{"repo", "someone/Some-Model"}});
  ASSERT_EQ(reply.status, 202);
  const std::string id = reply.json_body()["id"];
  reply = f.call("DELETE", "/v1/models/download/" + id);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(f.downloads->wait(id).state, runtime::DownloadState::cancelled);
  EXPECT_EQ(f.call("GET", "/v1/models/download/" + id).json_body()["status"], "cancelled");
  EXPECT_EQ(f.call("GET", "/v1/models/download/dl-999").status, 404);
  EXPECT_EQ(f.post("/v1/models/download", {{"catalog_id", "nope"}}).status, 404);
  EXPECT_EQ(f.post("/v1/models/download", json::object()).status, 400);
  EXPECT_EQ(f.post("/v1/models/download", {{"repo", "../../etc"}}).status, 400);
  EXPECT_EQ(f.post("/v1/models/download", {{"repo", 5}}).status, 400);
}

TEST(SeedRoutes, DeleteRefusesIdsLeavingTheModelsDir) {
  ServerFixture f;
  EXPECT_EQ(f.call("DELETE", "/v1/models/..%2Fmodels%2Ftiny").status, 400);
  EXPECT_EQ(f.call("DELETE", "/v1/models/nope").status, 404);
  EXPECT_EQ(f.call("GET", "/v1/models").json_body()["data"].size(), 1u);
}

}  // namespace
}  // namespace mofa::server
