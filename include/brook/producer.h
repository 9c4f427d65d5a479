// brook::Producer: journals every record, then publishes it live and serves
// replays of its journal.
//
// A producer owns a Journal (brook/journal.h), a PUB socket on which each
// commit's records go out live (one message per partition per commit, after
// the commit), heartbeats per topic, and a replay server (ROUTER) that answers
// describe and fetch requests from its journal in credit-controlled pages.
// docs/PROTOCOL.md specifies what goes on the wire.
//
// Threading: every method is thread-safe. Publish blocks until its records
// are committed in the journal's durability mode; PublishAsync returns at once
// and acknowledges later. The replay server and heartbeats run on the
// producer's own thread; replay reads never block publishing.
#ifndef BROOK_PRODUCER_H_
#define BROOK_PRODUCER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brook/discovery.h"
#include "brook/export.h"
#include "brook/journal.h"
#include "brook/options.h"
#include "brook/record.h"
#include "brook/security.h"
#include "brook/status.h"

namespace brook {

struct ProducerOptions {
  // The journal: its path is required; see JournalOptions.
  JournalOptions journal;

  // Where the live stream (PUB) and the replay server (ROUTER) bind, as ZeroMQ
  // endpoints: "tcp://HOST:PORT" (PORT 0 or * picks a free port; read it back
  // with pub_endpoint() / replay_endpoint()) or "ipc:///path". Required: brook
  // never picks an interface for you. "tcp://127.0.0.1:0" stays on this host.
  std::string pub_endpoint;
  std::string replay_endpoint;

  // How often each topic's heartbeat (every partition's watermarks) is sent.
  // Consumers find a lost last record within about this long. Default 500 ms.
  std::chrono::milliseconds heartbeat_interval{500};

  // Live messages (one per partition per commit) queued per subscriber before
  // ZeroMQ drops for that subscriber; consumers replay what was dropped.
  // Default 10,000.
  int pub_high_water_mark = 10000;

  // Replay pages: at most this many records / bytes each (a single record
  // larger than page_bytes still goes, alone). Defaults 1,000 and 1 MiB.
  uint32_t replay_page_records = 1000;
  uint64_t replay_page_bytes = 1u << 20;

  // Fetches one peer may have in progress; more get a "busy" error.
  // Default 8.
  uint32_t max_fetches_per_peer = 8;

  // Largest request accepted from the network (ZMQ_MAXMSGSIZE); a peer that
  // sends more is disconnected by ZeroMQ. Default 64 KiB: requests are small.
  int64_t max_request_bytes = 64 * 1024;

  // CURVE encryption and the allow-list of consumer keys (brook/security.h,
  // docs/SECURITY.md). Default: off, plain TCP, anyone who reaches the
  // endpoints reads everything.
  ServerSecurity security;

  // LAN discovery (brook/discovery.h, docs/DISCOVERY.md): when enabled, the
  // producer announces its id, epoch, endpoints (as bound; a wildcard host is
  // replaced by the beacon's source address on the consumer's side), its
  // public key when security is on, and every topic's watermarks, every
  // discovery.interval. Default: off.
  DiscoveryOptions discovery;

  // Diagnostics (see Logger). Default: nowhere.
  Logger logger;
};

// What a producer has done since it opened.
struct ProducerStats {
  uint64_t records_published = 0;  // records sent live
  uint64_t live_messages = 0;      // live messages sent (one per partition per commit)
  uint64_t heartbeats = 0;
  uint64_t replay_requests = 0;  // well-formed requests
  uint64_t replay_pages = 0;
  uint64_t replay_records = 0;
  uint64_t rejected_requests = 0;  // malformed, unsupported or refused (each answered if possible)
  // With security on: CURVE handshakes whose client key was admitted /
  // refused (a consumer makes two connections, live and replay).
  uint64_t handshakes_admitted = 0;
  uint64_t handshakes_refused = 0;
  // With discovery on: rounds of beacons sent whole, and rounds that failed
  // (the log says why).
  uint64_t beacon_rounds = 0;
  uint64_t beacon_errors = 0;
};

// The outcome of one asynchronous publish.
struct PublishAck {
  Status status;
  RecordPosition position;
};

class BROOK_EXPORT Producer {
 public:
  // Opens the journal, starts the replay server and heartbeats, and binds.
  // Errors: InvalidArgument (an option; the message names it, or an endpoint
  // that cannot be bound: the message says why), and Journal::Open's errors.
  static Status Open(const ProducerOptions& options, std::unique_ptr<Producer>* out);

  Producer() = default;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  virtual ~Producer() = default;

  // Commits and acknowledges every pending publish, stops the server and
  // closes the journal. Idempotent; later calls fail with FailedPrecondition.
  virtual Status Close() = 0;

  // The endpoints actually bound (with the port chosen for port 0).
  virtual std::string pub_endpoint() const = 0;
  virtual std::string replay_endpoint() const = 0;

  virtual ProducerId producer_id() const = 0;
  virtual uint64_t epoch() const = 0;

  // See Journal::CreateTopic.
  virtual Status CreateTopic(std::string_view name, const TopicConfig& config) = 0;

  // Publishes one record and waits until it is committed; then it has gone
  // out live. *position (if given) says where it landed. Errors: those of
  // Journal::Append.
  virtual Status Publish(std::string_view topic, const RecordInput& record,
                         RecordPosition* position = nullptr) = 0;

  // Publishes records in one commit and waits for it. Errors: Journal::Append's.
  virtual Status PublishBatch(std::string_view topic, const std::vector<RecordInput>& records,
                              std::vector<RecordPosition>* positions = nullptr) = 0;

  // Publishes one record without waiting; the future is ready after the commit.
  // The record's bytes are copied before this returns.
  virtual std::future<PublishAck> PublishAsync(std::string_view topic,
                                               const RecordInput& record) = 0;

  // Publishes records without waiting; `done` runs after the commit on the
  // thread that committed (see AppendCallback for what it must not do).
  // Validation errors are returned here and `done` is not called.
  virtual Status PublishAsync(std::string_view topic, const std::vector<RecordInput>& records,
                              AppendCallback done) = 0;

  virtual ProducerStats stats() const = 0;

  // Replaces the allowed consumer keys (security on): new connections are
  // checked against the new list; connections already admitted stay up.
  // Errors: FailedPrecondition (security off), InvalidArgument (an empty
  // list, or a malformed key, named by index).
  virtual Status SetAllowedClientKeys(const std::vector<std::string>& keys) = 0;

  // The producer's journal, for reads and topic administration. Owned by the
  // producer; do not Close it or set its commit listener.
  virtual Journal* journal() = 0;
};

}  // namespace brook

#endif  // BROOK_PRODUCER_H_
