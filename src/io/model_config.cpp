#include "io/model_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/chatglm_config.h"

namespace mofa::io {
namespace {

std::string json_type(const nlohmann::json& j) {
  if (j.is_number_integer()) return "integer";
  return j.type_name();
}

// Reads typed fields of one JSON object; null counts as absent, as transformers treats it.
class Fields {
 public:
  Fields(const nlohmann::json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  const nlohmann::json* find(const char* key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  [[noreturn]] void fail(const char* key, const std::string& why) const {
    throw InvalidInput(where_ + "field '" + key + "' " + why);
  }
  [[noreturn]] void wrong_type(const char* key, const char* want, const nlohmann::json& v) const {
    fail(key, std::string("must be ") + want + ", got " + json_type(v) + " " + v.dump());
  }

  std::optional<int64_t> int_opt(const char* key) const {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        wrong_type(key, "an integer that fits in 64 bits", *v);
      return v->get<int64_t>();
    }
    // 896.0 is an integer written by a float-minded tool.
    if (v->is_number_float()) {
      double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
        return static_cast<int64_t>(d);
    }
    wrong_type(key, "an integer", *v);
  }
  int64_t int_req(const char* key) const {
    auto v = int_opt(key);
    if (!v) fail(key, "is required but missing");
    return *v;
  }
  int64_t positive(const char* key) const {
    int64_t v = int_req(key);
    if (v <= 0) fail(key, "must be positive, got " + std::to_string(v));
    return v;
  }
  std::optional<double> num_opt(const char* key) const {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) wrong_type(key, "a number", *v);
    double d = v->get<double>();
    if (!std::isfinite(d)) fail(key, "must be finite");
    return d;
  }
  std::optional<bool> bool_opt(const char* key) const {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) wrong_type(key, "true or false", *v);
    return v->get<bool>();
  }
  std::optional<std::string> str_opt(const char* key) const {
    const auto* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong_type(key, "a string", *v);
    return v->get<std::string>();
  }
  // A token id written as an integer or a list of integers.
  std::vector<int64_t> ids(const char* key) const {
    const auto* v = find(key);
    std::vector<int64_t> out;
    if (!v) return out;
    auto one = [&](const nlohmann::json& x) {
      if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > INT64_MAX))
        wrong_type(key, "a token id or a list of token ids", *v);
      out.push_back(x.get<int64_t>());
    };
    if (v->is_array()) {
      for (const auto& x : *v) one(x);
    } else {
      one(*v);
    }
    return out;
  }

 private:
  const nlohmann::json& obj_;
  std::string where_;
};

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput("[config] cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput("[config] " + path + " is not valid JSON: " + e.what());
  }
}

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

// Defaults that transformers' config classes give when a field is absent, by model_type.
bool default_attention_bias(const std::string& model_type) {
  return one_of(model_type, {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "glm", "glm4"});
}
double default_partial_rotary_factor(const std::string& model_type) {
  return one_of(model_type, {"glm", "glm4"}) ? 0.5 : 1.0;
}
bool has_use_sliding_window_flag(const std::string& model_type) {
  return one_of(model_type, {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen3", "qwen3_moe"});
}

// One MLX affine spec ({"group_size": g, "bits": b}) at `where`.
QuantSpec parse_quant_spec(const nlohmann::json& obj, const std::string& where) {
  Fields f(obj, where);
  QuantSpec q;
  q.bits = static_cast<int>(f.positive("bits"));
  q.group_size = static_cast<int>(f.positive("group_size"));
  if (auto mode = f.str_opt("mode"); mode && *mode != "affine")
    throw Unsupported(where + "quantization mode '" + *mode +
                      "' is not supported (MLX affine only)");
  if (!one_of(std::to_string(q.bits), {"2", "3", "4", "5", "6", "8"}))
    throw Unsupported(where + "quantization bits=" + std::to_string(q.bits) +
                      " is not supported (2, 3, 4, 5, 6 or 8)");
  if (!one_of(std::to_string(q.group_size), {"32", "64", "128"}))
    throw Unsupported(where + "quantization group_size=" + std::to_string(q.group_size) +
                      " is not supported (32, 64 or 128)");
  return q;
}

void parse_quantization(ModelConfig& c, const nlohmann::json& root, const std::string& where) {
  const char* key = nullptr;
  for (const char* k : {"quantization", "quantization_config"}) {
    auto it = root.find(k);
    if (it != root.end() && !it->is_null()) {
      key = k;
      break;
    }
  }
  if (!key) return;
  const nlohmann::json& q = root.at(key);
  const std::string qw = where + "'" + key + "': ";
  if (!q.is_object()) throw InvalidInput(qw + "must be an object, got " + json_type(q));
  // transformers' quantizers (GPTQ, AWQ, FP8, bitsandbytes, compressed-tensors) also write
  // "quantization_config"; MLX's copy is just {group_size, bits[, mode]} plus module entries.
  if (std::string(key) == "quantization_config") {
    auto m = q.find("quant_method");
    const bool foreign_method =
        m != q.end() && (!m->is_string() || !one_of(m->get<std::string>(), {"mlx", "affine"}));
    const bool foreign_keys = q.contains("format") || q.contains("checkpoint_format") ||
                              q.contains("config_groups") || !q.contains("bits") ||
                              !q.contains("group_size");
    if (foreign_method || foreign_keys)
      throw Unsupported(qw +
                        (m != q.end() ? "quant_method " + m->dump() : q.dump().substr(0, 200)) +
                        " is not supported (only MLX affine quantization is)");
  }
  c.quantization = parse_quant_spec(q, qw);
  for (const auto& [name, v] : q.items()) {
    if (v.is_object()) {
      c.quantization_overrides[name] = parse_quant_spec(v, qw + "module '" + name + "': ");
    } else if (v.is_boolean()) {
      c.quantization_overrides[name] = v.get<bool>() ? c.quantization : QuantSpec{};
    }
  }
}

void parse_rope(ModelConfig& c, const nlohmann::json& src, const std::string& where) {
  // transformers v5 moves rope_theta and the scaling into "rope_parameters".
  const nlohmann::json* rs = nullptr;
  const char* key = "rope_scaling";
  if (auto it = src.find("rope_parameters"); it != src.end() && !it->is_null()) {
    rs = &*it;
    key = "rope_parameters";
  } else if (auto it2 = src.find("rope_scaling"); it2 != src.end() && !it2->is_null()) {
    rs = &*it2;
  }
  Fields top(src, where);
  c.rope_theta = top.num_opt("rope_theta").value_or(10000.0);
  if (!rs) return;
  const std::string rw = where + "'" + key + "': ";
  if (!rs->is_object()) throw InvalidInput(rw + "must be an object, got " + json_type(*rs));
  Fields f(*rs, rw);
  RopeScaling& r = c.rope_scaling;
  r.raw = *rs;
  if (rs->contains("rope_theta")) c.rope_theta = f.num_opt("rope_theta").value_or(c.rope_theta);
  r.type = f.str_opt("rope_type").value_or(f.str_opt("type").value_or(""));
  r.factor = f.num_opt("factor").value_or(1.0);
  r.original_max_position_embeddings = f.int_opt("original_max_position_embeddings").value_or(0);
  r.low_freq_factor = f.num_opt("low_freq_factor").value_or(1.0);
  r.high_freq_factor = f.num_opt("high_freq_factor").value_or(4.0);
  r.beta_fast = f.num_opt("beta_fast").value_or(32.0);
  r.beta_slow = f.num_opt("beta_slow").value_or(1.0);
  r.attention_factor = f.num_opt("attention_factor").value_or(0.0);
  r.present = !r.type.empty() && r.type != "default";
  if (!r.present) return;
  if (r.factor <= 0) f.fail("factor", "must be positive, got " + std::to_string(r.factor));
  if (r.original_max_position_embeddings < 0)
    f.fail("original_max_position_embeddings", "must not be negative");
  if (r.type == "llama3") {
    for (const char* k :
         {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!f.find(k)) f.fail(k, "is required for rope_type llama3");
    if (r.original_max_position_embeddings <= 0)
      f.fail("original_max_position_embeddings", "must be positive for rope_type llama3");
    if (!(r.low_freq_factor < r.high_freq_factor))
      f.fail("low_freq_factor", "must be below high_freq_factor (" +
                                    std::to_string(r.low_freq_factor) +
                                    " >= " + std::to_string(r.high_freq_factor) + ")");
  }
}

}  // namespace

QuantSpec ModelConfig::quant_for(const std::string& module_path) const {
  auto it = quantization_overrides.find(module_path);
  return it == quantization_overrides.end() ? quantization : it->second;
}

ModelConfig ModelConfig::parse(const nlohmann::json& file_doc, const std::string& path,
                               const std::vector<std::string>& accepted_types) {
  const std::string where = "[config] " + path + ": ";
  if (!file_doc.is_object())
    throw InvalidInput(where + "must be a JSON object, got " + json_type(file_doc));
  // ChatGLM (GLM-4-9B-chat) writes Megatron field names; read them as the transformers ones.
  const auto mt = file_doc.find("model_type");
  const nlohmann::json doc = mt != file_doc.end() && *mt == "chatglm"
                                 ? chatglm_config_as_standard(file_doc, where)
                                 : file_doc;
  // Multimodal checkpoints nest the language model's fields under "text_config".
  const nlohmann::json* src = &doc;
  if (!doc.contains("hidden_size")) {
    auto tc = doc.find("text_config");
    if (tc != doc.end() && tc->is_object()) src = &*tc;
  }
  Fields f(*src, where);
  Fields root(doc, where);

  ModelConfig c;
  c.raw = doc;
  c.path = path;
  c.model_type = f.str_opt("model_type").value_or(root.str_opt("model_type").value_or(""));
  if (!accepted_types.empty()) require_model_type(c.model_type, path, accepted_types);
  if (const auto* a = root.find("architectures")) {
    if (!a->is_array()) root.wrong_type("architectures", "a list of strings", *a);
    for (const auto& x : *a) {
      if (!x.is_string()) root.wrong_type("architectures", "a list of strings", *a);
      c.architectures.push_back(x.get<std::string>());
    }
  }
  c.hidden_size = f.positive("hidden_size");
  c.intermediate_size = f.positive("intermediate_size");
  c.num_hidden_layers = f.positive("num_hidden_layers");
  c.num_attention_heads = f.positive("num_attention_heads");
  c.num_key_value_heads = f.int_opt("num_key_value_heads").value_or(c.num_attention_heads);
  if (c.num_key_value_heads <= 0)
    f.fail("num_key_value_heads", "must be positive, got " + std::to_string(c.num_key_value_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    f.fail("num_key_value_heads",
           "= " + std::to_string(c.num_key_value_heads) +
               " does not divide num_attention_heads = " + std::to_string(c.num_attention_heads));
  if (auto hd = f.int_opt("head_dim")) {
    if (*hd <= 0) f.fail("head_dim", "must be positive, got " + std::to_string(*hd));
    c.head_dim = *hd;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      f.fail("num_attention_heads", "= " + std::to_string(c.num_attention_heads) +
                                        " does not divide hidden_size = " +
                                        std::to_string(c.hidden_size) + " and head_dim is absent");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.vocab_size = f.positive("vocab_size");
  c.max_position_embeddings = f.int_opt("max_position_embeddings").value_or(0);
  if (c.max_position_embeddings < 0) f.fail("max_position_embeddings", "must not be negative");

  c.rms_norm_eps = f.num_opt("rms_norm_eps").value_or(1e-6);
  if (!(c.rms_norm_eps > 0))
    f.fail("rms_norm_eps", "must be positive, got " + std::to_string(c.rms_norm_eps));
  parse_rope(c, *src, where);
  if (!(c.rope_theta > 0))
    f.fail("rope_theta", "must be positive, got " + std::to_string(c.rope_theta));
  c.partial_rotary_factor =
      f.num_opt("partial_rotary_factor").value_or(default_partial_rotary_factor(c.model_type));
  if (!(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1))
    f.fail("partial_rotary_factor",
           "must be in (0, 1], got " + std::to_string(c.partial_rotary_factor));

  // MiniCPMConfig (MiniCPM / MiniCPM4) ties the head to the embeddings unless told otherwise.
  c.tie_word_embeddings =
      f.bool_opt("tie_word_embeddings")
          .value_or(root.bool_opt("tie_word_embeddings").value_or(c.model_type == "minicpm"));
  c.attention_bias = f.bool_opt("attention_bias").value_or(default_attention_bias(c.model_type));
  c.sliding_window = f.int_opt("sliding_window").value_or(0);
  if (c.sliding_window < 0)
    f.fail("sliding_window", "must not be negative, got " + std::to_string(c.sliding_window));
  // Qwen configs state the window but switch it off with use_sliding_window; others (Mistral)
  // use the window whenever it is set.
  c.use_sliding_window =
      f.bool_opt("use_sliding_window")
          .value_or(!has_use_sliding_window_flag(c.model_type) && c.sliding_window > 0);
  if (c.use_sliding_window && c.sliding_window == 0)
    f.fail("use_sliding_window", "is true but sliding_window is absent or 0");
  c.max_window_layers = f.int_opt("max_window_layers").value_or(c.num_hidden_layers);
  if (c.max_window_layers < 0)
    f.fail("max_window_layers", "must not be negative, got " + std::to_string(c.max_window_layers));

  c.scale_emb = f.num_opt("scale_emb").value_or(1.0);
  c.scale_depth = f.num_opt("scale_depth").value_or(1.0);
  c.dim_model_base = f.int_opt("dim_model_base").value_or(1);
  if (c.dim_model_base <= 0)
    f.fail("dim_model_base", "must be positive, got " + std::to_string(c.dim_model_base));

  c.torch_dtype =
      f.str_opt("torch_dtype")
          .value_or(f.str_opt("dtype").value_or(root.str_opt("torch_dtype").value_or("")));
  c.bos_token_id = f.ids("bos_token_id");
  if (c.bos_token_id.empty()) c.bos_token_id = root.ids("bos_token_id");
  c.eos_token_id = f.ids("eos_token_id");
  if (c.eos_token_id.empty()) c.eos_token_id = root.ids("eos_token_id");

  parse_quantization(c, doc, where);
  return c;
}

ModelConfig ModelConfig::load(const std::string& dir,
                              const std::vector<std::string>& accepted_types) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InvalidInput("[config] " + dir + ": no config.json");
  return parse(read_json(path), path, accepted_types);
}

void require_model_type(const std::string& type, const std::string& path,
                        const std::vector<std::string>& accepted) {
  if (std::find(accepted.begin(), accepted.end(), type) != accepted.end()) return;
  std::string list;
  for (const auto& t : accepted) list += (list.empty() ? "" : ", ") + t;
  throw Unsupported("model_type '" + type + "' in " + path +
                    " is not supported; supported: " + list);
}

GenerationConfig GenerationConfig::parse(const nlohmann::json& doc, const std::string& path) {
  const std::string where = "[config] " + path + ": ";
  if (!doc.is_object()) throw InvalidInput(where + "must be a JSON object, got " + json_type(doc));
  Fields f(doc, where);
  GenerationConfig g;
  g.raw = doc;
  g.eos_token_id = f.ids("eos_token_id");
  g.bos_token_id = f.ids("bos_token_id");
  g.pad_token_id = f.int_opt("pad_token_id");
  g.temperature = f.num_opt("temperature");
  g.top_p = f.num_opt("top_p");
  g.min_p = f.num_opt("min_p");
  g.repetition_penalty = f.num_opt("repetition_penalty");
  g.top_k = f.int_opt("top_k");
  g.max_new_tokens = f.int_opt("max_new_tokens");
  g.max_length = f.int_opt("max_length");
  g.do_sample = f.bool_opt("do_sample");
  if (g.temperature && *g.temperature < 0) f.fail("temperature", "must not be negative");
  if (g.top_p && !(*g.top_p >= 0 && *g.top_p <= 1)) f.fail("top_p", "must be in [0, 1]");
  if (g.min_p && !(*g.min_p >= 0 && *g.min_p <= 1)) f.fail("min_p", "must be in [0, 1]");
  if (g.repetition_penalty && !(*g.repetition_penalty > 0))
    f.fail("repetition_penalty", "must be positive");
  if (g.top_k && *g.top_k < 0) f.fail("top_k", "must not be negative");
  if (g.max_new_tokens && *g.max_new_tokens < 0) f.fail("max_new_tokens", "must not be negative");
  return g;
}

GenerationConfig GenerationConfig::load(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return GenerationConfig{};
  return parse(read_json(path), path);
}

}  // namespace mofa::io
