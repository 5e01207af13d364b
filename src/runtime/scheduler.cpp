#include "runtime/scheduler.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace mofa::runtime {

void RequestState::push(StreamEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  cv_.notify_one();
}

bool RequestState::next(StreamEvent* event, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!cv_.wait_for(lock, wait, [&] { return !events_.empty(); })) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestState::cancel() {
  cancelled_.store(true);
}

RequestHandle& RequestHandle::operator=(RequestHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

RequestHandle::~RequestHandle() {
  cancel();
}

Scheduler::Scheduler(llm::LlmPipeline& pipeline, const SchedulerOptions& options)
    : pipeline_(pipeline), options_(options) {
  if (options_.parallel < 1) {
    throw InvalidInput("[scheduler] parallel must be at least 1, got " +
                       std::to_string(options_.parallel));
  }
  if (options_.queue_capacity < 0) {
    throw InvalidInput("[scheduler] queue capacity must be >= 0, got " +
                       std::to_string(options_.queue_capacity));
  }
  slot_capacity_ = options_.slot_capacity > 0 ? options_.slot_capacity : pipeline_.context_length();
  slots_.resize(static_cast<size_t>(options_.parallel));
  for (auto& slot : slots_) slot.sequence = pipeline_.new_sequence(slot_capacity_);
  if (!slots_.empty() && slots_[0].sequence->capacity() > 0) {
    slot_capacity_ = slots_[0].sequence->capacity();
  }
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

RequestHandle Scheduler::submit(GenerationRequest request) {
  const auto n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) throw InvalidInput("the prompt is empty: it must hold at least one token");
  if (n >= slot_capacity_) {
    throw InvalidInput("the prompt has " + std::to_string(n) + " tokens but the context is " +
                       std::to_string(slot_capacity_) +
                       " tokens; shorten the prompt or raise --ctx-size");
  }
  auto state = std::make_shared<RequestState>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw QueueFull("the model is being unloaded", 1);
    // Requests whose clients left give their queue place back now, not when a slot frees up.
    std::erase_if(queue_, [](const Pending& p) { return p.state->cancelled(); });
    const int free_slots = options_.parallel - active_;
    if (static_cast<int>(queue_.size()) >= options_.queue_capacity + std::max(free_slots, 0)) {
      throw QueueFull("the server is busy: " + std::to_string(queue_.size()) +
                          " requests are waiting (queue capacity " +
                          std::to_string(options_.queue_capacity) + ")",
                      1 + static_cast<int>(queue_.size()) / std::max(options_.parallel, 1));
    }
    auto deadline = std::chrono::steady_clock::time_point::max();
    if (options_.timeout.count() > 0)
      deadline = std::chrono::steady_clock::now() + options_.timeout;
    queue_.push_back(Pending{std::move(request), state, deadline});
  }
  cv_.notify_all();
  return RequestHandle(std::move(state));
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return SchedulerStats{static_cast<int>(queue_.size()), active_, options_.parallel};
}

int Scheduler::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(queue_.size()) + active_;
}

Scheduler::Slot* Scheduler::pick_slot_locked(const std::vector<int32_t>& prompt) {
  // The longest shared prefix wins: the pipeline then only prefills what is new. Among equals,
  // the slot holding the fewest tokens loses the least cached work.
  Slot* best = nullptr;
  size_t best_prefix = 0;
  size_t best_size = std::numeric_limits<size_t>::max();
  for (auto& slot : slots_) {
    if (slot.generation) continue;
    const auto& cached = slot.sequence->tokens();
    const size_t limit = std::min(cached.size(), prompt.size());
    size_t prefix = 0;
    while (prefix < limit && cached[prefix] == prompt[prefix]) ++prefix;
    if (!best || prefix > best_prefix || (prefix == best_prefix && cached.size() < best_size)) {
      best = &slot;
      best_prefix = prefix;
      best_size = cached.size();
    }
  }
  return best;
}

void Scheduler::admit_locked(std::vector<Slot*>* started) {
  const auto now = std::chrono::steady_clock::now();
  while (!queue_.empty() && active_ < options_.parallel) {
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    if (pending.state->cancelled()) continue;
    if (now >= pending.deadline) {
      StreamEvent event;
      event.kind = StreamEvent::Kind::error;
      event.error = "the request timed out while waiting for a free slot";
      event.error_is_timeout = true;
      pending.state->push(std::move(event));
      continue;
    }
    Slot* slot = pick_slot_locked(pending.request.prompt);
    check_internal(slot != nullptr, "scheduler", "no free slot although active < parallel");
    try {
      slot->generation =
          pipeline_.start(*slot->sequence, pending.request.prompt, pending.request.options);
    } catch (const InvalidInput& e) {
      StreamEvent event;
      event.kind = StreamEvent::Kind::error;
      event.error = e.what();
      event.error_is_invalid_input = true;
      pending.state->push(std::move(event));
      continue;
    } catch (const std::exception& e) {
      StreamEvent event;
      event.kind = StreamEvent::Kind::error;
      event.error = e.what();
      pending.state->push(std::move(event));
      continue;
    }
    slot->state = std::move(pending.state);
    slot->deadline = pending.deadline;
    ++active_;
    started->push_back(slot);
  }
  // Expired requests still waiting are answered now rather than when a slot frees up.
  std::erase_if(queue_, [&](Pending& p) {
    if (now < p.deadline) return false;
    StreamEvent event;
    event.kind = StreamEvent::Kind::error;
    event.error = "the request timed out while waiting for a free slot";
    event.error_is_timeout = true;
    p.state->push(std::move(event));
    return true;
  });
}

void Scheduler::finish_slot(Slot& slot, StreamEvent event) {
  auto state = std::move(slot.state);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slot.generation.reset();
    --active_;
  }
  state->push(std::move(event));
}

void Scheduler::run() {
  std::vector<Slot*> started;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || active_ > 0 || !queue_.empty(); });
      if (stopping_) break;
      started.clear();
      admit_locked(&started);
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& slot : slots_) {
      if (!slot.generation) continue;
      bool timed_out = false;
      if (slot.state->cancelled()) {
        slot.generation->cancel();
      } else if (now >= slot.deadline) {
        slot.generation->cancel();
        timed_out = true;
      }
      llm::TokenEvent token;
      bool more = false;
      try {
        more = slot.generation->step(&token);
      } catch (const std::exception& e) {
        StreamEvent event;
        event.kind = StreamEvent::Kind::error;
        event.error = e.what();
        event.error_is_invalid_input = dynamic_cast<const InvalidInput*>(&e) != nullptr;
        finish_slot(slot, std::move(event));
        continue;
      }
      if (!timed_out && (token.id >= 0 || !token.text.empty() || !token.prompt.empty())) {
        StreamEvent event;
        event.token = std::move(token);
        slot.state->push(std::move(event));
      }
      if (!more) {
        StreamEvent event;
        if (timed_out) {
          event.kind = StreamEvent::Kind::error;
          event.error = "the request exceeded the server timeout of " +
                        std::to_string(options_.timeout.count() / 1000) + " s";
          event.error_is_timeout = true;
        } else {
          event.kind = StreamEvent::Kind::done;
          event.finish = slot.generation->finish_reason();
          event.usage = slot.generation->usage();
        }
        finish_slot(slot, std::move(event));
      }
    }
  }
  // Shutting down: every waiting or running request gets an answer so no client hangs.
  std::lock_guard<std::mutex> lock(mutex_);
  auto shutdown_event = [] {
    StreamEvent event;
    event.kind = StreamEvent::Kind::error;
    event.error = "the model was unloaded while the request was running";
    return event;
  };
  for (auto& pending : queue_) pending.state->push(shutdown_event());
  queue_.clear();
  for (auto& slot : slots_) {
    if (!slot.generation) continue;
    slot.generation->cancel();
    slot.generation.reset();
    slot.state->push(shutdown_event());
    slot.state.reset();
  }
  active_ = 0;
}

}  // namespace mofa::runtime
