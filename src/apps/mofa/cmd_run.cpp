// `mofa run`: chat with a model in the terminal, or answer one --prompt and exit. Generated text
// goes to stdout as it is produced; everything else goes to stderr.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "apps/mofa/command.h"
#include "apps/mofa/model_flags.h"
#include "core/error.h"
#include "pipelines/llm/generate.h"

namespace mofa::cli {
namespace {

struct RunFlags {
  ModelFlags model;
  SamplingFlags sampling;
  std::string prompt;
  std::string system;
  bool raw = false;
  bool has_prompt = false;
  bool stats = false;
};

// Streams one generation to stdout; returns the generated text.
std::string stream_answer(llm::LlmPipeline& pipe, llm::Sequence& seq,
                          const std::vector<int32_t>& prompt, const llm::GenerateOptions& opts,
                          bool stats) {
  auto gen = pipe.start(seq, prompt, opts);
  std::string answer;
  llm::TokenEvent ev;
  bool more = true;
  while (more) {
    more = gen->step(&ev);
    if (!ev.text.empty()) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
      answer += ev.text;
    }
  }
  const auto& u = gen->usage();
  if (stats) {
    double tps = u.decode_ms > 0 ? (u.completion_tokens - 1) * 1000.0 / u.decode_ms : 0.0;
    std::fprintf(stderr,
                 "\n[prompt %d tokens (%d cached) in %.0f ms, %d tokens at %.1f tok/s, %s]\n",
                 u.prompt_tokens, u.cached_tokens, u.prefill_ms, u.completion_tokens, tps,
                 llm::finish_reason_name(gen->finish_reason()));
  }
  return answer;
}

void run(const RunFlags& f) {
  auto pipe = load_pipeline(f.model);
  auto seq = pipe->new_sequence();
  llm::GenerateOptions opts = f.sampling.options();

  if (f.has_prompt) {
    std::vector<int32_t> ids;
    if (f.raw) {
      ids = pipe->tokenize(f.prompt, true, true);
    } else {
      nlohmann::json messages = nlohmann::json::array();
      if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
      messages.push_back({{"role", "user"}, {"content", f.prompt}});
      ids = pipe->tokenize(
          pipe->apply_chat_template(messages, nullptr, true, nlohmann::json::object()), false,
          true);
    }
    stream_answer(*pipe, *seq, ids, opts, f.stats);
    std::fputc('\n', stdout);
    return;
  }

  std::fprintf(stderr, "Chatting with %s. /clear starts over, /exit or Ctrl-D quits.\n",
               pipe->model_dir().c_str());
  nlohmann::json messages = nlohmann::json::array();
  if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
  std::string line;
  for (;;) {
    std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/clear") {
      messages = nlohmann::json::array();
      if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
      std::fputs("(conversation cleared)\n", stderr);
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    std::vector<int32_t> ids;
    try {
      ids = pipe->tokenize(
          pipe->apply_chat_template(messages, nullptr, true, nlohmann::json::object()), false,
          true);
      std::string answer = stream_answer(*pipe, *seq, ids, opts, true);
      std::fputc('\n', stdout);
      messages.push_back({{"role", "assistant"}, {"content", answer}});
    } catch (const InvalidInput& e) {
      messages.erase(messages.end() - 1);
      std::fprintf(stderr, "error: %s\n", e.what());
    }
  }
}

const CommandRegistration reg("run", [](CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  auto* cmd = app.add_subcommand("run", "chat with a model in the terminal, or answer one prompt");
  add_model_flags(cmd, &flags->model);
  add_sampling_flags(cmd, &flags->sampling);
  cmd->add_option("--prompt,-p", flags->prompt, "answer this prompt and exit")
      ->each([flags](const std::string&) { flags->has_prompt = true; });
  cmd->add_option("--system", flags->system, "system prompt");
  cmd->add_flag("--raw", flags->raw, "send the prompt as plain text, without the chat template");
  cmd->add_flag("--stats", flags->stats, "print token counts and speed on stderr");
  cmd->callback([flags] { run(*flags); });
});

}  // namespace
}  // namespace mofa::cli
