// `mofa tokenize`: encode or decode with a model directory's tokenizer, one text from the command
// line or a JSON object per stdin line (--jsonl), for scripts and the reference tests.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/mofa/command.h"
#include "core/error.h"
#include "text/tokenizer.h"

namespace mofa::cli {
namespace {

using nlohmann::json;

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool jsonl = false;
  bool decode = false;
  bool add_special = false;
  bool no_parse_special = false;
  bool skip_special = false;
};

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json ids_to_json(const std::vector<int32_t>& ids) {
  json arr = json::array();
  for (int32_t id : ids) arr.push_back(id);
  return arr;
}

std::vector<int32_t> ids_from_json(const json& j, const text::Tokenizer& tok) {
  if (!j.is_array()) throw InvalidInput("\"ids\" must be an array of integers");
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_number_integer()) throw InvalidInput("\"ids\" must be an array of integers");
    auto id = v.get<int64_t>();
    if (id < 0 || id >= tok.vocab_size()) {
      throw InvalidInput("id " + std::to_string(id) + " is outside the vocabulary [0, " +
                         std::to_string(tok.vocab_size()) + ")");
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

bool bool_field(const json& obj, const char* key, bool fallback) {
  if (!obj.contains(key)) return fallback;
  if (!obj[key].is_boolean()) throw InvalidInput(std::string("\"") + key + "\" must be a boolean");
  return obj[key].get<bool>();
}

json handle_line(const std::string& line, const text::Tokenizer& tok, const TokenizeOptions& o) {
  json obj;
  try {
    obj = json::parse(line);
  } catch (const json::parse_error& e) {
    throw InvalidInput(std::string("line is not valid JSON: ") + e.what());
  }
  if (!obj.is_object()) throw InvalidInput("line must be a JSON object");
  if (o.decode) {
    if (!obj.contains("ids")) throw InvalidInput("missing \"ids\"");
    auto ids = ids_from_json(obj["ids"], tok);
    return {{"text", tok.decode(ids, bool_field(obj, "skip_special", false))}};
  }
  if (!obj.contains("text") || !obj["text"].is_string()) {
    throw InvalidInput("\"text\" must be a string");
  }
  auto ids =
      tok.encode(obj["text"].get_ref<const std::string&>(), bool_field(obj, "add_special", false),
                 bool_field(obj, "parse_special", true));
  return {{"ids", ids_to_json(ids)}};
}

void run_tokenize(const TokenizeOptions& o) {
  auto tok = text::Tokenizer::load(o.model);
  if (o.jsonl) {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      json out;
      try {
        out = handle_line(line, *tok, o);
      } catch (const std::exception& e) {
        out = {{"error", e.what()}};
      }
      std::string s = dump(out);
      s.push_back('\n');
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    }
    return;
  }
  if (o.decode) {
    json parsed;
    try {
      parsed = json::parse(o.text);
    } catch (const json::parse_error&) {
      throw InvalidInput("--decode expects TEXT to be a JSON array of ids, e.g. [1, 2, 3]");
    }
    std::string s = tok->decode(ids_from_json(parsed, *tok), o.skip_special);
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  auto ids = tok->encode(o.text, o.add_special, !o.no_parse_special);
  std::printf("%s\n", dump(ids_to_json(ids)).c_str());
}

const CommandRegistration registration("tokenize", [](CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Encode text to token ids (or decode ids to text)");
  cmd->add_option("--model", opts->model,
                  "Model directory holding tokenizer.json or tokenizer.model")
      ->required();
  cmd->add_option("text", opts->text, "Text to encode (a JSON id array with --decode)");
  cmd->add_flag("--jsonl", opts->jsonl,
                "Read one JSON object per stdin line: {\"text\", \"add_special\", "
                "\"parse_special\"} (or {\"ids\", \"skip_special\"} with --decode)");
  cmd->add_flag("--decode", opts->decode, "Decode ids to text");
  cmd->add_flag("--add-special", opts->add_special, "Add BOS/EOS as the post-processor says");
  cmd->add_flag("--no-parse-special", opts->no_parse_special,
                "Treat special tokens written in the text as plain text");
  cmd->add_flag("--skip-special", opts->skip_special, "Drop special tokens when decoding");
  cmd->callback([opts] { run_tokenize(*opts); });
});

}  // namespace
}  // namespace mofa::cli
