#include "server/webui.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "server_fixture.h"

namespace mofa::server {
namespace {

namespace fs = std::filesystem;
using testing::ServerFixture;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(WebUi, EveryFileUnderWebIsEmbeddedByteForByte) {
  const fs::path web = fs::path(MOFA_SOURCE_DIR) / "web";
  size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(web)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), web).generic_string();
    const auto asset = find_web_asset("/static/" + rel);
    ASSERT_TRUE(asset.has_value()) << rel << " is not embedded";
    EXPECT_EQ(asset->data, read_file(entry.path())) << rel << " is stale: rebuild";
    ++count;
  }
  EXPECT_EQ(count, webui_embedded::file_count);
  EXPECT_GE(count, 5u);
}

TEST(WebUi, ContentTypesFollowTheExtension) {
  EXPECT_EQ(web_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(web_content_type("js/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(web_content_type("app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(web_content_type("icon.svg"), "image/svg+xml");
  EXPECT_EQ(web_content_type("blob.bin"), "application/octet-stream");
}

TEST(WebUi, RootServesTheIndexWithSecurityHeaders) {
  ServerFixture f;
  const auto reply = f.call("GET", "/");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/html; charset=utf-8");
  EXPECT_NE(reply.body.find("<title>MOFA Local</title>"), std::string::npos);
  EXPECT_NE(reply.headers.at("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  EXPECT_EQ(reply.headers.at("Cache-Control"), "no-cache");
  const auto js = f.call("GET", "/static/js/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
}

TEST(WebUi, MatchingETagGives304) {
  ServerFixture f;
  const auto first = f.call("GET", "/static/app.css");
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.headers.at("ETag");
  const auto again = f.call("GET", "/static/app.css", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  const auto other = f.call("GET", "/static/app.css", "", {{"If-None-Match", "\"0\""}});
  EXPECT_EQ(other.status, 200);
}

TEST(WebUi, UnknownFilesAre404AndApiRoutesAreUnchanged) {
  ServerFixture f;
  const auto missing = f.call("GET", "/static/nope.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.json_body()["error"]["message"].get<std::string>().find("/static/nope.js"),
            std::string::npos);
  EXPECT_EQ(f.call("GET", "/static/../CMakeLists.txt").status, 404);
  EXPECT_EQ(f.call("GET", "/v1/nothing").status, 404);
  EXPECT_EQ(f.call("POST", "/nothing").status, 404);
  EXPECT_EQ(f.call("GET", "/health").status, 200);
}

TEST(WebUi, PageIsPublicWhenTheApiNeedsAKey) {
  RouterOptions options;
  options.api_key = "secret";
  ServerFixture f(options);
  EXPECT_EQ(f.call("GET", "/").status, 200);
  EXPECT_EQ(f.call("GET", "/static/js/api.js").status, 200);
  EXPECT_EQ(f.call("GET", "/v1/models").status, 401);
}

TEST(WebUi, NoWebUiServesNothingAtRoot) {
  ServerContext context;
  context.webui = false;
  Router router(RouterOptions{});
  add_routes(router, context);
  Request request;
  request.method = "GET";
  request.path = "/";
  Response response;
  router.dispatch(request, response);
  EXPECT_EQ(response.status, 404);
}

}  // namespace
}  // namespace mofa::server
