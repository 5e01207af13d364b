#include "core/error.h"

namespace mofa {

void throw_internal(const char* op, const std::string& what) {
  throw InternalError(std::string("[") + op + "] " + what);
}

void check_internal(bool ok, const char* op, const std::string& what) {
  if (!ok) throw_internal(op, what);
}

}  // namespace mofa
