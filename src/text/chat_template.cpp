#include "text/chat_template.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "text/jinja/template.h"

namespace mofa::text {
namespace {

// transformers' default template before templates became mandatory: ChatML.
constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' "
    "}}{% endif %}";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput("chat template: cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::ordered_json read_json(const std::filesystem::path& path) {
  try {
    return nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput("chat template: " + path.string() + " is not valid JSON: " + e.what());
  }
}

// A special token is stored as a string or as an AddedToken object {"content": ...}.
std::string token_string(const nlohmann::ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return "";
}

std::shared_ptr<const jinja::Template> compile(const std::string& source) {
  try {
    return std::make_shared<const jinja::Template>(source);
  } catch (const InvalidInput& e) {
    throw InvalidInput(std::string("chat template: ") + e.what());
  }
}

jinja::Value raise_exception_fn() {
  return jinja::Value::function(
      "raise_exception", [](jinja::Interpreter&, jinja::CallArgs& args) -> jinja::Value {
        const jinja::Value* msg = args.get(0, "message");
        throw jinja::UserError(msg ? msg->str() : std::string("raise_exception called"));
      });
}

jinja::Value strftime_now_fn() {
  return jinja::Value::function("strftime_now", [](jinja::Interpreter&, jinja::CallArgs& args) {
    const jinja::Value* fmt = args.get(0, "format");
    if (!fmt || !fmt->is_string()) throw InvalidInput("strftime_now needs a format string");
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[512];
    size_t n = std::strftime(buf, sizeof buf, fmt->as_string().c_str(), &local);
    return jinja::Value(std::string(buf, n));
  });
}

}  // namespace

ChatTemplate ChatTemplate::from_string(std::string source, std::string bos_token,
                                       std::string eos_token) {
  ChatTemplate t;
  t.template_ = compile(source);
  t.source_ = std::move(source);
  t.bos_token_ = std::move(bos_token);
  t.eos_token_ = std::move(eos_token);
  return t;
}

ChatTemplate ChatTemplate::load(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  if (fs::exists(root / "tokenizer_config.json"))
    config = read_json(root / "tokenizer_config.json");
  ChatTemplate t;
  t.bos_token_ = token_string(config, "bos_token");
  t.eos_token_ = token_string(config, "eos_token");

  nlohmann::ordered_json entry;
  if (fs::exists(root / "chat_template.jinja")) {
    entry = read_file(root / "chat_template.jinja");
  } else if (fs::exists(root / "chat_template.json")) {
    auto j = read_json(root / "chat_template.json");
    if (j.contains("chat_template")) entry = j["chat_template"];
  } else if (config.contains("chat_template")) {
    entry = config["chat_template"];
  }

  if (entry.is_string()) {
    t.source_ = entry.get<std::string>();
  } else if (entry.is_array()) {
    for (const auto& named : entry) {
      if (!named.is_object() || !named.contains("name") || !named.contains("template") ||
          !named["template"].is_string()) {
        throw InvalidInput("chat template: " + dir +
                           ": chat_template list entries need string 'name' and 'template'");
      }
      if (named["name"] == "default") t.source_ = named["template"].get<std::string>();
      if (named["name"] == "tool_use") t.tool_use_source_ = named["template"].get<std::string>();
    }
    if (t.source_.empty()) {
      throw InvalidInput("chat template: " + dir + ": chat_template list has no 'default' entry");
    }
  } else if (!entry.is_null()) {
    throw InvalidInput("chat template: " + dir + ": chat_template must be a string or a list");
  }

  if (t.source_.empty()) {
    t.source_ = kChatMlTemplate;
    t.fallback_ = true;
  }
  t.template_ = compile(t.source_);
  if (!t.tool_use_source_.empty()) t.tool_use_template_ = compile(t.tool_use_source_);
  return t;
}

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools,
                                 bool add_generation_prompt, const nlohmann::json& kwargs) const {
  // Round-trip through text: the only conversion nlohmann offers between the two map types.
  auto ordered = [](const nlohmann::json& j) { return nlohmann::ordered_json::parse(j.dump()); };
  return render(ordered(messages), ordered(tools), add_generation_prompt, ordered(kwargs));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages,
                                 const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                 const nlohmann::ordered_json& kwargs) const {
  bool has_tools = tools.is_array() && !tools.empty();
  if (!tools.is_null() && !tools.is_array()) {
    throw InvalidInput("chat template: tools must be a list, got " +
                       std::string(tools.type_name()));
  }
  if (!kwargs.is_null() && !kwargs.is_object()) {
    throw InvalidInput("chat template: kwargs must be an object, got " +
                       std::string(kwargs.type_name()));
  }
  const jinja::Template& tmpl = has_tools && tool_use_template_ ? *tool_use_template_ : *template_;
  try {
    jinja::Dict vars;
    vars.emplace_back("bos_token", jinja::Value(bos_token_));
    vars.emplace_back("eos_token", jinja::Value(eos_token_));
    vars.emplace_back("raise_exception", raise_exception_fn());
    vars.emplace_back("strftime_now", strftime_now_fn());
    if (kwargs.is_object()) {
      for (const auto& [k, v] : kwargs.items()) vars.emplace_back(k, jinja::Value::from_json(v));
    }
    vars.emplace_back("messages", jinja::Value::from_json(messages));
    vars.emplace_back("tools", has_tools ? jinja::Value::from_json(tools) : jinja::Value::none());
    vars.emplace_back("documents", jinja::Value::none());
    vars.emplace_back("add_generation_prompt", jinja::Value(add_generation_prompt));
    return tmpl.render(vars);
  } catch (const InvalidInput& e) {
    throw InvalidInput(std::string("chat template: ") + e.what());
  } catch (const Unsupported& e) {
    throw Unsupported(std::string("chat template: ") + e.what());
  }
}

}  // namespace mofa::text
