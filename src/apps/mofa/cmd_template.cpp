// `mofa template`: render a model directory's chat template for conversations given as JSON, one
// per stdin line with --jsonl (for the reference tests), or one JSON document printing the raw
// prompt.
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/mofa/command.h"
#include "core/error.h"
#include "text/chat_template.h"

namespace mofa::cli {
namespace {

using nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  bool jsonl = false;
};

std::string render_request(const text::ChatTemplate& tmpl, const std::string& text) {
  ordered_json req;
  try {
    req = ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(std::string("input is not valid JSON: ") + e.what());
  }
  if (!req.is_object()) throw InvalidInput("input must be a JSON object");
  if (!req.contains("messages") || !req["messages"].is_array()) {
    throw InvalidInput("\"messages\" must be an array");
  }
  bool add_generation_prompt = false;
  if (req.contains("add_generation_prompt")) {
    if (!req["add_generation_prompt"].is_boolean()) {
      throw InvalidInput("\"add_generation_prompt\" must be a boolean");
    }
    add_generation_prompt = req["add_generation_prompt"].get<bool>();
  }
  ordered_json tools = req.contains("tools") ? req["tools"] : ordered_json();
  ordered_json kwargs = req.contains("kwargs") ? req["kwargs"] : ordered_json::object();
  return tmpl.render(req["messages"], tools, add_generation_prompt, kwargs);
}

void run_template(const TemplateOptions& o) {
  text::ChatTemplate tmpl = text::ChatTemplate::load(o.model);
  if (!o.jsonl) {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::cout << render_request(tmpl, all);
    std::cout.flush();
    return;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    ordered_json out;
    try {
      out["prompt"] = render_request(tmpl, line);
    } catch (const InvalidInput& e) {
      out = ordered_json{{"error", e.what()}};
    } catch (const Unsupported& e) {
      out = ordered_json{{"error", e.what()}};
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    std::cout.flush();
  }
}

const CommandRegistration kRegistration("template", [](CLI::App& app) {
  auto opts = std::make_shared<TemplateOptions>();
  auto* cmd = app.add_subcommand("template", "Render a model's chat template for conversations");
  cmd->add_option("--model", opts->model, "Model directory (tokenizer_config.json, ...)")
      ->required();
  cmd->add_flag("--jsonl", opts->jsonl,
                "Read one {\"messages\", \"tools\", \"add_generation_prompt\", \"kwargs\"} object "
                "per stdin line; write {\"prompt\"} or {\"error\"} per line");
  cmd->callback([opts] { run_template(*opts); });
});

}  // namespace
}  // namespace mofa::cli
