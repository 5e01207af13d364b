#include "server/generation.h"

#include <random>

#include "core/error.h"
#include "server/client_probe.h"

namespace mofa::server {

const char* finish_reason_text(llm::FinishReason reason) {
  return reason == llm::FinishReason::length ? "length" : "stop";
}

std::string random_id(const std::string& prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id.push_back(hex[rng() & 15]);
  return id;
}

HttpError error_of(const runtime::StreamEvent& event) {
  if (event.error_is_timeout) return HttpError(504, event.error, "server_error", "", "timeout");
  if (event.error_is_invalid_input) return HttpError(400, event.error);
  return HttpError(500, "generation failed: " + event.error, "server_error");
}

GenerationCall::GenerationCall(ServerContext& context, std::shared_ptr<runtime::LoadedModel> model,
                               std::vector<int32_t> prompt, llm::GenerateOptions options,
                               const std::string& prompt_param)
    : context_(context), model_(std::move(model)), prompt_size_(prompt.size()) {
  const int64_t capacity = model_->scheduler->slot_capacity();
  if (static_cast<int64_t>(prompt.size()) >= capacity) {
    throw HttpError(400,
                    "the prompt has " + std::to_string(prompt.size()) +
                        " tokens but the context of model '" + model_->id + "' is " +
                        std::to_string(capacity) +
                        " tokens; shorten the prompt or raise --ctx-size (it is never truncated)",
                    "invalid_request_error", prompt_param, "context_length_exceeded");
  }
  if (prompt.empty()) {
    throw HttpError(400, "the prompt is empty", "invalid_request_error", prompt_param);
  }
  submitted_ = std::chrono::steady_clock::now();
  try {
    handle_ = model_->scheduler->submit(runtime::GenerationRequest{std::move(prompt), options});
  } catch (const runtime::QueueFull&) {
    context_.metrics.add_rejected();
    throw;
  }
}

int64_t GenerationCall::elapsed_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              submitted_)
      .count();
}

void GenerationCall::record(const runtime::StreamEvent& event) {
  using Kind = runtime::StreamEvent::Kind;
  if (event.kind == Kind::token && !got_token_) {
    got_token_ = true;
    first_token_ = std::chrono::steady_clock::now();
  }
  if (event.kind == Kind::done && !finished_) {
    finished_ = true;
    context_.metrics.add_prompt_tokens(event.usage.prompt_tokens);
    context_.metrics.add_generated_tokens(event.usage.completion_tokens);
    context_.metrics.add_cached_tokens(event.usage.cached_tokens);
    const double ttft =
        got_token_ ? std::chrono::duration<double>(first_token_ - submitted_).count() : 0.0;
    context_.metrics.add_generation(ttft, event.usage.decode_ms / 1000.0,
                                    std::max(event.usage.completion_tokens - 1, 0));
  }
  if (event.kind == Kind::error) finished_ = true;
}

bool GenerationCall::next(runtime::StreamEvent* event, std::chrono::milliseconds wait) {
  if (!handle_.next(event, wait)) return false;
  record(*event);
  return true;
}

void GenerationCall::cancel() {
  if (!finished_) {
    finished_ = true;
    context_.metrics.add_cancelled();
  }
  handle_.cancel();
}

GenerationResult GenerationCall::collect() {
  GenerationResult result;
  runtime::StreamEvent event;
  auto last_probe = std::chrono::steady_clock::now();
  for (;;) {
    // A client that hung up cancels its request: checked between events at most every 100 ms
    // (one non-blocking peek at the socket), and whenever no event came.
    const bool got = next(&event, std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    if (!got || now - last_probe >= std::chrono::milliseconds(100)) {
      last_probe = now;
      if (current_client_gone()) {
        cancel();
        throw HttpError(499, "the client closed the connection", "invalid_request_error", "",
                        "client_closed_request");
      }
    }
    if (!got) continue;
    switch (event.kind) {
      case runtime::StreamEvent::Kind::token:
        result.text += event.token.text;
        if (!event.token.prompt.empty()) result.prompt = std::move(event.token.prompt);
        if (event.token.id >= 0) result.tokens.push_back(std::move(event.token));
        break;
      case runtime::StreamEvent::Kind::done:
        result.finish = event.finish;
        result.usage = event.usage;
        return result;
      case runtime::StreamEvent::Kind::error:
        throw error_of(event);
    }
  }
}

}  // namespace mofa::server
