#include <filesystem>

#include "runtime/catalog.h"
#include "server/errors.h"
#include "server/extras/routes.h"
#include "server/json_body.h"

namespace mofa::server::extras {
namespace {

json download_json(const runtime::DownloadStatus& status) {
  const auto& p = status.progress;
  json out = {{"id", status.id},
              {"object", "model.download"},
              {"repo", status.repo},
              {"revision", status.revision},
              {"catalog_id", status.catalog_id.empty() ? json(nullptr) : json(status.catalog_id)},
              {"model_id", status.model_id},
              {"status", runtime::download_state_name(status.state)},
              {"file", p.file},
              {"downloaded_bytes", p.done},
              {"total_bytes", p.total >= 0 ? json(p.total) : json(nullptr)},
              {"files_done", p.files_done},
              {"files_total", p.files_total},
              {"bytes_per_second", p.bytes_per_s},
              {"eta_seconds", p.eta_s >= 0 ? json(p.eta_s) : json(nullptr)},
              {"error", status.error.empty() ? json(nullptr) : json(status.error)}};
  return out;
}

runtime::DownloadManager& downloads(ServerContext& context) {
  if (!context.downloads) {
    throw HttpError(501, "downloads are not available on this server", "server_error");
  }
  return *context.downloads;
}

}  // namespace

void health(ServerContext& context, const Request&, Response& response) {
  response.set_json(200, dump_json({{"status", "ok"},
                                    {"version", server_version()},
                                    {"models_loaded", context.models->loaded().size()}}));
}

void catalog(ServerContext& context, const Request&, Response& response) {
  json data = json::array();
  for (const auto& entry : runtime::model_catalog()) {
    const auto folder = entry.bundled ? entry.id : runtime::repo_folder_name(entry.repo);
    std::error_code ec;
    const bool downloaded =
        entry.bundled || folder == context.models->pinned_id() ||
        std::filesystem::is_regular_file(
            std::filesystem::path(context.models->models_dir()) / folder / "config.json", ec);
    data.push_back({{"id", entry.id},
                    {"name", entry.name},
                    {"category", entry.category},
                    {"repo", entry.repo},
                    {"size", entry.size},
                    {"size_bytes", entry.size_bytes},
                    {"model_id", folder},
                    {"downloaded", downloaded},
                    {"bundled", entry.bundled},
                    {"loaded", context.models->is_loaded(folder)}});
  }
  response.set_json(200, dump_json({{"object", "list"}, {"data", data}}));
}

void start_download(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const auto catalog_id = opt_string(body, "catalog_id");
  auto repo = opt_string(body, "repo");
  const auto revision = opt_string(body, "revision").value_or("main");
  if (catalog_id) {
    const auto* entry = runtime::find_catalog_entry(*catalog_id);
    if (!entry) {
      throw HttpError(404,
                      "catalog id '" + *catalog_id + "' is not in the catalog (GET /v1/catalog)",
                      "invalid_request_error", "catalog_id", "model_not_found");
    }
    if (entry->bundled) {
      throw HttpError(400, "'" + entry->id + "' is built in and needs no download",
                      "invalid_request_error", "catalog_id", "model_bundled");
    }
    repo = entry->repo;
  }
  if (!repo) {
    throw HttpError(400, "give either 'catalog_id' or 'repo'", "invalid_request_error", "repo");
  }
  const auto status = downloads(context).start(*repo, revision, catalog_id.value_or(""));
  response.set_json(202, dump_json(download_json(status)));
}

void get_download(ServerContext& context, const Request& request, Response& response) {
  const auto status = downloads(context).get(request.params.at("id"));
  if (!status) {
    throw HttpError(404, "no download with id '" + request.params.at("id") + "'",
                    "invalid_request_error", "id", "not_found");
  }
  response.set_json(200, dump_json(download_json(*status)));
}

void list_downloads(ServerContext& context, const Request&, Response& response) {
  json data = json::array();
  for (const auto& status : downloads(context).list()) data.push_back(download_json(status));
  response.set_json(200, dump_json({{"object", "list"}, {"data", data}}));
}

void cancel_download(ServerContext& context, const Request& request, Response& response) {
  auto& manager = downloads(context);
  const auto& id = request.params.at("id");
  if (!manager.cancel(id)) {
    throw HttpError(404, "no download with id '" + id + "'", "invalid_request_error", "id",
                    "not_found");
  }
  response.set_json(200, dump_json(download_json(*manager.get(id))));
}

void delete_model(ServerContext& context, const Request& request, Response& response) {
  const auto entry = context.models->resolve(request.params.at("id"));
  context.models->remove(entry.id);
  response.set_json(200, dump_json({{"id", entry.id}, {"object", "model"}, {"deleted", true}}));
}

}  // namespace mofa::server::extras
