#include "io/weight_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "io/safetensors_fixture.h"

namespace mofa::io {
namespace {

using testing::as_bytes;
using ::testing::HasSubstr;
using testing::st_build;
using testing::StTensor;
using testing::TempDir;
using testing::write_file;

StTensor f32(const std::string& name, std::vector<float> v) {
  return {name, "F32", {static_cast<int64_t>(v.size())}, as_bytes(v)};
}

std::string open_dir_error(const std::string& dir) {
  try {
    WeightStore::open_dir(dir);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

void write_sharded(const TempDir& dir, const nlohmann::json& weight_map) {
  write_file(dir.file("model-00001-of-00002.safetensors"),
             st_build({f32("a", {1, 2}), f32("b", {3})}));
  write_file(dir.file("model-00002-of-00002.safetensors"), st_build({f32("c", {4, 5, 6})}));
  write_file(dir.file("model.safetensors.index.json"),
             nlohmann::json{{"metadata", {{"total_size", 24}}}, {"weight_map", weight_map}}.dump());
}

TEST(WeightStore, OpensSingleModelSafetensors) {
  TempDir dir;
  write_file(dir.file("model.safetensors"), st_build({f32("x", {1, 2, 3}), f32("y", {4})}));
  // A stray adapter file must not join the model when model.safetensors exists.
  write_file(dir.file("adapters.safetensors"), st_build({f32("x", {9})}));
  WeightStore s = WeightStore::open_dir(dir.path());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(s.get("x").data<float>()[2], 3.0f);
  EXPECT_EQ(s.file_of("y"), dir.file("model.safetensors"));
  EXPECT_EQ(s.total_bytes(), 16u);
  EXPECT_TRUE(s.has("y"));
  EXPECT_FALSE(s.has("z"));
}

TEST(WeightStore, OpensShardsThroughTheIndex) {
  TempDir dir;
  write_sharded(dir, {{"a", "model-00001-of-00002.safetensors"},
                      {"b", "model-00001-of-00002.safetensors"},
                      {"c", "model-00002-of-00002.safetensors"}});
  WeightStore s = WeightStore::open_dir(dir.path());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.files().size(), 2u);
  EXPECT_EQ(s.file_of("c"), dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(s.file_of("a"), dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(s.get("c").data<float>()[1], 5.0f);
  EXPECT_EQ(s.get("b").data<float>()[0], 3.0f);
  EXPECT_EQ(s.total_bytes(), 24u);
}

TEST(WeightStore, FallsBackToEverySafetensorsFile) {
  TempDir dir;
  write_file(dir.file("part-b.safetensors"), st_build({f32("q", {7})}));
  write_file(dir.file("part-a.safetensors"), st_build({f32("p", {6})}));
  write_file(dir.file("notes.txt"), "not weights");
  WeightStore s = WeightStore::open_dir(dir.path());
  EXPECT_EQ(s.names(), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(s.file_of("q"), dir.file("part-b.safetensors"));
  EXPECT_EQ(s.get("p").data<float>()[0], 6.0f);
}

TEST(WeightStore, MissingTensorNamesTensorAndDir) {
  TempDir dir;
  write_file(dir.file("model.safetensors"), st_build({f32("x", {1})}));
  WeightStore s = WeightStore::open_dir(dir.path());
  try {
    s.get("model.norm.weight");
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("'model.norm.weight'"));
    EXPECT_THAT(e.what(), HasSubstr(dir.path()));
  }
  EXPECT_THROW(s.file_of("nope"), InvalidInput);
  try {
    s.get("language_model.x");
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("similar: 'x'"));
  }
}

TEST(WeightStore, RejectsIndexPointingAtMissingShard) {
  TempDir dir;
  write_sharded(
      dir, {{"a", "model-00001-of-00002.safetensors"}, {"c", "model-00003-of-00002.safetensors"}});
  std::string msg = open_dir_error(dir.path());
  EXPECT_THAT(msg, HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(msg, HasSubstr("tensor 'c'"));
  EXPECT_THAT(msg, HasSubstr("model-00003-of-00002.safetensors"));
  EXPECT_THAT(msg, HasSubstr("does not exist"));
}

TEST(WeightStore, RejectsIndexNamingTensorAbsentFromShard) {
  TempDir dir;
  write_sharded(
      dir, {{"a", "model-00001-of-00002.safetensors"}, {"c", "model-00001-of-00002.safetensors"}});
  std::string msg = open_dir_error(dir.path());
  EXPECT_THAT(msg, HasSubstr("tensor 'c'"));
  EXPECT_THAT(msg, HasSubstr("model-00001-of-00002.safetensors"));
  EXPECT_THAT(msg, HasSubstr("no such tensor"));
}

TEST(WeightStore, RejectsIndexEscapingTheDirectory) {
  TempDir dir;
  write_sharded(dir, {{"a", "../model-00001-of-00002.safetensors"}});
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("outside the model directory"));
  write_sharded(dir, {{"a", "/etc/passwd"}});
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("outside the model directory"));
}

TEST(WeightStore, RejectsBadIndexJson) {
  TempDir dir;
  write_file(dir.file("model.safetensors.index.json"), "{\"weight_map\": ");
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("not valid JSON"));
  write_file(dir.file("model.safetensors.index.json"), "{\"metadata\": {}}");
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("no \"weight_map\""));
  write_file(dir.file("model.safetensors.index.json"), "{\"weight_map\": {\"a\": 3}}");
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("tensor 'a'"));
}

TEST(WeightStore, RejectsDuplicateTensorsAcrossFiles) {
  TempDir dir;
  write_file(dir.file("one.safetensors"), st_build({f32("w", {1})}));
  write_file(dir.file("two.safetensors"), st_build({f32("w", {2})}));
  std::string msg = open_dir_error(dir.path());
  EXPECT_THAT(msg, HasSubstr("tensor 'w' appears in both"));
  EXPECT_THAT(msg, HasSubstr("one.safetensors"));
  EXPECT_THAT(msg, HasSubstr("two.safetensors"));
}

TEST(WeightStore, RejectsMissingOrEmptyDirectory) {
  TempDir dir;
  EXPECT_THAT(open_dir_error(dir.file("absent")), HasSubstr("not a directory"));
  EXPECT_THAT(open_dir_error(dir.path()), HasSubstr("no model.safetensors.index.json"));
}

TEST(WeightStore, CorruptShardErrorNamesTheShard) {
  TempDir dir;
  write_sharded(
      dir, {{"a", "model-00001-of-00002.safetensors"}, {"c", "model-00002-of-00002.safetensors"}});
  write_file(dir.file("model-00002-of-00002.safetensors"), "junk");
  std::string msg = open_dir_error(dir.path());
  EXPECT_THAT(msg, HasSubstr("model-00002-of-00002.safetensors"));
  EXPECT_THAT(msg, HasSubstr("too short"));
}

}  // namespace
}  // namespace mofa::io
