// `mofa quantize`: turns a Hugging Face float checkpoint into mlx-community's affine-quantized
// layout (what mlx-lm's convert -q writes): every 2-D weight whose input dimension is a multiple
// of the group size becomes weight (u32 codes) + scales + biases; config.json gains
// "quantization" and "quantization_config"; other files are copied.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "apps/mofa/command.h"
#include "core/error.h"
#include "io/mlx_quantize.h"
#include "io/safetensors_writer.h"
#include "io/weight_store.h"

namespace mofa::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeFlags {
  std::string model;
  std::string out;
  int bits = 4;
  int group_size = 64;
  bool force = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void quantize(const QuantizeFlags& f) {
  QuantSpec spec{f.bits, f.group_size};
  if (spec.bits != 2 && spec.bits != 3 && spec.bits != 4 && spec.bits != 5 && spec.bits != 6 &&
      spec.bits != 8)
    throw InvalidInput("--bits must be 2, 3, 4, 5, 6 or 8 (got " + std::to_string(spec.bits) + ")");
  if (spec.group_size != 32 && spec.group_size != 64 && spec.group_size != 128)
    throw InvalidInput("--group-size must be 32, 64 or 128 (got " +
                       std::to_string(spec.group_size) + ")");
  const fs::path src(f.model), dst(f.out);
  if (!fs::is_regular_file(src / "config.json"))
    throw InvalidInput("'" + f.model + "' is not a model directory (no config.json)");
  if (fs::exists(dst) && !fs::is_empty(dst) && !f.force)
    throw InvalidInput("output directory '" + f.out + "' is not empty (use --force to overwrite)");
  nlohmann::json cfg;
  {
    std::ifstream in(src / "config.json");
    try {
      cfg = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InvalidInput((src / "config.json").string() + ": " + e.what());
    }
  }
  if (cfg.contains("quantization")) throw InvalidInput("'" + f.model + "' is already quantized");

  io::WeightStore store = io::WeightStore::open_dir(src.string());
  auto names = store.names();
  std::sort(names.begin(), names.end());
  std::vector<std::pair<std::string, Tensor>> out;
  int quantized = 0;
  for (const auto& name : names) {
    Tensor t = store.get(name);
    const bool matrix = t.ndim() == 2 && dtype_is_float(t.dtype()) && ends_with(name, ".weight");
    if (!matrix || t.dim(1) % spec.group_size != 0) {
      out.emplace_back(name, t);
      continue;
    }
    const std::string prefix = name.substr(0, name.size() - 7);
    Tensor values = t.to_f32();
    io::QuantizedMatrix q =
        io::mlx_quantize(values.data<float>(), t.dim(0), t.dim(1), spec, t.dtype());
    out.emplace_back(prefix + ".weight", q.w);
    out.emplace_back(prefix + ".scales", q.scales);
    out.emplace_back(prefix + ".biases", q.biases);
    ++quantized;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  fs::create_directories(dst);
  for (const auto& entry : fs::directory_iterator(src)) {
    const std::string fname = entry.path().filename().string();
    if (!entry.is_regular_file() || ends_with(fname, ".safetensors") ||
        fname == "model.safetensors.index.json" || fname == "config.json")
      continue;
    fs::copy_file(entry.path(), dst / fname, fs::copy_options::overwrite_existing);
  }
  nlohmann::json q = {{"group_size", spec.group_size}, {"bits", spec.bits}};
  cfg["quantization"] = q;
  cfg["quantization_config"] = q;
  {
    std::ofstream cf(dst / "config.json");
    cf << cfg.dump(4) << "\n";
  }
  io::safetensors_write((dst / "model.safetensors").string(), out, {{"format", "mlx"}});
  std::fprintf(stderr, "quantized %d matrices to %d-bit (group %d) into %s\n", quantized, spec.bits,
               spec.group_size, dst.string().c_str());
}

const CommandRegistration reg("quantize", [](CLI::App& app) {
  auto flags = std::make_shared<QuantizeFlags>();
  auto* cmd = app.add_subcommand("quantize", "write an MLX affine-quantized copy of a float model");
  cmd->add_option("--model,-m", flags->model, "source model directory (HF float weights)")
      ->required();
  cmd->add_option("--out,-o", flags->out, "output directory")->required();
  cmd->add_option("--bits", flags->bits, "bits per weight: 2, 3, 4, 5, 6 or 8")
      ->capture_default_str();
  cmd->add_option("--group-size", flags->group_size, "weights per scale/bias: 32, 64 or 128")
      ->capture_default_str();
  cmd->add_flag("--force", flags->force, "overwrite a non-empty output directory");
  cmd->callback([flags] { quantize(*flags); });
});

}  // namespace
}  // namespace mofa::cli
