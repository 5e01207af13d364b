#include "core/error.h"

namespace mofa {

void check_internal(bool ok, const char* op, const std::string& what) {
  if (!ok) throw InternalError(std::string("[") + op + "] " + what);
}

}  // namespace mofa
