// `mofa pull`: downloads a model from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN) into the models
// dir, with a progress bar on stderr. Ctrl-C stops it and keeps the partial files, so running the
// same command again resumes.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/mofa/command.h"
#include "runtime/catalog.h"
#include "runtime/hub_download.h"
#include "runtime/settings.h"

namespace mofa::cli {
namespace {

struct PullFlags {
  std::string name;  // "owner/name", or a catalog id
  std::string revision = "main";
  std::string models_dir;
  std::string id;
  std::vector<std::string> include, exclude;
  bool all_files = false;
  bool quiet = false;
};

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

std::string clock_text(double seconds) {
  if (seconds < 0) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

// Draws one progress line; on a terminal it redraws in place, elsewhere it prints per file.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

  void update(const runtime::DownloadProgress& p) {
    if (quiet_) return;
    if (!tty_) {
      if (p.files_done != last_files_done_ && p.files_done > 0) {
        std::fprintf(stderr, "%d/%d files, %s of %s\n", p.files_done, p.files_total,
                     human(static_cast<double>(p.done)).c_str(),
                     p.total >= 0 ? human(static_cast<double>(p.total)).c_str() : "?");
        last_files_done_ = p.files_done;
      }
      return;
    }
    const double frac =
        p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0.0;
    const int width = 24;
    const int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '-');
    std::string file = p.file;
    if (file.size() > 28) file = "..." + file.substr(file.size() - 25);
    std::fprintf(stderr, "\r\033[K%-28s %d/%d [%s] %5.1f%%  %s/%s  %s/s  ETA %s", file.c_str(),
                 std::min(p.files_done + 1, p.files_total), p.files_total, bar.c_str(),
                 frac * 100.0, human(static_cast<double>(p.done)).c_str(),
                 p.total >= 0 ? human(static_cast<double>(p.total)).c_str() : "?",
                 human(p.bytes_per_s).c_str(), clock_text(p.eta_s).c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void end() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  bool quiet_, tty_;
  bool drawn_ = false;
  int last_files_done_ = -1;
};

void pull(const PullFlags& f) {
  runtime::DownloadRequest req;
  req.repo = f.name;
  if (f.name.find('/') == std::string::npos) {
    if (const auto* entry = runtime::find_catalog_entry(f.name)) req.repo = entry->repo;
  }
  req.revision = f.revision;
  req.models_dir = f.models_dir.empty() ? runtime::load_settings(runtime::default_home()).models_dir
                                        : f.models_dir;
  req.id = f.id;
  req.allow_patterns = f.include;
  req.ignore_patterns = f.exclude;
  req.all_files = f.all_files;
  req.keep_partial_on_cancel = true;

  runtime::HubOptions options = runtime::HubOptions::from_env();
  options.progress_interval_s = 0.1;
  const runtime::HubClient client(options);
  ProgressBar bar(f.quiet);
  std::signal(SIGINT, on_interrupt);
  runtime::DownloadResult r;
  try {
    r = client.download(
        req, [&](const runtime::DownloadProgress& p) { bar.update(p); }, g_interrupted);
  } catch (const runtime::HubError& e) {
    bar.end();
    std::signal(SIGINT, SIG_DFL);
    if (e.kind() == runtime::HubErrorKind::cancelled) {
      std::fprintf(stderr, "interrupted; run `mofa pull %s` again to resume\n", f.name.c_str());
      std::exit(130);
    }
    throw;
  }
  bar.end();
  std::signal(SIGINT, SIG_DFL);
  if (r.already_present) {
    std::printf("%s is already installed in %s (`mofa rm %s` to download it again)\n",
                req.repo.c_str(), r.dir.c_str(),
                req.id.empty() ? runtime::model_id_from_repo(req.repo).c_str() : req.id.c_str());
    return;
  }
  std::printf("pulled %s@%s into %s: %d files, %s\n", req.repo.c_str(),
              r.commit.substr(0, 12).c_str(), r.dir.c_str(), r.files,
              human(static_cast<double>(r.bytes)).c_str());
}

const CommandRegistration reg("pull", [](CLI::App& app) {
  auto flags = std::make_shared<PullFlags>();
  auto* cmd = app.add_subcommand(
      "pull",
      "download a model from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN) into the models dir");
  cmd->add_option("repo", flags->name, "hub repo (owner/name) or catalog id")->required();
  cmd->add_option("--revision", flags->revision, "branch, tag or commit")->capture_default_str();
  cmd->add_option("--models-dir", flags->models_dir, "models dir (default $MOFA_HOME/models)");
  cmd->add_option("--id", flags->id, "folder name (default: the repo's name)");
  cmd->add_option("--include", flags->include, "only files matching these globs (repeatable)");
  cmd->add_option("--exclude", flags->exclude, "skip files matching these globs (repeatable)");
  cmd->add_flag("--all-files", flags->all_files,
                "also take other formats (gguf, onnx, duplicate .bin/.pth weights)");
  cmd->add_flag("-q,--quiet", flags->quiet, "no progress bar");
  cmd->callback([flags] { pull(*flags); });
});

}  // namespace
}  // namespace mofa::cli
