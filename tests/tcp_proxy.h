// A small TCP proxy for network fault tests: listens on 127.0.0.1, forwards
// every connection it accepts to a target address, and can cut everything at
// once (Stop: the listener and every connection closed abruptly, with a
// reset) and come back on the same port (Start again). One thread with
// poll(); at most kMaxConnections connections and kMaxBuffered bytes buffered
// per direction of each. No Catch assertions: any thread may use it.
#ifndef BROOK_TESTS_TCP_PROXY_H_
#define BROOK_TESTS_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace brook::test {

class TcpProxy {
 public:
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxBuffered = 256 * 1024;

  // Forwards to target_host (numeric IPv4) : target_port, listening on
  // listen_port (0: a free port picked at the first Start). A port outside
  // the ephemeral range keeps a peer's reconnect attempts while the proxy is
  // down from connecting to themselves on it (TCP self-connect), which
  // would take the port.
  TcpProxy(std::string target_host, uint16_t target_port, uint16_t listen_port = 0);
  // "tcp://HOST:PORT" (a ZeroMQ endpoint) as the target.
  static bool ParseEndpoint(const std::string& endpoint, std::string* host, uint16_t* port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Listens and forwards. The first start picks a free port on 127.0.0.1;
  // later starts bind that same port again. Returns "" or what failed.
  std::string Start();
  // Closes the listener and every connection abruptly (RST) and stops the
  // thread. Idempotent.
  void Stop();

  bool running() const { return thread_.joinable(); }
  uint16_t port() const { return port_; }
  // "tcp://127.0.0.1:PORT", for ZeroMQ.
  std::string endpoint() const;
  // Connections accepted and forwarded since construction.
  uint64_t accepted() const { return accepted_; }
  // Connections that could not be forwarded (target refused, too many).
  uint64_t refused() const { return refused_; }
  uint64_t bytes_forwarded() const { return bytes_; }

 private:
  void Loop();

  std::string target_host_;
  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<uint64_t> accepted_{0}, refused_{0}, bytes_{0};
};

}  // namespace brook::test

#endif  // BROOK_TESTS_TCP_PROXY_H_
