#pragma once
// Typed errors: invalid input (the user's data or request), unsupported (valid but not handled),
// internal (our bug). Each boundary (HTTP, CLI) maps them to a status once.
#include <stdexcept>
#include <string>

namespace mofa {

class InvalidInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InternalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InternalError naming the op when a precondition that callers guarantee does not hold.
void check_internal(bool ok, const char* op, const std::string& what);

}  // namespace mofa
