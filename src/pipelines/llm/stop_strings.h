#pragma once
// Finds stop strings in streamed text across token boundaries. Text that might still be the
// start of a stop string is held back, so a stop string is never emitted, even in part.
#include <string>
#include <vector>

namespace mofa::llm {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);

  // Appends new text; returns the text that is now safe to emit. Sets stopped() when a stop
  // string appeared (the text before it is emitted, the rest is dropped).
  std::string push(const std::string& text);
  // The held-back text, at the end of the generation.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace mofa::llm
