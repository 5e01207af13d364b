// LlmPipeline: a loaded model directory (weights, tokenizer, chat template, generation config)
// and step-wise generation on KV-cache sequences with prefix reuse.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/thread_pool.h"
#include "io/model_config.h"
#include "io/weight_store.h"
#include "models/registry.h"
#include "pipelines/llm/generate.h"
#include "pipelines/llm/sampler.h"
#include "pipelines/llm/stop_strings.h"
#include "text/chat_template.h"
#include "text/grammar/matcher.h"
#include "text/grammar/token_table.h"
#include "text/tokenizer.h"

namespace mofa::llm {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::cancelled:
      return "cancelled";
    case FinishReason::none:
      break;
  }
  return "none";
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

class KvSequence final : public Sequence {
 public:
  explicit KvSequence(std::unique_ptr<models::KvCache> cache) : cache_(std::move(cache)) {}
  int64_t capacity() const override { return cache_->max_capacity(); }
  const std::vector<int32_t>& tokens() const override { return tokens_; }
  void clear() override { tokens_.clear(); }

  models::KvCache& cache() { return *cache_; }
  std::vector<int32_t>& mutable_tokens() { return tokens_; }

 private:
  std::unique_ptr<models::KvCache> cache_;
  std::vector<int32_t> tokens_;  // the tokens whose keys/values the cache holds, in order
};

class Pipeline;

class TokenGeneration final : public Generation {
 public:
  TokenGeneration(Pipeline& p, KvSequence& seq, std::vector<int32_t> prompt,
                  const GenerateOptions& options, size_t reuse);
  bool step(TokenEvent* event) override;
  void cancel() override { cancelled_.store(true, std::memory_order_relaxed); }
  FinishReason finish_reason() const override { return finish_; }
  const Usage& usage() const override { return usage_; }

 private:
  const float* prefill();
  int32_t sample(float* logits);
  int32_t closing_token();
  bool finish(FinishReason why, TokenEvent* event);

  Pipeline& p_;
  KvSequence& seq_;
  std::vector<int32_t> prompt_;
  GenerateOptions options_;
  Sampler sampler_;
  text::IncrementalDetokenizer detok_;
  StopStrings stops_;
  std::vector<int32_t> history_;  // prompt + generated, for penalties
  int32_t last_ = -1;
  bool started_ = false;
  FinishReason finish_ = FinishReason::none;
  std::atomic<bool> cancelled_{false};
  Usage usage_;
  std::vector<std::pair<int32_t, float>> top_;
  std::vector<TokenEvent> prompt_events_;  // prompt log-probabilities, handed out once
  // Grammar-constrained sampling (GenerateOptions::grammar): the model's token table and this
  // generation's position in the grammar.
  const text::TokenTable* tokens_ = nullptr;
  std::unique_ptr<text::GrammarMatcher> matcher_;
  std::vector<uint64_t> mask_;  // the grammar's mask without eos, under ignore_eos
  // Near max_tokens (or the context's end) the shortest completion of the grammar is forced, so
  // a cut answer still parses; the finish reason stays "length".
  std::vector<int32_t> forced_;
  bool closing_ = false;
};

class Pipeline final : public LlmPipeline {
 public:
  Pipeline(const std::string& dir, const LoadOptions& options) : dir_(dir) {
    if (options.threads > 0) thread_pool_set_threads(options.threads);
    cfg_ = models::causal_lm_config(dir);
    gen_cfg_ = io::GenerationConfig::load(dir);
    tokenizer_ = text::Tokenizer::load(dir);
    template_ = std::make_unique<text::ChatTemplate>(text::ChatTemplate::load(dir));
    io::WeightStore store = io::WeightStore::open_dir(
        dir, options.mmap ? FileResidency::mapped : FileResidency::memory);
    models::ModelOptions mo;
    mo.mode = options.exact ? ops::MatmulMode::exact : ops::MatmulMode::fast;
    mo.kv_types = {
        models::kv_cache_type_from_name(options.cache_type_k, options.exact, "cache type of K"),
        models::kv_cache_type_from_name(options.cache_type_v, options.exact, "cache type of V")};
    model_ = models::causal_lm_create(cfg_, store, mo);
    // A config without max_position_embeddings gets llama.cpp's customary 4096.
    context_ = options.ctx_size > 0               ? options.ctx_size
               : cfg_.max_position_embeddings > 0 ? cfg_.max_position_embeddings
                                                  : 4096;
    std::set<int64_t> eos(cfg_.eos_token_id.begin(), cfg_.eos_token_id.end());
    eos.insert(gen_cfg_.eos_token_id.begin(), gen_cfg_.eos_token_id.end());
    if (auto id = tokenizer_->eos_id()) eos.insert(*id);
    eos_.assign(eos.begin(), eos.end());
  }

  const std::string& model_dir() const override { return dir_; }
  const std::string& model_type() const override { return cfg_.model_type; }
  int64_t context_length() const override { return context_; }
  size_t weight_bytes() const override { return model_->weight_bytes(); }
  const nlohmann::json& config() const override { return cfg_.raw; }

  std::string apply_chat_template(const nlohmann::json& messages, const nlohmann::json& tools,
                                  bool add_generation_prompt,
                                  const nlohmann::json& kwargs) const override {
    return template_->render(messages, tools, add_generation_prompt, kwargs);
  }
  std::vector<int32_t> tokenize(const std::string& text, bool add_special,
                                bool parse_special) const override {
    return tokenizer_->encode(text, add_special, parse_special);
  }
  std::string detokenize(const std::vector<int32_t>& ids) const override {
    return tokenizer_->decode(ids, false);
  }
  std::string token_text(int32_t id) const override { return tokenizer_->decode({id}, false); }
  int64_t vocab_size() const override { return model_->vocab_size(); }

  std::unique_ptr<Sequence> new_sequence(int64_t capacity) override {
    int64_t cap = capacity > 0 ? std::min(capacity, context_) : context_;
    return std::make_unique<KvSequence>(model_->new_cache(cap));
  }

  std::unique_ptr<Generation> start(Sequence& seq, const std::vector<int32_t>& prompt,
                                    const GenerateOptions& options) override {
    auto& kv = dynamic_cast<KvSequence&>(seq);
    if (prompt.empty()) throw InvalidInput("the prompt is empty (0 tokens)");
    if (static_cast<int64_t>(prompt.size()) >= kv.capacity())
      throw InvalidInput("the prompt has " + std::to_string(prompt.size()) +
                         " tokens but the context is " + std::to_string(kv.capacity()) +
                         " tokens (the prompt plus at least one generated token must fit)");
    for (int32_t id : prompt)
      if (id < 0 || id >= model_->vocab_size())
        throw InvalidInput("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                           std::to_string(model_->vocab_size() - 1) + ")");
    // Keep the cached prefix this prompt shares; the last prompt token is always recomputed
    // because its logits are needed.
    const auto& cached = kv.tokens();
    size_t common = 0;
    while (common < cached.size() && common < prompt.size() && cached[common] == prompt[common])
      ++common;
    // Prompt log-probabilities need every prompt row's logits, so nothing is reused then.
    size_t reuse = options.prompt_logprobs ? 0 : std::min(common, prompt.size() - 1);
    // A cache with a running state (linear attention) can only rewind to certain positions.
    reuse = static_cast<size_t>(kv.cache().resume_point(static_cast<int64_t>(reuse)));
    kv.mutable_tokens().resize(reuse);
    return std::make_unique<TokenGeneration>(*this, kv, prompt, options, reuse);
  }

  models::CausalLM& model() { return *model_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  // The bytes of every token, built on the first constrained request and shared by all.
  const text::TokenTable& token_table() {
    std::call_once(token_table_once_, [&] {
      token_table_ = text::TokenTable::build(*tokenizer_, model_->vocab_size(), eos_);
    });
    return *token_table_;
  }
  bool is_eos(int32_t id) const {
    return std::binary_search(eos_.begin(), eos_.end(), static_cast<int64_t>(id));
  }

 private:
  std::string dir_;
  io::ModelConfig cfg_;
  io::GenerationConfig gen_cfg_;
  std::shared_ptr<text::Tokenizer> tokenizer_;
  std::unique_ptr<text::ChatTemplate> template_;
  std::unique_ptr<models::CausalLM> model_;
  int64_t context_ = 0;
  std::vector<int64_t> eos_;
  std::once_flag token_table_once_;
  std::shared_ptr<const text::TokenTable> token_table_;
};

TokenGeneration::TokenGeneration(Pipeline& p, KvSequence& seq, std::vector<int32_t> prompt,
                                 const GenerateOptions& options, size_t reuse)
    : p_(p),
      seq_(seq),
      prompt_(std::move(prompt)),
      options_(options),
      sampler_(options.sampling, p.vocab_size()),
      detok_(p.tokenizer(), true),
      stops_(options.stop),
      history_(prompt_) {
  usage_.prompt_tokens = static_cast<int>(prompt_.size());
  usage_.cached_tokens = static_cast<int>(reuse);
  for (const auto& token : options.keep_special_tokens)
    if (auto id = p.tokenizer().token_to_id(token)) detok_.keep_special(*id);
  if (options_.grammar) {
    tokens_ = &p.token_table();
    matcher_ = std::make_unique<text::GrammarMatcher>(options_.grammar);
  }
}

const float* TokenGeneration::prefill() {
  auto& model = p_.model();
  auto& tokens = seq_.mutable_tokens();
  const bool scoring = options_.prompt_logprobs;
  const int64_t vocab = p_.vocab_size();
  if (scoring) {
    prompt_events_.resize(prompt_.size());
    for (size_t i = 0; i < prompt_.size(); ++i) {
      prompt_events_[i].id = prompt_[i];
      prompt_events_[i].text = p_.token_text(prompt_[i]);
      prompt_events_[i].chosen.id = -1;  // the first token has nothing to be predicted from
    }
  }
  Tensor logits;
  const float* last_row = nullptr;
  size_t pos = tokens.size();
  while (pos < prompt_.size()) {
    size_t n = std::min<size_t>(prompt_.size() - pos, static_cast<size_t>(model.max_batch()));
    logits = model.forward(prompt_.data() + pos, static_cast<int64_t>(n), static_cast<int64_t>(pos),
                           seq_.cache(), scoring);
    const float* rows = logits.data<float>();
    if (scoring) {
      // Row i predicts prompt token pos + i + 1.
      for (size_t i = 0; i < n && pos + i + 1 < prompt_.size(); ++i) {
        const float* row = rows + static_cast<int64_t>(i) * vocab;
        TokenEvent& next = prompt_events_[pos + i + 1];
        next.chosen = {next.id, next.text, sampler_.logprob_of(row, next.id)};
        if (options_.sampling.top_logprobs > 0) {
          sampler_.top_logprobs(row, options_.sampling.top_logprobs, &top_);
          for (auto& [tid, lp] : top_) next.top.push_back({tid, p_.token_text(tid), lp});
        }
      }
      last_row = rows + static_cast<int64_t>(n - 1) * vocab;
    } else {
      last_row = rows;
    }
    tokens.insert(tokens.end(), prompt_.begin() + pos, prompt_.begin() + pos + n);
    pos += n;
    if (cancelled_.load(std::memory_order_relaxed)) return nullptr;
  }
  return last_row;
}

bool TokenGeneration::finish(FinishReason why, TokenEvent* event) {
  finish_ = why;
  if (why != FinishReason::cancelled && !stops_.stopped()) {
    event->text += stops_.push(detok_.flush());
    event->text += stops_.flush();
  }
  return false;
}

bool TokenGeneration::step(TokenEvent* event) {
  *event = TokenEvent();
  if (finish_ != FinishReason::none) return false;
  if (cancelled_.load(std::memory_order_relaxed)) return finish(FinishReason::cancelled, event);
  const auto t0 = Clock::now();
  const float* row;
  if (!started_) {
    started_ = true;
    row = prefill();
    if (!row) return finish(FinishReason::cancelled, event);
    event->prompt = std::move(prompt_events_);
    if (options_.max_tokens == 0) {  // scoring only (echo with max_tokens 0)
      usage_.prefill_ms = ms_since(t0);
      return finish(FinishReason::length, event);
    }
  } else {
    int64_t n_past = static_cast<int64_t>(seq_.tokens().size());
    Tensor logits = p_.model().forward(&last_, 1, n_past, seq_.cache(), false);
    seq_.mutable_tokens().push_back(last_);
    row = logits.data<float>();
  }
  float* logits = const_cast<float*>(row);

  int32_t id;
  if (options_.sampling.logprobs || options_.sampling.top_logprobs > 0) {
    sampler_.top_logprobs(logits, options_.sampling.top_logprobs, &top_);
    std::vector<float> raw(logits, logits + p_.vocab_size());
    id = sample(logits);
    if (id < 0) return finish(FinishReason::stop, event);
    event->chosen = {id, p_.token_text(id), sampler_.logprob_of(raw.data(), id)};
    for (auto& [tid, lp] : top_) event->top.push_back({tid, p_.token_text(tid), lp});
  } else {
    id = sample(logits);
  }
  if (usage_.completion_tokens == 0)
    usage_.prefill_ms = ms_since(t0);
  else
    usage_.decode_ms += ms_since(t0);

  // With a grammar: no allowed token means the sentence is complete (eos is rejected when
  // ignore_eos is set) or, for a grammar with no way forward, that nothing valid can follow.
  if (id < 0) return finish(FinishReason::stop, event);
  if (!options_.ignore_eos && p_.is_eos(id))
    return finish(closing_ ? FinishReason::length : FinishReason::stop, event);
  if (matcher_) matcher_->accept_token(*tokens_, id);

  event->id = id;
  last_ = id;
  history_.push_back(id);
  ++usage_.completion_tokens;
  event->text = stops_.push(detok_.push(id));
  if (stops_.stopped()) return finish(FinishReason::stop, event);
  // The grammar's sentence is complete and closed: nothing more may follow.
  if (matcher_ && !matcher_->can_continue())
    return finish(closing_ ? FinishReason::length : FinishReason::stop, event);
  if (options_.max_tokens >= 0 && usage_.completion_tokens >= options_.max_tokens)
    return finish(FinishReason::length, event);
  // Prompt plus answer never exceed the context (the last token needs no cache slot, but
  // counting it keeps "context" meaning what users expect: all tokens of the exchange).
  if (static_cast<int64_t>(seq_.tokens().size()) + 1 >= seq_.capacity())
    return finish(FinishReason::length, event);
  return true;
}

// The next token of the forced closing, or -1 while the answer has room to finish by itself.
int32_t TokenGeneration::closing_token() {
  // Tokens a single sampled token may add to the shortest completion (opening "[{" and such)
  // before closing starts; and how close to the limit the completion is computed at all.
  constexpr int64_t kMargin = 8, kWindow = 96;
  if (!forced_.empty()) {
    const int32_t id = forced_.front();
    forced_.erase(forced_.begin());
    if (matcher_->accepts_token(*tokens_, id)) return id;
    forced_.clear();
    return -1;
  }
  int64_t remaining = seq_.capacity() - static_cast<int64_t>(seq_.tokens().size()) - 1;
  if (options_.max_tokens >= 0)
    remaining = std::min<int64_t>(remaining, options_.max_tokens - usage_.completion_tokens);
  if (remaining > kWindow) return -1;
  const auto rest = matcher_->shortest_completion();
  if (!rest) return -1;
  if (rest->empty()) {
    if (remaining > kMargin || options_.ignore_eos || tokens_->eos_ids().empty()) return -1;
    closing_ = true;
    return tokens_->eos_ids().front();
  }
  std::vector<int32_t> ids = p_.tokenize(*rest, false, false);
  if (ids.empty() || static_cast<int64_t>(ids.size()) + kMargin < remaining) return -1;
  closing_ = true;
  forced_.assign(ids.begin() + 1, ids.end());
  if (matcher_->accepts_token(*tokens_, ids.front())) return ids.front();
  forced_.clear();
  return -1;
}

int32_t TokenGeneration::sample(float* logits) {
  if (!matcher_) return sampler_.sample(logits, history_);
  if (const int32_t forced = closing_token(); forced >= 0) return forced;
  const bool eos_ok = !options_.ignore_eos;
  auto accepts = [&](int32_t id) {
    if (tokens_->kind(id) == text::TokenTable::Kind::eos && !eos_ok) return false;
    return matcher_->accepts_token(*tokens_, id);
  };
  auto allowed = [&]() -> const std::vector<uint64_t>& {
    if (eos_ok) return matcher_->allowed_tokens(*tokens_);
    mask_ = matcher_->allowed_tokens(*tokens_);
    for (int32_t e : tokens_->eos_ids())
      mask_[static_cast<size_t>(e) / 64] &= ~(uint64_t{1} << (e % 64));
    return mask_;
  };
  return sampler_.sample_constrained(logits, history_, accepts, allowed);
}

}  // namespace

std::unique_ptr<LlmPipeline> LlmPipeline::load(const std::string& dir, const LoadOptions& options) {
  return std::make_unique<Pipeline>(dir, options);
}

}  // namespace mofa::llm
