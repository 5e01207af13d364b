#include "models/layers/rope_scaling.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace mofa::models {
namespace {

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// Dimension index at which a frequency completes `rotations` turns over `max_pos` positions.
double yarn_correction_dim(double rotations, int dim, double base, double max_pos) {
  return dim * std::log(max_pos / (rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

}  // namespace

ops::Rope rope_from_config(const io::ModelConfig& cfg, bool interleaved) {
  const int head_dim = static_cast<int>(cfg.head_dim);
  int rotary_dim = static_cast<int>(head_dim * cfg.partial_rotary_factor);
  rotary_dim -= rotary_dim % 2;
  const double base = cfg.rope_theta;
  const int half = rotary_dim / 2;

  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) {
    // transformers evaluates base ** (2i / dim) in float32; keep that rounding.
    float expo = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
    inv[i] = 1.0 / static_cast<double>(std::pow(static_cast<float>(base), expo));
  }

  ops::Rope rope;
  rope.head_dim = head_dim;
  rope.rotary_dim = rotary_dim;
  rope.interleaved = interleaved;
  const io::RopeScaling& rs = cfg.rope_scaling;
  const std::string& type = rs.present ? rs.type : std::string("default");

  if (type == "default" || type.empty()) {
  } else if (type == "linear") {
    for (double& f : inv) f /= rs.factor;
  } else if (type == "llama3") {
    const double old_ctx = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rs.low_freq_factor;
    const double high_wavelen = old_ctx / rs.high_freq_factor;
    for (double& f : inv) {
      double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f = f / rs.factor;
      } else if (wavelen >= high_wavelen) {
        double smooth =
            (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
  } else if (type == "yarn") {
    const double factor = rs.factor;
    double orig = rs.original_max_position_embeddings > 0
                      ? static_cast<double>(rs.original_max_position_embeddings)
                      : static_cast<double>(cfg.max_position_embeddings);
    double attention_factor = rs.attention_factor;
    if (attention_factor <= 0.0) {
      double mscale = rs.raw.value("mscale", 0.0), mscale_all = rs.raw.value("mscale_all_dim", 0.0);
      attention_factor = (mscale != 0.0 && mscale_all != 0.0)
                             ? yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all)
                             : yarn_mscale(factor, 1.0);
    }
    bool truncate = rs.raw.value("truncate", true);
    double low = yarn_correction_dim(rs.beta_fast, rotary_dim, base, orig);
    double high = yarn_correction_dim(rs.beta_slow, rotary_dim, base, orig);
    if (truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(rotary_dim - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      double extrapolation = 1.0 - ramp;
      double interp = inv[i] / factor;
      inv[i] = interp * (1.0 - extrapolation) + inv[i] * extrapolation;
    }
    rope.mscale = static_cast<float>(attention_factor);
  } else if (type == "longrope") {
    // MiniCPM's MiniCPMLongRoPE: the tables are built once for max_position_embeddings, so the
    // long factors apply (at every position) exactly when max_position_embeddings exceeds
    // original_max_position_embeddings; cos and sin are both scaled by
    // sqrt(1 + ln(max / orig) / ln(orig)).
    const int64_t orig = rs.original_max_position_embeddings;
    if (orig <= 0 || cfg.max_position_embeddings <= 0)
      throw InvalidInput("config.json in " + cfg.path +
                         ": rope_scaling longrope needs original_max_position_embeddings and "
                         "max_position_embeddings");
    const bool use_long = cfg.max_position_embeddings > orig;
    const char* key = use_long ? "long_factor" : "short_factor";
    const auto it = rs.raw.find(key);
    if (it == rs.raw.end() || !it->is_array() || static_cast<int>(it->size()) != half)
      throw InvalidInput("config.json in " + cfg.path + ": rope_scaling." + key +
                         " must be a list of " + std::to_string(half) + " numbers");
    for (int i = 0; i < half; ++i) {
      if (!(*it)[i].is_number() || !((*it)[i].get<double>() > 0))
        throw InvalidInput("config.json in " + cfg.path + ": rope_scaling." + key + "[" +
                           std::to_string(i) + "] must be a positive number");
      // MiniCPM multiplies t / factor by inv_freq in float32.
      inv[i] = static_cast<float>(inv[i]) / static_cast<float>((*it)[i].get<double>());
    }
    const double scale = static_cast<double>(cfg.max_position_embeddings) / orig;
    rope.mscale = static_cast<float>(std::sqrt(1.0 + std::log(scale) / std::log(double(orig))));
  } else {
    throw Unsupported("rope_scaling type '" + type + "' in " + cfg.path +
                      " is not supported (supported: default, linear, llama3, yarn, longrope)");
  }
  rope.inv_freq.assign(inv.begin(), inv.end());
  return rope;
}

}  // namespace mofa::models
