#include "server/ollama/protocol.h"

#include <cstdio>
#include <ctime>

#include "core/error.h"
#include "runtime/settings.h"
#include "server/errors.h"
#include "server/json_body.h"

namespace mofa::server::ollama {
namespace {

[[noreturn]] void bad_option(const std::string& key, const std::string& expected,
                             const json& value) {
  throw HttpError(400, "option '" + key + "' must be " + expected + ", got " + value.dump(),
                  "invalid_request_error", "options." + key);
}

double number_option(const std::string& key, const json& value) {
  if (!value.is_number()) bad_option(key, "a number", value);
  return value.get<double>();
}

int64_t int_option(const std::string& key, const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float() &&
      value.get<double>() == static_cast<double>(static_cast<int64_t>(value.get<double>()))) {
    return static_cast<int64_t>(value.get<double>());
  }
  bad_option(key, "an integer", value);
}

}  // namespace

llm::GenerateOptions parse_options(const json& body) {
  llm::GenerateOptions options;
  auto it = body.find("options");
  if (it == body.end() || it->is_null()) return options;
  if (!it->is_object()) {
    throw HttpError(400, std::string("'options' must be an object, got ") + it->type_name(),
                    "invalid_request_error", "options");
  }
  auto& s = options.sampling;
  for (const auto& [key, value] : it->items()) {
    if (value.is_null()) continue;
    if (key == "temperature") {
      s.temperature = static_cast<float>(number_option(key, value));
      if (s.temperature < 0) bad_option(key, "a number >= 0", value);
    } else if (key == "top_k") {
      s.top_k = static_cast<int>(int_option(key, value));
      if (s.top_k < 0) bad_option(key, "an integer >= 0", value);
    } else if (key == "top_p") {
      s.top_p = static_cast<float>(number_option(key, value));
      if (s.top_p < 0 || s.top_p > 1) bad_option(key, "a number in [0, 1]", value);
    } else if (key == "min_p") {
      s.min_p = static_cast<float>(number_option(key, value));
      if (s.min_p < 0 || s.min_p > 1) bad_option(key, "a number in [0, 1]", value);
    } else if (key == "num_predict") {
      const auto n = int_option(key, value);
      if (n == 0 || n < -2) bad_option(key, "a positive integer, -1 or -2", value);
      options.max_tokens = n < 0 ? -1 : static_cast<int>(n);
    } else if (key == "seed") {
      s.seed = static_cast<uint64_t>(int_option(key, value));
      s.has_seed = true;
    } else if (key == "repeat_penalty") {
      s.repetition_penalty = static_cast<float>(number_option(key, value));
      if (s.repetition_penalty <= 0) bad_option(key, "a number > 0", value);
    } else if (key == "repeat_last_n") {
      s.penalty_last_n = static_cast<int>(int_option(key, value));
    } else if (key == "presence_penalty") {
      s.presence_penalty = static_cast<float>(number_option(key, value));
    } else if (key == "frequency_penalty") {
      s.frequency_penalty = static_cast<float>(number_option(key, value));
    } else if (key == "stop") {
      if (value.is_string()) {
        options.stop.push_back(value.get<std::string>());
      } else if (value.is_array()) {
        for (const auto& item : value) {
          if (!item.is_string()) bad_option(key, "a list of strings", value);
          if (!item.get<std::string>().empty()) options.stop.push_back(item.get<std::string>());
        }
      } else {
        bad_option(key, "a list of strings", value);
      }
    }
    // Load-time options (num_ctx, num_thread, num_gpu, ...) belong to the server's flags.
  }
  return options;
}

std::optional<std::chrono::seconds> parse_keep_alive_field(const json& body) {
  auto it = body.find("keep_alive");
  if (it == body.end() || it->is_null()) return std::nullopt;
  try {
    return runtime::parse_keep_alive(*it);
  } catch (const InvalidInput& e) {
    throw HttpError(400, e.what(), "invalid_request_error", "keep_alive");
  }
}

bool parse_stream(const json& body) {
  return opt_bool(body, "stream").value_or(true);
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1000000000));
  return buffer;
}

json model_details(const json& config) {
  std::string family, quantization;
  if (config.is_object()) {
    family = config.value("model_type", "");
    if (auto q = config.find("quantization"); q != config.end() && q->is_object()) {
      quantization = "Q" + std::to_string(q->value("bits", 0));
    } else if (auto dtype = config.find("torch_dtype");
               dtype != config.end() && dtype->is_string()) {
      const auto d = dtype->get<std::string>();
      quantization = d == "bfloat16" ? "BF16" : d == "float16" ? "F16" : d == "float32" ? "F32" : d;
    }
  }
  return {
      {"parent_model", ""},   {"format", "safetensors"},
      {"family", family},     {"families", family.empty() ? json(nullptr) : json::array({family})},
      {"parameter_size", ""}, {"quantization_level", quantization}};
}

std::string model_digest(const runtime::ModelEntry& entry) {
  // FNV-1a over what identifies the folder's content cheaply: its config and total size.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(entry.config.dump());
  mix(std::to_string(entry.bytes));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(h));
  return buffer;
}

std::string model_field(const json& body) {
  if (auto model = opt_string(body, "model"); model && !model->empty()) return *model;
  return opt_string(body, "name").value_or("");
}

}  // namespace mofa::server::ollama
