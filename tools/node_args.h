// Which nodes a client subcommand (consume, describe) talks to, and how:
// the shared --pub/--replay/--config options with the CURVE ones, and a
// small replay-protocol client for the questions the consumer API does not
// answer (a node's watermarks now; where a time falls in a partition).
#ifndef BROOK_TOOLS_NODE_ARGS_H_
#define BROOK_TOOLS_NODE_ARGS_H_

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "brook/consumer.h"
#include "brook/journal.h"
#include "brook/record.h"
#include "brook/status.h"
#include "tools/cli.h"

namespace brook::cli {

// Adds --pub, --replay, --config and the CURVE options.
void AddNodeOptions(CommandSpec* spec);

// True when any node option was given (--pub, --replay or --config).
bool HasNodeOptions(const Args& args);

struct Nodes {
  std::vector<ProducerEndpoints> endpoints;
  // enabled when the nodes run CURVE; each endpoint's server key, when it
  // came from a config file, is in its ProducerEndpoints.
  ClientSecurity security;
};

// Reads the node options. Like ParseArgs: false with *exit_code set (and the
// reason printed) on failure: 2 when the options do not fit together, 1 when
// a file they name cannot be used.
bool NodesFromArgs(const CommandSpec& spec, const Args& args, Nodes* out, int* exit_code);

// Where --name keeps positions without --state-dir: $XDG_STATE_HOME/brook,
// else ~/.local/state/brook.
std::string DefaultStateDir();
// Like `mkdir -p`. Errors: FailedPrecondition naming the directory.
Status MakeDirectories(const std::string& path);

// A node's answer to describe.
struct NodeDescription {
  std::string endpoint;  // the replay endpoint that answered
  ProducerId producer;
  uint64_t epoch = 0;
  struct Topic {
    std::string name;
    std::vector<Watermarks> partitions;  // index = partition
  };
  std::vector<Topic> topics;

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
