#pragma once
// Structured outputs: the request fields that constrain generation to a grammar (OpenAI's
// response_format, llama.cpp's grammar / json_schema, Ollama's format) turned into
// GenerateOptions::grammar.
#include <string>

#include <nlohmann/json.hpp>

#include "pipelines/llm/generate.h"

namespace mofa::server {

// Reads `response_format` ({"type": "text"}, {"type": "json_object"} with an optional llama.cpp
// style "schema", {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}) and
// llama.cpp's `grammar` (GBNF text) and `json_schema` (a schema object); at most one may
// constrain. Throws HttpError 400 naming the field: code "unsupported" for schema keywords we
// cannot enforce (the message names the keyword and its path), plain 400 for malformed input.
// `body` is the request parsed with its key order kept: object properties are generated in the
// schema's order.
void apply_openai_structured_output(const nlohmann::ordered_json& body,
                                    llm::GenerateOptions* options);
// The same for a route that parsed its body into nlohmann::json (keys sorted): `raw_body`, the
// body as received, is parsed again with its order kept when a constraining field is present.
void apply_openai_structured_output(const nlohmann::json& body, const std::string& raw_body,
                                    llm::GenerateOptions* options);

// Reads Ollama's `format`: "json" (any JSON object) or a JSON schema object; "" or null is free
// text. Errors as above, with param "format".
void apply_ollama_format(const nlohmann::ordered_json& body, llm::GenerateOptions* options);
void apply_ollama_format(const nlohmann::json& body, const std::string& raw_body,
                         llm::GenerateOptions* options);

}  // namespace mofa::server
