#pragma once
// MOFA_HOME and its config.json: where models live, which model is the default, how long idle
// models stay loaded and how much memory loaded weights may take.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::runtime {

struct Settings {
  std::string home;                      // MOFA_HOME, default ~/.mofa
  std::string models_dir;                // default <home>/models
  std::string default_model;             // a model id (folder name) or a directory; empty: none
  std::chrono::seconds keep_alive{300};  // negative: stay loaded forever
  uint64_t memory_budget_bytes = 0;      // 0: no limit
};

// $MOFA_HOME, else $HOME/.mofa.
std::string default_home();

// Reads <home>/config.json when it exists; throws InvalidInput naming the file and the problem
// when it is damaged (the file is never rewritten).
Settings load_settings(const std::string& home);

// Parses an Ollama-style duration: seconds as a number, or "300ms", "10s", "5m", "1h", "-1".
// Throws InvalidInput on anything else.
std::chrono::seconds parse_keep_alive(const nlohmann::json& value);

// Parses "8GB", "512MiB", "1.5G" or a plain byte count. Throws InvalidInput on anything else.
uint64_t parse_byte_size(const nlohmann::json& value);

}  // namespace mofa::runtime
