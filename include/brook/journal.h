// brook::Journal: a producer node's durable, partitioned log in LMDB.
//
// A journal is one LMDB environment in one directory. It holds topics; each
// topic has a fixed number of partitions; each partition is an append-only log
// of records with dense offsets from 0 that are never reused, even after
// retention removed old records. Every stored record carries a CRC-32C of its
// bytes, checked whenever it is read: a mismatch is DataLoss, never data.
//
// The journal also carries the producer's identity: a random 128-bit producer
// id created with the journal (a wiped journal is a new producer) and an epoch
// bumped and synced at every open (a tail undone by a power loss in a weak
// durability mode is detectable by consumers: same id, new epoch, lower high
// watermark).
//
// Appends are group-committed: whichever thread commits (an appending thread
// that found nobody committing, or the journal's writer thread for
// asynchronous appends) takes every queued append and commits them in one
// LMDB write transaction, then acknowledges each. Under load one fsync covers
// many appends; under light load an append waits about one commit.
//
// Threading: all methods are thread-safe. Reads run in read-only transactions
// (MVCC) and never block the writer or each other.
//
// Errors (every call): FailedPrecondition after Close() or after the journal
// met a fatal storage error (the first error is sticky and names the cause).
//
// Caveats (LMDB's rules, which brook inherits):
//  - One Journal per directory at a time: Open takes an exclusive lock, so a
//    second open, in this process or another, fails with FailedPrecondition.
//  - Do not fork() with an open journal and use it in the child.
//  - No network filesystems (NFS, SMB): LMDB's locking and mmap need a local one.
//  - Long-lived reads keep old pages alive and make the file grow: reads are
//    bounded (ReadOptions) and each runs in its own short transaction.
//  - LMDB 0.9 has no page checksums: brook checksums each record, but damage
//    to LMDB's own B-tree pages can crash a reader. Keep journals on storage
//    you trust; docs/JOURNAL.md lists the checks that exist.
//  - The file never shrinks: space freed by retention is reused by later
//    appends. `mdb_copy -c` compacts a closed journal.
#ifndef BROOK_JOURNAL_H_
#define BROOK_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brook/export.h"
#include "brook/options.h"
#include "brook/record.h"
#include "brook/status.h"

namespace brook {

// Where a partition stands: offsets [low_watermark, high_watermark) are
// stored. high_watermark is the offset the next append will get; the partition
// is empty when the two are equal.
struct Watermarks {
  uint64_t low_watermark = 0;
  uint64_t high_watermark = 0;
};

struct TopicInfo {
  std::string name;
  TopicConfig config;
};

// One partition's share of one commit: `count` consecutive records from
// `first_offset`, whose encoded bytes lie back to back in `encoded`.
struct CommittedRange {
  std::string_view topic;
  uint32_t partition = 0;
  uint64_t first_offset = 0;
  uint32_t count = 0;
  std::string_view encoded;
};

// Where a consumer group stands in one stream of this journal: the group has
// processed the records of topic/partition below `next`, read under producer
// epoch `epoch` (the epoch lets whoever resumes from here learn, by a fetch
// under it, whether a crash undid some of those records since; see
// EpochEnd). Kafka's committed offsets (__consumer_offsets), kept by the
// producer that owns the stream. docs/GROUPS.md.
struct GroupPosition {
  std::string topic;
  uint32_t partition = 0;
  // The offset the group processes next. Not checked against the
  // partition's watermarks: after a crash in a weak durability mode it may
  // lie beyond the high watermark, which the epoch check resolves.
  uint64_t next = 0;
  uint64_t epoch = 0;
  // When the position was committed, ns since the Unix epoch (the journal's
  // clock, JournalOptions::clock). 0 in CommitGroupPositions: now.
  int64_t committed_ns = 0;
};

// Called once per AppendAsync after its commit, or with the error that failed
// the whole append. positions[i] is where records[i] landed. It runs on the
// thread that committed (usually the journal's writer thread; possibly a
// thread inside a synchronous Append), one callback at a time: keep it short,
// do not throw, and never call Append, Close, CreateTopic, Sync or
// EnforceRetention from it (they wait for the commit in progress: deadlock).
using AppendCallback =
    std::function<void(const Status& status, const std::vector<RecordPosition>& positions)>;

// Receives each record of a Scan; returns false to stop.
using RecordVisitor = std::function<bool(const RecordView& record)>;

// Called after each commit, once per partition that received records, before
// the appends are acknowledged, on the thread that committed; calls never
// overlap. The views are valid only during the call. This is how a producer
// sends committed records live. Same restrictions as AppendCallback.
using CommitListener = std::function<void(const CommittedRange& range)>;

class BROOK_EXPORT Journal {
 public:
  // Journal format version written by this build (docs/JOURNAL.md).
  static constexpr uint32_t kFormatVersion = 1;

  // Opens (or creates, per options.create_if_missing) the journal in
  // options.path, bumps and syncs its epoch, clears reader slots left by
  // processes that died, and starts the writer thread.
  // Errors: InvalidArgument (bad option: the message names it), NotFound (no
  // journal and create_if_missing is false), FailedPrecondition (written by a
  // newer brook; not a brook journal; open elsewhere), DataLoss (damaged
  // file), ResourceExhausted (disk full), or the OS error as Internal.
  static Status Open(const JournalOptions& options, std::unique_ptr<Journal>* out);

  Journal() = default;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  // Close()s.
  virtual ~Journal() = default;

  // Stops accepting appends, commits every queued append (acknowledging each),
  // flushes to disk and closes the environment. Idempotent.
  virtual Status Close() = 0;

  virtual ProducerId producer_id() const = 0;
  virtual uint64_t epoch() const = 0;
  virtual const std::string& path() const = 0;

  // Creates `name` with `config`. Names: 1..200 characters of [A-Za-z0-9._-],
  // not "." or "..", not starting with "__" (reserved for brook).
  // Creating a topic that exists with the same partition count is OK and
  // updates its retention; a different partition count is AlreadyExists.
  // Errors: InvalidArgument, AlreadyExists, ResourceExhausted (max_partitions).
  virtual Status CreateTopic(std::string_view name, const TopicConfig& config) = 0;

  // Errors: NotFound.
  virtual Status GetTopic(std::string_view name, TopicInfo* out) const = 0;
  virtual std::vector<TopicInfo> ListTopics() const = 0;

  // Appends `records` to `topic` in one commit and waits for it. On success
  // (*positions)[i] is where records[i] landed; offsets within a partition are
  // consecutive in the order given. All or nothing.
  // Errors: NotFound (topic), InvalidArgument (partition out of range, record
  // too large, duplicate header name), ResourceExhausted (map at its maximum,
  // or disk full: nothing committed is lost; appends succeed again once room
  // is made).
  virtual Status Append(std::string_view topic, const std::vector<RecordInput>& records,
                        std::vector<RecordPosition>* positions) = 0;

  // Like Append, but returns at once; `done` runs on the writer thread after
  // the commit (or failure). Validation errors are returned here and `done`
  // is not called. Blocks while max_pending_bytes are queued (back-pressure).
  virtual Status AppendAsync(std::string_view topic, const std::vector<RecordInput>& records,
                             AppendCallback done) = 0;

  // Reads records of topic/partition from `from_offset`, in offset order,
  // bounded by `options`. Reading at the high watermark returns an empty batch.
  // Every record's checksum is verified. `out` is cleared first and receives
  // the partition's watermarks too.
  // Errors: NotFound (topic), InvalidArgument (partition), OutOfRange (below the
  // low watermark, i.e. removed by retention: the message names the low
  // watermark, also in out->low_watermark; or beyond the high watermark),
  // DataLoss (the record at from_offset is damaged; a damaged record later in
  // the range ends the batch before it, so the next read reports it).
  virtual Status Read(std::string_view topic, uint32_t partition, uint64_t from_offset,
                      const ReadOptions& options, RecordBatch* out) const = 0;

  // Like Read, without copying: calls `visit` for each record in offset order,
  // inside the read transaction, with views into the journal's memory map that
  // are valid only during the call. `visit` returns false to stop early. For
  // forwarding records (a replay server copies them straight into a network
  // message). `visit` must be quick and must not call this journal (a read
  // transaction is open: a map resize would wait for it). Same bounds, checks
  // and errors as Read; a damaged record after at least one visited record
  // ends the scan with OK, so the next scan from it reports DataLoss.
  // *watermarks (if given) receives the partition's watermarks.
  virtual Status Scan(std::string_view topic, uint32_t partition, uint64_t from_offset,
                      const ReadOptions& options, const RecordVisitor& visit,
                      Watermarks* watermarks = nullptr) const = 0;

  // Errors: NotFound, InvalidArgument.
  virtual Status GetWatermarks(std::string_view topic, uint32_t partition,
                               Watermarks* out) const = 0;

  // The first offset whose timestamp is >= timestamp_ns; the high watermark if
  // there is none. Timestamps are non-decreasing within a partition, so this is
  // a binary search. Errors: NotFound, InvalidArgument, DataLoss.
  virtual Status SeekByTimestamp(std::string_view topic, uint32_t partition, int64_t timestamp_ns,
                                 uint64_t* offset) const = 0;

  // Where what a reader saw under `epoch` ends. Offsets below *end hold the
  // records they held under that epoch; from *end on, records seen under it
  // may have been undone by a crash (weak durability mode) and their offsets
  // issued again to other records. *end is the start of the earliest later
  // epoch that began after an unclean end (see docs/JOURNAL.md, "Epochs"),
  // or the high watermark, whichever is lower. Epoch 0 means "unknown": every
  // epoch is checked. Errors: NotFound, InvalidArgument.
  virtual Status EpochEnd(std::string_view topic, uint32_t partition, uint64_t epoch,
                          uint64_t* end) const = 0;

  // Consumer group positions (docs/GROUPS.md, docs/JOURNAL.md "brook.groups").
  // Group names: 1..255 bytes, no control characters (0x00..0x1f, 0x7f).

  // Stores `positions` for `group`, replacing what the group had for those
  // streams, in one write transaction: all or nothing, as durable as an
  // append (JournalOptions::durability). An empty vector is OK and writes
  // nothing. Each stream may appear once.
  // Errors: InvalidArgument (group name; a stream listed twice; a partition
  // the topic does not have), NotFound (a topic that does not exist),
  // ResourceExhausted (map at its maximum, or disk full: nothing is stored).
  virtual Status CommitGroupPositions(std::string_view group,
                                      const std::vector<GroupPosition>& positions) = 0;

  // Every position stored for `group`, ordered by topic (bytewise), then
  // partition; *out is cleared first and stays empty (OK) when the group has
  // none. Errors: InvalidArgument (group name), DataLoss (a stored position
  // is damaged: the message names it).
  virtual Status GetGroupPositions(std::string_view group,
                                   std::vector<GroupPosition>* out) const = 0;

  // The position of `group` in topic/partition.
  // Errors: NotFound (none stored), InvalidArgument (group name), DataLoss.
  virtual Status GetGroupPosition(std::string_view group, std::string_view topic,
                                  uint32_t partition, GroupPosition* out) const = 0;

  // The names of the groups that have positions here, in bytewise order;
  // *out is cleared first.
  virtual Status ListGroups(std::vector<std::string>* out) const = 0;

  // Applies every topic's retention policy now and waits for it (the writer
  // also does this every retention_interval).
  virtual Status EnforceRetention() = 0;

  // Flushes committed records to disk now (useful in kNoSync mode).
  virtual Status Sync() = 0;

  // Replaces the commit listener (see CommitListener); empty to remove.
  virtual void SetCommitListener(CommitListener listener) = 0;
};

}  // namespace brook

#endif  // BROOK_JOURNAL_H_
