#pragma once
// Background model downloads for the server: each download runs the hub client on its own thread;
// its progress can be polled by id and it can be cancelled. The hub client stages files and
// renames the folder into place only when complete, so a partial model is never listed.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/hub_download.h"

namespace mofa::runtime {

// Runs one download (HubClient::download, or a fake in tests).
using Downloader =
    std::function<DownloadResult(const DownloadRequest& request, const ProgressCallback& progress,
                                 const std::atomic<bool>& cancel)>;

// The downloader that talks to the hub (HF_ENDPOINT, HF_TOKEN from the environment).
Downloader hub_downloader();

enum class DownloadState { downloading, completed, failed, cancelled };
const char* download_state_name(DownloadState state);

struct DownloadStatus {
  std::string id;  // "dl-<n>"
  std::string repo;
  std::string revision;
  std::string catalog_id;  // empty when started by repo
  std::string model_id;    // the folder it lands in
  DownloadState state = DownloadState::downloading;
  DownloadProgress progress;
  std::string error;
  int http_status = 0;  // for failed downloads: the status the hub error maps to
};

class DownloadManager {
 public:
  DownloadManager(std::string models_dir, Downloader downloader);
  // Cancels running downloads and waits for their threads.
  ~DownloadManager();
  DownloadManager(const DownloadManager&) = delete;
  DownloadManager& operator=(const DownloadManager&) = delete;

  // Starts a download, or returns the running one of the same repo. Throws InvalidInput for a
  // repo id that is not valid or whose folder name would leave the models directory.
  DownloadStatus start(const std::string& repo, const std::string& revision,
                       const std::string& catalog_id);
  std::optional<DownloadStatus> get(const std::string& id) const;
  std::vector<DownloadStatus> list() const;
  // Asks a download to stop; false when the id is unknown.
  bool cancel(const std::string& id);
  // Blocks until the download has finished, failed or been cancelled.
  DownloadStatus wait(const std::string& id);

 private:
  struct Job {
    DownloadStatus status;
    std::atomic<bool> cancel{false};
    std::thread thread;
  };
  void run(Job* job);

  std::string models_dir_;
  Downloader downloader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  uint64_t next_id_ = 1;
};

}  // namespace mofa::runtime
