#pragma once
// The socket side: serves a Router over HTTP/1.1 with cpp-httplib, the only file that sees it.
#include <memory>
#include <string>

#include "server/router.h"

namespace mofa::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8090;    // 0: any free port
  int threads = 128;  // connections served at once (streams hold a thread each)
  int read_timeout_s = 30;
  int write_timeout_s = 30;
};

class HttpServer {
 public:
  HttpServer(const Router& router, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; throws InvalidInput naming host and port when that fails. Returns the port.
  int bind();
  // Serves until stop(); call after bind().
  void serve();
  // Makes serve() return; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mofa::server
