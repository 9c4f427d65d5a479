#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>

#include "brook/partitioner.h"
#include "common/crash_point.h"
#include "journal/journal_format.h"
#include "journal/journal_impl.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"
#include "journal/record_format.h"

// Appends, group commit, map growth and retention: the write side of the
// journal, which one thread at a time owns (see journal_impl.h).

namespace brook::journal {

using internal::CrashPoint;

namespace {

// Retention deletes at most this many records per write transaction, so a
// large cleanup never stalls appends for long.
constexpr uint64_t kRetentionBatch = 20000;

// Whether the file system (or this process's file size limit) has too little
// room left for the journal to grow.
bool LooksFull(const std::string& dir) {
  constexpr uint64_t kMargin = 4u << 20;
  struct statvfs vfs;
  if (statvfs(dir.c_str(), &vfs) == 0 &&
      static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < kMargin)
    return true;
  struct rlimit lim;
  struct stat st;
  const std::string data = dir + "/data.mdb";
  return getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
         stat(data.c_str(), &st) == 0 &&
         static_cast<uint64_t>(st.st_size) + kMargin >= lim.rlim_cur;
}

}  // namespace

// ---------------------------------------------------------------------------
// Append

Status JournalImpl::Enqueue(std::string_view topic, const std::vector<RecordInput>& records,
                            std::unique_ptr<PendingAppend>* out) {
  Topic* t = FindTopic(topic);
  if (!t)
    return Status::NotFound("topic '" + std::string(topic) + "' does not exist in journal " +
                            options_.path + "; create it with CreateTopic first");
  if (records.empty()) return Status::InvalidArgument("append of zero records");
  auto pa = std::make_unique<PendingAppend>();
  pa->topic = t;
  pa->sizes.reserve(records.size());
  pa->partitions.reserve(records.size());
  pa->positions.resize(records.size());
  const uint32_t nparts = t->config.partitions;
  size_t total = 0;
  for (const RecordInput& r : records) {
    const size_t size = EncodedRecordSize(r);
    if (size == 0) return Status::InvalidArgument("a record has two headers with the same name");
    if (size > options_.max_record_bytes)
      return Status::InvalidArgument("a record encodes to " + std::to_string(size) +
                                     " bytes, more than JournalOptions::max_record_bytes (" +
                                     std::to_string(options_.max_record_bytes) + ")");
    total += size;
  }
  pa->data.reserve(total);
  for (const RecordInput& r : records) {
    uint32_t part;
    if (r.partition) {
      part = *r.partition;
      if (part >= nparts)
        return Status::InvalidArgument("topic '" + t->name + "' has " + std::to_string(nparts) +
                                       " partitions; partition " + std::to_string(part) +
                                       " does not exist");
    } else if (r.key) {
      part = PartitionForKey(*r.key, nparts);
    } else {
      part = static_cast<uint32_t>(t->round_robin.fetch_add(1, std::memory_order_relaxed) % nparts);
    }
    pa->partitions.push_back(part);
    pa->sizes.push_back(static_cast<uint32_t>(EncodeRecord(r, &pa->data)));
  }
  *out = std::move(pa);
  return Status::OK();
}

Status JournalImpl::Submit(std::unique_ptr<PendingAppend> pending, bool wait, Status* result,
                           std::vector<RecordPosition>* positions) {
  std::condition_variable cv;
  PendingAppend* pa = pending.get();
  const uint64_t bytes = pa->data.size();
  std::unique_lock<std::mutex> lk(mu_);
  // Back-pressure: wait for room, unless the queue is empty (an append larger
  // than the whole budget must still go through).
  space_cv_.wait(lk, [&] {
    return stopping_ || !fatal_.ok() || pending_bytes_ == 0 ||
           pending_bytes_ + bytes <= options_.max_pending_bytes;
  });
  if (stopping_ || closed_)
    return Status::FailedPrecondition("journal " + options_.path + " is closed");
  if (!fatal_.ok()) return fatal_;
  if (wait) pa->cv = &cv;
  pending_bytes_ += bytes;
  queue_.push_back(pending.release());
  if (!wait) {
    // Nobody waits for this one: the writer thread commits it.
    if (!leading_) work_cv_.notify_one();
    return Status::OK();
  }
  // Group commit without a thread hop: if nobody is committing, this thread
  // commits everything queued (its own append included); otherwise it waits
  // for the committing thread, which hands over when it is done.
  while (!pa->done) {
    if (!leading_) {
      Lead(lk);
    } else {
      cv.wait(lk);
    }
  }
  *result = std::move(pa->status);
  if (positions && result->ok()) *positions = std::move(pa->positions);
  delete pa;
  return Status::OK();
}

Status JournalImpl::Append(std::string_view topic, const std::vector<RecordInput>& records,
                           std::vector<RecordPosition>* positions) {
  std::unique_ptr<PendingAppend> pa;
  Status s = Enqueue(topic, records, &pa);
  if (!s.ok()) return s;
  Status result;
  s = Submit(std::move(pa), true, &result, positions);
  return s.ok() ? result : s;
}

Status JournalImpl::AppendAsync(std::string_view topic, const std::vector<RecordInput>& records,
                                AppendCallback done) {
  std::unique_ptr<PendingAppend> pa;
  Status s = Enqueue(topic, records, &pa);
  if (!s.ok()) return s;
  pa->callback = std::move(done);
  return Submit(std::move(pa), false, nullptr, nullptr);
}

// ---------------------------------------------------------------------------
// Committing: whoever leads (an appending thread, or the writer thread for
// asynchronous appends, commands and retention) has the write side alone.

Status JournalImpl::RunOnWriter(std::function<Status()> fn) {
  auto task = std::make_shared<std::packaged_task<Status()>>(std::move(fn));
  std::future<Status> result = task->get_future();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ || closed_)
      return Status::FailedPrecondition("journal " + options_.path + " is closed");
    if (!fatal_.ok()) return fatal_;
    commands_.push_back([task] { (*task)(); });
  }
  work_cv_.notify_one();
  return result.get();
}

void JournalImpl::Lead(std::unique_lock<std::mutex>& lk) {
  leading_ = true;
  std::deque<std::function<void()>> commands;
  commands.swap(commands_);
  std::vector<PendingAppend*> group(queue_.begin(), queue_.end());
  queue_.clear();
  lk.unlock();
  for (auto& c : commands) c();
  if (!group.empty()) {
    uint64_t bytes = 0;
    for (PendingAppend* pa : group) bytes += pa->data.size();
    CommitGroup(&group);
    lk.lock();
    pending_bytes_ -= bytes;
    space_cv_.notify_all();
  } else {
    lk.lock();
  }
  leading_ = false;
  HandOff();
}

void JournalImpl::HandOff() {
  // Prefer a thread that waits for its own append: it commits without a hop.
  for (PendingAppend* pa : queue_) {
    if (pa->cv) {
      pa->cv->notify_one();
      break;
    }
  }
  if (!queue_.empty() || !commands_.empty() || stopping_) work_cv_.notify_one();
}

bool JournalImpl::RunExclusive(std::unique_lock<std::mutex>& lk, const std::function<void()>& fn) {
  if (leading_) return false;
  leading_ = true;
  lk.unlock();
  fn();
  lk.lock();
  leading_ = false;
  HandOff();
  return true;
}

void JournalImpl::WriterLoop() {
  using Clock = std::chrono::steady_clock;
  auto next_sync = Clock::now() + options_.sync_interval;
  auto next_retention = Clock::now() + options_.retention_interval;
  bool retention_more = false;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if ((!commands_.empty() || !queue_.empty()) && !leading_) {
      Lead(lk);
      continue;
    }
    if (stopping_ && queue_.empty() && commands_.empty() && !leading_) break;
    const auto now = Clock::now();
    if (options_.durability == Durability::kNoSync && now >= next_sync && !stopping_) {
      // A sync needs no exclusivity: appends go on while it runs.
      lk.unlock();
      int rc = mdb_env_sync(env_, 1);
      if (rc != 0) Log(LogLevel::kError, LmdbStatus(rc, "periodic sync", options_.path).ToString());
      lk.lock();
      next_sync = Clock::now() + options_.sync_interval;
      continue;
    }
    if ((retention_more || now >= next_retention) && !stopping_ && RunExclusive(lk, [&] {
          Status s = ApplyRetention(kRetentionBatch, &retention_more);
          if (!s.ok()) {
            Log(LogLevel::kError, "retention: " + s.ToString());
            retention_more = false;
          }
        })) {
      next_retention = Clock::now() + options_.retention_interval;
      continue;
    }
    auto deadline = next_retention;
    if (options_.durability == Durability::kNoSync) deadline = std::min(deadline, next_sync);
    work_cv_.wait_until(lk, deadline);
  }
}

void JournalImpl::CommitGroup(std::vector<PendingAppend*>* group) {
  Status status;
  {
    std::lock_guard<std::mutex> lk(mu_);
    status = fatal_;
  }
  while (status.ok()) {
    if (appends_full_) {
      // Appends stopped at their ceiling (GrowMap). Once something else has
      // committed since (retention above all), they try again under it.
      MDB_envinfo info;
      mdb_env_info(env_, &info);
      if (info.me_last_txnid == full_txnid_) {
        status = LmdbStatus(MDB_MAP_FULL, "appending", options_.path);
        break;
      }
      status = SetMapSize(AppendCeiling());  // LMDB keeps what is used
      if (!status.ok()) break;
      appends_full_ = false;
    }
    const int rc = TryCommit(group);
    if (rc == 0) break;
    if (rc == MDB_MAP_FULL) {
      status = GrowMap(true);
      if (status.ok()) continue;  // retry the whole group in the larger map
      break;
    }
    // A write cut short by a full disk (or file size limit) comes back from
    // LMDB as EIO: tell it apart from a failing disk by looking for room.
    status = LmdbStatus(rc == EIO && LooksFull(options_.path) ? ENOSPC : rc, "committing appends",
                        options_.path);
    if (rc == MDB_PANIC) {
      std::lock_guard<std::mutex> lk(mu_);
      fatal_ = status;
    }
  }
  if (status.ok()) {
    CrashPoint("journal.after_commit");  // committed; not sent live, not acknowledged
    NotifyListener(group);
    CrashPoint("journal.after_send");  // committed and sent live; not acknowledged
  }
  for (PendingAppend* pa : *group) {
    if (pa->cv) {
      std::lock_guard<std::mutex> lk(mu_);
      pa->status = status;
      pa->done = true;
      pa->cv->notify_one();
    } else {
      if (pa->callback) pa->callback(status, pa->positions);
      delete pa;
    }
  }
}

int JournalImpl::TryCommit(std::vector<PendingAppend*>* group) {
  ++gen_;
  touched_.clear();
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return rc;
  const int64_t now = Now();
  char key[8];
  for (PendingAppend* pa : *group) {
    char* rec = pa->data.data();
    for (size_t i = 0; i < pa->sizes.size(); ++i) {
      const uint32_t size = pa->sizes[i];
      Partition& part = *pa->topic->partitions[pa->partitions[i]];
      if (part.stage_gen != gen_) {
        part.stage_gen = gen_;
        part.staged = part.committed;
        touched_.push_back(&part);
      }
      PartitionState& st = part.staged;
      const int64_t ts = std::max(now, st.last_ts);
      const uint64_t offset = st.next_offset;
      SealRecord(rec, size, offset, ts);
      PutU64BE(key, offset);
      MDB_val k = Val(key, 8), v = Val(rec, size);
      rc = mdb_put(txn, part.dbi, &k, &v, MDB_APPEND);
      if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
      }
      CrashPoint("journal.mid_batch");  // some of the group written, nothing committed
      st.next_offset = offset + 1;
      st.last_ts = ts;
      st.bytes += size;
      pa->positions[i] = RecordPosition{part.index, offset, ts};
      rec += size;
    }
  }
  for (Partition* part : touched_) {
    rc = PutState(txn, *part, part->staged);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return rc;
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return rc;
  for (Partition* part : touched_) part->committed = part->staged;
  return 0;
}

void JournalImpl::NotifyListener(std::vector<PendingAppend*>* group) {
  std::lock_guard<std::mutex> lk(listener_mu_);
  if (!listener_) return;
  for (Partition* part : touched_) {
    part->scratch.clear();
    part->scratch_count = 0;
  }
  for (PendingAppend* pa : *group) {
    const char* rec = pa->data.data();
    for (size_t i = 0; i < pa->sizes.size(); ++i) {
      Partition& part = *pa->topic->partitions[pa->partitions[i]];
      if (part.scratch_count++ == 0) part.scratch_first = pa->positions[i].offset;
      part.scratch.insert(part.scratch.end(), rec, rec + pa->sizes[i]);
      rec += pa->sizes[i];
    }
  }
  for (Partition* part : touched_) {
    CommittedRange range;
    range.topic = part->topic->name;
    range.partition = part->index;
    range.first_offset = part->scratch_first;
    range.count = part->scratch_count;
    range.encoded = std::string_view(part->scratch.data(), part->scratch.size());
    listener_(range);
  }
}

uint64_t JournalImpl::AppendCeiling() const {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t reserve = std::min<uint64_t>(options_.max_map_size / 8, 4u << 20) / page * page;
  return (options_.max_map_size - reserve) / page * page;
}

Status JournalImpl::SetMapSize(uint64_t size) {
  std::unique_lock<std::shared_mutex> lk(map_mu_);  // no reader inside a transaction now
  int rc = mdb_env_set_mapsize(env_, size);
  if (rc != 0) return LmdbStatus(rc, "resizing the map", options_.path);
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  return Status::OK();
}

Status JournalImpl::GrowMap(bool for_appends) {
  // Appends stop short of max_map_size, at AppendCeiling: deleting records
  // takes pages too (LMDB copies what it changes), and a map that small
  // appends filled to its last page would leave retention none, so that
  // only a larger maximum could make room again. The rest of the map is for
  // retention and metadata writes.
  const uint64_t limit = for_appends ? AppendCeiling() : options_.max_map_size;
  if (map_size_ >= limit) {
    if (for_appends && map_size_ < options_.max_map_size) {
      Status s = SetMapSize(options_.max_map_size);
      if (!s.ok()) return s;
    }
    if (for_appends && !appends_full_) {
      MDB_envinfo info;
      mdb_env_info(env_, &info);
      appends_full_ = true;
      full_txnid_ = info.me_last_txnid;
    }
    return LmdbStatus(MDB_MAP_FULL, "appending", options_.path);
  }
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t next = std::min(map_size_ * 2, limit);
  next = next / page * page;
  if (next <= map_size_) return LmdbStatus(MDB_MAP_FULL, "appending", options_.path);
  const uint64_t before = map_size_;
  Status s = SetMapSize(next);
  if (!s.ok()) return s;
  Log(LogLevel::kInfo, "journal " + options_.path + ": map grown from " + std::to_string(before) +
                           " to " + std::to_string(map_size_) + " bytes");
  return Status::OK();
}

void JournalImpl::SetCommitListener(CommitListener listener) {
  std::lock_guard<std::mutex> lk(listener_mu_);
  listener_ = std::move(listener);
}

// ---------------------------------------------------------------------------
// Group positions (validated and encoded by CommitGroupPositions in
// journal_groups.cc)

Status JournalImpl::PutGroupRecordsOnWriter(
    const std::vector<std::pair<std::string, std::string>>& records) {
  for (;;) {
    MDB_txn* txn;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    for (size_t i = 0; rc == 0 && i < records.size(); ++i) {
      MDB_val k = Val(records[i].first), v = Val(records[i].second);
      rc = mdb_put(txn, groups_dbi_, &k, &v, 0);
      if (rc != 0) mdb_txn_abort(txn);
    }
    if (rc == 0) rc = mdb_txn_commit(txn);
    if (rc == 0) return Status::OK();
    if (rc == MDB_MAP_FULL) {
      Status s = GrowMap();  // nothing was written: retry in the larger map
      if (s.ok()) continue;
      return s;
    }
    Status s = LmdbStatus(rc == EIO && LooksFull(options_.path) ? ENOSPC : rc,
                          "committing group positions", options_.path);
    if (rc == MDB_PANIC) {
      std::lock_guard<std::mutex> lk(mu_);
      fatal_ = s;
    }
    return s;
  }
}

// ---------------------------------------------------------------------------
// Retention and wall-clock jumps (docs/JOURNAL.md)
//
// Record timestamps come from the wall clock, which can jump: an operator's
// `date`, NTP stepping a clock that was wrong, a VM resumed from a snapshot.
// Judged naively (now - timestamp), a jump forward of a day would age every
// record by a day at once, and age retention would delete the whole journal.
// So the writer compares, at each retention pass, how far the wall clock
// moved with how far the monotonic clock did. A difference beyond
// kJumpTolerance forward is a jump: each partition notes it with the newest
// timestamp it holds then, and the records up to that timestamp (written
// before the jump) have their age reduced by it. Records written after the
// jump are stamped by the jumped clock, so their age needs no correction:
// whether the jump was an error or a correction of an earlier error, every
// record ages at the rate time really passes. A backward jump undoes the
// latest forward ones first (the clock set wrong and set right again); what
// is left of it is not noted, and only makes records look younger than they
// are. So retention never removes a record before it is as old as its policy
// says by the monotonic clock (jumps under kJumpTolerance are taken as they
// come), and never removes more than the plain wall-clock rule would. The
// journal measures jumps only while it is open: at open it takes the wall
// clock as it finds it.

namespace {

// Differences below this are the cost of reading two clocks, not jumps.
constexpr int64_t kJumpTolerance = 1'000'000'000;  // 1 s
// Jumps noted per partition; beyond this the two oldest merge (into more
// correction for the records between them: kept longer, never less).
constexpr size_t kMaxJumps = 64;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  if (b < 0 && a > INT64_MAX + b) return INT64_MAX;
  if (b > 0 && a < INT64_MIN + b) return INT64_MIN;
  return a - b;
}

std::string Seconds(int64_t ns) { return std::to_string(ns / 1'000'000'000) + " s"; }

}  // namespace

// ---------------------------------------------------------------------------
// Retention

Status JournalImpl::EnforceRetention() {
  return RunOnWriter([this] {
    bool more = true;
    Status s;
    while (more && s.ok()) s = ApplyRetention(kRetentionBatch, &more);
    return s;
  });
}

Status JournalImpl::ApplyRetention(uint64_t budget, bool* more) {
  *more = false;
  std::vector<std::pair<Topic*, RetentionPolicy>> work;
  {
    std::shared_lock<std::shared_mutex> lk(topics_mu_);
    for (auto& [name, t] : topics_)
      if (!t->config.retention.unlimited()) work.emplace_back(t.get(), t->config.retention);
  }
  const int64_t now = Now();
  TrackWallClock(now);
  bool removed_any = false;
  // LMDB reuses pages freed by a transaction only once a later transaction
  // has committed; this small write lets the next append reuse them at once,
  // which matters when the journal is at its maximum size.
  struct AdvanceOnExit {
    JournalImpl* j;
    bool* removed;
    ~AdvanceOnExit() {
      if (*removed) j->AdvanceTransaction();
    }
  } advance{this, &removed_any};
  for (auto& [topic, policy] : work) {
    const int64_t age_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(policy.max_age).count();
    for (auto& part_ptr : topic->partitions) {
      Partition& part = *part_ptr;
      PartitionState st = part.committed;
      // Captured by an init-capture: clang before 16 cannot capture a
      // structured binding (a C++20 feature that GCC allows in C++17).
      // A record's age is the wall clock's now minus its timestamp, less the
      // forward jumps of the wall clock since it was written.
      auto must_remove = [&, &policy = policy](int64_t ts) {
        return (policy.max_records && st.next_offset - st.low > policy.max_records) ||
               (policy.max_bytes && st.bytes > policy.max_bytes) ||
               (age_ns > 0 && ts < SaturatingSub(now - age_ns, UntrustedJumpsAfter(part, ts)));
      };
      if (st.low == st.next_offset) {
        part.jumps.clear();  // no record left that a jump could concern
        continue;
      }
      if (age_ns == 0 && !must_remove(0)) continue;  // cheap check without a transaction

      MDB_txn* txn;
      int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
      if (rc != 0) return LmdbStatus(rc, "applying retention", options_.path);
      MDB_cursor* cur;
      rc = mdb_cursor_open(txn, part.dbi, &cur);
      uint64_t removed = 0;
      int64_t front_ts = INT64_MIN;  // of the first record kept
      MDB_val k, v;
      while (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
          rc = 0;
          break;
        }
        if (rc != 0) break;
        if (removed == budget) {
          *more = true;
          break;
        }
        if (v.mv_size < kMinRecordSize || k.mv_size != 8) {
          rc = MDB_CORRUPTED;
          break;
        }
        const int64_t ts = PeekTimestamp(static_cast<const char*>(v.mv_data));
        if (!must_remove(ts)) {
          front_ts = ts;
          break;
        }
        const uint64_t offset = GetU64BE(static_cast<const char*>(k.mv_data));
        const size_t size = v.mv_size;
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) break;
        st.low = offset + 1;
        st.bytes -= std::min<uint64_t>(st.bytes, size);
        ++removed;
      }
      mdb_cursor_close(cur);
      if (rc == 0 && removed > 0) {
        rc = PutState(txn, part, st);
        if (rc == 0)
          rc = mdb_txn_commit(txn);
        else
          mdb_txn_abort(txn);
        if (rc == 0) {
          part.committed = st;
          removed_any = true;
          Log(LogLevel::kDebug, "retention removed " + std::to_string(removed) + " record(s) of " +
                                    topic->name + "/" + std::to_string(part.index));
        }
      } else {
        mdb_txn_abort(txn);
      }
      if (rc != 0) return LmdbStatus(rc, "applying retention to " + topic->name, options_.path);
      // Jumps made after the first record kept was written concern it; older
      // ones concern no record left.
      auto& jumps = part.jumps;
      size_t stale = 0;
      while (stale < jumps.size() && jumps[stale].newest_ts < front_ts) ++stale;
      jumps.erase(jumps.begin(), jumps.begin() + static_cast<std::ptrdiff_t>(stale));
      budget -= removed;
      if (*more) return Status::OK();
    }
  }
  return Status::OK();
}

// Retention and wall-clock jumps, continued.

void JournalImpl::TrackWallClock(int64_t wall) {
  const int64_t monotonic = MonotonicNow();
  // How far the wall clock moved beyond what the monotonic clock measured.
  const int64_t jump = SaturatingSub(SaturatingSub(wall, clock_seen_wall_),
                                     SaturatingSub(monotonic, clock_seen_monotonic_));
  clock_seen_wall_ = wall;
  clock_seen_monotonic_ = monotonic;
  if (jump <= kJumpTolerance && jump >= -kJumpTolerance) return;
  std::shared_lock<std::shared_mutex> lk(topics_mu_);
  for (auto& [name, t] : topics_) {
    for (auto& part : t->partitions) {
      std::vector<ClockJump>& jumps = part->jumps;
      if (jump > 0) {
        if (jumps.size() == kMaxJumps) {
          jumps[1].size = SaturatingAdd(jumps[1].size, jumps[0].size);
          jumps.erase(jumps.begin());
        }
        jumps.push_back(ClockJump{part->committed.last_ts, jump});
      } else {
        for (int64_t back = SaturatingSub(0, jump); back > 0 && !jumps.empty();) {
          const int64_t undone = std::min(back, jumps.back().size);
          jumps.back().size -= undone;
          back -= undone;
          if (jumps.back().size == 0) jumps.pop_back();
        }
      }
    }
  }
  Log(LogLevel::kWarning,
      "journal " + options_.path + ": the wall clock jumped " +
          (jump > 0 ? "forward by " + Seconds(jump) +
                          "; age retention counts only the time that really passed for the "
                          "records written before it"
                    : "back by " + Seconds(SaturatingSub(0, jump)) +
                          "; record timestamps stay at the newest one of each partition until "
                          "the clock catches up"));
}

int64_t JournalImpl::UntrustedJumpsAfter(const Partition& part, int64_t ts) {
  // Noted oldest first, with non-decreasing newest_ts: the jumps that
  // concern a record are a suffix of the list.
  int64_t sum = 0;
  for (auto it = part.jumps.rbegin(); it != part.jumps.rend() && ts <= it->newest_ts; ++it)
    sum = SaturatingAdd(sum, it->size);
  return sum;
}

void JournalImpl::AdvanceTransaction() {
  MDB_txn* txn;
  if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
  char buf[8];
  PutU64BE(buf, static_cast<uint64_t>(Now()));
  MDB_val k = Val(kMetaLastRetention), v = Val(buf, 8);
  if (mdb_put(txn, meta_dbi_, &k, &v, 0) == 0) {
    mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

Status JournalImpl::Sync() {
  return RunOnWriter([this] {
    int rc = mdb_env_sync(env_, 1);
    return rc == 0 ? Status::OK() : LmdbStatus(rc, "syncing", options_.path);
  });
}

}  // namespace brook::journal
