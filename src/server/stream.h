#pragma once
// Streams a generation to the client as Server-Sent Events (OpenAI) or NDJSON (Ollama): the HTTP
// thread waits on the request's channel and writes each event as it arrives; a failed write
// means the client left, and the generation is cancelled at once so its slot frees up.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/generation.h"
#include "server/http.h"

namespace mofa::server {

enum class StreamFormat { sse, ndjson };

struct StreamCallbacks {
  // The messages for one token event (may be none).
  std::function<std::vector<nlohmann::json>(const llm::TokenEvent&)> on_token;
  // The closing messages once the generation is done.
  std::function<std::vector<nlohmann::json>(const runtime::StreamEvent&)> on_done;
  // The message for an error after the stream started.
  std::function<nlohmann::json(const HttpError&)> on_error;
};

// Writes `first` messages, then the generation's, then (SSE) "data: [DONE]". Returns false when
// the client went away (the generation is then cancelled).
bool pump_stream(StreamWriter& writer, GenerationCall& call, StreamFormat format,
                 const std::vector<nlohmann::json>& first, const StreamCallbacks& callbacks);

// One message in the wire format.
std::string encode_stream_message(const nlohmann::json& message, StreamFormat format);

}  // namespace mofa::server
