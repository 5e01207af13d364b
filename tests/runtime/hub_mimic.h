#pragma once
// A local mimic of the Hugging Face hub for the downloader's tests: the revision and tree APIs,
// /resolve/ file downloads with Range, X-Repo-Commit / X-Linked-* headers, hub error codes, and a
// second "CDN" server that LFS files may redirect to. Fault modes make it drop connections, ignore
// Range, corrupt bytes, go slow, rate-limit, require a token or answer for a renamed repo.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/hub_sha256.h"

namespace mofa::test {

struct MimicFile {
  std::string path;
  std::string bytes;
  bool lfs = false;
};

// One request the mimic saw.
struct MimicHit {
  std::string server;  // "hub" or "cdn"
  std::string path;
  std::string range;          // the Range header, empty when absent
  std::string authorization;  // the Authorization header, empty when absent
  int status = 0;
};

class HubMimic {
 public:
  // Fault modes; set them before the request they should affect.
  std::string repo = "mofa-test/tiny-model";
  std::string commit = "0123456789abcdef0123456789abcdef01234567";
  std::vector<MimicFile> files;
  std::string required_token;                  // non-empty: the repo is gated behind this token
  std::map<std::string, std::string> renamed;  // old repo -> repo, answered with relative 307
  std::atomic<bool> lfs_redirect{false};       // LFS files redirect to the CDN server
  std::atomic<bool> ignore_range{false};       // answer 200 with the whole file to Range requests
  std::atomic<bool> corrupt_lfs{false};        // flip a byte of LFS files (sizes stay right)
  std::atomic<bool> siblings_without_size{false};  // force clients onto the tree API
  std::atomic<int> slow_chunk_ms{0};               // pause per 16 KiB chunk
  std::atomic<int> rate_limit_count{0};            // answer this many API requests with 429 first
  // Drop the connection once after this many bytes of the file at `drop_path` (-1: never).
  std::string missing_path;  // /resolve/ answers 404 EntryNotFound for this file
  std::string drop_path;
  std::atomic<int64_t> drop_at{-1};

  HubMimic() {
    files = default_files();
    setup(hub_, "hub");
    setup_cdn();
    hub_port_ = hub_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    hub_thread_ = std::thread([this] { hub_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
    while (!hub_.is_running() || !cdn_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~HubMimic() {
    stopping_ = true;
    hub_.stop();
    cdn_.stop();
    hub_thread_.join();
    cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }
  std::string cdn_endpoint() const { return "http://127.0.0.1:" + std::to_string(cdn_port_); }

  const MimicFile& file(const std::string& path) const {
    for (const auto& f : files) {
      if (f.path == path) return f;
    }
    throw std::runtime_error("mimic has no file " + path);
  }

  std::vector<MimicHit> hits() const {
    std::lock_guard lk(mu_);
    return hits_;
  }
  // Hits whose path ends with `suffix`.
  std::vector<MimicHit> hits_for(const std::string& suffix) const {
    std::vector<MimicHit> out;
    for (const auto& h : hits()) {
      if (h.path.size() >= suffix.size() &&
          h.path.compare(h.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        out.push_back(h);
      }
    }
    return out;
  }

  // Deterministic pseudo-random bytes.
  static std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen() & 0xff);
    return s;
  }

  static std::vector<MimicFile> default_files() {
    return {
        {".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n", false},
        {"config.json", R"({"model_type": "qwen2", "hidden_size": 64})", false},
        {"tokenizer.json", R"({"version": "1.0", "model": {"type": "BPE"}})", false},
        {"README.md", "# tiny model\n", false},
        {"model.safetensors", random_bytes(3 * 1024 * 1024 + 12345, 7), true},
        {"pytorch_model.bin", random_bytes(50000, 9), true},
        {"templates/chat_template.jinja", "{{ messages }}", false},
    };
  }

 private:
  void log(const std::string& server, const httplib::Request& req, int status) {
    std::lock_guard lk(mu_);
    hits_.push_back({server, req.path, req.get_header_value("Range"),
                     req.get_header_value("Authorization"), status});
  }

  // Registers a GET route that records each request before its response goes out.
  template <typename Fn>
  void route(httplib::Server& s, const std::string& name, const char* pattern, Fn fn) {
    s.Get(pattern, [this, name, fn](const httplib::Request& req, httplib::Response& res) {
      fn(req, res);
      // Bodies from providers get their status later: 206 when cpp-httplib serves a Range.
      int status = res.status;
      if (status == -1) status = req.ranges.empty() ? 200 : 206;
      log(name, req, status);
    });
  }

  // Resolves a requested repo; answers the error (and returns false) when it cannot be served.
  bool check_repo(const httplib::Request& req, httplib::Response& res, const std::string& name,
                  const std::string& rest) {
    if (auto it = renamed.find(name); it != renamed.end()) {
      res.status = 307;
      res.set_header("Location", rest.empty() ? "/" + it->second : rest);
      return false;
    }
    if (name != repo) {
      res.status = 404;
      res.set_header("X-Error-Code", "RepoNotFound");
      res.set_header("X-Error-Message", "Repository not found");
      return false;
    }
    if (!required_token.empty() &&
        req.get_header_value("Authorization") != "Bearer " + required_token) {
      res.status = 401;
      res.set_header("X-Error-Code", "GatedRepo");
      res.set_header("X-Error-Message", "Access to model " + repo +
                                            " is restricted. You must have access to it "
                                            "and be authenticated to access it. Please log in.");
      return false;
    }
    return true;
  }

  bool check_revision(httplib::Response& res, const std::string& revision) {
    if (revision == "main" || revision == commit) return true;
    res.status = 404;
    res.set_header("X-Error-Code", "RevisionNotFound");
    res.set_header("X-Error-Message", "Invalid rev id: " + revision);
    return false;
  }

  bool rate_limited(httplib::Response& res) {
    if (rate_limit_count.load() <= 0) return false;
    --rate_limit_count;
    res.status = 429;
    res.set_header("Retry-After", "0");
    res.set_content(R"({"error":"rate limited"})", "application/json");
    return true;
  }

  nlohmann::json sibling(const MimicFile& f) const {
    nlohmann::json s = {{"rfilename", f.path}};
    if (siblings_without_size) return s;
    s["size"] = f.bytes.size();
    if (f.lfs) {
      s["lfs"] = {
          {"sha256", runtime::sha256_hex(f.bytes)}, {"size", f.bytes.size()}, {"pointerSize", 134}};
    }
    return s;
  }

  void setup(httplib::Server& s, const std::string& name) {
    route(
        s, name, R"(/api/models/(.+)/revision/([^/]+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string r = req.matches[1], rev = req.matches[2];
          if (rate_limited(res)) return;
          std::string moved;
          if (auto it = renamed.find(r); it != renamed.end()) {
            moved = "/api/models/" + it->second + "/revision/" + rev;
          }
          if (!check_repo(req, res, r, moved) || !check_revision(res, rev)) return;
          nlohmann::json j = {{"id", repo}, {"sha", commit}, {"siblings", nlohmann::json::array()}};
          for (const auto& f : files) j["siblings"].push_back(sibling(f));
          res.set_content(j.dump(), "application/json");
        });
    route(s, name, R"(/api/models/(.+)/tree/([^/]+))",
          [this](const httplib::Request& req, httplib::Response& res) {
            const std::string r = req.matches[1], rev = req.matches[2];
            if (rate_limited(res)) return;
            if (!check_repo(req, res, r, "") || !check_revision(res, rev)) return;
            // Two entries a page, linked like the hub does, to exercise pagination.
            const size_t cursor =
                req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
            nlohmann::json page = nlohmann::json::array();
            if (cursor == 0) page.push_back({{"type", "directory"}, {"path", "templates"}});
            for (size_t i = cursor; i < files.size() && i < cursor + 2; ++i) {
              const auto& f = files[i];
              nlohmann::json e = {
                  {"type", "file"}, {"path", f.path}, {"size", f.lfs ? 134 : f.bytes.size()}};
              if (f.lfs)
                e["lfs"] = {{"oid", runtime::sha256_hex(f.bytes)}, {"size", f.bytes.size()}};
              page.push_back(e);
            }
            if (cursor + 2 < files.size()) {
              res.set_header("Link", "<" + endpoint() + "/api/models/" + r + "/tree/" + rev +
                                         "?recursive=true&cursor=" + std::to_string(cursor + 2) +
                                         ">; rel=\"next\"");
            }
            res.set_content(page.dump(), "application/json");
          });
    route(s, name, R"(/([^/]+(?:/[^/]+)?)/resolve/([^/]+)/(.+))",
          [this](const httplib::Request& req, httplib::Response& res) {
            const std::string r = req.matches[1], rev = req.matches[2], path = req.matches[3];
            std::string moved;
            if (auto it = renamed.find(r); it != renamed.end()) {
              moved = "/" + it->second + "/resolve/" + rev + "/" + path;
            }
            if (!check_repo(req, res, r, moved) || !check_revision(res, rev)) return;
            const MimicFile* f = nullptr;
            for (const auto& x : files) {
              if (x.path == path) f = &x;
            }
            if (!f || path == missing_path) {
              res.status = 404;
              res.set_header("X-Error-Code", "EntryNotFound");
              return;
            }
            res.set_header("X-Repo-Commit", commit);
            if (f->lfs) {
              const std::string sha = runtime::sha256_hex(f->bytes);
              res.set_header("X-Linked-Size", std::to_string(f->bytes.size()));
              res.set_header("X-Linked-Etag", "\"" + sha + "\"");
              if (lfs_redirect) {
                res.status = 302;
                res.set_header("Location", cdn_endpoint() + "/lfs/" + sha + "?signature=x");
                return;
              }
            }
            serve(req, res, *f);
          });
  }

  void setup_cdn() {
    route(cdn_, "cdn", R"(/lfs/([0-9a-f]{64}))",
          [this](const httplib::Request& req, httplib::Response& res) {
            for (const auto& f : files) {
              if (f.lfs && runtime::sha256_hex(f.bytes) == req.matches[1].str())
                return serve(req, res, f);
            }
            res.status = 404;
          });
  }

  void serve(const httplib::Request&, httplib::Response& res, const MimicFile& f) {
    auto bytes = std::make_shared<std::string>(f.bytes);
    if (f.lfs && corrupt_lfs) (*bytes)[bytes->size() / 2] ^= 0x5a;
    int64_t drop = -1;
    {
      std::lock_guard lk(mu_);
      if (f.path == drop_path && drop_at.load() >= 0) drop = drop_at.exchange(-1);
    }
    res.set_header("ETag", "\"" + runtime::sha256_hex(f.bytes) + "\"");
    res.set_header("Accept-Ranges", "bytes");
    auto chunk = [this, bytes, drop](size_t offset, size_t end, httplib::DataSink& sink) {
      if (stopping_ || (drop >= 0 && static_cast<int64_t>(offset) >= drop)) return false;
      if (slow_chunk_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_chunk_ms));
      size_t n = std::min<size_t>(16384, end - offset);
      if (drop >= 0) n = std::min<size_t>(n, static_cast<size_t>(drop) - offset);
      return sink.write(bytes->data() + offset, n);
    };
    if (ignore_range) {
      // A server that knows nothing of Range: the whole file, status 200.
      res.status = 200;
      res.set_header("Content-Length", std::to_string(bytes->size()));
      res.set_content_provider("application/octet-stream",
                               [bytes, chunk](size_t offset, httplib::DataSink& sink) {
                                 if (offset >= bytes->size()) {
                                   sink.done();
                                   return true;
                                 }
                                 return chunk(offset, bytes->size(), sink);
                               });
      return;
    }
    // cpp-httplib answers Range requests itself (206, Content-Range) from this provider.
    res.set_content_provider(bytes->size(), "application/octet-stream",
                             [chunk](size_t offset, size_t length, httplib::DataSink& sink) {
                               return chunk(offset, offset + length, sink);
                             });
  }

  httplib::Server hub_, cdn_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::thread hub_thread_, cdn_thread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<MimicHit> hits_;
};

}  // namespace mofa::test
