#include "runtime/download_manager.h"

#include "core/error.h"

namespace mofa::runtime {

const char* download_state_name(DownloadState state) {
  switch (state) {
    case DownloadState::downloading:
      return "downloading";
    case DownloadState::completed:
      return "completed";
    case DownloadState::failed:
      return "failed";
    case DownloadState::cancelled:
      return "cancelled";
  }
  return "unknown";
}

Downloader hub_downloader() {
  auto client = std::make_shared<HubClient>();
  return [client](const DownloadRequest& request, const ProgressCallback& progress,
                  const std::atomic<bool>& cancel) {
    return client->download(request, progress, cancel);
  };
}

DownloadManager::DownloadManager(std::string models_dir, Downloader downloader)
    : models_dir_(std::move(models_dir)), downloader_(std::move(downloader)) {}

DownloadManager::~DownloadManager() {
  std::map<std::string, std::unique_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, job] : jobs_) job->cancel.store(true);
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs) {
    if (job->thread.joinable()) job->thread.join();
  }
}

DownloadStatus DownloadManager::start(const std::string& repo, const std::string& revision,
                                      const std::string& catalog_id) {
  if (!repo_id_is_valid(repo)) {
    throw InvalidInput("repo '" + repo + "' is not a Hugging Face repository id like owner/name");
  }
  const std::string model_id = model_id_from_repo(repo);
  if (!model_id_is_safe(model_id)) {
    throw InvalidInput("repo '" + repo + "' would download into '" + model_id +
                       "', which is not a safe folder name");
  }
  if (!downloader_) throw Unsupported("this server has no model downloader");
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, job] : jobs_) {
    if (job->status.repo == repo && job->status.state == DownloadState::downloading) {
      return job->status;
    }
  }
  auto job = std::make_unique<Job>();
  job->status.id = "dl-" + std::to_string(next_id_++);
  job->status.repo = repo;
  job->status.revision = revision.empty() ? "main" : revision;
  job->status.catalog_id = catalog_id;
  job->status.model_id = model_id;
  job->status.progress.id = model_id;
  job->status.progress.repo = repo;
  Job* raw = job.get();
  const auto status = job->status;
  jobs_[status.id] = std::move(job);
  raw->thread = std::thread([this, raw] { run(raw); });
  return status;
}

void DownloadManager::run(Job* job) {
  DownloadRequest request;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    request.repo = job->status.repo;
    request.revision = job->status.revision;
    request.id = job->status.model_id;
  }
  request.models_dir = models_dir_;
  // A later download of the same repo resumes what a cancelled one fetched.
  request.keep_partial_on_cancel = true;
  DownloadState end_state = DownloadState::completed;
  std::string error;
  int http_status = 0;
  try {
    downloader_(
        request,
        [&](const DownloadProgress& progress) {
          std::lock_guard<std::mutex> lock(mutex_);
          job->status.progress = progress;
        },
        job->cancel);
    if (job->cancel.load()) end_state = DownloadState::cancelled;
  } catch (const HubError& e) {
    end_state = e.kind() == HubErrorKind::cancelled || job->cancel.load() ? DownloadState::cancelled
                                                                          : DownloadState::failed;
    error = e.what();
    http_status = hub_error_http_status(e.kind());
  } catch (const std::exception& e) {
    end_state = job->cancel.load() ? DownloadState::cancelled : DownloadState::failed;
    error = e.what();
    http_status = 500;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job->status.state = end_state;
    if (end_state == DownloadState::completed) job->status.progress.finished = true;
    if (end_state == DownloadState::failed) {
      job->status.error = error;
      job->status.http_status = http_status;
    }
    if (end_state == DownloadState::cancelled) job->status.error = "cancelled";
  }
  changed_.notify_all();
}

std::optional<DownloadStatus> DownloadManager::get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second->status;
}

std::vector<DownloadStatus> DownloadManager::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DownloadStatus> out;
  for (const auto& [id, job] : jobs_) out.push_back(job->status);
  return out;
}

bool DownloadManager::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  it->second->cancel.store(true);
  return true;
}

DownloadStatus DownloadManager::wait(const std::string& id) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) throw InvalidInput("unknown download id '" + id + "'");
  Job* job = it->second.get();
  changed_.wait(lock, [&] { return job->status.state != DownloadState::downloading; });
  return job->status;
}

}  // namespace mofa::runtime
