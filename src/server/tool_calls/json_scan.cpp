#include "server/tool_calls/json_scan.h"

#include <string>

namespace mofa::server::tool_calls {

JsonScan json_scan_value(std::string_view text, size_t pos) {
  if (pos >= text.size()) return {JsonScanState::incomplete, 0};
  if (text[pos] != '{' && text[pos] != '[') return {JsonScanState::invalid, 0};
  std::string open;  // the closing bracket each open level expects
  bool in_string = false;
  bool escaped = false;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
        open.push_back('}');
        break;
      case '[':
        open.push_back(']');
        break;
      case '}':
      case ']':
        if (open.empty() || open.back() != c) return {JsonScanState::invalid, 0};
        open.pop_back();
        if (open.empty()) return {JsonScanState::complete, i + 1};
        break;
      default:
        break;
    }
  }
  return {JsonScanState::incomplete, 0};
}

}  // namespace mofa::server::tool_calls
