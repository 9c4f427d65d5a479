// The ZAP handler (ZeroMQ RFC 27): decides which CURVE clients a producer's
// sockets admit.
//
// libzmq asks the socket bound at inproc://zeromq.zap.01 *in the same
// context* about every incoming CURVE handshake: version "1.0", request id,
// domain, address, routing id, mechanism, and the client's 32-byte public key.
// This handler answers 200 (admitted; the user id is the client's Z85 key,
// readable on received messages as the "User-Id" property) when the domain
// and mechanism are the configured ones and the key is on the allow-list, 400
// otherwise, and 500 to a malformed request.
//
// Fail closed. libzmq 4.3, by default, ADMITS every CURVE client when no
// handler is bound in the context (curve_server.cpp: "Stonehouse pattern in
// legacy mode"). ApplyServer (node/curve.h) therefore sets
// ZMQ_ZAP_ENFORCE_DOMAIN with a non-empty ZMQ_ZAP_DOMAIN on every server
// socket: then a handshake with no handler bound fails. This handler closes
// its socket, unbinding the endpoint, whenever its thread ends — Stop(), the
// context terminating, or any error or exception — so "handler dead" always
// means "no handler bound", which means every new handshake is refused.
// Connections already admitted stay up: to cut them, close the sockets.
//
// Order: Start the handler before configuring (ApplyServer) and binding the
// server sockets; stop it after closing them and before closing the context.
// One handler per context (a second Start in the same context fails).
//
// Thread-safety: every method may be called from any thread.
#ifndef BROOK_NODE_ZAP_HANDLER_H_
#define BROOK_NODE_ZAP_HANDLER_H_

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "brook/options.h"
#include "brook/security.h"
#include "brook/status.h"

namespace brook::node {

class ZapHandler {
 public:
  static constexpr const char* kEndpoint = "inproc://zeromq.zap.01";

  // Binds kEndpoint in `ctx` and starts the handler's thread; when this
  // returns OK the handler answers. `security` must be enabled and valid
  // (ValidateServerSecurity). `logger` (may be empty) receives refusals
  // (warning, at most one per key per 10 s), admissions (debug) and the
  // handler's end. Errors: InvalidArgument (security), FailedPrecondition
  // (another handler is bound in this context; CURVE unavailable).
  static Status Start(zmq::context_t& ctx, const ServerSecurity& security, Logger logger,
                      std::unique_ptr<ZapHandler>* out);

  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;
  ~ZapHandler();  // Stop()

  // Ends the thread, which unbinds kEndpoint: from then on every new CURVE
  // handshake in this context is refused. Idempotent.
  void Stop();

  // True from Start until the thread ends (Stop, context terminated, error).
  bool running() const { return running_.load(std::memory_order_acquire); }

  const std::string& domain() const { return domain_; }

  // Replaces the allow-list; new handshakes use it, admitted connections stay.
  // Errors: InvalidArgument (empty list, or a malformed key, named by index).
  Status SetAllowedKeys(const std::vector<std::string>& keys);

  // Handshakes answered 200 / refused (400 or 500) since Start.
  uint64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // Tests only: makes the thread throw, as an unexpected error would, and end
  // (within ~50 ms; wait for !running()).
  void CrashForTesting() { crash_for_testing_.store(true); }

 private:
  ZapHandler(zmq::socket_t socket, std::string domain, Logger logger);
  void Run();
  // Answers one request (frames as the ROUTER received them).
  void Handle(std::vector<zmq::message_t>& frames);
  void Log(LogLevel level, const std::string& message);
  // Rate limit of refusal messages: at most one per key per 10 s.
  bool ShouldLogRefusal(const std::string& key);

  using Clock = std::chrono::steady_clock;

  zmq::socket_t socket_;  // the handler thread's only; closed when it ends
  const std::string domain_;
  const Logger logger_;
  std::mutex mu_;
  std::unordered_set<std::string> allowed_;  // Z85; guarded by mu_
  std::thread thread_;
  std::mutex stop_mu_;  // serialises Stop
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> crash_for_testing_{false};
  std::atomic<uint64_t> admitted_{0}, refused_{0};
  std::map<std::string, Clock::time_point> refusal_logged_;  // handler thread only
};

}  // namespace brook::node

#endif  // BROOK_NODE_ZAP_HANDLER_H_
