#include "runtime/settings.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace mofa::runtime {
namespace fs = std::filesystem;

std::string default_home() {
  if (const char* home = std::getenv("MOFA_HOME"); home && *home) return home;
  if (const char* user = std::getenv("HOME"); user && *user) return std::string(user) + "/.mofa";
  return ".mofa";
}

namespace {

// Splits "12.5GB" into 12.5 and "gb" (lower case); false when the number part is missing.
bool split_number_unit(const std::string& text, double* number, std::string* unit) {
  size_t pos = 0;
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  const char* begin = text.c_str() + pos;
  char* end = nullptr;
  *number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(*number)) return false;
  unit->clear();
  for (const char* c = end; *c; ++c) {
    if (!std::isspace(static_cast<unsigned char>(*c))) {
      unit->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(*c))));
    }
  }
  return true;
}

}  // namespace

std::chrono::seconds parse_keep_alive(const nlohmann::json& value) {
  if (value.is_number()) {
    const double s = value.get<double>();
    if (!std::isfinite(s)) throw InvalidInput("keep_alive must be finite");
    return std::chrono::seconds(static_cast<int64_t>(s < 0 ? -1 : s));
  }
  if (!value.is_string()) {
    throw InvalidInput("keep_alive must be a number of seconds or a duration like \"5m\", got " +
                       value.dump());
  }
  const auto text = value.get<std::string>();
  double number = 0;
  std::string unit;
  if (!split_number_unit(text, &number, &unit)) {
    throw InvalidInput("keep_alive '" + text +
                       "' is not a duration like \"30s\", \"5m\" or \"1h\"");
  }
  if (number < 0) return std::chrono::seconds(-1);
  double seconds = 0;
  if (unit.empty() || unit == "s")
    seconds = number;
  else if (unit == "ms")
    seconds = number / 1000.0;
  else if (unit == "m")
    seconds = number * 60.0;
  else if (unit == "h")
    seconds = number * 3600.0;
  else
    throw InvalidInput("keep_alive '" + text + "' has unknown unit '" + unit + "'");
  return std::chrono::seconds(static_cast<int64_t>(seconds));
}

uint64_t parse_byte_size(const nlohmann::json& value) {
  if (value.is_number_unsigned() || value.is_number_integer()) {
    const auto n = value.get<int64_t>();
    if (n < 0) throw InvalidInput("a byte size must not be negative, got " + value.dump());
    return static_cast<uint64_t>(n);
  }
  if (!value.is_string())
    throw InvalidInput("a byte size must be a number or \"8GB\", got " + value.dump());
  const auto text = value.get<std::string>();
  double number = 0;
  std::string unit;
  if (!split_number_unit(text, &number, &unit) || number < 0) {
    throw InvalidInput("'" + text + "' is not a byte size like \"8GB\"");
  }
  double scale = 1;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "k" || unit == "kb")
    scale = 1e3;
  else if (unit == "m" || unit == "mb")
    scale = 1e6;
  else if (unit == "g" || unit == "gb")
    scale = 1e9;
  else if (unit == "t" || unit == "tb")
    scale = 1e12;
  else if (unit == "kib")
    scale = 1024.0;
  else if (unit == "mib")
    scale = 1024.0 * 1024;
  else if (unit == "gib")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else
    throw InvalidInput("byte size '" + text + "' has unknown unit '" + unit + "'");
  return static_cast<uint64_t>(number * scale);
}

Settings load_settings(const std::string& home) {
  Settings settings;
  settings.home = home;
  settings.models_dir = (fs::path(home) / "models").string();
  const auto path = fs::path(home) / "config.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return settings;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(path.string() + " is damaged (not valid JSON: " + e.what() +
                       "); fix or remove it, it was left untouched");
  }
  if (!config.is_object()) {
    throw InvalidInput(path.string() + " is damaged: expected a JSON object, got " +
                       std::string(config.type_name()) + "; it was left untouched");
  }
  auto string_field = [&](const char* key, std::string* out) {
    if (!config.contains(key) || config[key].is_null()) return;
    if (!config[key].is_string()) {
      throw InvalidInput(path.string() + ": '" + key + "' must be a string, got " +
                         config[key].dump());
    }
    *out = config[key].get<std::string>();
  };
  try {
    string_field("models_dir", &settings.models_dir);
    string_field("default_model", &settings.default_model);
    if (config.contains("keep_alive")) settings.keep_alive = parse_keep_alive(config["keep_alive"]);
    if (config.contains("memory_budget")) {
      settings.memory_budget_bytes = parse_byte_size(config["memory_budget"]);
    }
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    if (what.rfind(path.string(), 0) == 0) throw;
    throw InvalidInput(path.string() + ": " + what);
  }
  if (!settings.models_dir.empty() && settings.models_dir[0] == '~') {
    if (const char* user = std::getenv("HOME"))
      settings.models_dir = user + settings.models_dir.substr(1);
  }
  return settings;
}

}  // namespace mofa::runtime
