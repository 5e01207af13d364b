#pragma once
// The LLM pipeline's public API: load a model directory, format and tokenize prompts, and run
// generations step by step on sequences (KV-cache slots), so a scheduler can interleave several
// requests on one inference thread and cancel any of them between two tokens.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mofa::text {
class Grammar;
}

namespace mofa::llm {

struct SamplingParams {
  float temperature = 0.8f;         // 0 = greedy
  int top_k = 40;                   // 0 = off
  float top_p = 0.95f;              // 1 = off
  float min_p = 0.05f;              // 0 = off
  float repetition_penalty = 1.0f;  // HF/llama.cpp style, over penalty_last_n tokens
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_last_n = 64;  // -1 = whole context
  uint64_t seed = 0;
  bool has_seed = false;  // false: seeded from the clock
  int top_logprobs = 0;   // alternatives reported per token (OpenAI top_logprobs)
  bool logprobs = false;  // report the chosen token's log-probability
};

struct GenerateOptions {
  int max_tokens = -1;  // -1: until eos or the context is full
  bool ignore_eos = false;
  std::vector<std::string> stop;  // matched across token boundaries, never emitted
  SamplingParams sampling;
  // Grammar-constrained sampling: every token keeps the output a prefix of a sentence of this
  // grammar, and end-of-sequence is only allowed once the sentence is complete. null: free text.
  std::shared_ptr<const text::Grammar> grammar;
  // Report the log-probability of every prompt token (OpenAI completions' echo + logprobs) in
  // the first event's `prompt`; the whole prompt is then recomputed, not taken from the cache.
  bool prompt_logprobs = false;
  // Special tokens whose text stays in the output (the rest are dropped): markers the server
  // parses, such as Mistral's [TOOL_CALLS] or Llama's <|python_tag|>.
  std::vector<std::string> keep_special_tokens;
};

enum class FinishReason { none, stop, length, cancelled };
const char* finish_reason_name(FinishReason r);  // "stop", "length", ...

struct TokenLogprob {
  int32_t id = 0;
  // The token's own decoded text (may be partial UTF-8: callers escape bytes as they need).
  std::string text;
  float logprob = 0.0f;
};

// One step's output. `text` is the part of the answer that is now final: complete UTF-8, with
// any text that could still start a stop string held back. It may be empty.
struct TokenEvent {
  int32_t id = -1;  // -1 when the step emitted no token (e.g. the final flush)
  std::string text;
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
  // First event only, with GenerateOptions::prompt_logprobs: one entry per prompt token (id and
  // text set; the first token has no logprob, marked by `chosen.id == -1`).
  std::vector<TokenEvent> prompt;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;    // prompt tokens reused from the sequence's KV cache
  double prefill_ms = 0.0;  // time to first token, inside the engine
  double decode_ms = 0.0;
};

class LlmPipeline;

// A KV-cache slot. Keeps the tokens it holds so the next request that starts with the same
// tokens (the next chat turn) only processes what is new.
class Sequence {
 public:
  virtual ~Sequence() = default;
  virtual int64_t capacity() const = 0;
  virtual const std::vector<int32_t>& tokens() const = 0;
  virtual void clear() = 0;
};

// One request's generation on a sequence.
class Generation {
 public:
  virtual ~Generation() = default;
  // Runs the prefill (first call) or one decode step and fills `event`, which is always valid
  // (a token and/or text to emit). Returns false when this was the last step: finish_reason()
  // is then set, and `event` carries the final token and flush of held-back text, if any.
  virtual bool step(TokenEvent* event) = 0;
  // Stops at the next step with FinishReason::cancelled.
  virtual void cancel() = 0;
  virtual FinishReason finish_reason() const = 0;
  virtual const Usage& usage() const = 0;
};

struct LoadOptions {
  bool exact = false;  // exact matmuls (reference tests) instead of the fast default
  int ctx_size = 0;    // 0: the model's max_position_embeddings (capped by memory)
  int threads = 0;     // 0: hardware concurrency
  // Map the weight files instead of reading them into (huge-page) memory: faster to open and
  // pageable, but decode streams them through 4 KiB pages.
  bool mmap = false;
  // Element types of the KV cache: "f32", "f16" (half the memory), or "" for f16, f32 when
  // exact; checked at load.
  std::string cache_type_k;
  std::string cache_type_v;
};

class LlmPipeline {
 public:
  virtual ~LlmPipeline() = default;

  // Loads config.json, generation_config.json, tokenizer files and weights from `dir`.
  // Throws InvalidInput (bad files), Unsupported (unknown model_type) with a clear message.
  static std::unique_ptr<LlmPipeline> load(const std::string& dir, const LoadOptions& options);

  virtual const std::string& model_dir() const = 0;
  virtual const std::string& model_type() const = 0;
  virtual int64_t context_length() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual const nlohmann::json& config() const = 0;  // config.json as loaded

  // Chat template of the model (ChatML fallback). Throws InvalidInput for template errors.
  virtual std::string apply_chat_template(const nlohmann::json& messages,
                                          const nlohmann::json& tools, bool add_generation_prompt,
                                          const nlohmann::json& kwargs) const = 0;
  virtual std::vector<int32_t> tokenize(const std::string& text, bool add_special,
                                        bool parse_special) const = 0;
  virtual std::string detokenize(const std::vector<int32_t>& ids) const = 0;
  virtual std::string token_text(int32_t id) const = 0;
  virtual int64_t vocab_size() const = 0;

  virtual std::unique_ptr<Sequence> new_sequence(int64_t capacity = 0) = 0;
  // Throws InvalidInput when the prompt does not fit the sequence ("prompt has N tokens, the
  // context is M"). The sequence must outlive the generation.
  virtual std::unique_ptr<Generation> start(Sequence& seq, const std::vector<int32_t>& prompt,
                                            const GenerateOptions& options) = 0;
};

}  // namespace mofa::llm
