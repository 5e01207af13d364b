#pragma once
// A small deterministic LlmPipeline for scheduler, model-manager and route tests: bytes are
// tokens, the chat template is ChatML, and every generation spells out a fixed answer one byte
// per step. A gate can hold steps back so tests control the interleaving without timing.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "pipelines/llm/generate.h"

namespace mofa::testing {

// Shared by a fake pipeline and its generations; tests inspect and steer it.
struct FakeEngine {
  std::mutex mutex;
  std::condition_variable cv;
  int permits = -1;                   // steps allowed to run; -1 = unlimited
  std::vector<std::string> step_log;  // tag of each step run, in order
  int steps_after_cancel = 0;         // steps that ran after cancel() was observed
  std::string answer = "Hello from the fake model.";
  int64_t context = 128;

  void allow(int n) {
    std::lock_guard<std::mutex> lock(mutex);
    permits = permits < 0 ? n : permits + n;
    cv.notify_all();
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex);
    permits = -1;
    cv.notify_all();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex);
    permits = 0;
  }
  void take(const std::string& tag) {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return permits != 0; });
    if (permits > 0) --permits;
    step_log.push_back(tag);
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mutex);
    return step_log;
  }
};

constexpr int32_t kEos = 256;
constexpr int32_t kImStart = 257;
constexpr int32_t kImEnd = 258;
constexpr int64_t kVocab = 259;

class FakeSequence : public llm::Sequence {
 public:
  explicit FakeSequence(int64_t capacity) : capacity_(capacity) {}
  int64_t capacity() const override { return capacity_; }
  const std::vector<int32_t>& tokens() const override { return tokens_; }
  void clear() override { tokens_.clear(); }
  std::vector<int32_t> tokens_;

 private:
  int64_t capacity_;
};

class FakeGeneration : public llm::Generation {
 public:
  FakeGeneration(FakeEngine& engine, FakeSequence& seq, std::vector<int32_t> prompt,
                 llm::GenerateOptions options)
      : engine_(engine), seq_(seq), options_(std::move(options)) {
    size_t prefix = 0;
    while (prefix < seq_.tokens_.size() && prefix < prompt.size() &&
           seq_.tokens_[prefix] == prompt[prefix]) {
      ++prefix;
    }
    usage_.prompt_tokens = static_cast<int>(prompt.size());
    usage_.cached_tokens = static_cast<int>(std::min(prefix, prompt.size() - 1));
    seq_.tokens_ = prompt;
    tag_ = tag_of(prompt);  // names the request in the step log
  }
  bool step(llm::TokenEvent* event) override {
    *event = llm::TokenEvent{};
    if (cancelled_) {
      finish_ = llm::FinishReason::cancelled;
      return false;
    }
    engine_.take(tag_);
    const size_t i = static_cast<size_t>(usage_.completion_tokens);
    const bool at_max = options_.max_tokens > 0 && usage_.completion_tokens >= options_.max_tokens;
    const bool full = static_cast<int64_t>(seq_.tokens_.size()) >= seq_.capacity();
    if (at_max || full) {
      finish_ = llm::FinishReason::length;
      return false;
    }
    int32_t id;
    if (i < engine_.answer.size())
      id = static_cast<unsigned char>(engine_.answer[i]);
    else if (options_.ignore_eos)
      id = 'x';
    else
      id = kEos;
    usage_.completion_tokens += 1;
    seq_.tokens_.push_back(id);
    event->id = id;
    event->chosen = {id, id < 256 ? std::string(1, static_cast<char>(id)) : "", -0.25f};
    for (int k = 0; k < options_.sampling.top_logprobs; ++k) {
      event->top.push_back({id + k, std::string(1, static_cast<char>('a' + k)), -0.25f - k});
    }
    if (id == kEos) {
      finish_ = llm::FinishReason::stop;
      event->text = flush();
      return false;
    }
    pending_ += static_cast<char>(id);
    text_ += static_cast<char>(id);
    for (const auto& stop : options_.stop) {
      const auto pos = text_.find(stop);
      if (pos != std::string::npos) {
        // Emit what precedes the stop string, never the stop string itself.
        const size_t emitted = text_.size() - pending_.size();
        event->text = pos > emitted ? text_.substr(emitted, pos - emitted) : "";
        pending_.clear();
        finish_ = llm::FinishReason::stop;
        return false;
      }
    }
    // Hold back text that could still start a stop string.
    size_t hold = 0;
    for (const auto& stop : options_.stop) {
      for (size_t n = std::min(stop.size() - 1, text_.size()); n > hold; --n) {
        if (text_.compare(text_.size() - n, n, stop, 0, n) == 0) {
          hold = n;
          break;
        }
      }
    }
    event->text = pending_.substr(0, pending_.size() - std::min(hold, pending_.size()));
    pending_.erase(0, event->text.size());
    return true;
  }
  void cancel() override { cancelled_ = true; }
  llm::FinishReason finish_reason() const override { return finish_; }
  const llm::Usage& usage() const override { return usage_; }

 private:
  static std::string tag_of(const std::vector<int32_t>& prompt) {
    std::string tag;
    for (int32_t id : prompt) {
      if (id < 256) tag.push_back(static_cast<char>(id));
    }
    return tag;
  }
  std::string flush() {
    std::string out = pending_;
    pending_.clear();
    return out;
  }
  FakeEngine& engine_;
  FakeSequence& seq_;
  llm::GenerateOptions options_;
  llm::Usage usage_;
  llm::FinishReason finish_ = llm::FinishReason::none;
  bool cancelled_ = false;
  std::string tag_;
  std::string text_;
  std::string pending_;
};

class FakePipeline : public llm::LlmPipeline {
 public:
  FakePipeline(FakeEngine& engine, std::string dir) : engine_(engine), dir_(std::move(dir)) {
    config_ = {{"model_type", "fake"}, {"max_position_embeddings", engine.context}};
  }
  const std::string& model_dir() const override { return dir_; }
  const std::string& model_type() const override { return type_; }
  int64_t context_length() const override { return engine_.context; }
  size_t weight_bytes() const override { return 1000; }
  const nlohmann::json& config() const override { return config_; }
  std::string apply_chat_template(const nlohmann::json& messages, const nlohmann::json&,
                                  bool add_generation_prompt,
                                  const nlohmann::json&) const override {
    std::string out;
    for (const auto& m : messages) {
      out += "<|im_start|>" + m.at("role").get<std::string>() + "\n" +
             m.at("content").get<std::string>() + "<|im_end|>\n";
    }
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
  std::vector<int32_t> tokenize(const std::string& text, bool, bool parse_special) const override {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < text.size();) {
      if (parse_special && text.compare(i, 12, "<|im_start|>") == 0) {
        ids.push_back(kImStart);
        i += 12;
      } else if (parse_special && text.compare(i, 10, "<|im_end|>") == 0) {
        ids.push_back(kImEnd);
        i += 10;
      } else {
        ids.push_back(static_cast<unsigned char>(text[i++]));
      }
    }
    return ids;
  }
  std::string detokenize(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (int32_t id : ids) out += token_text(id);
    return out;
  }
  std::string token_text(int32_t id) const override {
    if (id == kImStart) return "<|im_start|>";
    if (id == kImEnd) return "<|im_end|>";
    if (id == kEos) return "";
    return std::string(1, static_cast<char>(id));
  }
  int64_t vocab_size() const override { return kVocab; }
  std::unique_ptr<llm::Sequence> new_sequence(int64_t capacity) override {
    return std::make_unique<FakeSequence>(capacity > 0 ? capacity : engine_.context);
  }
  std::unique_ptr<llm::Generation> start(llm::Sequence& seq, const std::vector<int32_t>& prompt,
                                         const llm::GenerateOptions& options) override {
    if (static_cast<int64_t>(prompt.size()) >= seq.capacity()) {
      throw InvalidInput("prompt has " + std::to_string(prompt.size()) +
                         " tokens, the context is " + std::to_string(seq.capacity()));
    }
    return std::make_unique<FakeGeneration>(engine_, static_cast<FakeSequence&>(seq), prompt,
                                            options);
  }

 private:
  FakeEngine& engine_;
  std::string dir_;
  std::string type_ = "fake";
  nlohmann::json config_;
};

}  // namespace mofa::testing
