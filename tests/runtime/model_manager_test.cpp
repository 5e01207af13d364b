#include "runtime/model_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "runtime/fake_pipeline.h"
#include "runtime/settings.h"

namespace mofa::runtime {
namespace {

namespace fs = std::filesystem;
using mofa::testing::FakeEngine;
using mofa::testing::FakePipeline;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("mofa_mm_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

void make_model(const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "fake", "max_position_embeddings": 128})";
}

struct Fixture {
  TempDir home;
  FakeEngine engine;
  std::atomic<int> loads{0};
  std::unique_ptr<ModelManager> manager;

  explicit Fixture(ModelManagerOptions options = {}) {
    options.models_dir = (home.path() / "models").string();
    options.janitor_period = std::chrono::hours(1);  // tests call collect_idle themselves
    make_model(home.path() / "models" / "alpha");
    make_model(home.path() / "models" / "beta");
    manager = std::make_unique<ModelManager>(
        options, [this](const std::string& dir, const llm::LoadOptions&) {
          ++loads;
          return std::make_unique<FakePipeline>(engine, dir);
        });
  }
};

TEST(ModelManager, ListsModelFoldersAndLoadsOnFirstUseOnly) {
  Fixture f;
  const auto list = f.manager->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "alpha");
  EXPECT_EQ(list[1].id, "beta");
  EXPECT_FALSE(f.manager->is_loaded("alpha"));
  auto a1 = f.manager->acquire("alpha");
  auto a2 = f.manager->acquire("alpha:latest");
  EXPECT_EQ(a1.get(), a2.get());
  EXPECT_EQ(f.loads.load(), 1);
  EXPECT_TRUE(f.manager->is_loaded("alpha"));
  ASSERT_EQ(f.manager->loaded().size(), 1u);
  EXPECT_EQ(f.manager->loaded()[0].context_length, 128);
}

TEST(ModelManager, UnknownModelIsNotFoundAndUnsafeIdsAreRejected) {
  Fixture f;
  EXPECT_THROW(f.manager->acquire("gamma"), ModelNotFound);
  EXPECT_THROW(f.manager->acquire("../models/alpha"), InvalidInput);
  EXPECT_THROW(f.manager->acquire(".."), InvalidInput);
  EXPECT_THROW(f.manager->acquire("a/b/c"), InvalidInput);
  EXPECT_THROW(f.manager->acquire(std::string("al\0pha", 6)), InvalidInput);
  EXPECT_EQ(f.loads.load(), 0);
}

TEST(ModelManager, HubStyleIdResolvesToItsFolder) {
  Fixture f;
  EXPECT_EQ(f.manager->resolve("someone/alpha").id, "alpha");
}

TEST(ModelManager, KeepAliveZeroUnloadsOnceIdleButNeverWhileInUse) {
  Fixture f;
  auto model = f.manager->acquire("alpha", std::chrono::seconds(0));
  f.manager->collect_idle(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  EXPECT_TRUE(f.manager->is_loaded("alpha")) << "a model in use must stay loaded";
  model.reset();
  f.manager->collect_idle(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  EXPECT_FALSE(f.manager->is_loaded("alpha"));
}

TEST(ModelManager, DefaultKeepAliveExpires) {
  ModelManagerOptions options;
  options.keep_alive = std::chrono::seconds(300);
  Fixture f(options);
  f.manager->acquire("alpha");
  f.manager->collect_idle(std::chrono::steady_clock::now() + std::chrono::seconds(100));
  EXPECT_TRUE(f.manager->is_loaded("alpha"));
  f.manager->collect_idle(std::chrono::steady_clock::now() + std::chrono::seconds(301));
  EXPECT_FALSE(f.manager->is_loaded("alpha"));
}

TEST(ModelManager, MemoryBudgetUnloadsTheLeastRecentlyUsedIdleModel) {
  ModelManagerOptions options;
  options.memory_budget_bytes = 1500;  // the fake reports 1000 bytes per model
  Fixture f(options);
  // The estimate before loading is the folder's size.
  std::ofstream(f.home.path() / "models" / "beta" / "model.safetensors") << std::string(1000, 'w');
  f.manager->acquire("alpha");
  f.manager->acquire("beta");
  EXPECT_FALSE(f.manager->is_loaded("alpha"));
  EXPECT_TRUE(f.manager->is_loaded("beta"));
}

TEST(ModelManager, PinnedModelIsServedByFolderNameAndNeverDeleted) {
  TempDir elsewhere;
  make_model(elsewhere.path() / "Pinned-Model");
  ModelManagerOptions options;
  options.pinned_model_dir = (elsewhere.path() / "Pinned-Model").string();
  Fixture f(options);
  EXPECT_EQ(f.manager->pinned_id(), "Pinned-Model");
  EXPECT_EQ(f.manager->list()[0].id, "Pinned-Model");
  EXPECT_EQ(f.manager->acquire("Pinned-Model")->dir, options.pinned_model_dir);
  EXPECT_THROW(f.manager->remove("Pinned-Model"), InvalidInput);
  EXPECT_TRUE(fs::exists(elsewhere.path() / "Pinned-Model" / "config.json"));
}

TEST(ModelManager, RemoveUnloadsAndDeletesOnlyInsideTheModelsDir) {
  Fixture f;
  f.manager->acquire("alpha");
  f.manager->remove("alpha");
  EXPECT_FALSE(f.manager->is_loaded("alpha"));
  EXPECT_FALSE(fs::exists(f.home.path() / "models" / "alpha"));
  EXPECT_TRUE(fs::exists(f.home.path() / "models" / "beta"));
  EXPECT_THROW(f.manager->remove("../models/beta"), InvalidInput);
  EXPECT_TRUE(fs::exists(f.home.path() / "models" / "beta"));
}

TEST(ModelManager, ModelDirectoryWithoutConfigIsNotAModel) {
  EXPECT_THROW(
      {
        ModelManagerOptions options;
        options.pinned_model_dir = "/nonexistent/dir";
        ModelManager m(options, nullptr);
      },
      InvalidInput);
}

TEST(Settings, ReadsConfigAndReportsADamagedFileWithoutTouchingIt) {
  TempDir home;
  auto settings = load_settings(home.path().string());
  EXPECT_EQ(settings.models_dir, (home.path() / "models").string());
  EXPECT_EQ(settings.keep_alive.count(), 300);

  std::ofstream(home.path() / "config.json")
      << R"({"models_dir": "/data/models", "default_model": "alpha", "keep_alive": "10m",
             "memory_budget": "2GB"})";
  settings = load_settings(home.path().string());
  EXPECT_EQ(settings.models_dir, "/data/models");
  EXPECT_EQ(settings.default_model, "alpha");
  EXPECT_EQ(settings.keep_alive.count(), 600);
  EXPECT_EQ(settings.memory_budget_bytes, 2000000000ull);

  const std::string damaged = R"({"models_dir": "/x",)";
  std::ofstream(home.path() / "config.json", std::ios::trunc) << damaged;
  try {
    load_settings(home.path().string());
    FAIL() << "a damaged config must be reported";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
  }
  std::ifstream in(home.path() / "config.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), damaged);

  std::ofstream(home.path() / "config.json", std::ios::trunc) << R"({"keep_alive": "soon"})";
  EXPECT_THROW(load_settings(home.path().string()), InvalidInput);
}

TEST(Settings, ParsesDurationsAndSizes) {
  EXPECT_EQ(parse_keep_alive("5m").count(), 300);
  EXPECT_EQ(parse_keep_alive("1h").count(), 3600);
  EXPECT_EQ(parse_keep_alive(30).count(), 30);
  EXPECT_LT(parse_keep_alive(-1).count(), 0);
  EXPECT_LT(parse_keep_alive("-1").count(), 0);
  EXPECT_THROW(parse_keep_alive("5 minutes"), InvalidInput);
  EXPECT_EQ(parse_byte_size("512MiB"), 512ull * 1024 * 1024);
  EXPECT_EQ(parse_byte_size(1234), 1234ull);
  EXPECT_THROW(parse_byte_size("lots"), InvalidInput);
}

}  // namespace
}  // namespace mofa::runtime
