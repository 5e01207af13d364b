#pragma once
// Tells a handler that waits for a whole (non-streamed) answer whether its client has hung up, so
// the generation can be cancelled at the next token instead of running on for nobody. The HTTP
// server installs a probe for the connection around each handler call on that handler's thread;
// elsewhere (unit tests calling routes directly) the client is never gone.
#include <functional>
#include <string>

namespace mofa::server {

// True once the client of the request being handled on this thread has closed its connection.
bool current_client_gone();

// Installs `probe` as this thread's answer to current_client_gone() for its lifetime.
class ScopedClientProbe {
 public:
  explicit ScopedClientProbe(std::function<bool()> probe);
  ~ScopedClientProbe();
  ScopedClientProbe(const ScopedClientProbe&) = delete;
  ScopedClientProbe& operator=(const ScopedClientProbe&) = delete;

 private:
  std::function<bool()> previous_;
};

// The connected socket of this process whose local and peer addresses are the given ones, or -1.
int find_connection_socket(const std::string& local_addr, int local_port,
                           const std::string& peer_addr, int peer_port);

// Whether the peer of a connected socket has closed it (an orderly close or a reset). Data the
// peer sent and we have not read yet (a pipelined request) means it is still there.
bool socket_peer_closed(int fd);

}  // namespace mofa::server
