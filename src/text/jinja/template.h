#pragma once
// A parsed Jinja template rendered the way transformers' chat templating does (jinja2 sandbox,
// trim_blocks, lstrip_blocks, loopcontrols, Python printing); the public entry to the engine.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace mofa::text::jinja {

// Bounds that keep a hostile template from exhausting memory, time or the stack.
struct RenderLimits {
  size_t max_output_bytes = size_t{256} << 20;
  uint64_t max_loop_iterations = 10'000'000;
  int max_call_depth = 200;
  int64_t max_range = 10'000'000;
};

// Thrown by functions a template calls (raise_exception): its message passes through unchanged,
// without the line annotation that engine errors get.
class UserError : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

class Template {
 public:
  // Lexes and parses; throws InvalidInput "syntax error at line N: ..." on malformed source.
  explicit Template(std::string_view source);

  // Renders with `variables` (str keys) as the top-level names (they shadow the built-in globals
  // range, dict, namespace); throws InvalidInput "<what> (line N)" on evaluation errors.
  std::string render(const Dict& variables, const RenderLimits& limits = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

}  // namespace mofa::text::jinja
