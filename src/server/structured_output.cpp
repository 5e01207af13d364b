#include "server/structured_output.h"

#include "core/error.h"
#include "server/errors.h"
#include "text/grammar.h"
#include "text/json_schema_grammar.h"

namespace mofa::server {

namespace {

// Ordered, so a schema's properties are generated in the client's order.
using json = nlohmann::ordered_json;

// Compiles a grammar, turning conversion errors into 400s that name `param`.
template <typename Build>
std::shared_ptr<const text::Grammar> compile(const std::string& param, Build build) {
  try {
    return build();
  } catch (const Unsupported& e) {
    throw HttpError(400, std::string("'") + param + "': " + e.what(), "invalid_request_error",
                    param, "unsupported");
  } catch (const InvalidInput& e) {
    throw HttpError(400, std::string("'") + param + "': " + e.what(), "invalid_request_error",
                    param);
  }
}

std::shared_ptr<const text::Grammar> from_schema(const json& schema, const std::string& param) {
  if (!schema.is_object() && !schema.is_boolean()) {
    throw HttpError(400, "'" + param + "' must be a JSON schema object, got " + schema.dump(),
                    "invalid_request_error", param);
  }
  return compile(param, [&] { return text::Grammar::parse(text::json_schema_to_gbnf(schema)); });
}

const json& any_object() {
  static const json schema = {{"type", "object"}};
  return schema;
}

// The grammar response_format asks for, or null for plain text.
std::shared_ptr<const text::Grammar> response_format(const json& rf) {
  const std::string param = "response_format";
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string()) {
    throw HttpError(400,
                    "'response_format' must be an object with a 'type' (\"text\", "
                    "\"json_object\" or \"json_schema\")",
                    "invalid_request_error", param);
  }
  const std::string type = rf["type"].get<std::string>();
  if (type == "text") return nullptr;
  if (type == "json_object") {
    if (auto it = rf.find("schema"); it != rf.end() && !it->is_null())
      return from_schema(*it, param);
    return from_schema(any_object(), param);
  }
  if (type == "json_schema") {
    auto js = rf.find("json_schema");
    if (js == rf.end() || !js->is_object()) {
      throw HttpError(400, "'response_format.json_schema' must be an object with a 'schema'",
                      "invalid_request_error", param);
    }
    if (auto name = js->find("name"); name != js->end() && !name->is_string()) {
      throw HttpError(400, "'response_format.json_schema.name' must be a string",
                      "invalid_request_error", param);
    }
    if (auto strict = js->find("strict");
        strict != js->end() && !strict->is_boolean() && !strict->is_null()) {
      throw HttpError(400, "'response_format.json_schema.strict' must be a boolean",
                      "invalid_request_error", param);
    }
    auto schema = js->find("schema");
    if (schema == js->end() || schema->is_null()) {
      throw HttpError(400, "'response_format.json_schema.schema' is required",
                      "invalid_request_error", param);
    }
    return from_schema(*schema, param);
  }
  throw HttpError(400,
                  "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", "
                  "got \"" +
                      type + "\"",
                  "invalid_request_error", param);
}

}  // namespace

void apply_openai_structured_output(const nlohmann::json& body, const std::string& raw_body,
                                    llm::GenerateOptions* options) {
  // Re-read with key order kept only when a field constrains (a second parse of the body).
  for (const char* key : {"response_format", "grammar", "json_schema"}) {
    if (auto it = body.find(key); it != body.end() && !it->is_null()) {
      apply_openai_structured_output(json::parse(raw_body), options);
      return;
    }
  }
}

void apply_ollama_format(const nlohmann::json& body, const std::string& raw_body,
                         llm::GenerateOptions* options) {
  if (auto it = body.find("format"); it != body.end() && !it->is_null())
    apply_ollama_format(json::parse(raw_body), options);
}

void apply_openai_structured_output(const json& body, llm::GenerateOptions* options) {
  std::shared_ptr<const text::Grammar> grammar;
  std::string source;
  auto set = [&](std::shared_ptr<const text::Grammar> g, const std::string& field) {
    if (!g) return;
    if (grammar) {
      throw HttpError(400,
                      "'" + field + "' and '" + source + "' both constrain the output; send one",
                      "invalid_request_error", field);
    }
    grammar = std::move(g);
    source = field;
  };
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null())
    set(response_format(*it), "response_format");
  if (auto it = body.find("grammar"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) {
      throw HttpError(400, "'grammar' must be a string of GBNF rules", "invalid_request_error",
                      "grammar");
    }
    if (!it->get<std::string>().empty())
      set(compile("grammar", [&] { return text::Grammar::parse(it->get<std::string>()); }),
          "grammar");
  }
  if (auto it = body.find("json_schema"); it != body.end() && !it->is_null())
    set(from_schema(*it, "json_schema"), "json_schema");
  if (grammar) options->grammar = std::move(grammar);
}

void apply_ollama_format(const json& body, llm::GenerateOptions* options) {
  auto it = body.find("format");
  if (it == body.end() || it->is_null() || *it == "") return;
  if (*it == "json") {
    options->grammar = from_schema(any_object(), "format");
    return;
  }
  if (!it->is_object()) {
    throw HttpError(400, "'format' must be \"json\" or a JSON schema object, got " + it->dump(),
                    "invalid_request_error", "format");
  }
  options->grammar = from_schema(*it, "format");
}

}  // namespace mofa::server
