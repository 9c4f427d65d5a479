#include "tools/node_args.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "node/curve.h"
#include "node/wire.h"
#include "tools/node_config.h"

namespace brook::cli {

void AddNodeOptions(CommandSpec* spec) {
  spec->options.push_back(
      {"pub", "ENDPOINT", "a node's live endpoint, e.g. tcp://host:7000", true});
  spec->options.push_back(
      {"replay", "ENDPOINT",
       "that node's replay endpoint, e.g. tcp://host:7001; the i-th --replay\ngoes with the i-th "
       "--pub",
       true});
  spec->options.push_back(
      {"config", "FILE", "a `brook node` config file: endpoints, public key", true});
  AddClientSecurityOptions(spec);
}

bool HasNodeOptions(const Args& args) {
  return args.Has("pub") || args.Has("replay") || args.Has("config");
}

namespace {

bool Failed(int code, int* exit_code) {
  *exit_code = code;
  return false;
}

}  // namespace

bool NodesFromArgs(const CommandSpec& spec, const Args& args, Nodes* out, int* exit_code) {
  const std::vector<std::string>& pubs = args.GetAll("pub");
  const std::vector<std::string>& replays = args.GetAll("replay");
  const std::vector<std::string>& configs = args.GetAll("config");
  if (pubs.size() != replays.size()) {
    return Failed(UsageError(spec,
                             "give --pub and --replay in pairs (the i-th --pub goes with the "
                             "i-th --replay); got " +
                                 std::to_string(pubs.size()) + " --pub and " +
                                 std::to_string(replays.size()) + " --replay"),
                  exit_code);
  }
  if (pubs.empty() && configs.empty()) {
    return Failed(UsageError(spec,
                             "which node? give --pub ENDPOINT --replay ENDPOINT, or "
                             "--config FILE (a brook node config file)"),
                  exit_code);
  }
  for (size_t i = 0; i < pubs.size(); ++i) out->endpoints.emplace_back(pubs[i], replays[i]);

  // Each node runs CURVE or not; one consumer speaks one way to all of them.
  const bool curve_pubs = !pubs.empty() && args.Has("server-key");
  bool plain = !pubs.empty() && !args.Has("server-key");
  bool curve_config = false;
  std::string curve_config_file;
  for (const std::string& path : configs) {
    NodeConfig config;
    Status s = LoadNodeConfig(path, /*load_secrets=*/false, &config);
    ProducerEndpoints endpoints;
    if (s.ok()) s = EndpointsFromConfig(config, &endpoints);
    if (!s.ok()) return Failed(Fail(spec, s), exit_code);
    if (endpoints.server_public_key.empty()) {
      plain = true;
    } else {
      curve_config = true;
      curve_config_file = path;
    }
    out->endpoints.push_back(std::move(endpoints));
  }
  if (plain && (curve_pubs || curve_config)) {
    return Failed(UsageError(spec,
                             "some of these nodes run CURVE and some do not (a --pub/--replay "
                             "pair is CURVE when --server-key is given, a --config when its "
                             "[security] says so); run one command per kind"),
                  exit_code);
  }
  if (args.Has("server-key") && pubs.empty()) {
    return Failed(UsageError(spec,
                             "--server-key is for --pub/--replay nodes; a --config file "
                             "names its node's public key itself"),
                  exit_code);
  }
  if (curve_pubs || !curve_config) {
    const bool client = args.Has("client-key") || args.Has("client-secret-key");
    if (args.Has("server-key") != client || (client && !args.Has("client-key"))) {
      return Failed(UsageError(spec,
                               "CURVE needs --server-key (the node's public key file) and "
                               "--client-key (this client's public key file, its secret "
                               "in FILE.secret); `brook keygen` makes key files"),
                    exit_code);
    }
    Status s = ClientSecurityFromArgs(args, &out->security);
    if (!s.ok()) return Failed(Fail(spec, s), exit_code);
    return true;
  }
  // CURVE nodes from config files only: their public keys came with them.
  if (!args.Has("client-key")) {
    return Failed(UsageError(spec, "the node of " + curve_config_file +
                                       " runs CURVE: give --client-key FILE (this client's key "
                                       "pair, made by `brook keygen`; the node must allow-list "
                                       "its public key)"),
                  exit_code);
  }
  out->security.enabled = true;
  const std::string pub = args.Get("client-key");
  Status s =
      LoadKeyPair(pub, args.Get("client-secret-key", pub + ".secret"), &out->security.client);
  if (!s.ok()) return Failed(Fail(spec, s), exit_code);
  out->security.server_public_key = out->endpoints.front().server_public_key;
  return true;
}

std::string DefaultStateDir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/brook";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/state/brook";
}

Status MakeDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string part = path.substr(0, slash);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FailedPrecondition("cannot create the directory " + part + ": " +
                                        std::strerror(errno) + "; create it or give another one");
    }
    if (slash == std::string::npos) return Status::OK();
  }
}

const NodeDescription::Topic* NodeDescription::Find(const std::string& name) const {
  for (const Topic& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// ----- NodeClient.

namespace {

constexpr int kHandshakeEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

}  // namespace

Status NodeClient::Connect(const ProducerEndpoints& node, const ClientSecurity& security) {
  node_ = node;
  security_ = security;
  if (!node.server_public_key.empty()) security_.server_public_key = node.server_public_key;
  try {
    dealer_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
    dealer_.set(zmq::sockopt::linger, 0);
    Status s = node::ApplyClient(dealer_, security_);
    if (!s.ok()) return s;
    // Handshake failures are reported by the socket monitor only; without
    // it a refused key would look like a node that does not answer.
    static std::atomic<uint64_t> counter{0};
    const std::string monitor = "inproc://brook-cli-monitor-" + std::to_string(counter++);
    if (zmq_socket_monitor(dealer_.handle(), monitor.c_str(), kHandshakeEvents) != 0) {
      throw zmq::error_t();
    }
    monitor_ = zmq::socket_t(ctx_, zmq::socket_type::pair);
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(monitor);
  } catch (const zmq::error_t& e) {
    return Status::Internal(std::string("setting up a ZeroMQ socket: ") + e.what());
  }
  try {
    dealer_.connect(node.replay);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect to '" + node.replay + "': " + e.what() +
                                   "; an endpoint looks like tcp://HOST:PORT or ipc:///PATH");
  }
  return Status::OK();
}

std::string NodeClient::HandshakeFailure(uint16_t event, uint32_t value) const {
  const std::string head = "the handshake with " + node_.replay + " failed: ";
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return head + "the node refused this client's key (ZAP status " + std::to_string(value) +
           "); add its public key " + security_.client.public_key +
           " to the node's allowed client keys";
  }
  if (!security_.enabled) {
    return head +
           "the node probably runs with CURVE and this client without; give --server-key (the "
           "node's public key "
           "file) and --client-key (this client's key pair, allowed by the node), or --config";
  }
  return head +
         "the node runs without CURVE, or its public key is not the one this client was given "
         "(libzmq's reason: " +
         std::to_string(value) + ")";
}

Status NodeClient::Ask(const std::string& request, uint64_t id, std::chrono::milliseconds timeout,
                       std::string* answer) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  try {
    if (!dealer_.send(zmq::buffer(request), zmq::send_flags::dontwait)) {
      return Status::Unavailable("cannot queue a request to " + node_.replay + "; try again");
    }
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t items[] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, left);
      if (items[1].revents & ZMQ_POLLIN) {
        // libzmq's event: a 16-bit event number and a 32-bit value, then
        // a frame with the endpoint.
        zmq::message_t event, where;
        (void)monitor_.recv(event);
        if (event.more()) (void)monitor_.recv(where);
        if (event.size() >= 6) {
          uint16_t kind;
          uint32_t value;
          std::memcpy(&kind, event.data(), 2);
          std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
          if (kind & kHandshakeEvents) return Status::Unavailable(HandshakeFailure(kind, value));
        }
      }
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        if (!dealer_.recv(m, zmq::recv_flags::dontwait)) continue;
        node::Answer a;
        if (!node::DecodeAnswer(m.to_string_view(), &a).ok() || a.id != id) continue;
        answer->assign(m.to_string_view());
        return Status::OK();
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) {
      return Status::Unavailable("interrupted while waiting for " + node_.replay);
    }
    return Status::Unavailable("talking to " + node_.replay + ": " + e.what());
  }
  return Status::Unavailable(
      "no answer from " + node_.replay + " within " + FormatDuration(timeout) +
      ": is the node running, and is that its replay endpoint? is CURVE needed (--server-key "
      "and --client-key, or --config)? (--timeout waits longer)");
}

namespace {

// An error answer as a Status the user can act on.
Status ErrorAnswer(const node::Answer& a, const std::string& what) {
  const std::string message = what + ": " + std::string(a.message);
  switch (a.error) {
    case node::ErrorCode::kUnknownTopic:
    case node::ErrorCode::kUnknownPartition:
      return Status::NotFound(message);
    case node::ErrorCode::kDataLoss:
      return Status::DataLoss(message);
    case node::ErrorCode::kUnsupportedVersion:
      return Status::FailedPrecondition(message + " (the node speaks another protocol version)");
    default:
      return Status::Unavailable(message);
  }
}

}  // namespace

Status NodeClient::Describe(std::chrono::milliseconds timeout, NodeDescription* out) {
  const uint64_t id = next_id_++;
  std::string request, frame;
  node::EncodeDescribe(id, &request);
  Status s = Ask(request, id, timeout, &frame);
  if (!s.ok()) return s;
  node::Answer a;
  s = node::DecodeAnswer(frame, &a);
  if (!s.ok()) return s;
  if (a.kind == node::Kind::kError) return ErrorAnswer(a, "describe of " + node_.replay);
  if (a.kind != node::Kind::kDescribeAnswer) {
    return Status::Unavailable("the node at " + node_.replay +
                               " answered describe with something else; is it a brook node?");
  }
  out->endpoint = node_.replay;
  out->producer = a.producer;
  out->epoch = a.epoch;
  out->topics.clear();
  for (const node::TopicDescription& t : a.topics) {
    out->topics.push_back({std::string(t.name), t.partitions});
  }
  return Status::OK();
}

Status NodeClient::Seek(const std::string& topic, uint32_t partition, int64_t timestamp_ns,
                        std::chrono::milliseconds timeout, uint64_t* offset) {
  const uint64_t id = next_id_++;
  std::string request, frame;
  node::EncodeSeek(id, topic, partition, static_cast<uint64_t>(std::max<int64_t>(0, timestamp_ns)),
                   &request);
  Status s = Ask(request, id, timeout, &frame);
  if (!s.ok()) return s;
  node::Answer a;
  s = node::DecodeAnswer(frame, &a);
  if (!s.ok()) return s;
  const std::string what =
      "finding a time in " + topic + "/" + std::to_string(partition) + " on " + node_.replay;
  if (a.kind == node::Kind::kError) return ErrorAnswer(a, what);
  if (a.kind != node::Kind::kOffset) {
    return Status::Unavailable(what + ": the node answered with something else");
  }
  *offset = a.next_offset;
  return Status::OK();
}

}  // namespace brook::cli
