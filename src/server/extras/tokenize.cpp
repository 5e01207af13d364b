#include "server/errors.h"
#include "server/extras/routes.h"
#include "server/json_body.h"
#include "server/openai/routes.h"

namespace mofa::server::extras {

void tokenize(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const auto content = opt_string(body, "content");
  if (!content)
    throw HttpError(400, "'content' (a string) is required", "invalid_request_error", "content");
  const bool add_special = opt_bool(body, "add_special").value_or(false);
  const bool parse_special = opt_bool(body, "parse_special").value_or(true);
  const bool with_pieces = opt_bool(body, "with_pieces").value_or(false);
  auto model = context.acquire(opt_string(body, "model"));
  const auto ids = model->pipeline->tokenize(*content, add_special, parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (with_pieces)
      tokens.push_back({{"id", id}, {"piece", model->pipeline->token_text(id)}});
    else
      tokens.push_back(id);
  }
  response.set_json(200, dump_json({{"tokens", tokens}}));
}

void detokenize(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  auto it = body.find("tokens");
  if (it == body.end() || !it->is_array()) {
    throw HttpError(400, "'tokens' (a list of token ids) is required", "invalid_request_error",
                    "tokens");
  }
  auto model = context.acquire(opt_string(body, "model"));
  const int64_t vocab = model->pipeline->vocab_size();
  std::vector<int32_t> ids;
  for (const auto& id : *it) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab) {
      throw HttpError(
          400,
          "'tokens' must hold token ids in [0, " + std::to_string(vocab) + "), found " + id.dump(),
          "invalid_request_error", "tokens");
    }
    ids.push_back(id.get<int32_t>());
  }
  response.set_json(200, dump_json({{"content", model->pipeline->detokenize(ids)}}));
}

void apply_template(ServerContext& context, const Request& request, Response& response) {
  const json body = parse_json_object(request.body);
  const json messages =
      openai::normalize_messages(body.contains("messages") ? body["messages"] : json());
  json tools = json::array();
  if (auto it = body.find("tools"); it != body.end() && it->is_array()) tools = *it;
  json kwargs = json::object();
  if (auto it = body.find("chat_template_kwargs"); it != body.end() && it->is_object())
    kwargs = *it;
  const bool add_generation_prompt = opt_bool(body, "add_generation_prompt").value_or(true);
  auto model = context.acquire(opt_string(body, "model"));
  response.set_json(200,
                    dump_json({{"prompt", model->pipeline->apply_chat_template(
                                              messages, tools, add_generation_prompt, kwargs)}}));
}

}  // namespace mofa::server::extras
