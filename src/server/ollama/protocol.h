#pragma once
// Ollama request fields (the options map, keep_alive, format) and response pieces (timestamps,
// durations, model details) shared by the /api/* endpoints.
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pipelines/llm/generate.h"
#include "runtime/model_manager.h"

namespace mofa::server::ollama {

using nlohmann::json;

// The "options" map: temperature, top_k, top_p, min_p, num_predict, stop, seed, repeat_penalty,
// repeat_last_n, presence_penalty, frequency_penalty (num_ctx and other load-time options are
// accepted and left to the server's flags). Throws HttpError 400 naming options.<key>.
llm::GenerateOptions parse_options(const json& body);

// keep_alive as a duration; nullopt when absent. Throws HttpError 400.
std::optional<std::chrono::seconds> parse_keep_alive_field(const json& body);


// `stream`, defaulting to true as in Ollama.
bool parse_stream(const json& body);

// RFC 3339 with nanoseconds, UTC: "2025-01-02T03:04:05.123456789Z".
std::string rfc3339(std::chrono::system_clock::time_point t);

// The "details" object of /api/tags, /api/show and /api/ps.
json model_details(const nlohmann::json& config);

// A stable digest of a model folder (config.json contents and total size).
std::string model_digest(const runtime::ModelEntry& entry);

// The model name from "model" (or the legacy "name"); empty when absent.
std::string model_field(const json& body);

}  // namespace mofa::server::ollama
