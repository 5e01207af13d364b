#pragma once
// A generation as an HTTP handler runs it: submitted to the model's scheduler, read back event by
// event (streaming) or collected whole, with its errors mapped to HTTP and its numbers counted.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model_manager.h"
#include "runtime/scheduler.h"
#include "server/errors.h"
#include "server/server_context.h"

namespace mofa::server {

struct GenerationResult {
  std::string text;
  std::vector<llm::TokenEvent> tokens;
  std::vector<llm::TokenEvent> prompt;  // with GenerateOptions::prompt_logprobs
  llm::FinishReason finish = llm::FinishReason::none;
  llm::Usage usage;
};

class GenerationCall {
 public:
  // Submits the prompt. Throws HttpError 400 (code context_length_exceeded, param
  // `prompt_param`) when it does not fit, 503 with Retry-After when the queue is full.
  GenerationCall(ServerContext& context, std::shared_ptr<runtime::LoadedModel> model,
                 std::vector<int32_t> prompt, llm::GenerateOptions options,
                 const std::string& prompt_param);

  // Waits up to `wait` for the next event; false when none came. Errors arrive as events.
  bool next(runtime::StreamEvent* event, std::chrono::milliseconds wait);
  // Stops the generation (the client went away); its slot frees before the next token.
  void cancel();
  // Waits for the whole answer; throws HttpError for an error event, and cancels the request
  // (HttpError 499) when the client of the current HTTP handler hangs up meanwhile.
  GenerationResult collect();

  const runtime::LoadedModel& model() const { return *model_; }
  int prompt_tokens() const { return static_cast<int>(prompt_size_); }
  // Nanoseconds since submission (Ollama's total_duration).
  int64_t elapsed_ns() const;

 private:
  void record(const runtime::StreamEvent& event);

  ServerContext& context_;
  std::shared_ptr<runtime::LoadedModel> model_;  // keeps the model loaded while we run
  runtime::RequestHandle handle_;
  size_t prompt_size_ = 0;
  std::chrono::steady_clock::time_point submitted_;
  std::chrono::steady_clock::time_point first_token_;
  bool got_token_ = false;
  bool finished_ = false;
};

// The HTTP error an error event stands for: 504 timeout, 400 invalid input, else 500.
HttpError error_of(const runtime::StreamEvent& event);

// The finish_reason an API reports ("stop" or "length").
const char* finish_reason_text(llm::FinishReason reason);

// A random id like "chatcmpl-3f9a..." (24 hex digits).
std::string random_id(const std::string& prefix);

}  // namespace mofa::server
