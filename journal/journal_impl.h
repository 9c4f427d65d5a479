// JournalImpl: the LMDB-backed implementation of brook::Journal.
//
// One thread at a time "leads": it owns the write side (partition state and
// write transactions). Callers encode their records in their own thread and
// queue them; a synchronous appender that finds nobody leading leads itself
// and commits everything queued in one transaction (group commit, no thread
// hop); the writer thread leads for asynchronous appends, commands (topic
// creation, retention on demand) and periodic retention.
// Readers use read-only transactions (MDB_NOTLS) and share map_mu_ so the
// writer can grow the map while no reader is inside a transaction.
#ifndef BROOK_JOURNAL_JOURNAL_IMPL_H_
#define BROOK_JOURNAL_JOURNAL_IMPL_H_

#include <lmdb.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "brook/journal.h"

namespace brook::journal {

class JournalImpl final : public Journal {
 public:
  JournalImpl(const JournalOptions& options, int lock_fd);
  ~JournalImpl() override;

  // Opens the environment and loads metadata; called once by Journal::Open.
  Status Init();

  Status Close() override;
  ProducerId producer_id() const override { return producer_id_; }
  uint64_t epoch() const override { return epoch_; }
  const std::string& path() const override { return options_.path; }

  Status CreateTopic(std::string_view name, const TopicConfig& config) override;
  Status GetTopic(std::string_view name, TopicInfo* out) const override;
  std::vector<TopicInfo> ListTopics() const override;

  Status Append(std::string_view topic, const std::vector<RecordInput>& records,
                std::vector<RecordPosition>* positions) override;
  Status AppendAsync(std::string_view topic, const std::vector<RecordInput>& records,
                     AppendCallback done) override;

  Status Read(std::string_view topic, uint32_t partition, uint64_t from_offset,
              const ReadOptions& options, RecordBatch* out) const override;
  Status Scan(std::string_view topic, uint32_t partition, uint64_t from_offset,
              const ReadOptions& options, const RecordVisitor& visit,
              Watermarks* watermarks) const override;
  Status GetWatermarks(std::string_view topic, uint32_t partition, Watermarks* out) const override;
  Status EpochEnd(std::string_view topic, uint32_t partition, uint64_t epoch,
                  uint64_t* end) const override;
  Status SeekByTimestamp(std::string_view topic, uint32_t partition, int64_t timestamp_ns,
                         uint64_t* offset) const override;

  Status CommitGroupPositions(std::string_view group,
                              const std::vector<GroupPosition>& positions) override;
  Status GetGroupPositions(std::string_view group, std::vector<GroupPosition>* out) const override;
  Status GetGroupPosition(std::string_view group, std::string_view topic, uint32_t partition,
                          GroupPosition* out) const override;
  Status ListGroups(std::vector<std::string>* out) const override;

  Status EnforceRetention() override;
  Status Sync() override;
  void SetCommitListener(CommitListener listener) override;

 private:
  struct PartitionState {
    uint64_t next_offset = 0;  // high watermark
    uint64_t low = 0;          // low watermark
    uint64_t bytes = 0;        // encoded bytes stored
    int64_t last_ts = 0;       // timestamp of the newest record ever appended
  };

  struct Topic;

  // A forward jump of the wall clock that age retention does not trust
  // (journal_write.cc, "Retention and wall-clock jumps"): the records of a
  // partition with a timestamp up to `newest_ts` were written before it, so
  // `size` ns of their wall-clock age did not really pass.
  struct ClockJump {
    int64_t newest_ts = 0;
    int64_t size = 0;
  };

  struct Partition {
    Topic* topic = nullptr;
    uint32_t index = 0;
    MDB_dbi dbi = 0;
    std::string state_key;  // key in the partitions database
    // Leader only:
    PartitionState committed;
    uint64_t stage_gen = 0;  // == gen_ while this commit touches the partition
    PartitionState staged;
    std::vector<char> scratch;  // this commit's records, for the listener
    uint64_t scratch_first = 0;
    uint32_t scratch_count = 0;
    std::vector<ClockJump> jumps;  // oldest first; leader only
  };

  struct Topic {
    std::string name;
    TopicConfig config;  // retention guarded by topics_mu_; partitions fixed
    std::vector<std::unique_ptr<Partition>> partitions;
    std::atomic<uint64_t> round_robin{0};
  };

  struct PendingAppend {
    Topic* topic = nullptr;
    std::vector<char> data;            // encoded records back to back
    std::vector<uint32_t> sizes;       // size of each record
    std::vector<uint32_t> partitions;  // partition of each record
    std::vector<RecordPosition> positions;
    AppendCallback callback;  // async appends
    // Synchronous appends wait on `cv` for `done` (guarded by mu_).
    std::condition_variable* cv = nullptr;
    bool done = false;
    Status status;
  };

  // A read-only transaction holding map_mu_ shared, so the map is not resized
  // under it.
  class ReadTxn {
   public:
    explicit ReadTxn(const JournalImpl* j) : lock_(j->map_mu_) {
      if (!j->env_) {  // closed: Close() clears env_ under map_mu_
        rc_ = EBADF;
        return;
      }
      rc_ = mdb_txn_begin(j->env_, nullptr, MDB_RDONLY, &txn_);
      // Slots of processes that died inside a read transaction (a killed
      // `brook journal` or mdb_copy) stay taken until someone clears them.
      if (rc_ == MDB_READERS_FULL && j->ClearDeadReaders())
        rc_ = mdb_txn_begin(j->env_, nullptr, MDB_RDONLY, &txn_);
      if (rc_ != 0) txn_ = nullptr;
    }
    ~ReadTxn() {
      if (txn_) mdb_txn_abort(txn_);
    }
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;
    int rc() const { return rc_; }
    MDB_txn* get() const { return txn_; }

   private:
    std::shared_lock<std::shared_mutex> lock_;
    MDB_txn* txn_ = nullptr;
    int rc_ = 0;
  };

  // Frees the reader table's slots held by processes that died; true if
  // there were any (journal_read.cc).
  bool ClearDeadReaders() const;
  Status OpenEnvironment(bool* created);
  Status LoadOrCreateMetadata(bool created);
  Status OpenPartitions(MDB_txn* txn, Topic* topic, bool create);
  // Records, for every partition, where this epoch starts (after an unclean end).
  Status RecordEpochStarts(MDB_txn* txn);
  // Marks the journal closed cleanly (or open: false) in `txn`.
  int PutCleanClose(MDB_txn* txn, bool clean);

  Topic* FindTopic(std::string_view name) const;
  Status LookupPartition(std::string_view topic, uint32_t partition, const Partition** out) const;
  template <typename OnValue, typename OnEnd>
  Status WalkStored(const Partition& part, const std::string& where, uint64_t from_offset,
                    const ReadOptions& options, Watermarks* wm, OnValue on_value,
                    OnEnd on_end) const;
  Status DamagedRecord(const std::string& where, uint64_t offset, const Status& why) const;
  Status ReadState(MDB_txn* txn, const Partition& p, PartitionState* out) const;
  int PutState(MDB_txn* txn, const Partition& p, const PartitionState& s);

  Status Enqueue(std::string_view topic, const std::vector<RecordInput>& records,
                 std::unique_ptr<PendingAppend>* out);
  Status Submit(std::unique_ptr<PendingAppend> pending, bool wait, Status* result,
                std::vector<RecordPosition>* positions);

  // Runs `fn` as the leader (on the writer thread) and waits for its result.
  Status RunOnWriter(std::function<Status()> fn);

  void WriterLoop();
  // With mu_ held and nobody leading: leads, running queued commands and
  // committing every queued append; returns with mu_ held.
  void Lead(std::unique_lock<std::mutex>& lk);
  // Runs fn as the leader if nobody leads; false if somebody does.
  bool RunExclusive(std::unique_lock<std::mutex>& lk, const std::function<void()>& fn);
  // After leading: wakes whoever should lead next (mu_ held).
  void HandOff();
  void CommitGroup(std::vector<PendingAppend*>* group);
  int TryCommit(std::vector<PendingAppend*>* group);
  void NotifyListener(std::vector<PendingAppend*>* group);
  // Grows the map (doubling) up to max_map_size, or for appends up to
  // AppendCeiling; at the limit, MDB_MAP_FULL as ResourceExhausted.
  Status GrowMap(bool for_appends = false);
  // Where appends stop: max_map_size less a reserve (an eighth, at most
  // 4 MiB) for deleting records and metadata when the journal is full.
  uint64_t AppendCeiling() const;
  // mdb_env_set_mapsize with readers held off; map_size_ follows (LMDB never
  // goes below what is used).
  Status SetMapSize(uint64_t size);
  // Deletes what retention policies say, at most `budget` records; *more is
  // set when the budget ran out before every policy was satisfied.
  Status ApplyRetention(uint64_t budget, bool* more);
  // Commits a tiny metadata write so pages freed by the previous transaction
  // become reusable.
  void AdvanceTransaction();
  // Age retention's guard against wall-clock jumps: compares the wall clock
  // with the monotonic clock since the last look and notes a forward jump in
  // every partition (a backward one cancels the latest forward ones). Leader
  // only; at open and at each retention pass.
  void TrackWallClock(int64_t wall);
  // The forward jumps of `part` made after a record stamped `ts` was written.
  static int64_t UntrustedJumpsAfter(const Partition& part, int64_t ts);
  Status CreateTopicOnWriter(const std::string& name, const TopicConfig& config);
  // Writes `records` (key, value) into the groups database in one
  // transaction, growing the map as appends do (journal_groups.cc).
  Status PutGroupRecordsOnWriter(const std::vector<std::pair<std::string, std::string>>& records);
  // Decodes a stored group position value; DataLoss naming `what` if damaged.
  Status DecodeGroupPosition(const MDB_val& v, const std::string& what, GroupPosition* out) const;

  int64_t Now() const;
  int64_t MonotonicNow() const;  // options_.monotonic_clock, or CLOCK_BOOTTIME
  void Log(LogLevel level, const std::string& msg) const;
  Status Fatal() const;

  JournalOptions options_;
  int lock_fd_;
  MDB_env* env_ = nullptr;
  MDB_dbi meta_dbi_ = 0, topics_dbi_ = 0, partitions_dbi_ = 0, groups_dbi_ = 0;
  ProducerId producer_id_;
  uint64_t epoch_ = 0;
  uint64_t instance_mark_ = 0;  // journal_instance.h
  uint64_t map_size_ = 0;       // leader only (and Init)
  // Appends met their ceiling (GrowMap): the map is at max_map_size for
  // others, and appends fail until a commit after full_txnid_ (leader only).
  bool appends_full_ = false;
  uint64_t full_txnid_ = 0;
  uint32_t partition_count_ = 0;  // leader only (and Init)

  // Readers hold this shared for the life of a read transaction; the writer
  // holds it exclusively while it resizes the map.
  mutable std::shared_mutex map_mu_;

  mutable std::shared_mutex topics_mu_;
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;

  // Queue between callers and the writer.
  std::mutex mu_;
  std::condition_variable work_cv_;   // writer waits for work
  bool leading_ = false;              // a thread owns the write side
  std::condition_variable space_cv_;  // callers wait for queue space
  std::deque<PendingAppend*> queue_;
  std::deque<std::function<void()>> commands_;
  uint64_t pending_bytes_ = 0;
  bool stopping_ = false;
  bool closed_ = false;
  Status fatal_;  // sticky; set once (guarded by mu_)

  std::mutex listener_mu_;
  CommitListener listener_;

  // Leader only.
  // Where TrackWallClock last looked: the wall and monotonic clocks then.
  int64_t clock_seen_wall_ = 0, clock_seen_monotonic_ = 0;
  uint64_t gen_ = 0;
  std::vector<Partition*> touched_;
  std::thread writer_;
  std::mutex close_mu_;
};

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_JOURNAL_IMPL_H_
