#pragma once
// Downloads models from the Hugging Face hub (or any server speaking its protocol, HF_ENDPOINT)
// into <models_dir>/<id>/. Files land as "<path>.incomplete" in a staging folder, resume with Range
// requests, are checked against the hub's sizes and sha256 (LFS files), and the folder becomes
// <models_dir>/<id>/ by one rename once every file is complete, so a failed or cancelled download
// never looks installed. A failed download keeps its staging folder, and the next download of the
// same id resumes from it.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace mofa::runtime {

// Why a hub operation failed; the server maps it to an HTTP status with hub_error_http_status().
enum class HubErrorKind {
  not_found,     // repo, revision or file does not exist (hub 404)
  unauthorized,  // gated or private repo without an accepted token (hub 401/403)
  rate_limited,  // hub 429 after every retry
  network,       // connection, DNS, TLS or 5xx failures after every retry
  integrity,     // size or sha256 mismatch, or a malformed hub answer
  cancelled,     // the caller's cancel flag was set
  busy,          // the same model id is being downloaded from another repo or by another process
  local,         // the models dir cannot be written, or the id is already taken
};

// A hub failure; an InvalidInput so CLIs report it as the user's problem (exit 1).
class HubError : public mofa::InvalidInput {
 public:
  HubError(HubErrorKind kind, const std::string& message)
      : mofa::InvalidInput(message), kind_(kind) {}
  HubErrorKind kind() const { return kind_; }

 private:
  HubErrorKind kind_;
};

// The HTTP status a server should answer for `kind` (404, 401, 429, 502, 502, 499, 409, 500).
int hub_error_http_status(HubErrorKind kind);

// One file of a repo at a commit.
struct HubFile {
  std::string path;    // relative path in the repo, '/'-separated
  int64_t size = -1;   // bytes; -1 when the hub did not say
  std::string sha256;  // lowercase hex of an LFS file's content; empty for plain git files
};

// A repo's file listing at one resolved commit.
struct HubRepoInfo {
  std::string repo;
  std::string commit;  // 40-hex commit the revision resolved to (the revision itself if not given)
  std::vector<HubFile> files;
};

// Progress of one model download; reported at most every HubOptions::progress_interval_s and at
// every file boundary.
struct DownloadProgress {
  std::string id;  // model id (folder name)
  std::string repo;
  std::string file;         // file being downloaded; empty before the first and after the last
  int64_t file_done = 0;    // bytes of `file` on disk
  int64_t file_total = -1;  // size of `file`; -1 if unknown
  int64_t done = 0;         // bytes of all selected files on disk, resumed bytes included
  int64_t total = -1;       // bytes of all selected files; -1 if some size is unknown
  double bytes_per_s = 0;   // recent transfer speed (last few seconds)
  double eta_s = -1;        // seconds left at that speed; -1 if unknown
  int files_done = 0;
  int files_total = 0;
  bool finished = false;  // the model folder is installed
};

// Receives progress reports on the downloading thread; it must be quick and must not throw.
using ProgressCallback = std::function<void(const DownloadProgress&)>;

// What to download and where.
struct DownloadRequest {
  std::string repo;                          // "owner/name" (or a legacy bare "name")
  std::string revision = "main";             // branch, tag or commit
  std::string models_dir;                    // the model lands in <models_dir>/<id>/
  std::string id;                            // folder name; empty = model_id_from_repo(repo)
  std::vector<std::string> allow_patterns;   // fnmatch globs; when set, only matching files
  std::vector<std::string> ignore_patterns;  // fnmatch globs of files to skip
  bool all_files = false;                    // skip the default ignore list (see select_files)
  bool keep_partial_on_cancel = false;       // keep the staging folder on cancel, to resume later
};

// The outcome of a download.
struct DownloadResult {
  std::string dir;                // <models_dir>/<id>
  std::string commit;             // commit the files came from; empty if already present
  bool already_present = false;   // <models_dir>/<id> existed: nothing was fetched
  int files = 0;                  // files in the model folder that came from the hub
  int64_t bytes = 0;              // their total size
  int64_t bytes_transferred = 0;  // bytes received over the network by this call
};

// Hub location, credentials and retry policy.
struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  std::string token;                                // empty = anonymous
  int max_retries = 5;        // consecutive failed attempts per request before giving up
  double backoff_base_s = 1;  // first retry delay, doubled each time
  double backoff_max_s = 30;  // cap on one delay (and on a Retry-After the hub asks for)
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // a connection silent this long is dropped and resumed
  double progress_interval_s = 0.25;

  // Reads HF_ENDPOINT, then HF_TOKEN, HUGGING_FACE_HUB_TOKEN, or the token file
  // (HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token).
  static HubOptions from_env();
};

// Speaks the hub protocol; stateless apart from its options, so one instance may serve threads.
class HubClient {
 public:
  explicit HubClient(HubOptions options = HubOptions::from_env());

  // Lists every file of `repo` at `revision` with sizes and LFS sha256 (revision API, then the
  // paginated tree API when sizes are missing); throws HubError.
  HubRepoInfo list_files(const std::string& repo, const std::string& revision = "main") const;

  // Downloads the selected files of request.repo into <models_dir>/<id>/ and returns where.
  // Returns at once when that folder exists. A second call for the same folder while one runs
  // joins it (same repo: reports its progress, returns its result; its own cancel only stops
  // waiting) or throws HubError busy (another repo, or another process holds the lock).
  // Throws HubError (cancelled when `cancel` is set; the staging folder is then removed unless
  // keep_partial_on_cancel) or InvalidInput for a malformed request.
  DownloadResult download(const DownloadRequest& request, const ProgressCallback& progress,
                          const std::atomic<bool>& cancel) const;

  const HubOptions& options() const { return options_; }

 private:
  HubOptions options_;
};

// The files a download takes: allow_patterns (if any) keep only matches, ignore_patterns drop
// matches; unless all_files, also dropped are .gitattributes, other runtimes' formats (*.gguf,
// *.onnx*, *.h5, *.msgpack, *.tflite, *.ot, *.mlmodel, onnx/, coreml/, openvino/) and, when the
// repo has *.safetensors, the duplicate PyTorch weights (*.bin, *.pth, *.pt, *.ckpt).
std::vector<HubFile> select_files(const std::vector<HubFile>& files,
                                  const DownloadRequest& request);

// Whether `path` matches the fnmatch glob `pattern` ('*' also crosses '/', as in huggingface_hub).
bool hub_pattern_matches(const std::string& pattern, const std::string& path);

// Whether `repo` is "name" or "owner/name" with letters, digits, '-', '_', '.' (no "--", "..").
bool repo_id_is_valid(const std::string& repo);

// The default model id of a repo: its last path component ("Qwen/Qwen3-0.6B" -> "Qwen3-0.6B").
std::string model_id_from_repo(const std::string& repo);

// Whether `id` can name a folder inside the models dir without leaving it: not empty, at most 200
// bytes, no '/', '\\', "..", control characters, and not starting with '.' (staging is hidden).
bool model_id_is_safe(const std::string& id);

// Where the download of `id` stages its files: <parent>/.<models dir name>-staging/<id> beside
// the models dir, or <models_dir>/.staging/<id> when the parent is on another file system (the
// final rename must stay on one).
std::string staging_dir(const std::string& models_dir, const std::string& id);

// $MOFA_HOME/models, MOFA_HOME defaulting to ~/.mofa.
std::string models_dir_from_env();

// The latest progress of every download running in this process.
std::vector<DownloadProgress> active_downloads();

}  // namespace mofa::runtime
