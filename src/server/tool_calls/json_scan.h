#pragma once
// Finds where a JSON object or array written by a model ends, so a streaming parser knows when a
// tool call's arguments are complete without parsing the text again for every new piece.
#include <cstddef>
#include <string_view>

namespace mofa::server::tool_calls {

enum class JsonScanState { complete, incomplete, invalid };

struct JsonScan {
  JsonScanState state = JsonScanState::incomplete;
  size_t end = 0;  // complete: one past the closing bracket
};

// Scans the object or array that starts at text[pos] ('{' or '['), tracking strings, escapes and
// bracket nesting. `invalid` means the text can never become one balanced value (a mismatched
// bracket, or text[pos] opens nothing); the value's grammar is checked by a real JSON parse.
JsonScan json_scan_value(std::string_view text, size_t pos);

}  // namespace mofa::server::tool_calls
