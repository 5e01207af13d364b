#!/usr/bin/env bash
# Sets up, builds (warnings as errors) and runs every test. README's test command.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh" --tests
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOFA_WERROR=ON
cmake --build "$here/build" -j "$(nproc)"
ctest --test-dir "$here/build" --output-on-failure -j "$(nproc)"
