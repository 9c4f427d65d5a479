// brook::Consumer: follows topics on one or more producers and delivers every
// committed record of each stream in offset order, with no gap and no
// duplicate, whether the record came live or by replay.
//
// A stream is (producer id, topic, partition). For each stream the consumer
// keeps `next`, the offset it must deliver next. Live records that start at
// `next` are delivered; a live message that starts above it (ZeroMQ dropped
// something, the consumer joined late, the producer restarted) starts a replay
// of the missing offsets from the producer's journal, and live records are
// buffered until the replay meets them. A heartbeat whose high watermark is
// above `next` starts a replay too, so a lost last record is found.
// Records that retention removed before they were read are reported as a
// skipped-range event, never skipped silently.
//
// Threading: the consumer runs its own I/O thread. Poll may be called from
// one thread at a time; stats(), lag(), fd() and Close() from any thread.
//
// Positions: with a name and a state directory, the consumer keeps, per
// stream, the offset after the last record its handler processed, in its own
// LMDB environment, and resumes from there: at-least-once across a crash,
// never a skip. Without a name every start uses the start position.
//
// Delivery: Poll (a loop the host owns; fd() lets an event loop wait for
// it), or Start (the consumer's own thread calls the handler). lag() says how
// far behind each stream is, in records and in time.
#ifndef BROOK_CONSUMER_H_
#define BROOK_CONSUMER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "brook/discovery.h"
#include "brook/export.h"
#include "brook/options.h"
#include "brook/record.h"
#include "brook/security.h"
#include "brook/status.h"

namespace brook {

// Where a producer's live stream and replay server are bound
// (Producer::pub_endpoint() and replay_endpoint()).
struct ProducerEndpoints {
  ProducerEndpoints() = default;
  ProducerEndpoints(std::string pub_endpoint, std::string replay_endpoint,
                    std::string server_key = {})
      : pub(std::move(pub_endpoint)),
        replay(std::move(replay_endpoint)),
        server_public_key(std::move(server_key)) {}

  std::string pub;
  std::string replay;
  // With ConsumerOptions::security on: this producer's public key (Z85), when
  // it differs from security.server_public_key. Empty: that one.
  std::string server_public_key;
};

// Where a stream starts when the consumer has no position for it.
struct StartPosition {
  enum class Kind { kEarliest, kLatest, kOffset, kTimestamp };
  Kind kind = Kind::kEarliest;
  uint64_t offset = 0;       // kOffset
  int64_t timestamp_ns = 0;  // kTimestamp

  static StartPosition Earliest() { return StartPosition{Kind::kEarliest, 0, 0}; }
  static StartPosition Latest() { return StartPosition{Kind::kLatest, 0, 0}; }
  // From this offset; below the low watermark, the removed part is reported
  // as skipped; above the high watermark, from the high watermark.
  static StartPosition Offset(uint64_t offset) { return StartPosition{Kind::kOffset, offset, 0}; }
  // From the first record stamped at or after this time (ns since the Unix
  // epoch), per partition; none: from the high watermark. The producer
  // looks it up in its journal (record timestamps never decrease within a
  // partition).
  static StartPosition Timestamp(int64_t ns) { return StartPosition{Kind::kTimestamp, 0, ns}; }
  static StartPosition Timestamp(std::chrono::system_clock::time_point t) {
    return Timestamp(static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count()));
  }
};

struct ConsumerOptions {
  // The producers to follow: at least one, unless discovery is on.
  std::vector<ProducerEndpoints> producers;
  // Topics to follow, all partitions (at least one).
  std::vector<std::string> topics;
  StartPosition start = StartPosition::Earliest();

  // Keep positions under this name in state_dir (created with its parents if
  // missing). Both empty: no stored positions. Several consumers may share a
  // state_dir under different names, but not at the same time in different
  // processes.
  std::string name;
  std::string state_dir;

  // Consumer groups (docs/GROUPS.md). Consumers with the same group name
  // share the streams of their topics: each stream (producer, topic,
  // partition) is processed by one member at a time. Each producer hands its
  // own streams out among the members that heartbeat to it (rendezvous
  // hashing, revoke before assign) and keeps the group's positions in its
  // journal, so a member that takes a stream over starts where the group
  // committed (auto_commit, Commit()). ConsumerEvent::kAssigned and
  // kRevoked tell which streams this member gained and lost, in order with
  // the records: after kRevoked no record of that stream comes; the stream is
  // committed and handed on at the next Commit (with auto_commit, when that
  // Poll returns), so a caller that handles records after Poll commits only
  // what it handled. `start` applies to
  // streams the group has no position for. Not together with `name`.
  // Default: empty, no group (every stream of the topics).
  std::string group;
  // A member not heard for this long is dropped by the producers and its
  // streams move on; a member that has not heard from a producer for this
  // long stops processing that producer's streams. 100 ms .. 60 s; default
  // 10 s. Records processed but not committed when a stream moves are
  // processed again by the next owner (at-least-once).
  std::chrono::milliseconds group_session_timeout{10000};
  // How often a member heartbeats to each producer: at most a third of
  // group_session_timeout. Default 1 s.
  std::chrono::milliseconds group_heartbeat_interval{1000};
  // Commit positions automatically after Poll's handler processed records,
  // at most every auto_commit_interval (0: after every Poll). false: only
  // Commit() and Close() commit. Default: true, every second.
  bool auto_commit = true;
  std::chrono::milliseconds auto_commit_interval{1000};

  // Records decoded and waiting for Poll. When full, the consumer stops
  // reading: ZeroMQ then drops live messages for it, and it replays them
  // later. Bounds the consumer's memory. Default 100,000.
  size_t max_queued_records = 100000;
  // Live records buffered per stream while a replay catches up; beyond this
  // the buffer is dropped and the replay goes on to the latest known high
  // watermark. Default 50,000.
  size_t max_buffered_live_records = 50000;
  // Replay pages the producer may send ahead of the consumer. Default 4.
  uint32_t replay_credit = 4;
  // A replay request unanswered this long is sent again. Default 2 s.
  std::chrono::milliseconds request_timeout{2000};
  // Live messages ZeroMQ queues for this consumer before it drops. Default
  // 10,000 (one message holds one commit's records of one partition).
  int sub_high_water_mark = 10000;
  // Largest message accepted from a producer (ZMQ_MAXMSGSIZE). Default 64 MiB.
  int64_t max_message_bytes = 64ll << 20;

  // CURVE: this consumer's key pair and the producer's public key
  // (brook/security.h, docs/SECURITY.md). Must match the producers' setting.
  // A producer that refuses the key (or a security mismatch) is logged as an
  // error, counted in ConsumerStats::handshakes_failed and tried again every
  // few seconds. Default: off, plain TCP.
  ClientSecurity security;

  // LAN discovery (brook/discovery.h, docs/DISCOVERY.md): besides
  // `producers`, follow every producer of discovery.cluster whose beacons
  // announce one of `topics`, including producers that appear later. A
  // producer silent for discovery.silence_timeout is disconnected; its
  // streams keep their positions and resume when it is heard again. A
  // discovered producer at the same replay endpoint as one in `producers`
  // is that one (give endpoints as the producer announces them, e.g. an IP
  // address, not a host name). Default: off.
  DiscoveryOptions discovery;
  // With security on, the public keys (Z85) of the producers discovery may
  // follow: a beacon is believed only when it carries one of these, the
  // security.server_public_key or a producers[i].server_public_key, and
  // that key is pinned in the handshake with the producer it names.
  std::vector<std::string> discovery_server_keys;

  Logger logger;
};

struct StreamId {
  ProducerId producer;
  std::string topic;
  uint32_t partition = 0;
};

struct ConsumerEvent {
  enum class Kind {
    // Offsets [from, to) of the stream were removed by retention before
    // this consumer read them; delivery goes on at `to`.
    kSkipped,
    // A producer at these endpoints has a new id (its journal was wiped or
    // replaced): its streams start from the start position. `stream` names the
    // new producer (partition 0 of the first topic).
    kNewProducer,
    // The producer came back from a crash (in a weak durability mode)
    // without offsets [from, to) that this consumer had read: they are or
    // will be issued again to new records, which are delivered from `from`.
    // Found by the producer's epoch history, even when the producer has since
    // written past `to`.
    kTailLost,
    // Consumer groups: this member now processes the stream, from offset
    // `from`; its records follow.
    kAssigned,
    // Consumer groups: this member no longer processes the stream (it moved
    // to another member, or its producer has not been heard for the session
    // timeout); no record of it follows. `from` is the offset after the last
    // record delivered. Its position is committed, and the stream handed on,
    // at the next Commit (with auto_commit, when this Poll returns).
    kRevoked,
    // The producer's journal holds a damaged record at offset `from` (`to` =
    // from + 1): its checksum fails, as after a bad disk sector. It cannot be
    // delivered and nothing is skipped silently, so the stream stops before
    // it; the consumer asks again every request_timeout (a journal repaired
    // or restored is then served) and says this once per damaged offset.
    // `message` has the producer's error. docs/OPERATIONS.md, "A damaged
    // record", says what to do.
    kDataLoss,
  };
  Kind kind = Kind::kSkipped;
  StreamId stream;
  uint64_t from = 0;
  uint64_t to = 0;
  std::string message;
};

struct ConsumerStats {
  uint64_t records_delivered = 0;
  uint64_t live_records = 0;      // received live and delivered
  uint64_t replayed_records = 0;  // received by replay and delivered
  // Holes in the live stream that were found and recovered by replay:
  // messages ZeroMQ dropped at a high-water mark, messages lost on a cut
  // connection, the last records found missing through a heartbeat.
  uint64_t gaps_detected = 0;
  uint64_t duplicates_dropped = 0;
  uint64_t malformed_messages = 0;
  // Connections to a producer that failed their handshake: the producer
  // refused this consumer's key, or one side runs CURVE and the other not,
  // or the pinned server key is not the producer's (the log says which).
  uint64_t handshakes_failed = 0;
  // With discovery on: producers found (each time one appears, or comes
  // back after falling silent), and beacons dropped (another cluster's do
  // not count; docs/DISCOVERY.md lists the reasons).
  uint64_t producers_discovered = 0;
  uint64_t beacons_dropped = 0;
};

// How far a stream's processing is behind its producer.
struct StreamLag {
  StreamId stream;
  // The offset the handler gets next, and the producer's high watermark as
  // last heard (live records, heartbeats, replay answers).
  uint64_t next = 0;
  uint64_t high_watermark = 0;
  uint64_t records = 0;  // high_watermark - next
  // 0 when records is 0. Otherwise how long ago the oldest record not yet
  // processed was published (its timestamp), when this consumer has received
  // it; else how long ago the last processed record was published (an upper
  // bound); -1 ns when neither is known yet.
  std::chrono::nanoseconds time{0};
};

// Receives what Poll delivers; views are valid only during the call.
struct PollHandler {
  std::function<void(const StreamId& stream, const RecordView& record)> on_record;
  std::function<void(const ConsumerEvent& event)> on_event;  // optional
};

class BROOK_EXPORT Consumer {
 public:
  // Errors: InvalidArgument (an option; the message names it).
  static Status Open(const ConsumerOptions& options, std::unique_ptr<Consumer>* out);

  Consumer() = default;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  virtual ~Consumer() = default;

  // Delivers up to `max_records` records (and any events between them) to
  // `handler`, in order per stream, waiting up to `timeout` for the first.
  // *delivered (if given) receives the number of records delivered.
  // Errors: FailedPrecondition after Close.
  virtual Status Poll(const PollHandler& handler, size_t max_records,
                      std::chrono::milliseconds timeout, size_t* delivered = nullptr) = 0;

  // Stores the position after every record Poll has handed to the handler
  // (call it from the thread that polls). Errors: FailedPrecondition without
  // a name, or after Close; the store's errors.
  virtual Status Commit() = 0;

  virtual ConsumerStats stats() const = 0;

  // Lag of every stream this consumer follows. Any thread.
  virtual std::vector<StreamLag> lag() const = 0;

  // For event loops (epoll, poll, select, asyncio's add_reader): a file
  // descriptor that is readable while records or events wait for Poll. When
  // it is readable, call Poll with a zero timeout until it delivers nothing.
  // Owned by the consumer (do not close it); valid until Close.
  virtual int fd() const = 0;

  // The callback form: delivers on the consumer's own thread, calling
  // `handler` with up to `max_records` records at a time, until Stop or
  // Close. Meanwhile Poll fails with FailedPrecondition. Positions are
  // committed as with Poll (auto_commit); Commit may be called from the
  // handler. Errors: FailedPrecondition if already started or closed.
  virtual Status Start(PollHandler handler, size_t max_records = 1000) = 0;
  // Stops the callback thread after the handler call in progress. Must not
  // be called from the handler. Idempotent.
  virtual Status Stop() = 0;

  // Stops the callback thread (Start), commits positions (if auto_commit),
  // stops the I/O thread and releases the sockets. Idempotent. Must not be
  // called from the handler.
  virtual Status Close() = 0;
};

}  // namespace brook

#endif  // BROOK_CONSUMER_H_
