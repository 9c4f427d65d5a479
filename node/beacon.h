// Beacons: the UDP datagrams of LAN discovery (include/brook/discovery.h).
// docs/DISCOVERY.md is the specification; the constants here are protocol:
// do not change them without a new version.
//
// A producer announces its state in rounds. A round is one or more pages,
// each a datagram of at most kMaxBeaconBytes (so it is never fragmented on
// an Ethernet LAN); each page repeats the header (cluster, producer id,
// epoch, round, page i of n, endpoints, key) and carries a share of the
// topics. A receiver takes a producer's state from a complete round.
//
// The decoder takes untrusted bytes: it checks every length against the
// input before it allocates, every field's type and range, and refuses
// trailing bytes. Nothing it returns points outside the input.
#ifndef BROOK_NODE_BEACON_H_
#define BROOK_NODE_BEACON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brook/discovery.h"
#include "brook/journal.h"
#include "brook/record.h"
#include "brook/status.h"

namespace brook::node {

// The first two elements of every beacon, whatever its version.
constexpr std::string_view kBeaconMagic = "brook";
constexpr uint64_t kBeaconVersion = 1;
// Elements of a version 1 beacon.
constexpr uint64_t kBeaconFields = 12;

// Largest datagram sent or accepted: below any Ethernet MTU (1,500 bytes
// less 28 of IPv4 and UDP headers, less room for tunnels), so a beacon is
// never fragmented.
constexpr size_t kMaxBeaconBytes = 1200;
constexpr size_t kMaxClusterBytes = 64;
constexpr size_t kMaxBeaconEndpointBytes = 255;
// Pages in one round. Bounds what a receiver holds for one producer.
constexpr uint32_t kMaxBeaconPages = 256;
// Partitions of one topic (as TopicConfig::partitions).
constexpr uint32_t kMaxBeaconPartitions = 4096;
// A CURVE public key, raw.
constexpr size_t kServerKeyBytes = 32;

// 1..64 bytes of [A-Za-z0-9._-].
bool IsValidClusterName(std::string_view name);

// What a producer announces. The encoder ignores `cluster` (the sender's
// options name it) and `source_address` (the receiver fills it in).
// server_public_key is Z85 (40 characters) or empty.
using BeaconState = DiscoveredProducer;

// Partitions [first_partition, first_partition + partitions.size()) of one
// topic, as carried by one page.
struct BeaconChunk {
  std::string_view topic;
  uint32_t first_partition = 0;
  std::vector<Watermarks> partitions;
};

// One decoded datagram. The views point into the datagram.
struct BeaconPage {
  std::string_view cluster;
  ProducerId producer;
  uint64_t epoch = 0;
  uint64_t round = 0;
  uint32_t page = 0;   // 0 .. pages-1
  uint32_t pages = 0;  // 1 .. kMaxBeaconPages
  std::string_view pub_endpoint;
  std::string_view replay_endpoint;
  std::string_view server_key;  // kServerKeyBytes raw bytes, or empty (no security)
  std::vector<BeaconChunk> chunks;
};

// Why a datagram was refused.
enum class BeaconDefect {
  kNone,
  kOversized,     // more than kMaxBeaconBytes
  kGarbage,       // not a brook beacon: no msgpack array starting with the magic
  kWrongVersion,  // a brook beacon of a version this build does not speak
  kMalformed,     // a version 1 beacon with a missing, mistyped or out-of-range field
};

// Encodes one round of `state` as pages of at most kMaxBeaconBytes each,
// replacing *pages. Topics are split between pages where needed, a topic's
// partitions too. Errors: InvalidArgument (the cluster name, an endpoint
// empty or longer than 255 bytes, a key that is not Z85, a topic name that
// is not valid, a topic with no partitions or more than 4096, low above
// high), ResourceExhausted (the topics need more than kMaxBeaconPages pages).
Status EncodeBeaconRound(std::string_view cluster, const BeaconState& state, uint64_t round,
                         std::vector<std::string>* pages);

// Decodes one datagram. On failure *defect says which kind of bad beacon it
// is and the status (InvalidArgument) says what is wrong.
Status DecodeBeacon(std::string_view datagram, BeaconPage* out, BeaconDefect* defect);

// Builds a producer's state from the pages of one round, given in page order
// (pages[i].page == i, as many as pages[0].pages). Checks that the pages agree
// (cluster, producer, epoch, round, endpoints, key) and that each topic's
// partitions follow on from 0 without a gap and that no topic is announced
// twice. Endpoints are copied as announced (see ConnectableEndpoint);
// source_address is left empty. Errors: InvalidArgument.
Status AssembleBeaconRound(const std::vector<BeaconPage>& pages, DiscoveredProducer* out);

// The endpoint to connect to for an endpoint a producer announced, heard in
// beacons from `source_address` (dotted IPv4). The rule (docs/DISCOVERY.md):
//  - tcp:// with a wildcard host (0.0.0.0, *, ::, [::]): the host becomes
//    source_address, so "tcp://0.0.0.0:7000" from 10.0.0.5 is
//    "tcp://10.0.0.5:7000". A producer bound to every interface is reached
//    on the one its beacons left from.
//  - tcp:// with a loopback host (127.0.0.0/8, ::1, localhost), and ipc://:
//    kept when source_address is a loopback address (the producer is on
//    this host), refused otherwise (only the producer's own host reaches it).
//  - tcp:// with any other host: kept as it is.
//  - anything else (inproc://, pgm://, a malformed endpoint): refused.
// A producer may apply the same rule to its bound endpoint with its
// DiscoveryOptions::interface_address to announce a concrete address.
// Errors: InvalidArgument saying why the endpoint cannot be reached.
Status ConnectableEndpoint(std::string_view announced, std::string_view source_address,
                           std::string* out);

}  // namespace brook::node

#endif  // BROOK_NODE_BEACON_H_
