#pragma once
// Routes under test without sockets: a model manager over the fake pipeline, a fake downloader,
// the real route table, and helpers that dispatch a request and read a streamed body.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/download_manager.h"
#include "runtime/fake_pipeline.h"
#include "runtime/model_manager.h"
#include "server/routes.h"

namespace mofa::server::testing {

namespace fs = std::filesystem;
using nlohmann::json;

// Collects a streamed body; can play a client that leaves after `fail_after` writes.
class RecordingWriter : public StreamWriter {
 public:
  explicit RecordingWriter(int fail_after = -1) : fail_after_(fail_after) {}
  bool write(const std::string& chunk) override {
    if (fail_after_ >= 0 && writes_ >= fail_after_) return false;
    ++writes_;
    body += chunk;
    return true;
  }
  std::string body;

 private:
  int fail_after_;
  int writes_ = 0;
};

struct Reply {
  int status = 0;
  Headers headers;
  std::string content_type;
  std::string body;
  json json_body() const { return json::parse(body); }
  // SSE "data:" payloads (the [DONE] marker kept as a string).
  std::vector<std::string> sse_data() const {
    std::vector<std::string> out;
    size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
      const auto end = body.find("\n\n", pos);
      out.push_back(body.substr(pos + 6, end - pos - 6));
      pos = end;
    }
    return out;
  }
  std::vector<json> ndjson() const {
    std::vector<json> out;
    size_t pos = 0;
    while (pos < body.size()) {
      const auto end = body.find('\n', pos);
      out.push_back(json::parse(body.substr(pos, end - pos)));
      pos = end + 1;
    }
    return out;
  }
};

class ServerFixture {
 public:
  explicit ServerFixture(RouterOptions router_options = {},
                         runtime::SchedulerOptions scheduler = {}) {
    static std::atomic<int> counter{0};
    home_ = fs::temp_directory_path() /
            ("mofa_srv_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(home_);
    make_model("tiny");
    runtime::ModelManagerOptions options;
    options.models_dir = models_dir();
    options.scheduler = scheduler;
    options.janitor_period = std::chrono::hours(1);
    models = std::make_unique<runtime::ModelManager>(
        options, [this](const std::string& dir, const llm::LoadOptions&) {
          return std::make_unique<mofa::testing::FakePipeline>(engine, dir);
        });
    downloads = std::make_unique<runtime::DownloadManager>(
        models_dir(),
        [this](const runtime::DownloadRequest& request, const runtime::ProgressCallback& progress,
               const std::atomic<bool>& cancel) {
          return fake_download(request, progress, cancel);
        });
    context.models = models.get();
    context.downloads = downloads.get();
    context.default_model = "tiny";
    router = std::make_unique<Router>(router_options);
    add_routes(*router, context);
  }
  ~ServerFixture() {
    router.reset();
    downloads.reset();
    models.reset();
    fs::remove_all(home_);
  }

  std::string models_dir() const { return (home_ / "models").string(); }
  void make_model(const std::string& id) {
    fs::create_directories(home_ / "models" / id);
    std::ofstream(home_ / "models" / id / "config.json")
        << R"({"model_type": "fake", "max_position_embeddings": 128, "torch_dtype": "float32"})";
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             Headers headers = {}, int fail_after = -1) {
    Request request;
    request.method = method;
    request.path = path;
    request.body = body;
    request.headers = std::move(headers);
    Response response;
    router->dispatch(request, response);
    Reply reply;
    reply.status = response.status;
    reply.headers = response.headers;
    reply.content_type = response.content_type;
    reply.body = response.body;
    if (response.stream) {
      RecordingWriter writer(fail_after);
      response.stream(writer);
      reply.body = writer.body;
    }
    return reply;
  }
  Reply post(const std::string& path, const json& body, Headers headers = {}) {
    return call("POST", path, body.dump(), std::move(headers));
  }

  // A download that "fetches" a config.json unless the cancel flag is set (then waits for it
  // when `block_downloads` is on).
  runtime::DownloadResult fake_download(const runtime::DownloadRequest& request,
                                        const runtime::ProgressCallback& progress,
                                        const std::atomic<bool>& cancel) {
    while (block_downloads.load() && !cancel.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (cancel.load()) {
      throw runtime::HubError(runtime::HubErrorKind::cancelled, "cancelled");
    }
    runtime::DownloadProgress p;
    p.id = request.id;
    p.repo = request.repo;
    p.file = "config.json";
    p.done = 10;
    p.total = 10;
    progress(p);
    make_model(request.id);
    runtime::DownloadResult result;
    result.dir = request.models_dir + "/" + request.id;
    return result;
  }

  mofa::testing::FakeEngine engine;
  std::atomic<bool> block_downloads{false};
  std::unique_ptr<runtime::ModelManager> models;
  std::unique_ptr<runtime::DownloadManager> downloads;
  ServerContext context;
  std::unique_ptr<Router> router;

 private:
  fs::path home_;
};

}  // namespace mofa::server::testing
