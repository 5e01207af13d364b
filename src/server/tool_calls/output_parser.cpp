#include "server/tool_calls/output_parser.h"

#include <algorithm>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "server/tool_calls/json_scan.h"

namespace mofa::server::tool_calls {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kFence = "```";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t first_non_ws(std::string_view s, size_t from = 0) {
  for (size_t i = from; i < s.size(); ++i)
    if (!is_ws(s[i])) return i;
  return std::string_view::npos;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Whether `s` is a proper beginning of `marker` (more text may complete it).
bool could_become(std::string_view s, std::string_view marker) {
  return s.size() < marker.size() && marker.substr(0, s.size()) == s;
}

// The length of the longest end of `text` that is a proper beginning of `marker`.
size_t partial_suffix(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(marker.size() - 1, text.size()); n > 0; --n)
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

std::string trim(std::string_view s) {
  const size_t b = first_non_ws(s);
  if (b == std::string_view::npos) return {};
  size_t e = s.size();
  while (e > b && is_ws(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<ordered_json> parse_json(std::string_view text) {
  ordered_json value = ordered_json::parse(text, nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string compact(const ordered_json& value) {
  return value.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// Call arguments as compact JSON object text: an object, or a string holding one (some models
// write the arguments the way the OpenAI API carries them).
std::optional<std::string> arguments_text(const ordered_json& value) {
  if (value.is_object()) return compact(value);
  if (value.is_string()) {
    auto inner = parse_json(value.get<std::string>());
    if (inner && inner->is_object()) return compact(*inner);
  }
  return std::nullopt;
}

struct CallObject {
  std::string name;
  std::string arguments;
  std::string id;
};

// {"name": ..., "arguments" | "parameters": {...}, "id"?}, also wrapped in {"function": {...}}.
std::optional<CallObject> call_from_object(const ordered_json& object) {
  if (!object.is_object()) return std::nullopt;
  const ordered_json* fn = &object;
  if (auto it = object.find("function"); it != object.end() && it->is_object()) fn = &*it;
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
    return std::nullopt;
  CallObject call;
  call.name = name->get<std::string>();
  call.arguments = "{}";
  auto args = fn->find("arguments");
  if (args == fn->end()) args = fn->find("parameters");
  if (args != fn->end()) {
    auto text = arguments_text(*args);
    if (!text) return std::nullopt;
    call.arguments = *text;
  }
  if (auto id = object.find("id"); id != object.end() && id->is_string())
    call.id = id->get<std::string>();
  return call;
}

// OpenAI's shape ("call_" + 24 characters); Mistral's templates insist on 9 letters or digits.
std::string random_call_id(ToolCallFormat format) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  const bool mistral = format == ToolCallFormat::mistral;
  std::string id = mistral ? "" : "call_";
  for (int i = 0; i < (mistral ? 9 : 24); ++i) id.push_back(kAlphabet[pick(rng)]);
  return id;
}

}  // namespace

OutputParser::OutputParser(OutputParserOptions options) : options_(std::move(options)) {
  if (options_.reasoning && options_.starts_in_reasoning) {
    mode_ = Mode::reasoning;
    said_anything_ = true;
  }
}

ParsedDelta OutputParser::push(std::string_view text) {
  ParsedDelta out;
  buf_.append(text);
  run(false, &out);
  return out;
}

ParsedDelta OutputParser::finish() {
  ParsedDelta out;
  run(true, &out);
  return out;
}

void OutputParser::run(bool final, ParsedDelta* out) {
  for (;;) {
    bool progressed = false;
    switch (mode_) {
      case Mode::start:
        progressed = step_start(final, out);
        break;
      case Mode::reasoning:
        progressed = step_reasoning(final, out);
        break;
      case Mode::content:
        progressed = step_content(final, out);
        break;
      case Mode::call:
        progressed = step_call(final, out);
        break;
    }
    if (!progressed) return;
  }
}

std::vector<std::string_view> OutputParser::content_markers() const {
  if (!options_.tools) return {};
  switch (options_.format) {
    case ToolCallFormat::hermes:
      return {kFence, kHermesOpen};
    case ToolCallFormat::mistral:
      return {kFence, kMistralCalls};
    case ToolCallFormat::llama3:
      return {kFence, kPythonTag};
    case ToolCallFormat::glm4:
      break;
  }
  return {};
}

// Before any content: whitespace waits for what follows it; then a <think> block, a call that
// only counts at the start of a message (Llama 3's JSON, GLM-4's name line), or content.
bool OutputParser::step_start(bool final, ParsedDelta* out) {
  const size_t p = first_non_ws(buf_);
  if (p == std::string::npos) {
    if (final) {
      if (!drop_ws_) emit_content(buf_, out);
      buf_.clear();
    }
    return false;
  }
  const std::string_view rest = std::string_view(buf_).substr(p);
  auto wait = [&](std::string_view marker) { return !final && could_become(rest, marker); };
  if (options_.reasoning && !said_anything_) {
    if (starts_with(rest, kThinkOpen)) {
      buf_.erase(0, p + kThinkOpen.size());
      mode_ = Mode::reasoning;
      said_anything_ = true;
      return true;
    }
    if (wait(kThinkOpen)) return false;
  }
  if (options_.tools && options_.format == ToolCallFormat::llama3) {
    if (after_call_ && rest[0] == ';') {  // {...}; {...}
      buf_.erase(0, p + 1);
      return true;
    }
    if (starts_with(rest, kPythonTag)) {
      call_raw_ = buf_.substr(0, p + kPythonTag.size());
      buf_.erase(0, p + kPythonTag.size());
      kind_ = CallKind::llama_tag;
      mode_ = Mode::call;
      return true;
    }
    if (wait(kPythonTag)) return false;
    if (rest[0] == '{') {
      call_raw_ = drop_ws_ ? std::string() : buf_.substr(0, p);
      buf_.erase(0, p);
      kind_ = CallKind::llama_json;
      mode_ = Mode::call;
      return true;
    }
  }
  if (options_.tools && options_.format == ToolCallFormat::glm4) {
    size_t i = 0;
    while (i < rest.size() && is_name_char(rest[i])) ++i;
    if (i == rest.size() && !final) return false;
    if (i > 0 && i < rest.size() && rest[i] == '\n') {
      const std::string name(rest.substr(0, i));
      const auto& names = options_.tool_names;
      if (names.empty() || std::find(names.begin(), names.end(), name) != names.end()) {
        call_raw_ = buf_.substr(0, p + i + 1);
        call_name_ = name;
        buf_.erase(0, p + i + 1);
        kind_ = CallKind::named_args;
        mode_ = Mode::call;
        return true;
      }
    }
  }
  if (drop_ws_) buf_.erase(0, p);
  drop_ws_ = false;
  mode_ = Mode::content;
  return true;
}

bool OutputParser::step_reasoning(bool final, ParsedDelta* out) {
  if (reasoning_.empty()) {  // "<think>\n" : the newline is layout, not reasoning
    const size_t p = first_non_ws(buf_);
    buf_.erase(0, p == std::string::npos ? buf_.size() : p);
  }
  const size_t close = buf_.find(kThinkClose);
  // Whitespace before </think> is layout too, so trailing whitespace waits for what follows.
  size_t keep = close != std::string::npos ? close : buf_.size();
  if (close == std::string::npos && !final) keep -= partial_suffix(buf_, kThinkClose);
  while (keep > 0 && is_ws(buf_[keep - 1])) --keep;
  emit_reasoning(buf_.substr(0, keep), out);
  if (close != std::string::npos) {
    buf_.erase(0, close + kThinkClose.size());
    mode_ = Mode::start;
    drop_ws_ = true;
    return true;
  }
  buf_.erase(0, final ? buf_.size() : keep);
  return false;
}

bool OutputParser::step_content(bool final, ParsedDelta* out) {
  if (in_fence_) {
    const size_t close = buf_.find(kFence);
    if (close != std::string::npos) {
      emit_content(buf_.substr(0, close + kFence.size()), out);
      buf_.erase(0, close + kFence.size());
      in_fence_ = false;
      return true;
    }
    const size_t keep = buf_.size() - (final ? 0 : partial_suffix(buf_, kFence));
    emit_content(buf_.substr(0, keep), out);
    buf_.erase(0, keep);
    return false;
  }
  const auto markers = content_markers();
  size_t best = std::string::npos;
  std::string_view marker;
  for (auto m : markers) {
    const size_t pos = buf_.find(m);
    if (pos < best) {
      best = pos;
      marker = m;
    }
  }
  if (best != std::string::npos) {
    emit_content(buf_.substr(0, best), out);
    buf_.erase(0, best + marker.size());
    if (marker == kFence) {
      emit_content(std::string(kFence), out);
      in_fence_ = true;
      return true;
    }
    call_raw_ = std::string(marker);
    kind_ = marker == kHermesOpen     ? CallKind::hermes
            : marker == kMistralCalls ? CallKind::mistral
                                      : CallKind::llama_tag;
    mode_ = Mode::call;
    return true;
  }
  size_t hold = 0;
  if (!final)
    for (auto m : markers) hold = std::max(hold, partial_suffix(buf_, m));
  emit_content(buf_.substr(0, buf_.size() - hold), out);
  buf_.erase(0, buf_.size() - hold);
  return false;
}

bool OutputParser::step_call(bool final, ParsedDelta* out) {
  switch (kind_) {
    case CallKind::hermes: {
      const size_t p = first_non_ws(buf_);
      if (p != std::string::npos && buf_[p] != '{') {
        abandon_call(0, out);
        return true;
      }
      const size_t close = buf_.find(kHermesClose);
      size_t consumed;
      std::string inner;
      if (close != std::string::npos) {
        inner = buf_.substr(0, close);
        consumed = close + kHermesClose.size();
      } else if (final) {  // the answer ended before </tool_call>: a complete call still counts
        inner = buf_;
        consumed = buf_.size();
      } else {
        if (p != std::string::npos && json_scan_value(buf_, p).state == JsonScanState::invalid) {
          abandon_call(0, out);
          return true;
        }
        return false;
      }
      auto value = parse_json(trim(inner));
      auto call = value ? call_from_object(*value) : std::nullopt;
      if (!call) {
        abandon_call(consumed, out);
        return true;
      }
      buf_.erase(0, consumed);
      add_call(call->name, call->arguments, call->id, out);
      end_call();
      return true;
    }
    case CallKind::mistral:
      return step_mistral(final, out);
    case CallKind::llama_tag: {
      const size_t p = first_non_ws(buf_);
      if (p == std::string::npos) {
        if (final) {
          buf_.clear();
          call_raw_.clear();
          mode_ = Mode::content;
        }
        return false;
      }
      if (buf_[p] == '{') {
        call_raw_ += buf_.substr(0, p);
        buf_.erase(0, p);
        kind_ = CallKind::llama_json;
        return true;
      }
      // Code for Llama's built-in interpreter, not a function call: the tag goes, the code stays.
      call_raw_.clear();
      mode_ = Mode::content;
      return true;
    }
    case CallKind::llama_json:
      return step_json_call(final, out);
    case CallKind::named_args: {
      const size_t p = first_non_ws(buf_);
      if (p == std::string::npos) {
        if (final) abandon_call(buf_.size(), out);
        return final;
      }
      if (buf_[p] != '{') {
        abandon_call(0, out);
        return true;
      }
      call_raw_ += buf_.substr(0, p);
      buf_.erase(0, p);
      return step_json_call(final, out);
    }
  }
  return false;
}

// After [TOOL_CALLS]: a JSON list (or object) of calls, or name[ARGS]{...} /
// name[CALL_ID]id[ARGS]{...}.
bool OutputParser::step_mistral(bool final, ParsedDelta* out) {
  const size_t p = first_non_ws(buf_);
  if (p == std::string::npos) {
    if (final) abandon_call(buf_.size(), out);
    return final;
  }
  if (buf_[p] == '[' || buf_[p] == '{') {
    const JsonScan scan = json_scan_value(buf_, p);
    if (scan.state == JsonScanState::incomplete) {
      if (final) abandon_call(buf_.size(), out);
      return final;
    }
    if (scan.state == JsonScanState::invalid) {
      abandon_call(0, out);
      return true;
    }
    std::vector<CallObject> calls;
    auto value = parse_json(std::string_view(buf_).substr(p, scan.end - p));
    if (value && value->is_array()) {
      for (const auto& item : *value) {
        auto call = call_from_object(item);
        if (!call) {
          calls.clear();
          break;
        }
        calls.push_back(*call);
      }
    } else if (value) {
      if (auto call = call_from_object(*value)) calls.push_back(*call);
    }
    if (calls.empty()) {
      abandon_call(scan.end, out);
      return true;
    }
    buf_.erase(0, scan.end);
    for (auto& call : calls) add_call(call.name, call.arguments, call.id, out);
    end_call();
    return true;
  }
  size_t i = p;
  while (i < buf_.size() && is_name_char(buf_[i])) ++i;
  if (i == p) {
    abandon_call(0, out);
    return true;
  }
  const std::string_view after = std::string_view(buf_).substr(i);
  if (starts_with(after, kMistralArgs)) {
    call_name_ = buf_.substr(p, i - p);
    call_raw_ += buf_.substr(0, i + kMistralArgs.size());
    buf_.erase(0, i + kMistralArgs.size());
    kind_ = CallKind::named_args;
    return true;
  }
  if (starts_with(after, kMistralCallId)) {
    const size_t args = buf_.find(kMistralArgs, i + kMistralCallId.size());
    if (args != std::string::npos) {
      call_name_ = buf_.substr(p, i - p);
      call_id_ = trim(std::string_view(buf_).substr(i + kMistralCallId.size(),
                                                    args - i - kMistralCallId.size()));
      call_raw_ += buf_.substr(0, args + kMistralArgs.size());
      buf_.erase(0, args + kMistralArgs.size());
      kind_ = CallKind::named_args;
      return true;
    }
    // Wait while the id can still be followed by [ARGS].
    std::string_view id = after.substr(kMistralCallId.size());
    id.remove_suffix(partial_suffix(id, kMistralArgs));
    if (!final && std::all_of(id.begin(), id.end(), is_name_char)) return false;
    abandon_call(0, out);
    return true;
  }
  if (!final &&
      (after.empty() || could_become(after, kMistralArgs) || could_become(after, kMistralCallId)))
    return false;
  abandon_call(0, out);
  return true;
}

// buf_ starts with '{': a Llama 3 call object, or the arguments of a call whose name is known.
bool OutputParser::step_json_call(bool final, ParsedDelta* out) {
  const JsonScan scan = json_scan_value(buf_, 0);
  if (scan.state == JsonScanState::incomplete) {
    if (final) abandon_call(buf_.size(), out);
    return final;
  }
  if (scan.state == JsonScanState::invalid) {
    abandon_call(0, out);
    return true;
  }
  auto value = parse_json(std::string_view(buf_).substr(0, scan.end));
  std::optional<CallObject> call;
  if (value && kind_ == CallKind::llama_json) {
    call = call_from_object(*value);
  } else if (value && value->is_object()) {
    call = CallObject{call_name_, compact(*value), call_id_};
  }
  if (!call) {
    abandon_call(scan.end, out);
    return true;
  }
  buf_.erase(0, scan.end);
  add_call(call->name, call->arguments, call->id, out);
  end_call();
  return true;
}

void OutputParser::emit_content(std::string text, ParsedDelta* out) {
  if (text.empty()) return;
  said_anything_ = true;
  after_call_ = false;
  content_ += text;
  out->content += text;
}

void OutputParser::emit_reasoning(std::string text, ParsedDelta* out) {
  if (text.empty()) return;
  reasoning_ += text;
  out->reasoning += text;
}

void OutputParser::add_call(std::string name, std::string arguments, std::string id,
                            ParsedDelta* out) {
  ++parsed_calls_;
  said_anything_ = true;
  if (!options_.parallel && !calls_.empty()) return;
  ToolCall call;
  call.index = static_cast<int>(calls_.size());
  call.id = id.empty() ? random_call_id(options_.format) : std::move(id);
  call.name = std::move(name);
  call.arguments = std::move(arguments);
  calls_.push_back(call);
  out->calls.push_back(std::move(call));
}

void OutputParser::abandon_call(size_t n, ParsedDelta* out) {
  std::string text = std::move(call_raw_);
  text += buf_.substr(0, n);
  buf_.erase(0, n);
  call_raw_.clear();
  call_name_.clear();
  call_id_.clear();
  mode_ = Mode::content;
  drop_ws_ = false;
  emit_content(std::move(text), out);
}

void OutputParser::end_call() {
  call_raw_.clear();
  call_name_.clear();
  call_id_.clear();
  mode_ = Mode::start;
  drop_ws_ = true;
  after_call_ = true;
}

}  // namespace mofa::server::tool_calls
