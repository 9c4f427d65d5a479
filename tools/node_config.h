// The configuration file of `brook node` (docs/CLI.md, "brook node"): a
// journal, endpoints, durability, topics with their retention, CURVE keys,
// and LAN discovery. Clients (`brook produce`, `consume`, `describe`) read
// the same file with --config to find the node's endpoints and public key,
// and the discovery settings of its cluster.
//
//   # comments start with '#'
//   journal = /var/lib/brook/shop
//   durability = fsync             # fsync | nometasync | nosync
//   pub = tcp://0.0.0.0:7000
//   replay = tcp://0.0.0.0:7001
//   ingest = ipc:///run/brook/shop.ingest
//
//   [security]
//   server_key = /etc/brook/node.key          # public key; the secret in node.key.secret
//   allowed_client_keys = /etc/brook/clients.keys
//
//   [discovery]                    # optional: announce the node on the LAN
//   cluster = shop                 # required in the section
//   address = 255.255.255.255      # also: port, interval, silence_timeout,
//                                  #   interface_address, bind_address, multicast_ttl
//
//   [topic orders]
//   partitions = 3
//   max_age = 7d
#ifndef BROOK_TOOLS_NODE_CONFIG_H_
#define BROOK_TOOLS_NODE_CONFIG_H_

#include <string>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "brook/status.h"

namespace brook::cli {

struct TopicSpec {
  std::string name;
  TopicConfig config;
};

struct NodeConfig {
  std::string path;  // the file it came from
  // Journal options, endpoints, heartbeat, queues; security.enabled and the
  // server's public key, plus (with secrets loaded) the secret key and the
  // allowed client keys; discovery (enabled when the file has a [discovery]
  // section, checked with node::ValidateDiscoveryOptions).
  ProducerOptions producer;
  // Where `brook produce` and other local programs publish through the node
  // (the ingest protocol, docs/PROTOCOL.md). Empty: no ingest endpoint.
  std::string ingest_endpoint;
  std::vector<TopicSpec> topics;
  // File names from [security], as written.
  std::string server_key_file;
  std::string allowed_client_keys_file;
};

// Reads and checks the file. With `load_secrets`, also the server's secret
// key and the allow-list (what the node needs; a client that only connects
// reads the public key alone). Errors: NotFound (no file), InvalidArgument
// (naming the file, line and what is wrong), and the key loaders' errors.
Status LoadNodeConfig(const std::string& path, bool load_secrets, NodeConfig* out);

// An endpoint a client can connect to: a wildcard host ("*", "0.0.0.0",
// "[::]") becomes the loopback address. Port 0 cannot be connected to: then
// InvalidArgument telling the user to give the node fixed ports.
Status ConnectableEndpoint(const std::string& bound, std::string* out);

// The node of a config file as a consumer sees it: connectable pub and
// replay endpoints and its public key (when security is on).
Status EndpointsFromConfig(const NodeConfig& config, ProducerEndpoints* out);

}  // namespace brook::cli

#endif  // BROOK_TOOLS_NODE_CONFIG_H_
