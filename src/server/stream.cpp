#include "server/stream.h"

#include "server/json_body.h"

namespace mofa::server {

std::string encode_stream_message(const nlohmann::json& message, StreamFormat format) {
  if (format == StreamFormat::sse) return "data: " + dump_json(message) + "\n\n";
  return dump_json(message) + "\n";
}

bool pump_stream(StreamWriter& writer, GenerationCall& call, StreamFormat format,
                 const std::vector<nlohmann::json>& first, const StreamCallbacks& callbacks) {
  auto send = [&](const std::vector<nlohmann::json>& messages) {
    for (const auto& message : messages) {
      if (!writer.write(encode_stream_message(message, format))) return false;
    }
    return true;
  };
  if (!send(first)) {
    call.cancel();
    return false;
  }
  runtime::StreamEvent event;
  int idle_ticks = 0;
  for (;;) {
    if (!call.next(&event, std::chrono::milliseconds(250))) {
      // SSE allows comment lines: probing the socket while a long prompt is prefilled or the
      // request waits in the queue lets a client that left free its place early.
      if (format == StreamFormat::sse && ++idle_ticks % 8 == 0 &&
          !writer.write(": keep-alive\n\n")) {
        call.cancel();
        return false;
      }
      continue;
    }
    idle_ticks = 0;
    bool ok = true;
    switch (event.kind) {
      case runtime::StreamEvent::Kind::token:
        ok = send(callbacks.on_token(event.token));
        break;
      case runtime::StreamEvent::Kind::done:
        ok = send(callbacks.on_done(event));
        if (ok && format == StreamFormat::sse) ok = writer.write("data: [DONE]\n\n");
        return ok;
      case runtime::StreamEvent::Kind::error:
        return send({callbacks.on_error(error_of(event))});
    }
    if (!ok) {
      call.cancel();
      return false;
    }
  }
}

}  // namespace mofa::server
