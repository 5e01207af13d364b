#include <sstream>

#include "server/extras/routes.h"
#include "server/router.h"

namespace mofa::server::extras {
namespace {

std::string label_escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void metrics(ServerContext& context, const Request&, Response& response) {
  const auto m = context.metrics.snapshot();
  std::ostringstream out;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
  };
  out << "# HELP mofa_requests_total HTTP requests served, by route and status.\n"
      << "# TYPE mofa_requests_total counter\n";
  if (context.router) {
    for (const auto& [key, count] : context.router->request_counts()) {
      out << "mofa_requests_total{route=\"" << label_escape(key.first) << "\",status=\""
          << key.second << "\"} " << count << '\n';
    }
  }
  metric("mofa_prompt_tokens_total", "counter", "Prompt tokens of finished generations.",
         m.prompt_tokens);
  metric("mofa_prompt_tokens_cached_total", "counter", "Prompt tokens reused from KV caches.",
         m.cached_tokens);
  metric("mofa_generated_tokens_total", "counter", "Tokens generated.", m.generated_tokens);
  metric("mofa_generations_total", "counter", "Generations that ran to completion.", m.generations);
  metric("mofa_generations_cancelled_total", "counter",
         "Generations cancelled because the client went away.", m.cancelled);
  metric("mofa_requests_rejected_total", "counter", "Requests refused because the queue was full.",
         m.rejected);
  out << "# HELP mofa_time_to_first_token_seconds Time from submission to the first token.\n"
      << "# TYPE mofa_time_to_first_token_seconds summary\n"
      << "mofa_time_to_first_token_seconds_sum " << m.ttft_sum_s << '\n'
      << "mofa_time_to_first_token_seconds_count " << m.generations << '\n';
  metric("mofa_decode_seconds_total", "counter", "Time spent decoding after the first token.",
         m.decode_sum_s);
  metric("mofa_decode_tokens_total", "counter", "Tokens decoded after the first token.",
         m.decode_tokens);
  metric("mofa_decode_tokens_per_second", "gauge", "Decode speed of the last generation.",
         m.last_tokens_per_s);
  int queued = 0, active = 0, slots = 0;
  const auto loaded = context.models->loaded();
  for (const auto& info : loaded) {
    queued += info.stats.queued;
    active += info.stats.active;
    slots += info.stats.slots;
  }
  metric("mofa_queue_depth", "gauge", "Requests waiting for a slot.", queued);
  metric("mofa_slots_active", "gauge", "Slots generating now.", active);
  metric("mofa_slots_total", "gauge", "Slots of the loaded models.", slots);
  metric("mofa_models_loaded", "gauge", "Models loaded.", loaded.size());
  response.status = 200;
  response.content_type = "text/plain; version=0.0.4";
  response.body = out.str();
}

}  // namespace mofa::server::extras
