#include "runtime/hub_download.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/hub_http.h"
#include "runtime/hub_sha256.h"

namespace mofa::runtime {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kMetadataFile = ".mofa-hub.json";
constexpr const char* kPartSuffix = ".incomplete";

std::string env_value(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string home_dir() {
  std::string home = env_value("HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  return home;
}

std::string human_bytes(int64_t n) {
  char buf[32];
  if (n >= (int64_t(1) << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1 << 30));
  } else if (n >= (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(n));
  }
  return buf;
}

HubHttpConfig http_config(const HubOptions& o) {
  HubHttpConfig c;
  c.endpoint = o.endpoint;
  c.token = o.token;
  c.connect_timeout_s = o.connect_timeout_s;
  c.stall_timeout_s = o.stall_timeout_s;
  return c;
}

[[noreturn]] void throw_cancelled(const std::string& what) {
  throw HubError(HubErrorKind::cancelled, "[hub] " + what + ": cancelled");
}

// Sleeps `seconds` in short slices so that a cancel takes effect at once.
void sleep_cancellable(double seconds, const std::atomic<bool>& cancel, const std::string& what) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (cancel.load()) throw_cancelled(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (cancel.load()) throw_cancelled(what);
}

// Which request a failure belongs to, for messages that name it.
struct ErrorContext {
  std::string repo, revision, file;
};

std::string hub_message(const HubHttpResult& r) {
  if (auto it = r.headers.find("x-error-message"); it != r.headers.end()) return it->second;
  try {
    const json j = json::parse(r.body);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"];
  } catch (const json::exception&) {
  }
  std::string body = trim(r.body);
  if (body.size() > 200) body = body.substr(0, 200) + "...";
  return body.find('<') == std::string::npos ? body : "";  // drop HTML error pages
}

std::string token_hint(const HubOptions& o) {
  if (o.token.empty()) {
    return "set HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) to an access token of an account that may "
           "read it (https://huggingface.co/settings/tokens)";
  }
  return "the token given (HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the token file) was refused or its "
         "account has no access; check it at https://huggingface.co/settings/tokens";
}

bool is_retryable(const HubHttpResult& r) {
  if (r.cancelled || r.sink_stopped) return false;
  if (r.curl_code != 0) return true;  // dropped connection, timeout, DNS or TLS hiccup
  return r.status == 408 || r.status == 429 || r.status >= 500 || r.status == 0;
}

double retry_delay(const HubOptions& o, int failures, const HubHttpResult& r) {
  double d = o.backoff_base_s * std::pow(2.0, std::max(0, failures - 1));
  if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
    char* end = nullptr;
    const double asked = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && asked >= 0) d = asked;
  }
  return std::min(d, o.backoff_max_s);
}

std::string failure_text(const HubHttpResult& r) {
  if (r.curl_code != 0) return r.curl_error;
  return "HTTP " + std::to_string(r.status);
}

[[noreturn]] void throw_http_error(const HubOptions& o, const HubHttpResult& r,
                                   const ErrorContext& ctx, int attempts) {
  const auto code_it = r.headers.find("x-error-code");
  const std::string code = code_it == r.headers.end() ? "" : code_it->second;
  const std::string said = hub_message(r);
  const std::string hub_says = said.empty() ? "" : " (hub: " + said + ")";
  const std::string repo = "repo '" + ctx.repo + "'";
  const std::string status = "HTTP " + std::to_string(r.status);
  const bool gated = code == "GatedRepo" || lower(said).find("gated") != std::string::npos;
  if ((r.status == 401 || r.status == 403) && gated) {
    throw HubError(HubErrorKind::unauthorized,
                   "[hub] " + repo + " is gated (" + status + "): accept its conditions at " +
                       o.endpoint + "/" + ctx.repo + ", then " + token_hint(o) + hub_says);
  }
  if (r.status == 401) {
    throw HubError(HubErrorKind::unauthorized,
                   "[hub] " + repo + " needs authentication (" + status +
                       "): it is private, gated or does not exist; " + token_hint(o) + hub_says);
  }
  if (r.status == 403) {
    throw HubError(HubErrorKind::unauthorized, "[hub] access to " + repo + " denied (" + status +
                                                   "); " + token_hint(o) + hub_says);
  }
  if (r.status == 404) {
    if (code == "RevisionNotFound") {
      throw HubError(HubErrorKind::not_found, "[hub] revision '" + ctx.revision +
                                                  "' not found in " + repo + " (" + status + ")");
    }
    if (code == "EntryNotFound" || (!ctx.file.empty() && code != "RepoNotFound")) {
      throw HubError(HubErrorKind::not_found, "[hub] file '" + ctx.file + "' not found in " + repo +
                                                  " at revision '" + ctx.revision + "' (" + status +
                                                  ")" + hub_says);
    }
    throw HubError(HubErrorKind::not_found, "[hub] " + repo + " (revision '" + ctx.revision +
                                                "') not found at " + o.endpoint + " (" + status +
                                                ")" + hub_says);
  }
  if (r.status == 429) {
    throw HubError(HubErrorKind::rate_limited,
                   "[hub] rate limited (HTTP 429) on " + r.url + " after " +
                       std::to_string(attempts) + " attempts; wait a while and retry" +
                       (o.token.empty() ? ", or set HF_TOKEN for a higher limit" : "") + hub_says);
  }
  throw HubError(HubErrorKind::network, "[hub] GET " + r.url + " failed after " +
                                            std::to_string(attempts) +
                                            " attempts: " + failure_text(r) + hub_says);
}

// GETs a JSON document from the hub with retries; `headers` receives the final response headers.
json get_json(const HubOptions& o, const std::string& url, const ErrorContext& ctx,
              const std::atomic<bool>& cancel, HubHeaders* headers) {
  const HubHttpConfig cfg = http_config(o);
  for (int failures = 0;;) {
    HubHttpResult r = hub_http_get(cfg, url, {"Accept: application/json"}, {}, &cancel);
    if (r.cancelled || cancel.load()) throw_cancelled("listing " + ctx.repo);
    if (r.curl_code == 0 && r.status >= 200 && r.status < 300) {
      if (headers) *headers = r.headers;
      try {
        return json::parse(r.body);
      } catch (const json::exception& e) {
        throw HubError(HubErrorKind::integrity,
                       "[hub] " + url + " answered malformed JSON: " + e.what());
      }
    }
    ++failures;
    if (!is_retryable(r) || failures > o.max_retries) throw_http_error(o, r, ctx, failures);
    sleep_cancellable(retry_delay(o, failures, r), cancel, "listing " + ctx.repo);
  }
}

// The URL of the next page from an RFC 8288 Link header, or "".
std::string next_link(const HubHeaders& headers) {
  auto it = headers.find("link");
  if (it == headers.end()) return "";
  std::stringstream ss(it->second);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const auto lt = part.find('<'), gt = part.find('>');
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) continue;
    if (part.find("rel=\"next\"", gt) != std::string::npos ||
        part.find("rel=next", gt) != std::string::npos) {
      return part.substr(lt + 1, gt - lt - 1);
    }
  }
  return "";
}

// Whether a path from the hub stays inside the folder it is written to.
bool hub_path_is_safe(const std::string& path) {
  if (path.empty() || path.front() == '/' || path == kMetadataFile) return false;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  std::stringstream ss(path);
  std::string part;
  int parts = 0;
  while (std::getline(ss, part, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    ++parts;
  }
  return parts > 0 && path.back() != '/';
}

std::string absolute_url(const HubOptions& o, const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0 ? url : o.endpoint + url;
}

// ---- progress -------------------------------------------------------------------------------

// One running download, shared with the requests that join it.
struct ActiveDownload {
  std::string repo;
  std::mutex mu;  // guards last, finished, result, error
  std::condition_variable cv;
  DownloadProgress last;
  bool finished = false;
  std::optional<DownloadResult> result;
  std::exception_ptr error;
  std::mutex observers_mu;  // held while observers run, so a leaving joiner is never called late
  std::vector<std::pair<int, ProgressCallback>> observers;
  int next_observer = 0;
};

std::mutex g_active_mu;
std::map<std::string, std::shared_ptr<ActiveDownload>> g_active;

// Aggregates byte counts into DownloadProgress reports with a recent speed and an ETA.
class Reporter {
 public:
  Reporter(ActiveDownload& active, const ProgressCallback& own, double interval_s)
      : active_(active), own_(own), interval_s_(interval_s) {}

  DownloadProgress& progress() { return p_; }

  void start_file(const std::string& path, int64_t total, int64_t already) {
    p_.file = path;
    p_.file_total = total;
    p_.file_done = already;
    p_.done += already;
    emit(true);
  }
  void add(int64_t n) {
    p_.file_done += n;
    p_.done += n;
    transferred_ += n;
    emit(false);
  }
  // The server restarted the file from byte 0: its bytes on disk are gone.
  void rewind_file() {
    p_.done -= p_.file_done;
    p_.file_done = 0;
  }
  void finish_file() {
    ++p_.files_done;
    emit(true);
  }
  void finish_all() {
    p_.file.clear();
    p_.file_done = 0;
    p_.file_total = -1;
    p_.finished = true;
    p_.eta_s = 0;
    emit(true);
  }
  int64_t transferred() const { return transferred_; }

 private:
  void emit(bool force) {
    const auto now = Clock::now();
    if (samples_.empty() || now - samples_.back().first > std::chrono::milliseconds(50)) {
      samples_.emplace_back(now, transferred_);
      while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(3)) {
        samples_.pop_front();
      }
    }
    if (!force && now - last_emit_ < std::chrono::duration<double>(interval_s_)) return;
    last_emit_ = now;
    const double span = std::chrono::duration<double>(now - samples_.front().first).count();
    p_.bytes_per_s =
        span > 0.05 ? static_cast<double>(transferred_ - samples_.front().second) / span : 0;
    p_.eta_s = p_.total >= 0 && p_.bytes_per_s > 0
                   ? static_cast<double>(p_.total - p_.done) / p_.bytes_per_s
                   : (p_.total >= 0 && p_.done >= p_.total ? 0 : -1);
    {
      std::lock_guard lk(active_.mu);
      active_.last = p_;
    }
    if (own_) own_(p_);
    std::lock_guard lk(active_.observers_mu);
    for (auto& [id, cb] : active_.observers) {
      try {
        if (cb) cb(p_);
      } catch (...) {  // a joiner's failing callback must not break the download it watches
      }
    }
  }

  ActiveDownload& active_;
  const ProgressCallback& own_;
  double interval_s_;
  DownloadProgress p_;
  int64_t transferred_ = 0;
  std::deque<std::pair<Clock::time_point, int64_t>> samples_;
  Clock::time_point last_emit_{};
};

// ---- files on disk ---------------------------------------------------------------------------

// An exclusive, non-blocking flock on a file, released on destruction.
class LockFile {
 public:
  LockFile(const fs::path& path, const std::string& id) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw HubError(HubErrorKind::local, "[hub] cannot create lock file '" + path.string() +
                                              "': " + std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw HubError(HubErrorKind::busy, "[hub] model '" + id +
                                             "' is being downloaded by another process (lock '" +
                                             path.string() + "')");
    }
  }
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Deletes the lock file while still holding it, so no later download waits on a stale one.
  void remove() {
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

void write_all(int fd, const char* data, size_t n, const fs::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      throw HubError(HubErrorKind::local,
                     "[hub] writing '" + path.string() + "' failed: " + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void truncate_to_zero(int fd, const fs::path& path) {
  if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
    throw HubError(HubErrorKind::local,
                   "[hub] truncating '" + path.string() + "' failed: " + std::strerror(errno));
  }
}

json metadata_json(const DownloadRequest& req, const HubRepoInfo& info,
                   const std::vector<HubFile>& files) {
  json j;
  j["repo"] = req.repo;
  j["revision"] = req.revision;
  j["commit"] = info.commit;
  j["files"] = json::array();
  for (const auto& f : files) {
    j["files"].push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  }
  return j;
}

// The bytes a "bytes S-E/T" Content-Range starts at, or -1.
int64_t content_range_start(const HubHeaders& h) {
  auto it = h.find("content-range");
  if (it == h.end()) return -1;
  long long start = -1;
  if (std::sscanf(it->second.c_str(), "bytes %lld-", &start) != 1) return -1;
  return start;
}

// Downloads one file into `dest` through "<dest>.incomplete", resuming what is there.
void download_file(const HubOptions& o, const ErrorContext& ctx, const std::string& url,
                   const HubFile& file, const fs::path& dest, Reporter& reporter,
                   const std::atomic<bool>& cancel) {
  fs::path part = dest;
  part += kPartSuffix;
  fs::create_directories(dest.parent_path());
  Sha256 hasher;
  int64_t offset = 0;
  std::error_code ec;
  if (fs::exists(part, ec)) {
    const auto on_disk = static_cast<int64_t>(fs::file_size(part));
    if (file.size >= 0 && on_disk > file.size) {
      fs::remove(part);
    } else {
      offset = on_disk;
      if (!file.sha256.empty()) sha256_file(part.string(), on_disk, &hasher);
    }
  }
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw HubError(HubErrorKind::local,
                   "[hub] cannot create '" + part.string() + "': " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::ftruncate(fd, offset) != 0 || ::lseek(fd, offset, SEEK_SET) != offset) {
    throw HubError(HubErrorKind::local,
                   "[hub] cannot seek in '" + part.string() + "': " + std::strerror(errno));
  }
  reporter.start_file(file.path, file.size, offset);
  const std::string what = "downloading " + ctx.repo + "/" + file.path;
  const HubHttpConfig cfg = http_config(o);

  for (int failures = 0;;) {
    if (cancel.load()) throw_cancelled(what);
    if (file.size >= 0 && offset == file.size && file.size > 0) break;  // complete from before
    std::vector<std::string> headers = {"Accept-Encoding: identity"};
    if (offset > 0) headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
    bool first_chunk = true, range_mismatch = false, too_long = false;
    int64_t attempt_bytes = 0;
    std::string write_error;
    // Runs inside libcurl's C callback: nothing may propagate out of it.
    auto take = [&](long status, const HubHeaders& h, const char* data, size_t n) {
      if (first_chunk) {
        first_chunk = false;
        if (status == 206 && content_range_start(h) != offset) {
          range_mismatch = true;
          return false;
        }
        if (status != 206 && offset > 0) {  // the server ignored Range: the body starts at 0
          truncate_to_zero(fd, part);
          hasher.reset();
          reporter.rewind_file();
          offset = 0;
        }
      }
      if (file.size >= 0 && offset + static_cast<int64_t>(n) > file.size) {
        too_long = true;
        return false;
      }
      write_all(fd, data, n, part);
      if (!file.sha256.empty()) hasher.update(data, n);
      offset += static_cast<int64_t>(n);
      attempt_bytes += static_cast<int64_t>(n);
      reporter.add(static_cast<int64_t>(n));
      return true;
    };
    HubBodySink sink = [&](long status, const HubHeaders& h, const char* data, size_t n) {
      try {
        return take(status, h, data, n);
      } catch (const std::exception& e) {
        write_error = e.what();
      } catch (...) {
        write_error = "[hub] unknown error while writing '" + part.string() + "'";
      }
      return false;
    };
    const HubHttpResult r = hub_http_get(cfg, url, headers, sink, &cancel);
    if (r.cancelled || cancel.load()) throw_cancelled(what);
    if (!write_error.empty()) throw HubError(HubErrorKind::local, write_error);
    if (too_long) {
      ::close(fd);
      closer.fd = -1;
      fs::remove(part, ec);
      throw HubError(HubErrorKind::integrity,
                     "[hub] " + ctx.repo + "/" + file.path + ": the server sent more than the " +
                         std::to_string(file.size) + " bytes the hub listed; partial file deleted");
    }
    const bool body_ok = r.curl_code == 0 && (r.status == 200 || r.status == 206);
    if (body_ok && !range_mismatch && (file.size < 0 || offset == file.size)) break;
    if (range_mismatch || (r.status == 416 && offset > 0)) {
      // The server cannot continue where we stopped: start the file over.
      truncate_to_zero(fd, part);
      hasher.reset();
      reporter.rewind_file();
      offset = 0;
    } else if (!body_ok && !(r.status >= 200 && r.status < 300) && !is_retryable(r)) {
      throw_http_error(o, r, ctx, failures + 1);
    }
    // A dropped or short transfer: resume from `offset`. Only attempts without progress count.
    failures = attempt_bytes > 0 ? 1 : failures + 1;
    if (failures > o.max_retries) {
      throw HubError(HubErrorKind::network, "[hub] " + what + " failed after " +
                                                std::to_string(failures) +
                                                " attempts without progress at byte " +
                                                std::to_string(offset) + ": " + failure_text(r));
    }
    sleep_cancellable(retry_delay(o, failures, r), cancel, what);
  }
  if (file.size >= 0 && offset != file.size) {
    fs::remove(part, ec);
    throw HubError(HubErrorKind::integrity, "[hub] " + ctx.repo + "/" + file.path + ": got " +
                                                std::to_string(offset) + " bytes, the hub lists " +
                                                std::to_string(file.size) +
                                                "; partial file deleted");
  }
  if (!file.sha256.empty()) {
    const std::string got = hasher.hex_digest();
    if (got != lower(file.sha256)) {
      fs::remove(part, ec);
      throw HubError(HubErrorKind::integrity,
                     "[hub] " + ctx.repo + "/" + file.path + ": sha256 mismatch (expected " +
                         lower(file.sha256) + ", got " + got +
                         "); the partial file was deleted, run the download again");
    }
  }
  fs::rename(part, dest);
}

// Whether a finished file from an earlier attempt can be kept.
bool staged_file_is_complete(const fs::path& dest, const HubFile& f) {
  std::error_code ec;
  if (!fs::is_regular_file(dest, ec)) return false;
  if (f.size >= 0 && static_cast<int64_t>(fs::file_size(dest, ec)) != f.size) return false;
  return f.sha256.empty() || sha256_file(dest.string()) == lower(f.sha256);
}

// Whether a staging folder holds downloaded bytes worth resuming from.
bool staging_has_data(const fs::path& staging) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() != kMetadataFile && it->is_regular_file(ec) &&
        it->file_size(ec) > 0) {
      return true;
    }
  }
  return false;
}

void check_free_space(const fs::path& dir, int64_t needed) {
  struct statvfs st {};
  if (needed <= 0 || ::statvfs(dir.c_str(), &st) != 0) return;
  const auto free_bytes = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  if (free_bytes < needed) {
    throw HubError(HubErrorKind::local, "[hub] not enough disk space in '" + dir.string() +
                                            "': the download needs " + human_bytes(needed) + ", " +
                                            human_bytes(free_bytes) + " free");
  }
}

DownloadResult run_download(const HubClient& client, const DownloadRequest& req,
                            const std::string& id, const fs::path& final_dir,
                            ActiveDownload& active, const ProgressCallback& progress,
                            const std::atomic<bool>& cancel) {
  const HubOptions& o = client.options();
  const fs::path staging = staging_dir(req.models_dir, id);
  fs::create_directories(staging.parent_path());
  LockFile lock(staging.parent_path() / (id + ".lock"), id);
  if (fs::exists(final_dir)) {  // finished by another process while we waited for nothing
    DownloadResult done;
    done.dir = final_dir.string();
    done.already_present = true;
    lock.remove();
    return done;
  }

  Reporter reporter(active, progress, o.progress_interval_s);
  reporter.progress().id = id;
  reporter.progress().repo = req.repo;
  try {
    const HubRepoInfo info = client.list_files(req.repo, req.revision);
    const std::vector<HubFile> files = select_files(info.files, req);
    if (files.empty()) {
      throw HubError(HubErrorKind::not_found, "[hub] no file of repo '" + req.repo +
                                                  "' at revision '" + req.revision +
                                                  "' matches the file filters");
    }
    // A staging folder from another commit or repo holds files that do not belong together.
    const fs::path meta_path = staging / kMetadataFile;
    if (fs::exists(staging)) {
      bool same = false;
      try {
        std::ifstream in(meta_path);
        const json old = json::parse(in);
        same = old.value("repo", "") == req.repo && old.value("commit", "") == info.commit;
      } catch (const std::exception&) {
      }
      if (!same) fs::remove_all(staging);
    }
    fs::create_directories(staging);
    {
      std::ofstream out(meta_path);
      out << metadata_json(req, info, files).dump(2) << "\n";
      if (!out) {
        throw HubError(HubErrorKind::local, "[hub] cannot write '" + meta_path.string() + "'");
      }
    }

    DownloadProgress& p = reporter.progress();
    p.files_total = static_cast<int>(files.size());
    p.total = 0;
    int64_t total_known = 0;
    for (const auto& f : files) {
      if (f.size < 0) p.total = -1;
      total_known += std::max<int64_t>(f.size, 0);
    }
    if (p.total == 0) p.total = total_known;
    int64_t on_disk = 0;
    for (const auto& f : files) {
      std::error_code ec;
      fs::path part = staging / f.path;
      if (!fs::is_regular_file(part, ec)) part += kPartSuffix;
      if (fs::is_regular_file(part, ec)) on_disk += static_cast<int64_t>(fs::file_size(part, ec));
    }
    check_free_space(staging, total_known - on_disk);

    const ErrorContext base_ctx{req.repo, info.commit, ""};
    for (const auto& f : files) {
      const fs::path dest = staging / f.path;
      if (staged_file_is_complete(dest, f)) {
        reporter.start_file(f.path, f.size, std::max<int64_t>(f.size, 0));
        reporter.finish_file();
        continue;
      }
      std::error_code ec;
      fs::remove(dest, ec);
      ErrorContext ctx = base_ctx;
      ctx.file = f.path;
      const std::string url = o.endpoint + "/" + req.repo + "/resolve/" +
                              hub_url_escape(info.commit, false) + "/" +
                              hub_url_escape(f.path, true);
      download_file(o, ctx, url, f, dest, reporter, cancel);
      reporter.finish_file();
    }
    if (cancel.load()) throw_cancelled("downloading " + req.repo);
    if (fs::exists(final_dir)) {
      throw HubError(HubErrorKind::local, "[hub] '" + final_dir.string() +
                                              "' appeared during the download; leaving it as is");
    }
    if (::rename(staging.c_str(), final_dir.c_str()) != 0) {
      throw HubError(HubErrorKind::local, "[hub] cannot move '" + staging.string() + "' to '" +
                                              final_dir.string() + "': " + std::strerror(errno));
    }
    lock.remove();
    std::error_code ec;
    fs::remove(staging.parent_path(), ec);  // only succeeds when no other download stages there
    reporter.finish_all();

    DownloadResult result;
    result.dir = final_dir.string();
    result.commit = info.commit;
    result.files = static_cast<int>(files.size());
    for (const auto& f : files) {
      result.bytes +=
          f.size >= 0 ? f.size : static_cast<int64_t>(fs::file_size(final_dir / f.path));
    }
    result.bytes_transferred = reporter.transferred();
    return result;
  } catch (const HubError& e) {
    // Keep partial files for the next attempt to resume, unless a cancel asked to drop them.
    const bool drop = e.kind() == HubErrorKind::cancelled ? !req.keep_partial_on_cancel
                                                          : !staging_has_data(staging);
    if (drop) {
      std::error_code ec;
      fs::remove_all(staging, ec);
      lock.remove();
      fs::remove(staging.parent_path(), ec);
    }
    throw;
  } catch (const fs::filesystem_error& e) {
    throw HubError(HubErrorKind::local, std::string("[hub] ") + e.what());
  }
}

}  // namespace

int hub_error_http_status(HubErrorKind kind) {
  switch (kind) {
    case HubErrorKind::not_found:
      return 404;
    case HubErrorKind::unauthorized:
      return 401;
    case HubErrorKind::rate_limited:
      return 429;
    case HubErrorKind::network:
      return 502;
    case HubErrorKind::integrity:
      return 502;
    case HubErrorKind::cancelled:
      return 499;
    case HubErrorKind::busy:
      return 409;
    case HubErrorKind::local:
      return 500;
  }
  return 500;
}

HubOptions HubOptions::from_env() {
  HubOptions o;
  std::string endpoint = trim(env_value("HF_ENDPOINT"));
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (!endpoint.empty()) o.endpoint = endpoint;
  o.token = trim(env_value("HF_TOKEN"));
  if (o.token.empty()) o.token = trim(env_value("HUGGING_FACE_HUB_TOKEN"));
  if (o.token.empty()) {
    std::string path = env_value("HF_TOKEN_PATH");
    if (path.empty()) {
      std::string hf_home = env_value("HF_HOME");
      if (hf_home.empty()) {
        const std::string xdg = env_value("XDG_CACHE_HOME");
        hf_home = (xdg.empty() ? home_dir() + "/.cache" : xdg) + "/huggingface";
      }
      path = hf_home + "/token";
    }
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      o.token = trim(ss.str());
    }
  }
  return o;
}

HubClient::HubClient(HubOptions options) : options_(std::move(options)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
  if (options_.endpoint.empty()) throw InvalidInput("[hub] empty hub endpoint");
}

HubRepoInfo HubClient::list_files(const std::string& repo, const std::string& revision) const {
  if (!repo_id_is_valid(repo)) {
    throw InvalidInput("[hub] '" + repo + "' is not a hub repo id (expected owner/name)");
  }
  if (revision.empty() || revision.find_first_of("\r\n\t ") != std::string::npos) {
    throw InvalidInput("[hub] invalid revision '" + revision + "'");
  }
  static const std::atomic<bool> never{false};
  const ErrorContext ctx{repo, revision, ""};
  HubRepoInfo info;
  info.repo = repo;
  const json j = get_json(options_,
                          options_.endpoint + "/api/models/" + repo + "/revision/" +
                              hub_url_escape(revision, false) + "?blobs=true",
                          ctx, never, nullptr);
  if (!j.is_object()) {
    throw HubError(HubErrorKind::integrity, "[hub] repo info of '" + repo + "' is not an object");
  }
  info.commit = j.contains("sha") && j["sha"].is_string() ? j["sha"].get<std::string>() : revision;
  bool sizes_known = j.contains("siblings") && j["siblings"].is_array();
  if (sizes_known) {
    for (const auto& s : j["siblings"]) {
      if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
      HubFile f;
      f.path = s["rfilename"];
      if (s.contains("size") && s["size"].is_number_integer()) f.size = s["size"];
      if (s.contains("lfs") && s["lfs"].is_object()) {
        const json& lfs = s["lfs"];
        if (lfs.contains("size") && lfs["size"].is_number_integer()) f.size = lfs["size"];
        if (lfs.contains("sha256") && lfs["sha256"].is_string()) f.sha256 = lfs["sha256"];
      }
      if (f.size < 0) sizes_known = false;
      info.files.push_back(std::move(f));
    }
  }
  if (!sizes_known) {
    // Older hubs and mirrors give no sizes in the revision API; the tree API always does.
    info.files.clear();
    std::string url = options_.endpoint + "/api/models/" + repo + "/tree/" +
                      hub_url_escape(info.commit, false) + "?recursive=true";
    for (int page = 0; !url.empty(); ++page) {
      if (page > 10000) {
        throw HubError(HubErrorKind::integrity, "[hub] tree of '" + repo + "' never ends");
      }
      HubHeaders headers;
      const json t = get_json(options_, url, ctx, never, &headers);
      if (!t.is_array()) {
        throw HubError(HubErrorKind::integrity, "[hub] tree of '" + repo + "' is not a list");
      }
      for (const auto& e : t) {
        if (!e.is_object() || e.value("type", "file") != "file" || !e.contains("path")) continue;
        HubFile f;
        f.path = e["path"].get<std::string>();
        if (e.contains("size") && e["size"].is_number_integer()) f.size = e["size"];
        if (e.contains("lfs") && e["lfs"].is_object()) {
          const json& lfs = e["lfs"];
          if (lfs.contains("size") && lfs["size"].is_number_integer()) f.size = lfs["size"];
          if (lfs.contains("oid") && lfs["oid"].is_string()) f.sha256 = lfs["oid"];
          if (lfs.contains("sha256") && lfs["sha256"].is_string()) f.sha256 = lfs["sha256"];
        }
        info.files.push_back(std::move(f));
      }
      const std::string next = next_link(headers);
      url = next.empty() ? "" : absolute_url(options_, next);
    }
  }
  for (const auto& f : info.files) {
    if (!hub_path_is_safe(f.path)) {
      throw HubError(HubErrorKind::integrity,
                     "[hub] repo '" + repo + "' lists an unsafe file path '" + f.path + "'");
    }
    if (!f.sha256.empty() &&
        (f.sha256.size() != 64 ||
         f.sha256.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
      throw HubError(HubErrorKind::integrity, "[hub] repo '" + repo + "' lists file '" + f.path +
                                                  "' with a malformed sha256 '" + f.sha256 + "'");
    }
  }
  return info;
}

DownloadResult HubClient::download(const DownloadRequest& request, const ProgressCallback& progress,
                                   const std::atomic<bool>& cancel) const {
  if (!repo_id_is_valid(request.repo)) {
    throw InvalidInput("[hub] '" + request.repo + "' is not a hub repo id (expected owner/name)");
  }
  const std::string id = request.id.empty() ? model_id_from_repo(request.repo) : request.id;
  if (!model_id_is_safe(id)) throw InvalidInput("[hub] unsafe model id '" + id + "'");
  if (request.models_dir.empty()) throw InvalidInput("[hub] no models dir given");
  std::error_code ec;
  fs::create_directories(request.models_dir, ec);
  if (ec) {
    throw HubError(HubErrorKind::local,
                   "[hub] cannot create models dir '" + request.models_dir + "': " + ec.message());
  }
  const fs::path final_dir = fs::absolute(fs::path(request.models_dir) / id).lexically_normal();
  if (fs::exists(final_dir)) {
    DownloadResult done;
    done.dir = final_dir.string();
    done.already_present = true;
    return done;
  }

  std::shared_ptr<ActiveDownload> active;
  bool primary = false;
  {
    std::lock_guard lk(g_active_mu);
    auto it = g_active.find(final_dir.string());
    if (it == g_active.end()) {
      active = std::make_shared<ActiveDownload>();
      active->repo = request.repo;
      active->last.id = id;
      active->last.repo = request.repo;
      g_active.emplace(final_dir.string(), active);
      primary = true;
    } else {
      active = it->second;
      if (lower(active->repo) != lower(request.repo)) {
        throw HubError(HubErrorKind::busy, "[hub] model '" + id + "' is being downloaded from '" +
                                               active->repo + "'; cannot download '" +
                                               request.repo + "' under the same id now");
      }
    }
  }

  if (!primary) {
    int me = 0;
    DownloadProgress last;
    {
      std::lock_guard lk(active->observers_mu);
      me = active->next_observer++;
      active->observers.emplace_back(me, progress);
    }
    auto leave = [&] {
      std::lock_guard lk(active->observers_mu);
      std::erase_if(active->observers, [&](const auto& o) { return o.first == me; });
    };
    {
      std::lock_guard lk(active->mu);
      last = active->last;
    }
    if (progress) progress(last);
    for (;;) {
      std::unique_lock lk(active->mu);
      if (active->cv.wait_for(lk, std::chrono::milliseconds(50),
                              [&] { return active->finished; })) {
        lk.unlock();
        leave();
        if (active->error) std::rethrow_exception(active->error);
        return *active->result;
      }
      lk.unlock();
      if (cancel.load()) {
        leave();
        throw HubError(HubErrorKind::cancelled,
                       "[hub] stopped waiting for the download of '" + id +
                           "' (it goes on for the request that started it): cancelled");
      }
    }
  }

  auto finish = [&](std::optional<DownloadResult> result, std::exception_ptr error) {
    {
      std::lock_guard lk(g_active_mu);
      g_active.erase(final_dir.string());
    }
    std::lock_guard lk(active->mu);
    active->finished = true;
    active->result = std::move(result);
    active->error = error;
    active->cv.notify_all();
  };
  try {
    DownloadResult result = run_download(*this, request, id, final_dir, *active, progress, cancel);
    finish(result, nullptr);
    return result;
  } catch (...) {
    finish(std::nullopt, std::current_exception());
    throw;
  }
}

std::string staging_dir(const std::string& models_dir, const std::string& id) {
  fs::path models = fs::absolute(fs::path(models_dir)).lexically_normal();
  if (models.filename().empty()) models = models.parent_path();  // "models/" -> "models"
  const fs::path parent = models.parent_path();
  struct stat a {
  }, b{};
  const bool same_fs =
      ::stat(parent.c_str(), &a) != 0 || ::stat(models.c_str(), &b) != 0 || a.st_dev == b.st_dev;
  if (same_fs && parent != models) {
    return (parent / ("." + models.filename().string() + "-staging") / id).string();
  }
  return (models / ".staging" / id).string();
}

std::string models_dir_from_env() {
  std::string home = env_value("MOFA_HOME");
  if (home.empty()) home = home_dir() + "/.mofa";
  return (fs::path(home) / "models").string();
}

std::vector<DownloadProgress> active_downloads() {
  std::vector<std::shared_ptr<ActiveDownload>> all;
  {
    std::lock_guard lk(g_active_mu);
    for (const auto& [key, a] : g_active) all.push_back(a);
  }
  std::vector<DownloadProgress> out;
  for (const auto& a : all) {
    std::lock_guard lk(a->mu);
    out.push_back(a->last);
  }
  return out;
}

}  // namespace mofa::runtime
