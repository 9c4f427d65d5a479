#include "tools/node_args.h"

#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "node/beacon.h"
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
  spec->options.push_back({"config", "FILE",
                           "a `brook node` config file: endpoints, public key; with\n"
                           "[discovery], discovery in its cluster too (and a node with\n"
                           "port 0 endpoints is found that way)",
                           true});
  AddClientSecurityOptions(spec);
  spec->options.push_back({"discover", "CLUSTER",
                           "find the producers of cluster CLUSTER by their beacons on the\n"
                           "LAN (docs/DISCOVERY.md), besides any named nodes"});
  spec->options.push_back({"discovery-address", "ADDRESS",
                           "where the cluster's beacons go: 255.255.255.255 (default),\n"
                           "a group in 239.0.0.0/8, or 127.255.255.255 (this host only)"});
  spec->options.push_back({"discovery-port", "PORT", "the cluster's UDP port (default 7099)"});
  spec->options.push_back({"discovery-interface", "ADDRESS",
                           "the local address of the interface the producers are on\n"
                           "(default 0.0.0.0: the routing table picks)"});
  spec->options.push_back({"discovery-key", "FILE",
                           "with CURVE: a public key file of producers to follow; only\n"
                           "beacons carrying one of these keys are believed, and the\n"
                           "key is pinned",
                           true});
}

bool HasNodeOptions(const Args& args) {
  return args.Has("pub") || args.Has("replay") || args.Has("config") || args.Has("discover");
}

namespace {

bool Failed(int code, int* exit_code) {
  *exit_code = code;
  return false;
}

bool SameDiscovery(const DiscoveryOptions& a, const DiscoveryOptions& b) {
  return a.cluster == b.cluster && a.address == b.address && a.port == b.port &&
         a.interval == b.interval && a.silence_timeout == b.silence_timeout &&
         a.interface_address == b.interface_address && a.bind_address == b.bind_address &&
         a.multicast_ttl == b.multicast_ttl;
}

// --discover and --discovery-*, over the settings a config file gave (in
// *d already, `from_config`), or the defaults. False with *exit_code set on
// failure.
bool DiscoveryFromArgs(const CommandSpec& spec, const Args& args, bool from_config,
                       DiscoveryOptions* d, int* exit_code) {
  if (args.Has("discover")) {
    const std::string cluster = args.Get("discover");
    if (!node::IsValidClusterName(cluster)) {
      return Failed(UsageError(spec,
                               "--discover: a cluster name is 1..64 bytes of letters, "
                               "digits, '.', '_' and '-' (got '" +
                                   cluster.substr(0, 80) + "')"),
                    exit_code);
    }
    d->enabled = true;
    d->cluster = cluster;
  }
  for (const char* option :
       {"discovery-address", "discovery-port", "discovery-interface", "discovery-key"}) {
    if (args.Has(option) && !d->enabled) {
      return Failed(UsageError(spec, std::string("--") + option +
                                         " is a discovery setting: give --discover CLUSTER "
                                         "too (or a --config file with [discovery])"),
                    exit_code);
    }
  }
  if (args.Has("discovery-address")) d->address = args.Get("discovery-address");
  if (!from_config || args.Has("discovery-address")) {
    // Beacons are sent to the address: a listener bound to it hears them
    // all, and nothing else (DiscoveryOptions::bind_address).
    d->bind_address = d->address;
  }
  if (args.Has("discovery-port")) {
    uint64_t port = 0;
    Status s = args.GetUint("discovery-port", &port);
    if (!s.ok() || port < 1 || port > 65535) {
      return Failed(UsageError(spec, "--discovery-port must be a UDP port, 1..65535"), exit_code);
    }
    d->port = static_cast<uint16_t>(port);
  }
  if (args.Has("discovery-interface")) d->interface_address = args.Get("discovery-interface");
  if (!d->enabled) return true;
  Status s = node::ValidateDiscoveryOptions(*d, "discovery");
  if (!s.ok()) {
    return Failed(
        UsageError(spec, "the discovery settings do not fit together: " + std::string(s.message())),
        exit_code);
  }
  return true;
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
  if (pubs.empty() && configs.empty() && !args.Has("discover")) {
    return Failed(UsageError(spec,
                             "which node? give --pub ENDPOINT --replay ENDPOINT, "
                             "--config FILE (a brook node config file), or --discover CLUSTER"),
                  exit_code);
  }
  for (size_t i = 0; i < pubs.size(); ++i) out->endpoints.emplace_back(pubs[i], replays[i]);

  // Each node runs CURVE or not; one consumer speaks one way to all of them.
  const bool curve_pubs = !pubs.empty() && args.Has("server-key");
  bool plain = !pubs.empty() && !args.Has("server-key");
  bool curve_config = false;
  std::string curve_config_file, plain_config_file, discovery_file;
  for (const std::string& path : configs) {
    NodeConfig config;
    Status s = LoadNodeConfig(path, /*load_secrets=*/false, &config);
    ProducerEndpoints endpoints;
    bool named = true;
    if (s.ok()) s = EndpointsFromConfig(config, &endpoints);
    if (s.IsInvalidArgument() && config.producer.discovery.enabled) {
      // Ports chosen at bind time (port 0) cannot be named, but the node
      // announces them: discovery finds it.
      named = false;
      s = Status::OK();
      const ServerSecurity& security = config.producer.security;
      endpoints.server_public_key = security.enabled ? security.server.public_key : "";
    }
    if (!s.ok()) return Failed(Fail(spec, s), exit_code);
    if (endpoints.server_public_key.empty()) {
      plain = true;
      plain_config_file = path;
    } else {
      curve_config = true;
      curve_config_file = path;
    }
    if (named) {
      out->endpoints.push_back(std::move(endpoints));
    } else if (!endpoints.server_public_key.empty()) {
      out->discovery_server_keys.push_back(endpoints.server_public_key);
    }
    const DiscoveryOptions& d = config.producer.discovery;
    if (!d.enabled) continue;
    if (out->discovery.enabled && !SameDiscovery(out->discovery, d)) {
      return Failed(
          UsageError(spec, "the [discovery] sections of " + discovery_file + " and " + path +
                               " differ; a client listens for one cluster on one "
                               "address and port (--discover and --discovery-* "
                               "override them)"),
          exit_code);
    }
    out->discovery = d;
    discovery_file = path;
  }
  if (!DiscoveryFromArgs(spec, args, !discovery_file.empty(), &out->discovery, exit_code)) {
    return false;
  }
  for (const std::string& path : args.GetAll("discovery-key")) {
    std::vector<std::string> keys;
    Status s = LoadAllowedKeys(path, &keys);
    if (!s.ok()) return Failed(Fail(spec, s), exit_code);
    out->discovery_server_keys.insert(out->discovery_server_keys.end(), keys.begin(), keys.end());
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
                             "names its node's public key itself, and discovered producers "
                             "are believed by --discovery-key"),
                  exit_code);
  }
  const bool client = args.Has("client-key") || args.Has("client-secret-key");
  if (!pubs.empty()) {
    // --pub/--replay nodes (and plain config files): CURVE is --server-key
    // with --client-key.
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
  if (!curve_config && !client) return true;  // plain config files, discovery: no CURVE
  if (!curve_config && !plain_config_file.empty()) {
    return Failed(UsageError(spec, "the node of " + plain_config_file +
                                       " runs without CURVE ([security] is not set), so "
                                       "--client-key has nothing to do; run one command per "
                                       "kind"),
                  exit_code);
  }
  // CURVE: nodes from config files (their public keys came with them) and
  // discovered producers (believed by --discovery-key).
  if (!args.Has("client-key")) {
    return Failed(UsageError(spec, (curve_config ? "the node of " + curve_config_file +
                                                       " runs CURVE: give --client-key FILE"
                                                 : std::string("give --client-key FILE")) +
                                       " (this client's key pair, made by `brook keygen`; the "
                                       "node must allow-list its public key)"),
                  exit_code);
  }
  out->security.enabled = true;
  const std::string pub = args.Get("client-key");
  Status s =
      LoadKeyPair(pub, args.Get("client-secret-key", pub + ".secret"), &out->security.client);
  if (!s.ok()) return Failed(Fail(spec, s), exit_code);
  if (!out->endpoints.empty())
    out->security.server_public_key = out->endpoints.front().server_public_key;
  return true;
}

std::chrono::milliseconds DiscoveryWindow(const DiscoveryOptions& discovery) {
  return std::max<std::chrono::milliseconds>(3 * discovery.interval, std::chrono::seconds(2));
}

std::vector<std::string> BeaconKeys(const Nodes& nodes) {
  std::vector<std::string> keys = nodes.discovery_server_keys;
  if (!nodes.security.enabled) return keys;
  if (!nodes.security.server_public_key.empty()) keys.push_back(nodes.security.server_public_key);
  for (const ProducerEndpoints& e : nodes.endpoints) {
    if (!e.server_public_key.empty()) keys.push_back(e.server_public_key);
  }
  return keys;
}

Status ListenForProducers(const Nodes& nodes, std::chrono::milliseconds window,
                          std::vector<DiscoveredProducer>* out, node::BeaconListenerStats* stats) {
  using Clock = std::chrono::steady_clock;
  std::unique_ptr<node::BeaconListener> listener;
  Status s = node::BeaconListener::Open(nodes.discovery, BeaconKeys(nodes), &listener);
  if (!s.ok()) return s;
  const auto deadline = Clock::now() + window;
  const auto settle = 2 * nodes.discovery.interval;
  auto last_new = Clock::time_point::max();  // none heard yet
  std::vector<node::DiscoveryEvent> events;
  for (;;) {
    const auto now = Clock::now();
    auto until = deadline;
    if (last_new != Clock::time_point::max()) until = std::min(until, last_new + settle);
    if (now >= until) break;
    until = std::min(until, listener->next_deadline());
    pollfd p{listener->fd(), POLLIN, 0};
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    const int n = ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000)));
    if (n < 0 && errno != EINTR) {
      return Status::Internal(std::string("poll on the discovery socket: ") + std::strerror(errno));
    }
    if (StopRequested()) break;
    events.clear();
    listener->Drain(Clock::now(), &events);
    for (const node::DiscoveryEvent& e : events) {
      if (e.kind == node::DiscoveryEvent::Kind::kAppeared) last_new = Clock::now();
    }
  }
  *out = listener->producers();
  *stats = listener->stats();
  return Status::OK();
}

std::string NothingHeard(const Nodes& nodes, std::chrono::milliseconds window,
                         const node::BeaconListenerStats& st) {
  const DiscoveryOptions& d = nodes.discovery;
  std::string out = "no producer of cluster '" + d.cluster + "' announced itself on " + d.address +
                    ":" + std::to_string(d.port) + " within " + FormatDuration(window) +
                    "; is one running with discovery on, in this cluster, with this address and "
                    "port (and interface, on a host with several)?";
  std::vector<std::string> heard;
  auto add = [&](uint64_t n, const std::string& what) {
    if (n > 0) heard.push_back(std::to_string(n) + " " + what);
  };
  add(st.other_cluster, "beacons of other clusters");
  add(st.key_not_allowed, "beacons with a key not given by --discovery-key");
  add(st.key_missing, "beacons without a key (producers without CURVE)");
  add(st.unreachable, "beacons with endpoints not reachable from here");
  add(st.wrong_version, "beacons of another brook version");
  add(st.spoofed, "beacons that contradict a producer heard before");
  add(st.malformed + st.garbage + st.oversized, "malformed datagrams");
  add(st.incomplete_rounds, "incomplete rounds");
  if (!heard.empty()) {
    out += " (heard: ";
    for (size_t i = 0; i < heard.size(); ++i) out += (i ? ", " : "") + heard[i];
    out += ")";
  }
  return out;
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
