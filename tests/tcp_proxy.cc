#include "tests/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace brook::test {
namespace {

// Closes with a reset rather than an orderly FIN: the peer sees the
// connection die, as in a network fault, and no TIME_WAIT is left behind.
void CloseAbruptly(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// One forwarded connection: the accepted side (client) and the side
// connected to the target (server), with what waits to be written to each.
struct Link {
  int client = -1;
  int server = -1;
  std::string to_server;
  std::string to_client;
  bool dead = false;
  ~Link() {
    CloseAbruptly(client);
    CloseAbruptly(server);
  }
};

// Moves what `from` has to `buf` (bounded). False: the connection is over.
bool ReadInto(int from, std::string* buf, std::atomic<uint64_t>* bytes) {
  char chunk[16384];
  while (buf->size() < TcpProxy::kMaxBuffered) {
    const size_t room = std::min(sizeof chunk, TcpProxy::kMaxBuffered - buf->size());
    const ssize_t n = recv(from, chunk, room, 0);
    if (n > 0) {
      buf->append(chunk, static_cast<size_t>(n));
      *bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;  // EOF or an error: the proxy closes both sides
  }
  return true;
}

// Writes what it can of `buf` to `to`. False: the connection is over.
bool WriteFrom(int to, std::string* buf) {
  while (!buf->empty()) {
    const ssize_t n = send(to, buf->data(), buf->size(), MSG_NOSIGNAL);
    if (n > 0) {
      buf->erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(std::string target_host, uint16_t target_port, uint16_t listen_port)
    : target_host_(std::move(target_host)), target_port_(target_port), port_(listen_port) {}

TcpProxy::~TcpProxy() { Stop(); }

bool TcpProxy::ParseEndpoint(const std::string& endpoint, std::string* host, uint16_t* port) {
  const std::string prefix = "tcp://";
  if (endpoint.compare(0, prefix.size(), prefix) != 0) return false;
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon < prefix.size()) return false;
  *host = endpoint.substr(prefix.size(), colon - prefix.size());
  const long p = std::strtol(endpoint.c_str() + colon + 1, nullptr, 10);
  if (p <= 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

std::string TcpProxy::endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

std::string TcpProxy::Start() {
  if (running()) return "already running";
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) return Errno("socket");
  const int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  std::string err;
  if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    err = Errno(("bind 127.0.0.1:" + std::to_string(port_)).c_str());
  } else if (listen(listener_, 64) != 0) {
    err = Errno("listen");
  } else if (!SetNonBlocking(listener_)) {
    err = Errno("fcntl");
  } else {
    socklen_t len = sizeof addr;
    if (getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      err = Errno("getsockname");
    else
      port_ = ntohs(addr.sin_port);
  }
  if (err.empty() && pipe2(wake_, O_CLOEXEC) != 0) err = Errno("pipe");
  if (!err.empty()) {
    close(listener_);
    listener_ = -1;
    return err;
  }
  thread_ = std::thread([this] { Loop(); });
  return "";
}

void TcpProxy::Stop() {
  if (!running()) return;
  const char c = 'x';
  if (write(wake_[1], &c, 1) != 1) {
    // The loop also wakes every 100 ms; it will see the closed pipe's peer.
  }
  thread_.join();  // the loop closed every connection on its way out
  close(wake_[0]);
  close(wake_[1]);
  wake_[0] = wake_[1] = -1;
  CloseAbruptly(listener_);
  listener_ = -1;
}

void TcpProxy::Loop() {
  std::vector<std::unique_ptr<Link>> links;
  std::vector<pollfd> fds;
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(target_port_);
  inet_pton(AF_INET, target_host_.c_str(), &target.sin_addr);
  for (;;) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listener_, POLLIN, 0});
    for (const auto& l : links) {
      short c = 0, s = 0;
      if (l->to_server.size() < kMaxBuffered) c |= POLLIN;
      if (!l->to_client.empty()) c |= POLLOUT;
      if (l->to_client.size() < kMaxBuffered) s |= POLLIN;
      if (!l->to_server.empty()) s |= POLLOUT;
      fds.push_back({l->client, c, 0});
      fds.push_back({l->server, s, 0});
    }
    const int n = poll(fds.data(), fds.size(), 100);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents) break;  // Stop()
    for (size_t i = 0; i < links.size(); ++i) {
      Link& l = *links[i];
      const short c = fds[2 + 2 * i].revents, s = fds[3 + 2 * i].revents;
      bool ok = true;
      if (c & (POLLIN | POLLHUP | POLLERR)) ok = ReadInto(l.client, &l.to_server, &bytes_) && ok;
      if (s & (POLLIN | POLLHUP | POLLERR)) ok = ReadInto(l.server, &l.to_client, &bytes_) && ok;
      if (ok) ok = WriteFrom(l.server, &l.to_server) && WriteFrom(l.client, &l.to_client);
      l.dead = !ok;
    }
    // One side gone: the proxy drops the other too (ZeroMQ reconnects).
    for (size_t i = 0; i < links.size();) {
      if (links[i]->dead) {
        links.erase(links.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    if (fds[1].revents & POLLIN) {
      for (int k = 0; k < 16; ++k) {
        const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) break;
        auto l = std::make_unique<Link>();
        l->client = client;
        l->server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        setsockopt(l->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (links.size() >= kMaxConnections || l->server < 0 ||
            connect(l->server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0 ||
            !SetNonBlocking(l->client) || !SetNonBlocking(l->server)) {
          ++refused_;
          continue;  // ~Link closes both
        }
        setsockopt(l->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ++accepted_;
        links.push_back(std::move(l));
      }
    }
  }
  links.clear();  // every connection closed abruptly
}

}  // namespace brook::test
