#include "io/weight_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors_fixture.h"

namespace mofa::io {
namespace {

using testing::as_bytes;
using testing::bf16_bytes;
using ::testing::HasSubstr;
using testing::st_build;
using testing::StTensor;
using testing::TempDir;
using testing::write_file;

constexpr int64_t kRows = 8, kCols = 64, kGroup = 32;

ModelConfig tiny_config(int bits) {
  nlohmann::json doc = {{"model_type", "qwen2"},    {"hidden_size", kCols},
                        {"intermediate_size", 128}, {"num_hidden_layers", 1},
                        {"num_attention_heads", 4}, {"vocab_size", 100}};
  if (bits) doc["quantization"] = {{"group_size", kGroup}, {"bits", bits}};
  return ModelConfig::parse(doc, "/m/config.json");
}

// An MLX 4-bit [kRows, kCols] layer: codes (r + c) % 16, scale 0.5 + g, bias -r.
std::vector<StTensor> quantized_layer(const std::string& prefix) {
  std::vector<uint32_t> words(kRows * kCols / 8, 0);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kCols; ++c)
      words[r * kCols / 8 + c / 8] |= static_cast<uint32_t>((r + c) % 16) << (4 * (c % 8));
  std::vector<float> scales, biases;
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t g = 0; g < kCols / kGroup; ++g) {
      scales.push_back(0.5f + static_cast<float>(g));
      biases.push_back(-static_cast<float>(r));
    }
  return {{prefix + ".weight", "U32", {kRows, kCols / 8}, as_bytes(words)},
          {prefix + ".scales", "BF16", {kRows, kCols / kGroup}, bf16_bytes(scales)},
          {prefix + ".biases", "BF16", {kRows, kCols / kGroup}, bf16_bytes(biases)}};
}

WeightStore store_of(const TempDir& dir, const std::vector<StTensor>& tensors,
                     const std::string& file = "model.safetensors") {
  write_file(dir.file(file), st_build(tensors));
  return WeightStore::open_files(dir.path(), {dir.file(file)});
}

std::string linear_error(const WeightStore& s, const ModelConfig& cfg, const std::string& prefix,
                         int64_t rows, int64_t cols) {
  try {
    load_linear(s, cfg, prefix, rows, cols);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "";
}

TEST(WeightLoader, LoadsQuantizedLinearAndDequantizes) {
  TempDir dir;
  const std::string p = "model.layers.0.self_attn.q_proj";
  WeightStore s = store_of(dir, quantized_layer(p));
  Weight w = load_linear(s, tiny_config(4), p, kRows, kCols);
  ASSERT_TRUE(w.quantized());
  EXPECT_EQ(w.quant.bits, 4);
  EXPECT_EQ(w.quant.group_size, kGroup);
  EXPECT_EQ(w.rows, kRows);
  EXPECT_EQ(w.cols, kCols);
  EXPECT_EQ(w.name, p + ".weight");
  EXPECT_EQ(w.scales.dtype(), DType::bf16);
  std::vector<float> row(kCols);
  for (int64_t r : {0, 5}) {
    weight_row_f32(w, r, row.data());
    for (int64_t c = 0; c < kCols; ++c)
      ASSERT_EQ(row[c], (0.5f + static_cast<float>(c / kGroup)) * static_cast<float>((r + c) % 16) -
                            static_cast<float>(r))
          << "r=" << r << " c=" << c;
  }
}

TEST(WeightLoader, LoadsDenseLinearAndVector) {
  TempDir dir;
  std::vector<float> v(kRows * kCols);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.25f;
  WeightStore s = store_of(
      dir, {{"lm_head.weight", "BF16", {kRows, kCols}, bf16_bytes(v)},
            {"model.norm.weight", "F32", {kCols}, as_bytes(std::vector<float>(kCols, 1.0f))}});
  Weight w = load_linear(s, tiny_config(0), "lm_head", kRows, kCols);
  EXPECT_FALSE(w.quantized());
  EXPECT_EQ(w.w.dtype(), DType::bf16);
  EXPECT_EQ(w.w.shape(), (Shape{kRows, kCols}));
  EXPECT_EQ(w.w.get_f32(3 * kCols + 7), (3 * kCols + 7) * 0.25f);
  Tensor n = load_vector(s, "model.norm.weight", kCols);
  EXPECT_EQ(n.shape(), (Shape{kCols}));
  EXPECT_EQ(n.get_f32(kCols - 1), 1.0f);
  // A dense module inside a quantized model (no .scales) loads dense, as mlx-lm does.
  Weight d = load_linear(s, tiny_config(4), "lm_head", kRows, kCols);
  EXPECT_FALSE(d.quantized());
}

TEST(WeightLoader, DenseShapeDisagreeingWithConfigIsNamed) {
  TempDir dir;
  WeightStore s = store_of(dir,
                           {{"model.layers.0.self_attn.q_proj.weight",
                             "F32",
                             {kRows, 32},
                             as_bytes(std::vector<float>(kRows * 32))}},
                           "model-00001-of-00002.safetensors");
  std::string msg =
      linear_error(s, tiny_config(0), "model.layers.0.self_attn.q_proj", kRows, kCols);
  EXPECT_THAT(msg, HasSubstr("tensor 'model.layers.0.self_attn.q_proj.weight' in "
                             "model-00001-of-00002.safetensors has shape [8, 32] but config.json "
                             "implies [8, 64]"));
}

TEST(WeightLoader, QuantizedShapeDisagreeingWithConfigIsNamed) {
  TempDir dir;
  const std::string p = "model.layers.0.self_attn.q_proj";
  WeightStore s = store_of(dir, quantized_layer(p), "model-00001-of-00002.safetensors");
  // The file holds 4-bit codes; a config claiming 8 bits implies twice the packed width.
  std::string msg = linear_error(s, tiny_config(8), p, kRows, kCols);
  EXPECT_THAT(msg, HasSubstr("tensor 'model.layers.0.self_attn.q_proj.weight' in "
                             "model-00001-of-00002.safetensors has u32 shape [8, 8] but "
                             "config.json implies [8, 64] at bits=8, group_size=32, stored as u32 "
                             "[8, 16]"));
  // Right bits, wrong logical width from the model's point of view.
  msg = linear_error(s, tiny_config(4), p, kRows, 128);
  EXPECT_THAT(msg, HasSubstr("has u32 shape [8, 8] but config.json implies [8, 128] at bits=4"));
  msg = linear_error(s, tiny_config(4), p, 16, kCols);
  EXPECT_THAT(msg, HasSubstr("implies [16, 64]"));
}

TEST(WeightLoader, QuantizationInconsistenciesAreNamed) {
  TempDir dir;
  const std::string p = "model.embed_tokens";
  auto layer = quantized_layer(p);
  WeightStore s = store_of(dir, layer);
  EXPECT_THAT(linear_error(s, tiny_config(0), p, kRows, kCols),
              HasSubstr("gives it no quantization"));

  TempDir dir2;
  WeightStore no_biases = store_of(dir2, {layer[0], layer[1]});
  EXPECT_THAT(linear_error(no_biases, tiny_config(4), p, kRows, kCols),
              HasSubstr("missing tensor 'model.embed_tokens.biases'"));

  TempDir dir3;
  WeightStore no_scales = store_of(dir3, {layer[0]});
  EXPECT_THAT(linear_error(no_scales, tiny_config(4), p, kRows, kCols),
              HasSubstr("has no model.embed_tokens.scales"));

  TempDir dir4;
  auto bad_scales = layer;
  bad_scales[1].shape = {kRows, 1};
  bad_scales[1].bytes = bf16_bytes(std::vector<float>(kRows, 1.0f));
  WeightStore s4 = store_of(dir4, bad_scales);
  EXPECT_THAT(linear_error(s4, tiny_config(4), p, kRows, kCols),
              HasSubstr("tensor 'model.embed_tokens.scales' in model.safetensors has bf16 shape "
                        "[8, 1] but config.json implies float [8, 2]"));

  TempDir dir5;
  WeightStore empty = store_of(dir5, {});
  EXPECT_THAT(linear_error(empty, tiny_config(4), "model.layers.3.mlp.up_proj", kRows, kCols),
              HasSubstr("missing tensor 'model.layers.3.mlp.up_proj.weight'"));
}

TEST(WeightLoader, PerModuleOverrideDrivesTheSpec) {
  TempDir dir;
  const std::string p = "model.layers.0.mlp.gate";
  WeightStore s = store_of(dir, quantized_layer(p));
  nlohmann::json doc = tiny_config(8).raw;
  doc["quantization"][p] = {{"group_size", kGroup}, {"bits", 4}};
  ModelConfig cfg = ModelConfig::parse(doc, "/m/config.json");
  Weight w = load_linear(s, cfg, p, kRows, kCols);
  EXPECT_EQ(w.quant.bits, 4);
}

TEST(WeightLoader, VectorMismatchIsNamed) {
  TempDir dir;
  WeightStore s = store_of(dir, {{"model.norm.weight", "F32", {4}, as_bytes(std::vector<float>(4))},
                                 {"ids", "I32", {4}, as_bytes(std::vector<int32_t>(4))}});
  try {
    load_vector(s, "model.norm.weight", 896);
    FAIL() << "no exception";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("tensor 'model.norm.weight' in model.safetensors has f32 "
                                    "shape [4] but config.json implies float [896]"));
  }
  EXPECT_THROW(load_vector(s, "ids", 4), InvalidInput);
  EXPECT_THROW(load_vector(s, "absent", 4), InvalidInput);
}

}  // namespace
}  // namespace mofa::io
