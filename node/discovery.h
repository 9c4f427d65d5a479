// LAN discovery's sockets: BeaconSender (a producer's side) and
// BeaconListener (a consumer's side). include/brook/discovery.h has the
// options, node/beacon.h the datagrams, docs/DISCOVERY.md the rules.
//
// Neither class has a thread: its owner's loop drives it. A producer calls
// Send every DiscoveryOptions::interval; a consumer polls BeaconListener::fd()
// for reading and calls Drain when it is readable and at next_deadline() (so
// silent producers are dropped on time even when nothing arrives).
//
//   std::unique_ptr<BeaconListener> listener;
//   Status s = BeaconListener::Open(options, allowed_server_keys, &listener);
//   ... poll(listener->fd(), POLLIN, until listener->next_deadline()) ...
//   std::vector<DiscoveryEvent> events;
//   listener->Drain(std::chrono::steady_clock::now(), &events);
//
// Thread-safety: one thread at a time per object.
#ifndef BROOK_NODE_DISCOVERY_H_
#define BROOK_NODE_DISCOVERY_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "brook/discovery.h"
#include "brook/status.h"
#include "node/beacon.h"

namespace brook::node {

// Checks the options when options.enabled; `what` names them in messages
// (e.g. "ConsumerOptions::discovery" gives "ConsumerOptions::discovery.cluster
// ..."). Errors: InvalidArgument naming the field and the rule.
Status ValidateDiscoveryOptions(const DiscoveryOptions& options, std::string_view what);

struct BeaconSenderStats {
  uint64_t rounds = 0;       // rounds sent whole
  uint64_t datagrams = 0;    // pages sent
  uint64_t bytes = 0;        // bytes of those pages
  uint64_t send_errors = 0;  // Send calls that failed
};

// Sends a producer's beacons to DiscoveryOptions::address and port, from a
// UDP socket with SO_BROADCAST, or with IP_MULTICAST_TTL = multicast_ttl and
// IP_MULTICAST_LOOP on (consumers on the producer's own host hear it) for a
// multicast group. With an interface_address the socket is bound to it, which
// makes broadcasts and multicasts leave through that interface.
//
// Keep one sender for as long as the producer runs under one epoch:
// listeners know a producer by its source address and port, and a second
// sender (a new port) with the same epoch is taken for a spoofer until the
// first falls silent.
class BeaconSender {
 public:
  // Validates the options (as if enabled) and opens the socket.
  // Errors: InvalidArgument (an option), FailedPrecondition (the socket could
  // not be made or bound: the message says why and what to do).
  static Status Open(const DiscoveryOptions& options, std::unique_ptr<BeaconSender>* out);
  ~BeaconSender();
  BeaconSender(const BeaconSender&) = delete;
  BeaconSender& operator=(const BeaconSender&) = delete;

  // Encodes `state` as the next round (its cluster is the options'; its
  // source_address is ignored) and sends every page. Errors: those of
  // EncodeBeaconRound; FailedPrecondition when the network refuses (the
  // message says what to do: no route, a firewall, broadcast not permitted);
  // Unavailable when the socket's buffer is full (transient: the rest of
  // the round is dropped; the next round goes out whole).
  Status Send(const BeaconState& state);

  // The local address and port beacons come from, e.g. "127.0.0.1:40001"
  // (the address is 0.0.0.0 until the first Send when not bound to an
  // interface).
  std::string local_address() const;
  BeaconSenderStats stats() const { return stats_; }

 private:
  BeaconSender() = default;
  int fd_ = -1;
  DiscoveryOptions options_;
  uint64_t round_ = 0;
  std::vector<std::string> pages_;
  BeaconSenderStats stats_;
};

// What the listener saw. Every counter but rounds_completed and
// incomplete_rounds counts datagrams.
struct BeaconListenerStats {
  uint64_t datagrams = 0;          // read from the socket, good or bad
  uint64_t accepted = 0;           // pages taken into a round
  uint64_t rounds_completed = 0;   // rounds whose every page arrived and fit together
  uint64_t incomplete_rounds = 0;  // rounds given up with pages missing (lost, or replaced
                                   // by a newer round before they came)
  uint64_t other_cluster = 0;      // well-formed beacons of another cluster (not an error)
  uint64_t wrong_version = 0;      // brook beacons of a version this build does not speak
  uint64_t garbage = 0;            // not brook beacons at all
  uint64_t malformed = 0;          // version 1 beacons with a bad field; also complete rounds
                                   // whose pages disagree (counted once per round)
  uint64_t oversized = 0;          // datagrams over kMaxBeaconBytes
  uint64_t key_missing = 0;        // an allow-list is set and the beacon carries no key
  uint64_t key_not_allowed = 0;    // an allow-list is set and the key is not on it
  uint64_t spoofed = 0;            // a known producer's id from another source or key, or
                                   // with a lower epoch (see BeaconListener)
  uint64_t stale = 0;              // a page of a round already taken, or an older one
  uint64_t unreachable = 0;        // an endpoint ConnectableEndpoint refuses for its source
  uint64_t over_limit = 0;         // refused to keep memory bounded: more than
                                   // kMaxDiscoveredProducers, or partial rounds over budget
  uint64_t receive_errors = 0;     // recvmsg failures other than "nothing waiting"
};

struct DiscoveryEvent {
  enum class Kind {
    kAppeared,  // a producer's first complete round (or first after it fell silent)
    kUpdated,   // a complete round that differs from the last: see `changes`
    kSilent,    // no complete round for silence_timeout: the producer is forgotten
  };
  // kUpdated: what differs from the last complete round (bits may combine).
  enum Change : uint32_t {
    kEpoch = 1,
    kEndpoints = 2,
    kTopics = 4,      // a topic added or removed, or its partition count changed
    kWatermarks = 8,  // only watermarks moved (the usual update)
  };
  Kind kind = Kind::kAppeared;
  uint32_t changes = 0;
  // The producer's state; for kSilent, as last heard.
  DiscoveredProducer producer;
};

// Most producers a listener tracks (known ones and ones with a round in
// progress); beacons of more are counted in over_limit and dropped.
constexpr size_t kMaxDiscoveredProducers = 1024;
// Most bytes of datagrams held in rounds not complete yet, over all producers.
constexpr size_t kMaxPendingBeaconBytes = 8u << 20;
// Most datagrams one Drain reads; the fd stays readable when more wait.
constexpr size_t kMaxDatagramsPerDrain = 4096;

// Listens for beacons of one cluster and keeps every producer it hears.
//
// The socket binds bind_address:port with SO_REUSEADDR and SO_REUSEPORT (so
// several listeners on one host each hear every beacon: broadcast and
// multicast datagrams are delivered to every socket bound to the port), sets
// IP_MULTICAST_ALL off (it hears only groups it joined), asks for a 4 MiB
// receive buffer (the kernel caps it at net.core.rmem_max) and, for a
// multicast address, joins the group on interface_address.
//
// A datagram is taken into its producer's round when it is a version 1
// beacon of this cluster, its key passes the allow-list (when one is given),
// its endpoints are connectable from its source (ConnectableEndpoint), and
// the spoof check passes: once a producer id is known, its beacons must come
// from the same source address, with the same key, from the same source port
// unless the epoch went up (a restarted producer has a new socket and a new
// epoch); a lower epoch never passes. A beacon that fails is counted in
// `spoofed` and the known producer stays until it falls silent; then the id
// is free again. A producer appears, or is updated, when all pages of one
// round have arrived; until then the last complete round stands.
class BeaconListener {
 public:
  // Validates the options (as if enabled) and opens the socket.
  // `allowed_server_keys` (Z85): when not empty, only beacons carrying one of
  // these keys are taken (a consumer with CURVE on passes the keys it pins).
  // Errors: InvalidArgument (an option, or a key that is not Z85),
  // FailedPrecondition (the socket could not be bound or the group joined:
  // the message says why and what to do).
  static Status Open(const DiscoveryOptions& options,
                     const std::vector<std::string>& allowed_server_keys,
                     std::unique_ptr<BeaconListener>* out);
  ~BeaconListener();
  BeaconListener(const BeaconListener&) = delete;
  BeaconListener& operator=(const BeaconListener&) = delete;

  // Readable while datagrams wait. Owned by the listener.
  int fd() const { return fd_; }
  // The port bound (DiscoveryOptions::port).
  uint16_t port() const { return port_; }

  // Reads the datagrams waiting (at most kMaxDatagramsPerDrain), then drops
  // producers silent since `now - silence_timeout` and abandons rounds that
  // old; appends what happened to *events, in order. `now` is the monotonic
  // clock (std::chrono::steady_clock::now(), or a test's own).
  void Drain(std::chrono::steady_clock::time_point now, std::vector<DiscoveryEvent>* events);

  // When the next producer falls silent if nothing more is heard (call Drain
  // then); time_point::max() when no producer is known or pending.
  std::chrono::steady_clock::time_point next_deadline() const;

  // The producers known now, each from its last complete round.
  std::vector<DiscoveredProducer> producers() const;
  BeaconListenerStats stats() const { return stats_; }

 private:
  struct Known {
    DiscoveredProducer state;
    std::string source_ip;
    uint16_t source_port = 0;
    std::string key;  // raw, empty without security
    uint64_t round = 0;
    std::chrono::steady_clock::time_point last_complete;
  };
  struct Pending {
    uint64_t epoch = 0;
    uint64_t round = 0;
    std::string source_ip;
    uint16_t source_port = 0;
    std::vector<std::string> raw;  // by page index; empty until it arrives
    uint32_t have = 0;
    size_t bytes = 0;
    std::chrono::steady_clock::time_point started;
  };

  BeaconListener() = default;
  void Take(std::string_view datagram, const std::string& ip, uint16_t port,
            std::chrono::steady_clock::time_point now, std::vector<DiscoveryEvent>* events);
  void Complete(const ProducerId& id, Pending* p, std::chrono::steady_clock::time_point now,
                std::vector<DiscoveryEvent>* events);
  void DropPending(std::map<ProducerId, Pending>::iterator it);

  int fd_ = -1;
  uint16_t port_ = 0;
  DiscoveryOptions options_;
  std::unordered_set<std::string> allowed_;  // raw 32-byte keys
  std::map<ProducerId, Known> known_;
  std::map<ProducerId, Pending> pending_;
  size_t pending_bytes_ = 0;
  BeaconListenerStats stats_;
};

}  // namespace brook::node

#endif  // BROOK_NODE_DISCOVERY_H_
