// Discovery on a LAN: producers announce themselves in UDP beacons, consumers
// find them without a list of endpoints.
//
// A producer with discovery on sends, every `interval`, a round of beacons
// (broadcast or multicast UDP datagrams of at most 1,200 bytes) to `address`
// and `port`: its producer id and epoch, its live and replay endpoints, its
// CURVE public key when security is on, and every topic with each
// partition's low and high watermark, so a consumer knows what it can replay
// before it connects. A consumer with discovery on listens on that port,
// follows every producer of its cluster that announces one of its topics
// (including producers that appear later), and drops a producer it has not
// heard for `silence_timeout`. docs/DISCOVERY.md specifies the beacon format
// and says what a firewall must let through.
//
// Beacons are not authenticated: anyone on the LAN can send one. They only
// say where to connect. With CURVE on, a consumer accepts beacons only from
// producers whose public key it was given, and then pins that key in the
// handshake, so a forged beacon costs at most a failed handshake (counted).
// Without CURVE, a forged beacon can point a consumer at anyone: use
// discovery without security only on networks you trust.
//
// Thread-safety: plain values.
#ifndef BROOK_DISCOVERY_H_
#define BROOK_DISCOVERY_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "brook/journal.h"
#include "brook/record.h"

namespace brook {

struct DiscoveryOptions {
  // false: no beacons are sent or heard; producers are named explicitly
  // (ConsumerOptions::producers). The default.
  bool enabled = false;

  // The deployment's name, required when enabled: 1..64 bytes of
  // [A-Za-z0-9._-]. Beacons of another cluster are ignored (and counted), so
  // two brook deployments can share a LAN. Producers and consumers that
  // should find each other use the same name.
  std::string cluster;

  // Where beacons are sent, as an IPv4 address:
  //  - "255.255.255.255" (the default): broadcast on the local network. The
  //    routing table picks the interface (that of the default route) unless
  //    interface_address names one. Routers never forward it.
  //  - a multicast group in 239.0.0.0/8 (administratively scoped, RFC 2365),
  //    e.g. "239.255.70.99": listeners join the group; beacons go out with
  //    multicast_ttl. Crosses switches that do IGMP snooping, and routers
  //    configured for it.
  //  - "127.255.255.255": broadcast on the loopback interface, for tests and
  //    single-host setups (Linux's local routing table has
  //    `broadcast 127.255.255.255 dev lo`).
  std::string address = "255.255.255.255";

  // The UDP port beacons are sent to and heard on (1..65535). Every producer
  // and consumer of a cluster uses the same port; several consumers on one
  // host share it (SO_REUSEADDR + SO_REUSEPORT: each hears every beacon).
  // Default 7099.
  uint16_t port = 7099;

  // How often a producer sends a round of beacons. A new producer, or a
  // producer's new epoch, endpoints or topics, is found within about this
  // long; watermarks in beacons are at most this old. Each round costs one
  // datagram per ~1 KB of topics and partitions on the LAN. Default 1 s.
  std::chrono::milliseconds interval{1000};

  // A consumer drops a producer it has heard no complete round of beacons from
  // for this long (measured on the monotonic clock), and forgets it until it
  // is heard again. Must be greater than interval; several intervals, so
  // that a lost datagram or two does not drop a live producer. Default 5 s.
  std::chrono::milliseconds silence_timeout{5000};

  // The local IPv4 address of the network interface to use: beacons leave
  // through it (broadcast and multicast), and listeners join the multicast
  // group on it. "0.0.0.0" (the default): the routing table decides, which
  // for 255.255.255.255 and multicast means the interface of the default
  // route; a host on several networks names the one its peers are on.
  std::string interface_address = "0.0.0.0";

  // Where listeners bind (with `port`): "0.0.0.0" (the default) hears
  // beacons on every interface, or `address` itself, which hears only
  // datagrams sent to that address. Nothing else is accepted: Linux delivers
  // a broadcast or multicast datagram only to sockets bound to the wildcard
  // or to the destination address, so a listener bound to an interface's own
  // address would hear nothing.
  std::string bind_address = "0.0.0.0";

  // Multicast only: how many routers a beacon may cross (IP_MULTICAST_TTL).
  // 1..255; default 1, the local network only.
  int multicast_ttl = 1;
};

// A topic as announced: every partition's watermarks, by partition index.
struct DiscoveredTopic {
  std::string name;
  std::vector<Watermarks> partitions;
};

// A producer as a consumer heard it from one complete round of beacons.
struct DiscoveredProducer {
  std::string cluster;
  ProducerId id;
  uint64_t epoch = 0;
  // Where to connect: the producer's bound endpoints, with a wildcard host
  // (0.0.0.0, *, ::) replaced by the address the beacons came from.
  std::string pub_endpoint;
  std::string replay_endpoint;
  // The producer's CURVE public key (40 characters of Z85), or empty when it
  // runs without security.
  std::string server_public_key;
  // Every topic of the producer, in the order announced.
  std::vector<DiscoveredTopic> topics;
  // The IPv4 address the beacons came from, e.g. "10.0.0.5".
  std::string source_address;
};

}  // namespace brook

#endif  // BROOK_DISCOVERY_H_
