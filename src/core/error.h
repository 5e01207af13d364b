#pragma once
// Typed errors: invalid input (the user's data or request), unsupported (valid but not handled),
// internal (our bug). Each boundary (HTTP, CLI) maps them to a status once.
#include <concepts>
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

// Throws InternalError "[op] what".
[[noreturn]] void throw_internal(const char* op, const std::string& what);

// Throws InternalError naming the op when a precondition that callers guarantee does not hold.
inline void check_internal(bool ok, const char* op, const char* what) {
  if (!ok) [[unlikely]]
    throw_internal(op, what);
}
void check_internal(bool ok, const char* op, const std::string& what);

// The same with a message that costs allocations to build (numbers, shapes): `describe` runs only
// when the check fails, so a passing check on the decode path builds no string.
template <typename Describe>
requires std::invocable<Describe&>
inline void check_internal(bool ok, const char* op, Describe&& describe) {
  if (!ok) [[unlikely]]
    throw_internal(op, describe());
}

}  // namespace mofa
