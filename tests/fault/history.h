// Everything a fault round saw, as the harness (which is never killed)
// recorded it from its children's pipes, and the checker that judges it.
//
// Publishing side, per record (producer tag, topic, partition, sequence):
// attempted, then acknowledged at an offset, or failed with an error; a
// record whose producer died before it answered stays unknown. Consuming
// side, per consumer (by name; its incarnation grows at each restart):
// every delivery (stream, offset, payload) and every commit, in pipe order.
//
// The checker (Check) counts, per the fault suite's contract
// (docs/RELIABILITY.md):
//   lost         acknowledged records a complete consumer never delivered
//   duplicated   deliveries of an offset a consumer had already delivered,
//                except the redelivery, after a restart, of what it had not
//                committed (the uncommitted window, at-least-once)
//   unexpected   deliveries that are not an intact payload of this stream, of
//                a record never attempted, or of one whose publish failed
//   reordered    deliveries not at the offset after the previous one of their
//                stream (a gap or a step back), and acknowledged offsets out
//                of sequence order
//   inconsistent an offset seen holding two different records (acks and
//                deliveries together), or one record at two offsets
// plus consumer events that announce loss (kSkipped, kTailLost,
// kNewProducer) unless the round allows them. Any count above 0 fails.
#ifndef BROOK_TESTS_FAULT_HISTORY_H_
#define BROOK_TESTS_FAULT_HISTORY_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace brook::fault {

struct CheckResult {
  uint64_t attempted = 0;
  uint64_t acknowledged = 0;
  uint64_t failed = 0;
  uint64_t unknown = 0;  // attempted, never answered (the producer died)
  uint64_t delivered = 0;
  uint64_t redelivered = 0;  // allowed: uncommitted, delivered again after a restart
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t unexpected = 0;
  uint64_t reordered = 0;
  uint64_t inconsistent = 0;
  uint64_t loss_events = 0;
  // Rounds that restore a journal from a backup: acknowledged records the
  // restore threw away (DiscardFrom), and the kTailLost events that told
  // consumers so (AllowTailLost). Expected there, not failures.
  uint64_t discarded = 0;
  uint64_t tail_lost_events = 0;
  std::vector<std::string> problems;  // the first few, in words

  uint64_t failures() const {
    return lost + duplicated + unexpected + reordered + inconsistent + loss_events;
  }
};

class History {
 public:
  // --- publishing side (tag: the harness's name for one journal)
  void ProducerIdentity(const std::string& tag, const std::string& producer_hex);
  void Attempted(const std::string& tag, const std::string& topic, uint32_t partition,
                 uint64_t seq);
  void Acknowledged(const std::string& tag, const std::string& topic, uint32_t partition,
                    uint64_t seq, uint64_t offset);
  void Failed(const std::string& tag, const std::string& topic, uint32_t partition, uint64_t seq);
  // The journal of `tag` was replaced by a copy holding offsets below
  // `offset` of this stream: acknowledged records at or above it are gone
  // (counted as discarded, not lost), and the offsets will hold new records.
  void DiscardFrom(const std::string& tag, const std::string& topic, uint32_t partition,
                   uint64_t offset);
  // The next sequence number a (re)started producer should use.
  uint64_t NextSeq(const std::string& tag, const std::string& topic, uint32_t partition) const;
  // The highest acknowledged offset + 1 of a stream (0: none).
  uint64_t AckedEnd(const std::string& tag, const std::string& topic, uint32_t partition) const;

  // --- consuming side
  // A consumer (re)starts: a new incarnation, resuming from what it committed.
  void ConsumerStarted(const std::string& consumer);
  void Delivered(const std::string& consumer, const std::string& producer_hex,
                 const std::string& topic, uint32_t partition, uint64_t offset,
                 std::string_view payload);
  // The consumer committed everything it had delivered so far.
  void Committed(const std::string& consumer);
  // kind: "skipped", "tail_lost", "new_producer", "data_loss", or another
  // event's name (only those four count as loss).
  void Event(const std::string& consumer, const std::string& kind, const std::string& text);
  // How many data_loss events (a damaged record stops a stream) `consumer`
  // has reported.
  uint64_t DataLossEvents(const std::string& consumer) const;
  void AllowLossEvents(bool allow) { allow_loss_events_ = allow; }
  // kTailLost events are expected (a restore round): each rewinds the
  // consumer's stream to the event's `from`, where new records follow.
  void AllowTailLost(bool allow) { allow_tail_lost_ = allow; }

  // The next offset `consumer` expects on a stream (what it has delivered).
  uint64_t ConsumerNext(const std::string& consumer, const std::string& tag,
                        const std::string& topic, uint32_t partition) const;
  // True when `consumer` has delivered every acknowledged record.
  bool CaughtUp(const std::string& consumer) const;

  // Judges the history. `complete`: the consumers that ran to the end and
  // must have delivered every acknowledged record (others are checked for
  // order, duplicates and payloads only).
  CheckResult Check(const std::vector<std::string>& complete) const;

  uint64_t deliveries() const { return deliveries_; }

 private:
  using RecordKey = std::tuple<std::string, std::string, uint32_t, uint64_t>;  // tag topic part seq
  using StreamKey = std::tuple<std::string, std::string, uint32_t>;            // tag topic part
  enum class State { kAttempted, kAcknowledged, kFailed, kDiscarded };
  struct Publish {
    State state = State::kAttempted;
    uint64_t offset = 0;
  };
  struct ConsumerStream {
    int incarnation = -1;    // of the last delivery
    uint64_t next = 0;       // expected next offset in that incarnation
    uint64_t high = 0;       // one past the highest offset ever delivered
    uint64_t committed = 0;  // position covered by the last commit
    std::vector<bool> seen;  // offsets delivered
  };
  struct ConsumerState {
    int incarnation = 0;
    uint64_t data_loss_events = 0;
    std::map<StreamKey, ConsumerStream> streams;
  };

  void Problem(uint64_t* counter, const std::string& what);
  std::string TagOf(const std::string& producer_hex, const std::string& payload_tag);

  std::map<RecordKey, Publish> publishes_;
  std::map<StreamKey, uint64_t> next_seq_;
  std::map<StreamKey, uint64_t> acked_end_;
  std::map<std::string, std::string> tag_of_id_;
  // Offset -> record seen there (acks and deliveries), per stream.
  std::map<StreamKey, std::map<uint64_t, uint64_t>> seq_at_;
  std::map<std::string, ConsumerState> consumers_;
  struct DeliveredRecord {
    std::string consumer, tag, topic;
    uint32_t partition;
    uint64_t seq, offset;
  };
  std::vector<DeliveredRecord> delivered_;  // intact deliveries, judged at Check
  bool allow_loss_events_ = false;
  bool allow_tail_lost_ = false;
  uint64_t deliveries_ = 0;
  // Counted as deliveries arrive (Check adds the end-of-run counts).
  CheckResult live_;
};

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_HISTORY_H_
