#!/usr/bin/env bash
# Sets up, builds and runs mofa-server; arguments go to mofa-server.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build" -j "$(nproc)" --target mofa-server mofa
exec "$here/build/mofa-server" "$@"
