#include "node/zap_handler.h"

#include <zmq.h>
#include <zmq_addon.hpp>

#include <chrono>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "node/curve.h"

namespace brook::node {
namespace {

// The thread checks for Stop at least this often.
constexpr auto kPollWait = std::chrono::milliseconds(50);
// A refused key is logged at most this often.
constexpr auto kRefusalLogInterval = std::chrono::seconds(10);
constexpr size_t kMaxRefusalLogEntries = 1024;

constexpr std::string_view kVersion = "1.0";
constexpr size_t kKeyBytes = 32;

std::string_view View(const zmq::message_t& m) {
  return std::string_view(static_cast<const char*>(m.data()), m.size());
}

std::string Z85(const void* key32) {
  char out[41] = {};
  if (zmq_z85_encode(out, static_cast<const uint8_t*>(key32), kKeyBytes) == nullptr) return "";
  return std::string(out, 40);
}

}  // namespace

Status ZapHandler::Start(zmq::context_t& ctx, const ServerSecurity& security, Logger logger,
                         std::unique_ptr<ZapHandler>* out) {
  if (!security.enabled)
    return Status::InvalidArgument(
        "ZapHandler::Start: security is not enabled; a ZAP handler is only for CURVE");
  Status s = ValidateServerSecurity(security, "ServerSecurity");
  if (!s.ok()) return s;
  zmq::socket_t socket;
  try {
    socket = zmq::socket_t(ctx, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(kEndpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE)
      return Status::FailedPrecondition(
          std::string("ZapHandler::Start: a ZAP handler is already bound at ") + kEndpoint +
          " in this ZeroMQ context; one handler serves a context");
    return Status::FailedPrecondition(std::string("ZapHandler::Start: cannot bind ") + kEndpoint +
                                      ": " + e.what());
  }
  std::unique_ptr<ZapHandler> h(
      new ZapHandler(std::move(socket), security.zap_domain, std::move(logger)));
  s = h->SetAllowedKeys(security.allowed_client_keys);
  if (!s.ok()) return s;  // validated above; kept for safety (the destructor unbinds)
  h->running_.store(true, std::memory_order_release);
  h->thread_ = std::thread([p = h.get()] { p->Run(); });
  *out = std::move(h);
  return Status::OK();
}

ZapHandler::ZapHandler(zmq::socket_t socket, std::string domain, Logger logger)
    : socket_(std::move(socket)), domain_(std::move(domain)), logger_(std::move(logger)) {}

ZapHandler::~ZapHandler() {
  Stop();
  socket_.close();  // only if the thread never started; closing twice is harmless
}

void ZapHandler::Stop() {
  std::lock_guard<std::mutex> lk(stop_mu_);
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

Status ZapHandler::SetAllowedKeys(const std::vector<std::string>& keys) {
  if (keys.empty())
    return Status::InvalidArgument(
        "ZapHandler::SetAllowedKeys: the list is empty, so no client could connect");
  std::unordered_set<std::string> set;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!IsValidKey(keys[i]))
      return Status::InvalidArgument("ZapHandler::SetAllowedKeys: key [" + std::to_string(i) +
                                     "] is not a 40-character Z85 public key");
    set.insert(keys[i]);
  }
  std::lock_guard<std::mutex> lk(mu_);
  allowed_ = std::move(set);
  return Status::OK();
}

void ZapHandler::Log(LogLevel level, const std::string& message) {
  if (!logger_) return;
  try {
    logger_(level, message);
  } catch (...) {
    // A logger must not throw; if it does, the message is lost, not the handler.
  }
}

bool ZapHandler::ShouldLogRefusal(const std::string& key) {
  auto now = Clock::now();
  auto it = refusal_logged_.find(key);
  if (it != refusal_logged_.end() && now - it->second < kRefusalLogInterval) return false;
  if (refusal_logged_.size() >= kMaxRefusalLogEntries) refusal_logged_.clear();
  refusal_logged_[key] = now;
  return true;
}

void ZapHandler::Run() {
  std::string why = "stopped";
  LogLevel level = LogLevel::kInfo;
  try {
    std::vector<zmq::message_t> frames;
    while (!stop_.load()) {
      if (crash_for_testing_.load()) throw std::runtime_error("CrashForTesting");
      zmq::pollitem_t item = {socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, kPollWait);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      frames.clear();
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait))
        continue;
      Handle(frames);
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != ETERM) {
      why = std::string("failed: ") + e.what();
      level = LogLevel::kError;
    } else {
      why = "stopped: the ZeroMQ context is closing";
    }
  } catch (const std::exception& e) {
    why = std::string("failed: ") + e.what();
    level = LogLevel::kError;
  } catch (...) {
    why = "failed: unknown exception";
    level = LogLevel::kError;
  }
  // Unbind the endpoint: with ZMQ_ZAP_ENFORCE_DOMAIN on the server sockets,
  // every new CURVE handshake now fails. (Left bound and unanswered, requests
  // would only stall; closed, they are refused at once.)
  running_.store(false, std::memory_order_release);
  try {
    socket_.close();
  } catch (...) {
  }
  Log(level, "ZAP handler " + why + " (admitted " + std::to_string(admitted()) + ", refused " +
                 std::to_string(refused()) +
                 "); new CURVE connections are refused until it is started again");
}

void ZapHandler::Handle(std::vector<zmq::message_t>& frames) {
  // [routing id]["" delimiter][version][request id][domain][address]
  // [identity][mechanism][credentials...]
  if (frames.size() < 2 || frames[1].size() != 0) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kError, "ZAP handler: a request without an envelope; ignored");
    return;
  }
  const size_t body = 2;
  const size_t n = frames.size() - body;
  std::string request_id = n >= 2 ? std::string(View(frames[body + 1])) : std::string();

  auto reply = [&](std::string_view code, std::string_view text, std::string_view user_id) {
    std::vector<zmq::const_buffer> out = {
        zmq::buffer(frames[0].data(), frames[0].size()),
        zmq::const_buffer(),
        zmq::buffer(kVersion),
        zmq::buffer(request_id),
        zmq::buffer(code),
        zmq::buffer(text),
        zmq::buffer(user_id),
        zmq::const_buffer(),  // metadata
    };
    // The session may be gone: ROUTER then drops the reply silently.
    (void)zmq::send_multipart(socket_, out, zmq::send_flags::dontwait);
  };

  if (n < 6 || View(frames[body]) != kVersion) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kError, "ZAP handler: a malformed request (or not ZAP version 1.0); refused");
    reply("500", "malformed ZAP request", "");
    return;
  }
  std::string_view domain = View(frames[body + 2]);
  std::string address(View(frames[body + 3]));
  std::string_view mechanism = View(frames[body + 5]);

  if (domain != domain_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kWarning, "ZAP handler: refused a connection from " + address + " in domain '" +
                                std::string(domain) + "' (serving '" + domain_ + "')");
    reply("400", "unknown domain", "");
    return;
  }
  if (mechanism != "CURVE" || n != 7 || frames[body + 6].size() != kKeyBytes) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kWarning, "ZAP handler: refused a " + std::string(mechanism) +
                                " connection from " + address + ": only CURVE is admitted");
    reply("400", "only CURVE is admitted", "");
    return;
  }
  std::string key = Z85(frames[body + 6].data());
  bool allowed;
  {
    std::lock_guard<std::mutex> lk(mu_);
    allowed = !key.empty() && allowed_.count(key) != 0;
  }
  if (allowed) {
    admitted_.fetch_add(1, std::memory_order_relaxed);
    if (logger_) Log(LogLevel::kDebug, "ZAP handler: admitted " + key + " from " + address);
    reply("200", "OK", key);
  } else {
    refused_.fetch_add(1, std::memory_order_relaxed);
    if (logger_ && ShouldLogRefusal(key))
      Log(LogLevel::kWarning, "ZAP handler: refused client key " + key + " from " + address +
                                  ": not on the allow-list (logged at most every 10 s per key)");
    reply("400", "client key not allowed", "");
  }
}

}  // namespace brook::node
