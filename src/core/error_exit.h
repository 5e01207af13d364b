#pragma once
// The one mapping from errors to process exit codes, shared by the command-line programs:
// InvalidInput 1, Unsupported 2, anything else 3, with the message on stderr.
#include <exception>

namespace mofa {

// Prints the error in flight (call from a catch block) and returns its exit code.
int exit_code_for_current_exception();

}  // namespace mofa
