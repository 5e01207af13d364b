// mofa-server: the seed-compatible server command. The server issue fills this in.
#include <cstdio>

int main() {
  std::fprintf(stderr, "mofa-server: the HTTP server is not built yet\n");
  return 2;
}
