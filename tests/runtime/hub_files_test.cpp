// The downloader's pure pieces: ids, repo names, file selection, sha256, URLs, staging, and the
// installed-models listing and removal used by `mofa list` / `mofa rm`.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "runtime/hub_download.h"
#include "runtime/hub_http.h"
#include "runtime/hub_installed.h"
#include "runtime/hub_sha256.h"

namespace mofa::runtime {
namespace {

namespace fs = std::filesystem;

TEST(HubIds, ModelIdComesFromTheRepoAndNeverLeavesTheModelsDir) {
  EXPECT_EQ(model_id_from_repo("Qwen/Qwen3-0.6B"), "Qwen3-0.6B");
  EXPECT_EQ(model_id_from_repo("gpt2"), "gpt2");
  EXPECT_TRUE(model_id_is_safe("Qwen3-0.6B-MLX-4bit"));
  EXPECT_TRUE(model_id_is_safe("Qwen2.5-0.5B-Instruct"));
  for (const char* bad :
       {"", ".", "..", "../x", "a/b", "/etc", "a\\b", ".hidden", "a..b", "tab\there", "nl\n"}) {
    EXPECT_FALSE(model_id_is_safe(bad)) << bad;
  }
  EXPECT_FALSE(model_id_is_safe(std::string(201, 'a')));
}

TEST(HubIds, RepoIdsFollowTheHubRules) {
  for (const char* ok : {"Qwen/Qwen3-0.6B", "mlx-community/Qwen3-0.6B-4bit", "gpt2", "a_b/c.d"}) {
    EXPECT_TRUE(repo_id_is_valid(ok)) << ok;
  }
  for (const char* bad : {"", "a/b/c", "/a", "a/", "a//b", "a--b/c", "a/b..c", "-a/b", "a/b.",
                          "a b/c", "a/b?x", "../a"}) {
    EXPECT_FALSE(repo_id_is_valid(bad)) << bad;
  }
}

std::vector<std::string> paths(const std::vector<HubFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.path);
  return out;
}

TEST(HubSelect, DefaultSkipsOtherFormatsAndDuplicateTorchWeights) {
  const std::vector<HubFile> repo = {{".gitattributes", 1, ""},
                                     {"config.json", 1, ""},
                                     {"model-00001-of-00002.safetensors", 1, ""},
                                     {"model.safetensors.index.json", 1, ""},
                                     {"pytorch_model.bin", 1, ""},
                                     {"tokenizer.model", 1, ""},
                                     {"chat_template.jinja", 1, ""},
                                     {"merges.txt", 1, ""},
                                     {"onnx/model.onnx", 1, ""},
                                     {"model-q4.gguf", 1, ""},
                                     {"original/consolidated.pth", 1, ""},
                                     {"LICENSE", 1, ""}};
  DownloadRequest req;
  EXPECT_EQ(paths(select_files(repo, req)),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model.safetensors.index.json", "tokenizer.model",
                                      "chat_template.jinja", "merges.txt", "LICENSE"}));
  // Without safetensors, PyTorch weights are the model (FunASR's model.pt, GPT-SoVITS's .pth).
  const std::vector<HubFile> torch_only = {{"config.yaml", 1, ""}, {"model.pt", 1, ""}};
  EXPECT_EQ(select_files(torch_only, req).size(), 2u);
  req.allow_patterns = {"*.json", "tokenizer.model"};
  req.ignore_patterns = {"*.index.json"};
  EXPECT_EQ(paths(select_files(repo, req)),
            (std::vector<std::string>{"config.json", "tokenizer.model"}));
  DownloadRequest all;
  all.all_files = true;
  EXPECT_EQ(select_files(repo, all).size(), repo.size());
  EXPECT_TRUE(hub_pattern_matches("onnx/", "onnx/model.onnx"));
  EXPECT_TRUE(hub_pattern_matches("*.json", "sub/dir/x.json"));
  EXPECT_FALSE(hub_pattern_matches("*.json", "x.jsonl"));
}

TEST(HubSha256, MatchesKnownVectorsAndFiles) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a", 1);
  h.update("bc", 2);
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
  const std::string path = "/tmp/mofa-hub-sha-" + std::to_string(getpid());
  std::ofstream(path, std::ios::binary) << "abcdef";
  EXPECT_EQ(sha256_file(path), sha256_hex("abcdef"));
  Sha256 prefix;
  EXPECT_EQ(sha256_file(path, 3, &prefix), sha256_hex("abc"));
  EXPECT_EQ(prefix.hex_digest(), sha256_hex("abc"));
  fs::remove(path);
  EXPECT_THROW(sha256_file("/nonexistent/mofa"), InvalidInput);
}

TEST(HubHttp, OriginsAndEscaping) {
  EXPECT_TRUE(hub_same_origin("https://huggingface.co/a", "https://huggingface.co:443/b"));
  EXPECT_TRUE(hub_same_origin("https://HuggingFace.co/a", "https://huggingface.co"));
  EXPECT_FALSE(hub_same_origin("https://huggingface.co/a", "https://cdn-lfs.huggingface.co/a"));
  EXPECT_FALSE(hub_same_origin("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a"));
  EXPECT_FALSE(hub_same_origin("http://huggingface.co/a", "https://huggingface.co/a"));
  EXPECT_EQ(hub_url_escape("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(hub_url_escape("sub dir/a+b.json", true), "sub%20dir/a%2Bb.json");
}

TEST(HubStaging, StagingSitsBesideTheModelsDir) {
  const fs::path root = fs::temp_directory_path() / ("mofa-hub-stage-" + std::to_string(getpid()));
  fs::create_directories(root / "models");
  EXPECT_EQ(staging_dir((root / "models").string(), "m"),
            (root / ".models-staging" / "m").string());
  EXPECT_EQ(staging_dir((root / "models").string() + "/", "m"),
            (root / ".models-staging" / "m").string());
  fs::remove_all(root);
  setenv("MOFA_HOME", "/srv/mofa", 1);
  EXPECT_EQ(models_dir_from_env(), "/srv/mofa/models");
  unsetenv("MOFA_HOME");
}

TEST(HubInstalled, ListsAndRemovesOnlyInsideTheModelsDir) {
  const fs::path root = fs::temp_directory_path() / ("mofa-hub-inst-" + std::to_string(getpid()));
  const fs::path models = root / "models";
  fs::create_directories(models / "b-model" / "sub");
  fs::create_directories(models / "a-model");
  fs::create_directories(models / ".staging" / "x");
  fs::create_directories(root / "outside");
  std::ofstream(root / "outside" / "keep.txt") << "keep";
  std::ofstream(models / "b-model" / "sub" / "w.bin") << std::string(1000, 'x');
  std::ofstream(models / "b-model" / ".mofa-hub.json") << R"({"repo":"o/b-model","commit":"c1"})";
  fs::create_directory_symlink(root / "outside", models / "linked");
  const auto list = list_installed_models(models.string());
  ASSERT_EQ(list.size(), 3u);  // a-model, b-model, linked; never .staging
  EXPECT_EQ(list[0].id, "a-model");
  EXPECT_EQ(list[1].id, "b-model");
  EXPECT_EQ(list[1].repo, "o/b-model");
  EXPECT_EQ(list[1].commit, "c1");
  EXPECT_GE(list[1].bytes, 1000);

  for (const char* bad : {"..", "../outside", "/tmp", ".staging", ""}) {
    EXPECT_THROW(remove_installed_model(models.string(), bad), InvalidInput) << bad;
  }
  EXPECT_THROW(remove_installed_model(models.string(), "nope"), InvalidInput);
  remove_installed_model(models.string(), "linked");  // removes the link, not its target
  EXPECT_TRUE(fs::exists(root / "outside" / "keep.txt"));
  remove_installed_model(models.string(), "b-model");
  EXPECT_FALSE(fs::exists(models / "b-model"));
  EXPECT_EQ(list_installed_models(models.string()).size(), 1u);
  fs::remove_all(root);
}

}  // namespace
}  // namespace mofa::runtime
