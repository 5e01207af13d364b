#pragma once
// HTTP errors: one exception type carrying status and OpenAI's error fields, one mapping from
// the typed mofa errors, and the two body shapes (OpenAI's object, Ollama's string).
#include <exception>
#include <stdexcept>
#include <string>

#include "server/http.h"

namespace mofa::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message, std::string type = "invalid_request_error",
            std::string param = "", std::string code = "")
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  int retry_after_s() const { return retry_after_s_; }
  HttpError& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
  int retry_after_s_ = 0;
};

enum class ErrorStyle { openai, ollama };

// Maps any exception to its HTTP error: InvalidInput 400, ModelNotFound 404, QueueFull 503,
// Unsupported 400 ("unsupported"), anything else 500.
HttpError to_http_error(const std::exception& e);

// {"error": {"message", "type", "param", "code"}} with nulls for empty param/code.
std::string openai_error_body(const HttpError& error);
// {"error": "message"}
std::string ollama_error_body(const HttpError& error);

// Fills `response` with the error in `style`, including Retry-After when set.
void write_error(Response& response, const HttpError& error, ErrorStyle style);

}  // namespace mofa::server
