#include "core/error_exit.h"

#include <cstdio>

#include "core/error.h"

namespace mofa {

int exit_code_for_current_exception() {
  try {
    throw;
  } catch (const InvalidInput& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const Unsupported& e) {
    std::fprintf(stderr, "unsupported: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 3;
  }
}

}  // namespace mofa
