// Which nodes a client subcommand (consume, describe) talks to, and how:
// the shared --pub/--replay/--config options with the CURVE ones, discovery
// (--discover CLUSTER and its settings, or a config file's [discovery]), a
// short listen for beacons (who is out there now), and a small
// replay-protocol client for the questions the consumer API does not answer
// (a node's watermarks now; where a time falls in a partition).
#ifndef BROOK_TOOLS_NODE_ARGS_H_
#define BROOK_TOOLS_NODE_ARGS_H_

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "brook/consumer.h"
#include "brook/discovery.h"
#include "brook/journal.h"
#include "brook/record.h"
#include "brook/status.h"
#include "node/discovery.h"
#include "tools/cli.h"

namespace brook::cli {

// Adds --pub, --replay, --config, the CURVE options, --discover and the
// discovery options.
void AddNodeOptions(CommandSpec* spec);

// True when any node option was given (--pub, --replay, --config or
// --discover).
bool HasNodeOptions(const Args& args);

struct Nodes {
  std::vector<ProducerEndpoints> endpoints;
  // enabled when the nodes run CURVE; each endpoint's server key, when it
  // came from a config file, is in its ProducerEndpoints.
  ClientSecurity security;
  // enabled with --discover, or a --config file with [discovery] (its
  // settings; --discover and --discovery-* override them).
  DiscoveryOptions discovery;
  // --discovery-key files: the producers discovery may follow under CURVE.
  std::vector<std::string> discovery_server_keys;
};

// Reads the node options. Like ParseArgs: false with *exit_code set (and the
// reason printed) on failure: 2 when the options do not fit together, 1 when
// a file they name cannot be used. Without --discover (or a config with
// [discovery]) some node must be named.
bool NodesFromArgs(const CommandSpec& spec, const Args& args, Nodes* out, int* exit_code);

// How long a client listens for beacons before it takes the producers heard
// as "those out there": three intervals, at least 2 s.
std::chrono::milliseconds DiscoveryWindow(const DiscoveryOptions& discovery);

// The server keys a beacon must carry to be believed: those of
// --discovery-key and, with CURVE on, of --server-key and the config files
// (what the consumer pins). Empty: every beacon of the cluster.
std::vector<std::string> BeaconKeys(const Nodes& nodes);

// Listens for beacons of nodes.discovery's cluster for at most `window`:
// until then, or, once a producer was heard, until no new one has been heard
// for two intervals (every live producer sends a round each interval).
// *out: the producers heard, each from its last complete round.
// Errors: those of node::BeaconListener::Open (FailedPrecondition: the port
// cannot be shared, a group cannot be joined; the message says what to do).
Status ListenForProducers(const Nodes& nodes, std::chrono::milliseconds window,
                          std::vector<DiscoveredProducer>* out, node::BeaconListenerStats* stats);

// Why nothing was heard, for an error message: "no producer of cluster 'shop'
// announced itself on ADDRESS:PORT within 2 s; ..." with what the listener
// dropped (other clusters, keys not listed, ...).
std::string NothingHeard(const Nodes& nodes, std::chrono::milliseconds window,
                         const node::BeaconListenerStats& stats);

// Where --name keeps positions without --state-dir: $XDG_STATE_HOME/brook,
// else ~/.local/state/brook.
std::string DefaultStateDir();
// Like `mkdir -p`. Errors: FailedPrecondition naming the directory.
Status MakeDirectories(const std::string& path);

// A node's answer to describe, or what its beacons said (`discovered`).
struct NodeDescription {
  std::string endpoint;  // the replay endpoint that answered (or was announced)
  ProducerId producer;
  uint64_t epoch = 0;
  struct Topic {
    std::string name;
    std::vector<Watermarks> partitions;  // index = partition
  };
  std::vector<Topic> topics;
  // Heard in beacons rather than asked: the cluster, the live endpoint, the
  // address the beacons came from and the CURVE key announced (empty
  // without CURVE). The watermarks are at most one interval old.
  bool discovered = false;
  std::string cluster;
  std::string pub;
  std::string source_address;
  std::string server_public_key;

  const Topic* Find(const std::string& name) const;
};

// One DEALER to one node's replay endpoint, asking one question at a time.
// Not thread-safe.
class NodeClient {
 public:
  NodeClient() = default;
  NodeClient(const NodeClient&) = delete;
  NodeClient& operator=(const NodeClient&) = delete;

  // Connects (nothing is sent yet). Errors: InvalidArgument (security).
  Status Connect(const ProducerEndpoints& node, const ClientSecurity& security);

  // Each waits at most `timeout` for the answer. Errors: Unavailable (no
  // answer, or the CURVE handshake failed: the message says which and what
  // to do), and the node's error answers (NotFound for an unknown topic).
  Status Describe(std::chrono::milliseconds timeout, NodeDescription* out);
  // The first offset of topic/partition stamped at or after `timestamp_ns`
  // (the high watermark when there is none).
  Status Seek(const std::string& topic, uint32_t partition, int64_t timestamp_ns,
              std::chrono::milliseconds timeout, uint64_t* offset);

 private:
  // Sends `request` and waits for the answer of request id `id`, watching
  // the handshake meanwhile.
  Status Ask(const std::string& request, uint64_t id, std::chrono::milliseconds timeout,
             std::string* answer);
  std::string HandshakeFailure(uint16_t event, uint32_t value) const;

  ProducerEndpoints node_;
  ClientSecurity security_;
  zmq::context_t ctx_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;
  uint64_t next_id_ = 1;
};

}  // namespace brook::cli

#endif  // BROOK_TOOLS_NODE_ARGS_H_
