// The hub downloader against a local mimic of the hub: exact bytes, resume, integrity, errors,
// auth and redirects, progress, cancellation and concurrent requests.
#include "runtime/hub_download.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "runtime/hub_installed.h"
#include "runtime/hub_mimic.h"
#include "runtime/hub_sha256.h"

namespace mofa::runtime {
namespace {

namespace fs = std::filesystem;
using test::HubMimic;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HubDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mofa-hub-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    models_ = root_ / "models";
  }
  void TearDown() override { fs::remove_all(root_); }

  HubOptions options(const std::string& token = "") const {
    HubOptions o;
    o.endpoint = mimic_.endpoint();
    o.token = token;
    o.backoff_base_s = 0.01;
    o.backoff_max_s = 0.05;
    o.max_retries = 3;
    o.progress_interval_s = 0;
    return o;
  }
  DownloadRequest request(const std::string& repo = "mofa-test/tiny-model") const {
    DownloadRequest r;
    r.repo = repo;
    r.models_dir = models_.string();
    return r;
  }
  // Every file the default filter keeps has the mimic's exact bytes in `dir`.
  void expect_model_files(const fs::path& dir) const {
    for (const char* path : {"config.json", "tokenizer.json", "README.md", "model.safetensors",
                             "templates/chat_template.jinja"}) {
      ASSERT_TRUE(fs::is_regular_file(dir / path)) << path;
      EXPECT_TRUE(read_file(dir / path) == mimic_.file(path).bytes) << path << " differs";
    }
    EXPECT_FALSE(fs::exists(dir / "pytorch_model.bin"));  // duplicate weights skipped
    EXPECT_FALSE(fs::exists(dir / ".gitattributes"));
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
    }
  }
  void expect_nothing_installed(const std::string& id = "tiny-model") const {
    EXPECT_FALSE(fs::exists(models_ / id));
    EXPECT_TRUE(list_installed_models(models_.string()).empty());
  }

  HubMimic mimic_;
  fs::path root_, models_;
  std::atomic<bool> no_cancel_{false};
};

TEST_F(HubDownloadTest, DownloadsSelectedFilesWithExactBytesAndProgress) {
  std::vector<DownloadProgress> reports;
  const DownloadResult r = HubClient(options()).download(
      request(), [&](const DownloadProgress& p) { reports.push_back(p); }, no_cancel_);
  EXPECT_EQ(r.dir, (models_ / "tiny-model").string());
  EXPECT_EQ(r.commit, mimic_.commit);
  EXPECT_FALSE(r.already_present);
  EXPECT_EQ(r.files, 5);
  int64_t expected_bytes = 0;
  for (const char* path : {"config.json", "tokenizer.json", "README.md", "model.safetensors",
                           "templates/chat_template.jinja"}) {
    expected_bytes += static_cast<int64_t>(mimic_.file(path).bytes.size());
  }
  EXPECT_EQ(r.bytes, expected_bytes);
  EXPECT_EQ(r.bytes_transferred, expected_bytes);
  expect_model_files(r.dir);
  EXPECT_FALSE(fs::exists(staging_dir(models_.string(), "tiny-model")));

  ASSERT_FALSE(reports.empty());
  int64_t prev = 0;
  for (const auto& p : reports) {
    EXPECT_GE(p.done, prev);  // never goes backwards on a clean download
    prev = p.done;
    EXPECT_EQ(p.total, expected_bytes);
    EXPECT_EQ(p.files_total, 5);
    EXPECT_EQ(p.id, "tiny-model");
  }
  EXPECT_TRUE(reports.back().finished);
  EXPECT_EQ(reports.back().done, expected_bytes);
  EXPECT_EQ(reports.back().files_done, 5);
  bool saw_partial_big_file = false;
  for (const auto& p : reports) {
    if (p.file == "model.safetensors" && p.file_done > 0 && p.file_done < p.file_total) {
      saw_partial_big_file = true;
      EXPECT_EQ(p.file_total, 3 * 1024 * 1024 + 12345);
    }
  }
  EXPECT_TRUE(saw_partial_big_file);

  // Files are fetched at the resolved commit, never at a moving branch.
  for (const auto& h : mimic_.hits_for("model.safetensors")) {
    EXPECT_NE(h.path.find("/resolve/" + mimic_.commit + "/"), std::string::npos) << h.path;
  }
  const auto installed = list_installed_models(models_.string());
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_EQ(installed[0].id, "tiny-model");
  EXPECT_EQ(installed[0].repo, "mofa-test/tiny-model");
  EXPECT_EQ(installed[0].commit, mimic_.commit);
  EXPECT_GE(installed[0].bytes, expected_bytes);

  // A second download of an installed id touches nothing.
  const size_t hits_before = mimic_.hits().size();
  const DownloadResult again = HubClient(options()).download(request(), {}, no_cancel_);
  EXPECT_TRUE(again.already_present);
  EXPECT_EQ(mimic_.hits().size(), hits_before);
}

TEST_F(HubDownloadTest, ResumesDroppedConnectionWithRange) {
  const int64_t drop = 1024 * 1024 + 7;
  mimic_.drop_path = "model.safetensors";
  mimic_.drop_at = drop;
  const DownloadResult r = HubClient(options()).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  const auto hits = mimic_.hits_for("model.safetensors");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].range, "");
  EXPECT_EQ(hits[1].range, "bytes=" + std::to_string(drop) + "-");
  EXPECT_EQ(hits[1].status, 206);
  EXPECT_EQ(r.bytes_transferred, r.bytes);  // nothing fetched twice
}

TEST_F(HubDownloadTest, ResumesIncompleteFileLeftByEarlierRun) {
  // An earlier process got 1000 bytes of the big file before it died.
  const fs::path staging = staging_dir(models_.string(), "tiny-model");
  fs::create_directories(staging);
  std::ofstream(staging / ".mofa-hub.json")
      << R"({"repo": "mofa-test/tiny-model", "commit": ")" << mimic_.commit << R"("})";
  std::ofstream(staging / "model.safetensors.incomplete", std::ios::binary)
      << mimic_.file("model.safetensors").bytes.substr(0, 1000);
  const DownloadResult r = HubClient(options()).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  const auto hits = mimic_.hits_for("model.safetensors");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].range, "bytes=1000-");
  EXPECT_EQ(r.bytes_transferred, r.bytes - 1000);
}

TEST_F(HubDownloadTest, StaleIncompleteFileFromAnotherCommitIsDiscarded) {
  const fs::path staging = staging_dir(models_.string(), "tiny-model");
  fs::create_directories(staging);
  std::ofstream(staging / ".mofa-hub.json")
      << R"({"repo": "mofa-test/tiny-model", "commit": "ffffffffffffffffffffffffffffffffffffffff"})";
  std::ofstream(staging / "model.safetensors.incomplete", std::ios::binary) << "garbage";
  const DownloadResult r = HubClient(options()).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  EXPECT_EQ(mimic_.hits_for("model.safetensors").at(0).range, "");
}

TEST_F(HubDownloadTest, RestartsFileWhenServerIgnoresRange) {
  mimic_.ignore_range = true;
  mimic_.drop_path = "model.safetensors";
  mimic_.drop_at = 500000;
  const DownloadResult r = HubClient(options()).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  const auto hits = mimic_.hits_for("model.safetensors");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1].range, "bytes=500000-");
  EXPECT_EQ(hits[1].status, 200);  // the whole file again, written from byte 0
}

TEST_F(HubDownloadTest, ChecksumMismatchFailsAndInstallsNothing) {
  mimic_.corrupt_lfs = true;
  try {
    HubClient(options()).download(request(), {}, no_cancel_);
    FAIL() << "a corrupted LFS file was accepted";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::integrity);
    EXPECT_NE(std::string(e.what()).find("sha256 mismatch"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  expect_nothing_installed();
  const fs::path staging = staging_dir(models_.string(), "tiny-model");
  EXPECT_FALSE(fs::exists(staging / "model.safetensors.incomplete"));
  EXPECT_FALSE(fs::exists(staging / "model.safetensors"));

  // Once the hub serves the right bytes, the same call completes the model.
  mimic_.corrupt_lfs = false;
  expect_model_files(HubClient(options()).download(request(), {}, no_cancel_).dir);
}

TEST_F(HubDownloadTest, MissingRepoAndRevisionAreNotFound) {
  try {
    HubClient(options()).download(request("mofa-test/no-such-model"), {}, no_cancel_);
    FAIL() << "missing repo accepted";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::not_found);
    EXPECT_EQ(hub_error_http_status(e.kind()), 404);
    EXPECT_NE(std::string(e.what()).find("mofa-test/no-such-model"), std::string::npos);
  }
  expect_nothing_installed("no-such-model");
  try {
    HubClient(options()).list_files("mofa-test/tiny-model", "v9.9");
    FAIL() << "missing revision accepted";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::not_found);
    EXPECT_NE(std::string(e.what()).find("revision 'v9.9'"), std::string::npos) << e.what();
  }
}

TEST_F(HubDownloadTest, MissingFileFailsAndLeavesNoStaging) {
  mimic_.files.insert(mimic_.files.begin() + 1, {"a-first.json", "{}", false});
  mimic_.missing_path = "a-first.json";  // listed, but its download answers 404
  try {
    HubClient(options()).download(request(), {}, no_cancel_);
    FAIL() << "missing file accepted";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::not_found);
    EXPECT_NE(std::string(e.what()).find("file 'a-first.json'"), std::string::npos) << e.what();
  }
  expect_nothing_installed();
  EXPECT_FALSE(fs::exists(staging_dir(models_.string(), "tiny-model")));  // nothing to resume
}

TEST_F(HubDownloadTest, GatedRepoNeedsTheToken) {
  mimic_.required_token = "hf_test_secret";
  try {
    HubClient(options()).download(request(), {}, no_cancel_);
    FAIL() << "gated repo downloaded without a token";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::unauthorized);
    EXPECT_EQ(hub_error_http_status(e.kind()), 401);
    EXPECT_NE(std::string(e.what()).find("gated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HF_TOKEN"), std::string::npos) << e.what();
  }
  expect_nothing_installed();
  EXPECT_THROW(HubClient(options("hf_wrong")).download(request(), {}, no_cancel_), HubError);
  const DownloadResult r = HubClient(options("hf_test_secret")).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  for (const auto& h : mimic_.hits_for("model.safetensors")) {
    EXPECT_EQ(h.authorization, "Bearer hf_test_secret");
  }
}

TEST_F(HubDownloadTest, LfsRedirectToCdnNeverCarriesTheToken) {
  mimic_.required_token = "hf_test_secret";
  mimic_.lfs_redirect = true;
  mimic_.drop_path = "model.safetensors";
  mimic_.drop_at = 2000000;  // the resume goes through the hub's redirect again
  const DownloadResult r = HubClient(options("hf_test_secret")).download(request(), {}, no_cancel_);
  expect_model_files(r.dir);
  int hub_hits = 0, cdn_hits = 0;
  for (const auto& h : mimic_.hits_for("model.safetensors")) {
    ++hub_hits;
    EXPECT_EQ(h.server, "hub");
    EXPECT_EQ(h.status, 302);
    EXPECT_EQ(h.authorization, "Bearer hf_test_secret");
  }
  std::vector<std::string> cdn_ranges;
  for (const auto& h : mimic_.hits()) {
    if (h.server != "cdn") continue;
    ++cdn_hits;
    EXPECT_EQ(h.authorization, "") << "token leaked to the CDN";
    cdn_ranges.push_back(h.range);
  }
  EXPECT_EQ(hub_hits, 2);
  ASSERT_EQ(cdn_hits, 2);
  EXPECT_EQ(cdn_ranges[1], "bytes=2000000-");
}

TEST_F(HubDownloadTest, RenamedRepoFollowsRelativeRedirect) {
  mimic_.renamed["old-org/old-name"] = "mofa-test/tiny-model";
  const DownloadResult r =
      HubClient(options()).download(request("old-org/old-name"), {}, no_cancel_);
  EXPECT_EQ(fs::path(r.dir).filename(), "old-name");
  expect_model_files(r.dir);
}

TEST_F(HubDownloadTest, RateLimitIsRetriedThenReported) {
  mimic_.rate_limit_count = 2;
  expect_model_files(HubClient(options()).download(request(), {}, no_cancel_).dir);
  int limited = 0;
  for (const auto& h : mimic_.hits()) limited += h.status == 429;
  EXPECT_EQ(limited, 2);

  mimic_.rate_limit_count = 100;
  try {
    HubClient(options()).list_files("mofa-test/tiny-model");
    FAIL() << "endless 429 accepted";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::rate_limited);
    EXPECT_EQ(hub_error_http_status(e.kind()), 429);
  }
}

TEST_F(HubDownloadTest, TreeApiGivesSizesWhenRevisionApiDoesNot) {
  mimic_.siblings_without_size = true;
  const HubRepoInfo info = HubClient(options()).list_files("mofa-test/tiny-model");
  EXPECT_EQ(info.commit, mimic_.commit);
  ASSERT_EQ(info.files.size(), mimic_.files.size());  // every page followed, directories skipped
  for (const auto& f : info.files) {
    const auto& m = mimic_.file(f.path);
    EXPECT_EQ(f.size, static_cast<int64_t>(m.bytes.size())) << f.path;
    EXPECT_EQ(f.sha256, m.lfs ? sha256_hex(m.bytes) : "") << f.path;
  }
  expect_model_files(HubClient(options()).download(request(), {}, no_cancel_).dir);
}

TEST_F(HubDownloadTest, SlowPeerReportsProgressAndCancelCleansUp) {
  mimic_.slow_chunk_ms = 20;
  std::atomic<bool> cancel{false};
  int64_t seen = 0;
  try {
    HubClient(options()).download(
        request(),
        [&](const DownloadProgress& p) {
          if (p.file == "model.safetensors" && p.file_done >= 3 * 16384) {
            seen = p.file_done;
            cancel = true;
          }
        },
        cancel);
    FAIL() << "cancelled download completed";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::cancelled) << e.what();
  }
  EXPECT_GE(seen, 3 * 16384);
  expect_nothing_installed();
  EXPECT_FALSE(fs::exists(staging_dir(models_.string(), "tiny-model")));
}

TEST_F(HubDownloadTest, CancelKeepsPartialFilesWhenAskedAndTheNextRunResumes) {
  mimic_.slow_chunk_ms = 5;
  std::atomic<bool> cancel{false};
  DownloadRequest req = request();
  req.keep_partial_on_cancel = true;
  EXPECT_THROW(HubClient(options()).download(
                   req,
                   [&](const DownloadProgress& p) {
                     if (p.file == "model.safetensors" && p.file_done >= 4 * 16384) cancel = true;
                   },
                   cancel),
               HubError);
  expect_nothing_installed();
  const fs::path part =
      fs::path(staging_dir(models_.string(), "tiny-model")) / "model.safetensors.incomplete";
  ASSERT_TRUE(fs::exists(part));
  const auto kept = fs::file_size(part);
  EXPECT_GE(kept, 4u * 16384);
  mimic_.slow_chunk_ms = 0;
  expect_model_files(HubClient(options()).download(request(), {}, no_cancel_).dir);
  EXPECT_EQ(mimic_.hits_for("model.safetensors").back().range,
            "bytes=" + std::to_string(kept) + "-");
}

TEST_F(HubDownloadTest, SecondRequestForTheSameIdJoinsTheRunningOne) {
  mimic_.slow_chunk_ms = 5;
  std::promise<void> started;
  std::atomic<bool> signalled{false};
  auto first = std::async(std::launch::async, [&] {
    return HubClient(options()).download(
        request(),
        [&](const DownloadProgress& p) {
          if (p.file_done > 0 && !signalled.exchange(true)) started.set_value();
        },
        no_cancel_);
  });
  started.get_future().wait();
  ASSERT_EQ(active_downloads().size(), 1u);
  EXPECT_EQ(active_downloads()[0].id, "tiny-model");

  // Another repo cannot take the same folder while it downloads.
  try {
    HubClient(options()).download(request("other-org/tiny-model"), {}, no_cancel_);
    FAIL() << "two repos downloaded into one folder";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubErrorKind::busy);
  }
  int joined_reports = 0;
  const DownloadResult second = HubClient(options()).download(
      request(), [&](const DownloadProgress&) { ++joined_reports; }, no_cancel_);
  const DownloadResult r = first.get();
  EXPECT_EQ(second.dir, r.dir);
  EXPECT_FALSE(second.already_present);
  EXPECT_GT(joined_reports, 0);
  EXPECT_EQ(mimic_.hits_for("model.safetensors").size(), 1u);  // fetched once
  expect_model_files(r.dir);
  EXPECT_TRUE(active_downloads().empty());
}

TEST_F(HubDownloadTest, FilePatternsChooseWhatIsFetched) {
  DownloadRequest req = request();
  req.allow_patterns = {"*.json"};
  const DownloadResult r = HubClient(options()).download(req, {}, no_cancel_);
  EXPECT_EQ(r.files, 2);
  EXPECT_TRUE(fs::exists(fs::path(r.dir) / "config.json"));
  EXPECT_FALSE(fs::exists(fs::path(r.dir) / "model.safetensors"));
  EXPECT_TRUE(mimic_.hits_for("model.safetensors").empty());
}

TEST_F(HubDownloadTest, OptionsComeFromTheEnvironment) {
  const fs::path hf_home = root_ / "hf";
  fs::create_directories(hf_home);
  std::ofstream(hf_home / "token") << "hf_from_file\n";
  setenv("HF_HOME", hf_home.c_str(), 1);
  setenv("HF_ENDPOINT", (mimic_.endpoint() + "/").c_str(), 1);
  unsetenv("HF_TOKEN");
  unsetenv("HUGGING_FACE_HUB_TOKEN");
  unsetenv("HF_TOKEN_PATH");
  HubOptions o = HubOptions::from_env();
  EXPECT_EQ(o.endpoint, mimic_.endpoint());
  EXPECT_EQ(o.token, "hf_from_file");
  setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy", 1);
  EXPECT_EQ(HubOptions::from_env().token, "hf_legacy");
  setenv("HF_TOKEN", "hf_env", 1);
  EXPECT_EQ(HubOptions::from_env().token, "hf_env");

  // The environment's token reaches the gated mimic.
  mimic_.required_token = "hf_env";
  o = HubOptions::from_env();
  o.backoff_base_s = 0.01;
  EXPECT_EQ(HubClient(o).list_files("mofa-test/tiny-model").commit, mimic_.commit);
  for (const char* v : {"HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    unsetenv(v);
  }
}

}  // namespace
}  // namespace mofa::runtime
