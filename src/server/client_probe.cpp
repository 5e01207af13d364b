#include "server/client_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace mofa::server {
namespace {

thread_local std::function<bool()> t_probe;

// "127.0.0.1" / "::1" and the port of a socket address; false for non-IP families.
bool address_of(const sockaddr_storage& ss, std::string* addr, int* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    if (!inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text))) return false;
    *port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text))) return false;
    *port = ntohs(in6->sin6_port);
  } else {
    return false;
  }
  *addr = text;
  return true;
}

bool endpoint_is(int fd, bool peer, const std::string& want_addr, int want_port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return false;
  std::string addr;
  int port = -1;
  return address_of(ss, &addr, &port) && port == want_port && addr == want_addr;
}

}  // namespace

bool current_client_gone() {
  return t_probe && t_probe();
}

ScopedClientProbe::ScopedClientProbe(std::function<bool()> probe) : previous_(std::move(t_probe)) {
  t_probe = std::move(probe);
}

ScopedClientProbe::~ScopedClientProbe() {
  t_probe = std::move(previous_);
}

int find_connection_socket(const std::string& local_addr, int local_port,
                           const std::string& peer_addr, int peer_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    if (endpoint_is(static_cast<int>(fd), true, peer_addr, peer_port) &&
        endpoint_is(static_cast<int>(fd), false, local_addr, local_port)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool socket_peer_closed(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace mofa::server
