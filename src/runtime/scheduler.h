#pragma once
// The inference scheduler: HTTP threads submit generation requests to a bounded queue; one
// inference thread owns the model's KV-cache slots and interleaves the active generations one
// step at a time. Tokens travel back to the requesting thread over a per-request channel.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pipelines/llm/generate.h"

namespace mofa::runtime {

// Thrown by submit() when the queue holds its maximum number of waiting requests.
class QueueFull : public std::runtime_error {
 public:
  QueueFull(const std::string& what, int retry_after_s)
      : std::runtime_error(what), retry_after_s_(retry_after_s) {}
  int retry_after_s() const { return retry_after_s_; }

 private:
  int retry_after_s_;
};

struct SchedulerOptions {
  int parallel = 1;           // KV-cache slots served together
  int queue_capacity = 64;    // requests waiting for a slot before submit() throws QueueFull
  int64_t slot_capacity = 0;  // tokens per slot; 0 = the model's context length
  std::chrono::milliseconds timeout{0};  // per request, from submission; 0 = none
};

// What the inference thread sends back for one request.
struct StreamEvent {
  enum class Kind { token, done, error };
  Kind kind = Kind::token;
  llm::TokenEvent token;                               // Kind::token
  llm::FinishReason finish = llm::FinishReason::none;  // Kind::done
  llm::Usage usage;                                    // Kind::done
  std::string error;                                   // Kind::error
  bool error_is_timeout = false;                       // Kind::error: the request timed out
  bool error_is_invalid_input = false;  // Kind::error: the pipeline rejected the input
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  llm::GenerateOptions options;
};

// The shared state of one request: its event channel and its cancel flag.
class RequestState {
 public:
  // Blocks until an event arrives or `wait` passes; false on timeout.
  bool next(StreamEvent* event, std::chrono::milliseconds wait);
  // Asks the inference thread to stop this request before its next token and free its slot.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }

  void push(StreamEvent event);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> cancelled_{false};
};

// Owned by the requesting thread; cancels the request when dropped (e.g. the client went away).
class RequestHandle {
 public:
  RequestHandle() = default;
  explicit RequestHandle(std::shared_ptr<RequestState> state) : state_(std::move(state)) {}
  RequestHandle(RequestHandle&&) = default;
  RequestHandle& operator=(RequestHandle&& other) noexcept;
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;
  ~RequestHandle();

  bool next(StreamEvent* event, std::chrono::milliseconds wait) {
    return state_->next(event, wait);
  }
  void cancel() {
    if (state_) state_->cancel();
  }

 private:
  std::shared_ptr<RequestState> state_;
};

struct SchedulerStats {
  int queued = 0;
  int active = 0;
  int slots = 0;
};

class Scheduler {
 public:
  // Creates `options.parallel` sequences on `pipeline` and starts the inference thread.
  Scheduler(llm::LlmPipeline& pipeline, const SchedulerOptions& options);
  // Cancels every request and joins the inference thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; throws QueueFull when the queue is full and InvalidInput when the prompt
  // can never fit a slot.
  RequestHandle submit(GenerationRequest request);

  SchedulerStats stats() const;
  int64_t slot_capacity() const { return slot_capacity_; }
  // Number of requests queued or running; the model manager keeps busy models loaded.
  int busy() const;

 private:
  struct Pending {
    GenerationRequest request;
    std::shared_ptr<RequestState> state;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Slot {
    std::unique_ptr<llm::Sequence> sequence;
    std::unique_ptr<llm::Generation> generation;
    std::shared_ptr<RequestState> state;
    std::chrono::steady_clock::time_point deadline;
  };

  void run();
  void admit_locked(std::vector<Slot*>* started);
  Slot* pick_slot_locked(const std::vector<int32_t>& prompt);
  void finish_slot(Slot& slot, StreamEvent event);

  llm::LlmPipeline& pipeline_;
  SchedulerOptions options_;
  int64_t slot_capacity_ = 0;
  std::vector<Slot> slots_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  int active_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mofa::runtime
