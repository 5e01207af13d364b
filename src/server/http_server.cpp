#include "server/http_server.h"

#include <httplib.h>

#include "core/error.h"
#include "server/client_probe.h"
#include "server/json_body.h"

namespace mofa::server {

struct HttpServer::Impl {
  const Router& router;
  HttpServerOptions options;
  httplib::Server server;
  Impl(const Router& r, HttpServerOptions o) : router(r), options(std::move(o)) {}
};

namespace {

// Writes chunks into httplib's sink; a failed write means the peer is gone.
class SinkWriter : public StreamWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
  bool write(const std::string& chunk) override {
    if (!ok_) return false;
    if (chunk.empty()) return true;
    ok_ = sink_.is_writable() && sink_.write(chunk.data(), chunk.size());
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  httplib::DataSink& sink_;
  bool ok_ = true;
};

void handle(const Router& router, const httplib::Request& in, httplib::Response& out) {
  Request request;
  request.method = in.method;
  request.path = in.path;
  for (const auto& [key, value] : in.params) request.query[key] = value;
  for (const auto& [key, value] : in.headers) request.headers[key] = value;
  request.body = in.body;
  Response response;
  {
    // Found on first use only: most handlers never ask.
    int fd = -2;
    ScopedClientProbe probe([&in, fd]() mutable {
      if (fd == -2)
        fd = find_connection_socket(in.local_addr, in.local_port, in.remote_addr, in.remote_port);
      return fd >= 0 && socket_peer_closed(fd);
    });
    router.dispatch(request, response);
  }
  out.status = response.status;
  for (const auto& [key, value] : response.headers) out.set_header(key, value);
  if (response.stream) {
    auto stream = std::make_shared<std::function<void(StreamWriter&)>>(std::move(response.stream));
    out.set_chunked_content_provider(response.content_type,
                                     [stream](size_t, httplib::DataSink& sink) {
                                       SinkWriter writer(sink);
                                       (*stream)(writer);
                                       if (!writer.ok()) return false;
                                       sink.done();
                                       return true;
                                     });
  } else if (!response.content_type.empty()) {
    out.set_content(response.body, response.content_type.c_str());
  }
}

}  // namespace

HttpServer::HttpServer(const Router& router, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(router, std::move(options))) {
  auto& server = impl_->server;
  const int threads = std::max(impl_->options.threads, 4);
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  server.set_read_timeout(impl_->options.read_timeout_s, 0);
  server.set_write_timeout(impl_->options.write_timeout_s, 0);
  // The router enforces --max-body with a JSON error; httplib's own cap only stops bodies that
  // are far past it from being buffered at all.
  const size_t max_body = router.options().max_body;
  server.set_payload_max_length(max_body > SIZE_MAX / 2 ? SIZE_MAX : max_body * 2 + 4096);
  server.set_pre_routing_handler([&router, max_body](const httplib::Request& in,
                                                     httplib::Response& out) {
    // Refuse an oversized body from its Content-Length, before reading it.
    if (!in.has_header("Content-Length")) return httplib::Server::HandlerResponse::Unhandled;
    const auto length = std::strtoull(in.get_header_value("Content-Length").c_str(), nullptr, 10);
    if (length <= max_body) return httplib::Server::HandlerResponse::Unhandled;
    Request request;
    request.method = in.method;
    request.path = in.path;
    request.body.assign(max_body + 1, ' ');  // lets the router produce its 413 and CORS headers
    for (const auto& [key, value] : in.headers) request.headers[key] = value;
    Response response;
    router.dispatch(request, response);
    out.status = response.status;
    for (const auto& [key, value] : response.headers) out.set_header(key, value);
    out.set_content(response.body, response.content_type.c_str());
    out.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto handler = [&router](const httplib::Request& in, httplib::Response& out) {
    handle(router, in, out);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);
  server.Patch(".*", handler);
  // Errors httplib raises itself (e.g. a body past its cap) still answer in JSON.
  server.set_error_handler([](const httplib::Request&, httplib::Response& out) {
    if (!out.body.empty()) return;
    const std::string message = out.status == 413 ? "the request body is too large"
                                                  : "HTTP error " + std::to_string(out.status);
    out.set_content(openai_error_body(HttpError(out.status, message)), "application/json");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& out,
                                  std::exception_ptr error) {
    std::string message = "internal error";
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message += std::string(": ") + e.what();
    } catch (...) {
    }
    out.status = 500;
    out.set_content(openai_error_body(HttpError(500, message, "server_error")), "application/json");
  });
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::bind() {
  auto& o = impl_->options;
  int port = 0;
  if (o.port == 0) {
    port = impl_->server.bind_to_any_port(o.host);
  } else {
    port = impl_->server.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (port <= 0) {
    throw InvalidInput("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                       " (address in use or not available)");
  }
  o.port = port;
  return port;
}

void HttpServer::serve() {
  impl_->server.listen_after_bind();
}

void HttpServer::stop() {
  if (impl_) impl_->server.stop();
}

}  // namespace mofa::server
