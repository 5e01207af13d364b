#include <fstream>
#include <thread>

#include "runtime/catalog.h"
#include "server/errors.h"
#include "server/json_body.h"
#include "server/ollama/protocol.h"
#include "server/ollama/routes.h"
#include "server/server_context.h"
#include "server/stream.h"

namespace mofa::server::ollama {
namespace {

json tag_entry(const runtime::ModelEntry& entry) {
  return {{"name", entry.id},
          {"model", entry.id},
          {"modified_at", rfc3339(entry.modified)},
          {"size", entry.bytes},
          {"digest", model_digest(entry)},
          {"details", model_details(entry.config)}};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

void tags(ServerContext& context, const Request&, Response& response) {
  json models = json::array();
  for (const auto& entry : context.models->list()) models.push_back(tag_entry(entry));
  response.set_json(200, dump_json({{"models", models}}));
}

void show(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const std::string name = model_field(body);
  if (name.empty()) throw HttpError(400, "model is required", "invalid_request_error", "model");
  const auto entry = context.models->resolve(name);
  std::string chat_template;
  try {
    const auto tokenizer_config = json::parse(read_text(entry.dir + "/tokenizer_config.json"));
    if (auto it = tokenizer_config.find("chat_template");
        it != tokenizer_config.end() && it->is_string()) {
      chat_template = it->get<std::string>();
    }
  } catch (const json::exception&) {
  }
  const std::string arch = entry.config.is_object() ? entry.config.value("model_type", "") : "";
  json model_info = {{"general.architecture", arch}};
  if (entry.config.is_object()) {
    for (const char* key : {"max_position_embeddings", "hidden_size", "num_hidden_layers",
                            "num_attention_heads", "num_key_value_heads", "vocab_size"}) {
      if (entry.config.contains(key)) model_info[arch + "." + key] = entry.config[key];
    }
    if (entry.config.contains("max_position_embeddings")) {
      model_info[arch + ".context_length"] = entry.config["max_position_embeddings"];
    }
  }
  json out = {{"modelfile", ""},
              {"parameters", ""},
              {"template", chat_template},
              {"details", model_details(entry.config)},
              {"model_info", model_info},
              {"capabilities", json::array({"completion"})},
              {"modified_at", rfc3339(entry.modified)}};
  response.set_json(200, dump_json(out));
}

void ps(ServerContext& context, const Request&, Response& response) {
  json models = json::array();
  for (const auto& info : context.models->loaded()) {
    runtime::ModelEntry entry;
    try {
      entry = context.models->resolve(info.id);
    } catch (const std::exception&) {
      entry.id = info.id;
    }
    const auto expires =
        info.expires_never
            ? std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 300))
            : info.expires_at;
    models.push_back({{"name", info.id},
                      {"model", info.id},
                      {"size", info.bytes},
                      {"digest", model_digest(entry)},
                      {"details", model_details(entry.config)},
                      {"expires_at", rfc3339(expires)},
                      {"size_vram", 0},
                      {"context_length", info.context_length}});
  }
  response.set_json(200, dump_json({{"models", models}}));
}

void version(ServerContext&, const Request&, Response& response) {
  response.set_json(200, dump_json({{"version", server_version()}}));
}

void remove(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const std::string name = model_field(body);
  if (name.empty()) throw HttpError(400, "model is required", "invalid_request_error", "model");
  context.models->remove(name);
  response.status = 200;
  response.content_type.clear();
  response.body.clear();
}

void pull(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const std::string name = model_field(body);
  if (name.empty()) throw HttpError(400, "model is required", "invalid_request_error", "model");
  const bool stream = parse_stream(body);
  if (!context.downloads) {
    throw HttpError(501, "downloads are not available on this server", "server_error");
  }
  std::string repo = name;
  std::string catalog_id;
  if (const auto* entry = runtime::find_catalog_entry(name)) {
    repo = entry->repo;
    catalog_id = entry->id;
  }
  std::string revision = "main";
  if (const auto colon = repo.rfind(':'); colon != std::string::npos) {
    const auto tag = repo.substr(colon + 1);
    repo.resize(colon);
    if (tag != "latest") revision = tag;
  }
  const auto started = context.downloads->start(repo, revision, catalog_id);
  runtime::DownloadManager* downloads = context.downloads;
  const std::string id = started.id;
  if (!stream) {
    const auto done = downloads->wait(id);
    if (done.state != runtime::DownloadState::completed) {
      throw HttpError(done.http_status ? done.http_status : 500, "pull failed: " + done.error,
                      "server_error");
    }
    response.set_json(200, dump_json({{"status", "success"}}));
    return;
  }
  response.content_type = "application/x-ndjson";
  response.stream = [downloads, id, repo](StreamWriter& writer) {
    auto send = [&](const json& message) {
      return writer.write(encode_stream_message(message, StreamFormat::ndjson));
    };
    if (!send({{"status", "pulling manifest"}})) return;
    int64_t last_done = -1;
    std::string last_file;
    for (;;) {
      const auto status = downloads->get(id);
      if (!status) return;
      const auto& p = status->progress;
      // A download that completes between two polls still reports its bytes once, as Ollama
      // always does before "success".
      const bool finished = status->state == runtime::DownloadState::completed;
      const std::string file = p.file.empty() ? last_file.empty() ? repo : last_file : p.file;
      if ((!p.file.empty() || (finished && p.total > 0)) &&
          (p.done != last_done || file != last_file)) {
        last_done = p.done;
        last_file = file;
        json message = {{"status", "pulling " + file}, {"digest", file}, {"completed", p.done}};
        if (p.total >= 0) message["total"] = p.total;
        if (!send(message)) return;  // the download goes on: the client only stopped watching
      }
      if (status->state == runtime::DownloadState::completed) {
        send({{"status", "verifying sha256 digest"}}) && send({{"status", "writing manifest"}}) &&
            send({{"status", "success"}});
        return;
      }
      if (status->state != runtime::DownloadState::downloading) {
        send({{"error", "pull " + repo + " failed: " + status->error}});
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  };
}

}  // namespace mofa::server::ollama
