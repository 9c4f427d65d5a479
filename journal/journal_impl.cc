#include "journal/journal_impl.h"
#include "journal/journal_instance.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "journal/journal_format.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"
#include "journal/record_format.h"
#include "journal/topic_name.h"

// The journal's life: open, metadata, topics, close. Appends, commits and
// retention are in journal_write.cc; reads in journal_read.cc.

namespace brook {

namespace journal {
namespace {

constexpr uint32_t kMaxPartitionsPerTopic = 4096;
constexpr const char* kLockFileName = "brook.lock";

std::string Errno(int err) { return std::strerror(err); }

Status MakeDirs(const std::string& path) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::FailedPrecondition("cannot create journal directory " + partial + ": " +
                                        Errno(errno));
  }
  return Status::OK();
}

// Names of the directory's entries other than "." and "..".
Status ListDir(const std::string& path, std::vector<std::string>* names) {
  DIR* d = opendir(path.c_str());
  if (!d) return Status::FailedPrecondition("cannot read directory " + path + ": " + Errno(errno));
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names->push_back(n);
  }
  closedir(d);
  return Status::OK();
}

Status ValidateOptions(const JournalOptions& o) {
  if (o.path.empty()) return Status::InvalidArgument("JournalOptions::path is empty");
  if (o.initial_map_size < (1u << 20))
    return Status::InvalidArgument("JournalOptions::initial_map_size must be at least 1 MiB");
  if (o.max_map_size < o.initial_map_size)
    return Status::InvalidArgument(
        "JournalOptions::max_map_size must be at least initial_map_size");
  if (o.max_partitions == 0 || o.max_partitions > 65000)
    return Status::InvalidArgument("JournalOptions::max_partitions must be in 1..65000");
  if (o.max_record_bytes < kMinRecordSize || o.max_record_bytes > (1u << 30))
    return Status::InvalidArgument("JournalOptions::max_record_bytes must be in 28..1 GiB");
  if (o.max_pending_bytes < o.max_record_bytes)
    return Status::InvalidArgument(
        "JournalOptions::max_pending_bytes must be at least max_record_bytes");
  if (o.sync_interval.count() <= 0)
    return Status::InvalidArgument("JournalOptions::sync_interval must be positive");
  if (o.retention_interval.count() <= 0)
    return Status::InvalidArgument("JournalOptions::retention_interval must be positive");
  return Status::OK();
}

// DIR/instance is written after the first commit to data.mdb: beside it, a
// data.mdb that is `how` ("missing" or "empty") held a journal whose records
// are gone. Opening would silently start a new journal, under a new producer
// id, in its place.
Status JournalGone(const std::string& path, const char* how) {
  return Status::DataLoss("journal " + path + ": data.mdb is " + how +
                          ", but the directory held a journal (its '" + kInstanceFileName +
                          "' file is there): its records are gone. Restore data.mdb from a "
                          "backup (docs/OPERATIONS.md, \"Backups\"), or remove the directory to "
                          "start a new journal under a new producer id");
}

}  // namespace

// ---------------------------------------------------------------------------
// Open and metadata

JournalImpl::JournalImpl(const JournalOptions& options, int lock_fd)
    : options_(options), lock_fd_(lock_fd) {}

JournalImpl::~JournalImpl() {
  Status s = Close();
  (void)s;
}

Status JournalImpl::Init() {
  bool created = false;
  Status s = OpenEnvironment(&created);
  if (!s.ok()) return s;
  s = LoadOrCreateMetadata(created);
  if (!s.ok()) return s;
  // The open may map more than appends may use (room for its own metadata
  // write): they start under their ceiling, which LMDB raises to what the
  // file already uses.
  if (map_size_ > AppendCeiling()) {
    s = SetMapSize(AppendCeiling());
    if (!s.ok()) return s;
  }
  // Retention trusts the wall clock as it finds it at open, and measures its
  // jumps from here on (TrackWallClock).
  clock_seen_wall_ = Now();
  clock_seen_monotonic_ = MonotonicNow();
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::OK();
}

Status JournalImpl::OpenEnvironment(bool* created) {
  const std::string data_file = options_.path + "/data.mdb";
  struct stat st;
  uint64_t file_size = 0;
  if (stat(data_file.c_str(), &st) == 0) {
    file_size = static_cast<uint64_t>(st.st_size);
  } else {
    *created = true;
  }

  int rc = mdb_env_create(&env_);
  if (rc != 0) return LmdbStatus(rc, "creating the LMDB environment", options_.path);
  // One slot per partition and per metadata database (brook.meta, .topics,
  // .partitions, .groups).
  mdb_env_set_maxdbs(env_, options_.max_partitions + kMetadataDbCount);
  mdb_env_set_maxreaders(env_, 512);
  // Appends never go past AppendCeiling (GrowMap), not even at the start.
  // A journal larger than initial_map_size: mapped at exactly its file's
  // length, the open's own transaction (the new epoch) found no page to
  // write once the file was full to its end (MDB_MAP_FULL at open, with
  // max_map_size far away: after a soak's crashes, and on any compacted
  // copy). Leave room as GrowMap would.
  uint64_t want = std::min(options_.initial_map_size, AppendCeiling());
  if (file_size > 0)
    want =
        std::max(want, std::min<uint64_t>(options_.max_map_size,
                                          file_size + std::max<uint64_t>(file_size / 8, 1u << 20)));
  map_size_ = std::max(want, file_size);
  // Round up to a multiple of the OS page size, as LMDB requires.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  map_size_ = (map_size_ + page - 1) / page * page;
  rc = mdb_env_set_mapsize(env_, map_size_);
  if (rc != 0) return LmdbStatus(rc, "setting the map size", options_.path);

  unsigned flags = MDB_NOTLS;
  if (options_.durability == Durability::kNoMetaSync) flags |= MDB_NOMETASYNC;
  if (options_.durability == Durability::kNoSync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, options_.path.c_str(), flags, 0644);
  if (rc != 0) {
    mdb_env_close(env_);
    env_ = nullptr;
    return LmdbStatus(rc, "opening the environment", options_.path);
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  uint64_t added = 0;
  rc = ExtendToLastPage(env_, &added);
  if (rc != 0) return LmdbStatus(rc, "checking the length of data.mdb", options_.path);
  if (added > 0)
    Log(LogLevel::kInfo, "journal " + options_.path + ": data.mdb ended " + std::to_string(added) +
                             " bytes before the last page its last commit counts; extended with "
                             "zeros (pages freed before they were written, or a file cut short: "
                             "damage there is reported as DataLoss when read)");

  int dead = 0;
  mdb_reader_check(env_, &dead);
  if (dead > 0)
    Log(LogLevel::kInfo, "cleared " + std::to_string(dead) +
                             " reader slot(s) left by processes that died, in journal " +
                             options_.path);
  return Status::OK();
}

Status JournalImpl::LoadOrCreateMetadata(bool created) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbStatus(rc, "starting the open transaction", options_.path);
  auto fail = [&](Status s) {
    mdb_txn_abort(txn);
    return s;
  };

  rc = mdb_dbi_open(txn, kMetaDb, 0, &meta_dbi_);
  bool fresh = false;
  if (rc == MDB_NOTFOUND) {
    // No brook metadata. A brand-new (empty) LMDB environment becomes a
    // journal; anything else is someone else's LMDB environment.
    MDB_dbi main_dbi;
    MDB_stat stat;
    if (mdb_dbi_open(txn, nullptr, 0, &main_dbi) == 0 && mdb_stat(txn, main_dbi, &stat) == 0 &&
        stat.ms_entries > 0) {
      return fail(Status::FailedPrecondition(
          "directory " + options_.path +
          " holds an LMDB environment that is not a brook journal (it has no brook metadata); "
          "point JournalOptions::path at a brook journal or an empty directory"));
    }
    if (!created && !options_.create_if_missing)
      return fail(Status::NotFound("no brook journal in " + options_.path));
    fresh = true;
    rc = mdb_dbi_open(txn, kMetaDb, MDB_CREATE, &meta_dbi_);
  }
  if (rc != 0) return fail(LmdbStatus(rc, "opening the metadata", options_.path));

  const unsigned create = fresh ? MDB_CREATE : 0;
  rc = mdb_dbi_open(txn, kTopicsDb, create, &topics_dbi_);
  if (rc == 0) rc = mdb_dbi_open(txn, kPartitionsDb, create, &partitions_dbi_);
  if (rc != 0)
    return fail(rc == MDB_NOTFOUND
                    ? Status::DataLoss("journal " + options_.path +
                                       " lacks its topic tables: the metadata is damaged")
                    : LmdbStatus(rc, "opening the topic tables", options_.path));
  // Created in a journal written before consumer groups existed: the format
  // version stays, since a brook that predates it never opens it.
  rc = mdb_dbi_open(txn, kGroupsDb, MDB_CREATE, &groups_dbi_);
  if (rc != 0) return fail(LmdbStatus(rc, "opening the group positions", options_.path));

  auto get = [&](std::string_view key, MDB_val* v) {
    MDB_val k = Val(key);
    return mdb_get(txn, meta_dbi_, &k, v);
  };
  auto put = [&](std::string_view key, const void* data, size_t size) {
    MDB_val k = Val(key), v = Val(data, size);
    return mdb_put(txn, meta_dbi_, &k, &v, 0);
  };

  char buf[8];
  bool was_clean = true;  // a fresh journal has nothing to undo
  bool restored = false;  // data.mdb came from elsewhere (journal_instance.h)
  if (fresh) {
    PutU32BE(buf, kFormatVersion);
    rc = put(kMetaFormatVersion, buf, 4);
    if (getrandom(producer_id_.bytes.data(), producer_id_.bytes.size(), 0) !=
        static_cast<ssize_t>(producer_id_.bytes.size())) {
      std::random_device rd;
      for (auto& b : producer_id_.bytes) b = static_cast<uint8_t>(rd());
    }
    if (rc == 0) rc = put(kMetaProducerId, producer_id_.bytes.data(), 16);
    PutU64BE(buf, static_cast<uint64_t>(Now()));
    if (rc == 0) rc = put(kMetaCreated, buf, 8);
    epoch_ = 0;
  } else {
    MDB_val v;
    rc = get(kMetaFormatVersion, &v);
    if (rc != 0 || v.mv_size != 4)
      return fail(Status::DataLoss("journal " + options_.path +
                                   " has no valid format version: the metadata is damaged"));
    const uint32_t version = GetU32BE(static_cast<const char*>(v.mv_data));
    if (version > kFormatVersion)
      return fail(Status::FailedPrecondition(
          "journal " + options_.path + " has format version " + std::to_string(version) +
          ", newer than this brook understands (" + std::to_string(kFormatVersion) +
          "); open it with a newer brook"));
    if (version == 0)
      return fail(Status::DataLoss("journal " + options_.path + " has format version 0"));
    rc = get(kMetaProducerId, &v);
    if (rc != 0 || v.mv_size != 16)
      return fail(Status::DataLoss("journal " + options_.path +
                                   " has no valid producer id: the metadata is damaged"));
    std::memcpy(producer_id_.bytes.data(), v.mv_data, 16);
    rc = get(kMetaEpoch, &v);
    if (rc != 0 || v.mv_size != 8)
      return fail(Status::DataLoss("journal " + options_.path +
                                   " has no valid epoch: the metadata is damaged"));
    epoch_ = GetU64BE(static_cast<const char*>(v.mv_data));
    rc = get(kMetaCleanClose, &v);
    was_clean = rc == 0 && v.mv_size == 1 && static_cast<const char*>(v.mv_data)[0] == 1;
    rc = get(kMetaInstance, &v);
    if (rc == 0 && v.mv_size == 8) {
      const uint64_t mark = GetU64BE(static_cast<const char*>(v.mv_data));
      restored = ReadInstanceFile(options_.path) != mark;
    }
    rc = 0;
  }
  if (restored) {
    if (epoch_ > UINT64_MAX - 2 * kRestoredEpochJump)
      return fail(
          Status::DataLoss("journal " + options_.path + " has an epoch too large to go on"));
    epoch_ += kRestoredEpochJump;
    Log(LogLevel::kWarning,
        "journal " + options_.path + ": its data.mdb does not match its '" + kInstanceFileName +
            "' file, so it was put there from elsewhere (a restored backup?); epoch " +
            std::to_string(epoch_) +
            " starts here, and consumers that read records this copy lacks are told "
            "(kTailLost) and receive the new records at those offsets. See docs/OPERATIONS.md, "
            "\"Backups\".");
  } else {
    ++epoch_;
  }
  instance_mark_ = NewInstanceMark();
  PutU64BE(buf, epoch_);
  if (rc == 0) rc = put(kMetaEpoch, buf, 8);
  PutU64BE(buf, instance_mark_);
  if (rc == 0) rc = put(kMetaInstance, buf, 8);
  if (rc == 0) rc = PutCleanClose(txn, false);
  if (rc != 0) return fail(LmdbStatus(rc, "writing the metadata", options_.path));

  // Load topics and their partitions.
  MDB_cursor* cur;
  rc = mdb_cursor_open(txn, topics_dbi_, &cur);
  if (rc != 0) return fail(LmdbStatus(rc, "listing topics", options_.path));
  MDB_val k, v;
  std::vector<std::unique_ptr<Topic>> loaded;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const char* p = static_cast<const char*>(v.mv_data);
    std::string name(static_cast<const char*>(k.mv_data), k.mv_size);
    if (v.mv_size < kTopicRecordSize || static_cast<uint8_t>(p[0]) != kTopicRecordVersion) {
      mdb_cursor_close(cur);
      return fail(Status::DataLoss("journal " + options_.path + ": the record of topic '" + name +
                                   "' is damaged or from a newer brook"));
    }
    auto t = std::make_unique<Topic>();
    t->name = name;
    t->config.partitions = GetU32BE(p + 1);
    t->config.retention.max_age = std::chrono::milliseconds(GetU64BE(p + 5));
    t->config.retention.max_bytes = GetU64BE(p + 13);
    t->config.retention.max_records = GetU64BE(p + 21);
    if (t->config.partitions == 0 || t->config.partitions > kMaxPartitionsPerTopic) {
      mdb_cursor_close(cur);
      return fail(Status::DataLoss("journal " + options_.path + ": topic '" + name +
                                   "' has an invalid partition count"));
    }
    loaded.push_back(std::move(t));
  }
  mdb_cursor_close(cur);
  for (auto& t : loaded) {
    if (partition_count_ + t->config.partitions > options_.max_partitions)
      return fail(Status::InvalidArgument(
          "journal " + options_.path +
          " holds more partitions than JournalOptions::max_partitions (" +
          std::to_string(options_.max_partitions) + "); open it with a larger max_partitions"));
    Status s = OpenPartitions(txn, t.get(), false);
    if (!s.ok()) return fail(s);
    partition_count_ += t->config.partitions;
    topics_.emplace(t->name, std::move(t));
  }
  if (!was_clean || restored) {
    // The last epoch ended in a crash: in a weak durability mode it may
    // have exposed records that are not here now. Or this is a copy, and
    // its producer went on without it.
    Status s = RecordEpochStarts(txn);
    if (!s.ok()) return fail(s);
  }

  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "committing the new epoch", options_.path);
  // The epoch must be durable before anything is published under it, in
  // every durability mode.
  rc = mdb_env_sync(env_, 1);
  if (rc != 0) return LmdbStatus(rc, "syncing the new epoch", options_.path);
  // After the metadata: a crash in between leaves the file behind, which the
  // next open takes for a copy (a harmless jump; see journal_instance.h).
  const std::string e = WriteInstanceFile(options_.path, instance_mark_);
  if (!e.empty())
    Log(LogLevel::kWarning, "journal " + options_.path + ": " + e +
                                "; the next open will take this journal for a copy (harmless)");
  return Status::OK();
}

Status JournalImpl::OpenPartitions(MDB_txn* txn, Topic* topic, bool create) {
  for (uint32_t i = 0; i < topic->config.partitions; ++i) {
    auto p = std::make_unique<Partition>();
    p->topic = topic;
    p->index = i;
    p->state_key = PartitionKey(topic->name, i);
    const std::string db = RecordDbName(topic->name, i);
    int rc = mdb_dbi_open(txn, db.c_str(), create ? MDB_CREATE : 0, &p->dbi);
    if (rc == MDB_NOTFOUND)
      return Status::DataLoss("journal " + options_.path + ": the records of " + topic->name + "/" +
                              std::to_string(i) + " are missing");
    if (rc != 0) return LmdbStatus(rc, "opening partition database " + db, options_.path);
    if (create) {
      rc = PutState(txn, *p, p->committed);
      if (rc != 0) return LmdbStatus(rc, "creating partition " + db, options_.path);
    } else {
      Status s = ReadState(txn, *p, &p->committed);
      if (!s.ok()) return s;
      // The stored state must agree with the stored records.
      MDB_cursor* cur;
      rc = mdb_cursor_open(txn, p->dbi, &cur);
      if (rc != 0) return LmdbStatus(rc, "checking partition " + db, options_.path);
      MDB_val k, v;
      rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
      bool consistent = true;
      if (rc == 0) {
        consistent = k.mv_size == 8 &&
                     GetU64BE(static_cast<const char*>(k.mv_data)) + 1 == p->committed.next_offset;
      } else {
        consistent = rc == MDB_NOTFOUND && p->committed.low == p->committed.next_offset;
      }
      mdb_cursor_close(cur);
      if (!consistent)
        return Status::DataLoss("journal " + options_.path + ": partition " + db +
                                " does not match its recorded watermarks; the file is damaged");
    }
    topic->partitions.push_back(std::move(p));
  }
  return Status::OK();
}

Status JournalImpl::RecordEpochStarts(MDB_txn* txn) {
  auto fail = [&](int rc) { return LmdbStatus(rc, "recording the epoch's start", options_.path); };
  char epoch_key[8], value[8];
  PutU64BE(epoch_key, epoch_);
  std::vector<std::pair<std::string, uint64_t>> entries;  // key, start; epoch order
  for (auto& [name, topic] : topics_) {
    for (auto& p : topic->partitions) {
      const std::string prefix = EpochKeyPrefix(p->state_key);
      const uint64_t start = p->committed.next_offset;
      entries.clear();
      MDB_cursor* cur;
      int rc = mdb_cursor_open(txn, meta_dbi_, &cur);
      if (rc != 0) return fail(rc);
      MDB_val k = Val(prefix), v;
      for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
           rc == 0 && k.mv_size == prefix.size() + 8 &&
           std::memcmp(k.mv_data, prefix.data(), prefix.size()) == 0;
           rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        entries.emplace_back(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                             v.mv_size == 8 ? GetU64BE(static_cast<const char*>(v.mv_data)) : 0);
      }
      mdb_cursor_close(cur);
      if (rc != 0 && rc != MDB_NOTFOUND) return fail(rc);
      // Starts increase with the epoch: an entry whose start is not below
      // the new one says nothing the new one does not. The oldest go first
      // beyond kMaxEpochEntries.
      size_t keep = 0;
      while (keep < entries.size() && entries[keep].second < start) ++keep;
      const size_t drop_front = keep + 1 > kMaxEpochEntries ? keep + 1 - kMaxEpochEntries : 0;
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i >= drop_front && i < keep) continue;
        MDB_val dk = Val(entries[i].first);
        rc = mdb_del(txn, meta_dbi_, &dk, nullptr);
        if (rc != 0) return fail(rc);
      }
      const std::string key = prefix + std::string(epoch_key, 8);
      PutU64BE(value, start);
      MDB_val nk = Val(key), nv = Val(value, 8);
      rc = mdb_put(txn, meta_dbi_, &nk, &nv, 0);
      if (rc != 0) return fail(rc);
    }
  }
  return Status::OK();
}

int JournalImpl::PutCleanClose(MDB_txn* txn, bool clean) {
  const char flag = clean ? 1 : 0;
  MDB_val k = Val(kMetaCleanClose), v = Val(&flag, 1);
  return mdb_put(txn, meta_dbi_, &k, &v, 0);
}

Status JournalImpl::ReadState(MDB_txn* txn, const Partition& p, PartitionState* out) const {
  MDB_val k = Val(p.state_key), v{0, nullptr};
  int rc = mdb_get(txn, partitions_dbi_, &k, &v);
  const char* d = static_cast<const char*>(v.mv_data);
  if (rc != 0 || v.mv_size < kPartitionRecordSize ||
      static_cast<uint8_t>(d[0]) != kPartitionRecordVersion)
    return rc != 0 && rc != MDB_NOTFOUND
               ? LmdbStatus(rc, "reading partition state", options_.path)
               : Status::DataLoss("journal " + options_.path + ": the state of " + p.topic->name +
                                  "/" + std::to_string(p.index) + " is missing or damaged");
  out->next_offset = GetU64BE(d + 1);
  out->low = GetU64BE(d + 9);
  out->bytes = GetU64BE(d + 17);
  out->last_ts = static_cast<int64_t>(GetU64BE(d + 25));
  return Status::OK();
}

int JournalImpl::PutState(MDB_txn* txn, const Partition& p, const PartitionState& s) {
  char buf[kPartitionRecordSize];
  buf[0] = static_cast<char>(kPartitionRecordVersion);
  PutU64BE(buf + 1, s.next_offset);
  PutU64BE(buf + 9, s.low);
  PutU64BE(buf + 17, s.bytes);
  PutU64BE(buf + 25, static_cast<uint64_t>(s.last_ts));
  MDB_val k = Val(p.state_key), v = Val(buf, sizeof buf);
  return mdb_put(txn, partitions_dbi_, &k, &v, 0);
}

// ---------------------------------------------------------------------------
// Close

Status JournalImpl::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return Status::OK();
    stopping_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  // The writer runs once Init succeeded. After a failed open (damaged
  // metadata, too small a max_partitions) there is no epoch to end: marking
  // a clean close would write into a damaged file, and would hide from the
  // next open that the last epoch ended in a crash (its start would not be
  // recorded, and consumers would not learn of a lost tail).
  const bool opened = writer_.joinable();
  if (opened) writer_.join();
  Status result;
  if (env_ && !opened) {
    mdb_env_close(env_);
    env_ = nullptr;
  }
  if (env_) {
    // Readers in other threads finish their transaction first; later ones
    // see env_ == nullptr and fail cleanly.
    std::unique_lock<std::shared_mutex> lk(map_mu_);
    // Every record this epoch exposed is flushed below: the next epoch need
    // not record where it starts.
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == 0) rc = PutCleanClose(txn, true);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else if (txn) {
      mdb_txn_abort(txn);
    }
    if (rc != 0)
      Log(LogLevel::kWarning, LmdbStatus(rc, "marking a clean close", options_.path).ToString());
    rc = mdb_env_sync(env_, 1);
    if (rc != 0) result = LmdbStatus(rc, "flushing on close", options_.path);
    mdb_env_close(env_);
    env_ = nullptr;
  }
  if (lock_fd_ >= 0) {
    close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }
  std::lock_guard<std::mutex> lk(mu_);
  closed_ = true;
  return result;
}

// ---------------------------------------------------------------------------
// Topics

Status JournalImpl::CreateTopic(std::string_view name, const TopicConfig& config) {
  Status s = ValidateTopicName(name);
  if (!s.ok()) return s;
  if (config.partitions == 0 || config.partitions > kMaxPartitionsPerTopic)
    return Status::InvalidArgument("topic '" + std::string(name) + "': partitions must be in 1.." +
                                   std::to_string(kMaxPartitionsPerTopic) + ", not " +
                                   std::to_string(config.partitions));
  if (config.retention.max_age.count() < 0)
    return Status::InvalidArgument("topic '" + std::string(name) +
                                   "': retention max_age must not be negative");
  std::string n(name);
  return RunOnWriter([this, n, config] { return CreateTopicOnWriter(n, config); });
}

Status JournalImpl::CreateTopicOnWriter(const std::string& name, const TopicConfig& config) {
  Topic* existing = FindTopic(name);
  if (existing && existing->config.partitions != config.partitions)
    return Status::AlreadyExists("topic '" + name + "' exists with " +
                                 std::to_string(existing->config.partitions) + " partitions, not " +
                                 std::to_string(config.partitions) +
                                 "; the partition count of a topic cannot change");
  if (!existing && partition_count_ + config.partitions > options_.max_partitions)
    return Status::ResourceExhausted(
        "creating topic '" + name + "' would exceed JournalOptions::max_partitions (" +
        std::to_string(options_.max_partitions) + " in all, " + std::to_string(partition_count_) +
        " used); reopen with a larger max_partitions");

  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbStatus(rc, "creating topic " + name, options_.path);
  char rec[kTopicRecordSize];
  rec[0] = static_cast<char>(kTopicRecordVersion);
  PutU32BE(rec + 1, config.partitions);
  PutU64BE(rec + 5, static_cast<uint64_t>(config.retention.max_age.count()));
  PutU64BE(rec + 13, config.retention.max_bytes);
  PutU64BE(rec + 21, config.retention.max_records);
  PutU64BE(rec + 29, static_cast<uint64_t>(Now()));
  MDB_val k = Val(name), v = Val(rec, sizeof rec);
  if (existing) {
    // Creating an existing topic again (a node's config at every start)
    // updates its retention; it was created when it was first created.
    MDB_val old;
    if (mdb_get(txn, topics_dbi_, &k, &old) == 0 && old.mv_size >= sizeof rec)
      std::memcpy(rec + 29, static_cast<const char*>(old.mv_data) + 29, 8);
  }
  rc = mdb_put(txn, topics_dbi_, &k, &v, 0);
  std::unique_ptr<Topic> topic;
  if (rc == 0 && !existing) {
    topic = std::make_unique<Topic>();
    topic->name = name;
    topic->config = config;
    Status s = OpenPartitions(txn, topic.get(), true);
    if (!s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbStatus(rc, "creating topic " + name, options_.path);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "committing topic " + name, options_.path);
  std::unique_lock<std::shared_mutex> lk(topics_mu_);
  if (existing) {
    existing->config.retention = config.retention;
  } else {
    partition_count_ += config.partitions;
    topics_.emplace(name, std::move(topic));
  }
  return Status::OK();
}

JournalImpl::Topic* JournalImpl::FindTopic(std::string_view name) const {
  std::shared_lock<std::shared_mutex> lk(topics_mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

Status JournalImpl::GetTopic(std::string_view name, TopicInfo* out) const {
  std::shared_lock<std::shared_mutex> lk(topics_mu_);
  auto it = topics_.find(name);
  if (it == topics_.end())
    return Status::NotFound("topic '" + std::string(name) + "' does not exist in journal " +
                            options_.path);
  out->name = it->second->name;
  out->config = it->second->config;
  return Status::OK();
}

std::vector<TopicInfo> JournalImpl::ListTopics() const {
  std::shared_lock<std::shared_mutex> lk(topics_mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back(TopicInfo{name, t->config});
  return out;
}

Status JournalImpl::LookupPartition(std::string_view topic, uint32_t partition,
                                    const Partition** out) const {
  const Topic* t = FindTopic(topic);
  if (!t)
    return Status::NotFound("topic '" + std::string(topic) + "' does not exist in journal " +
                            options_.path);
  if (partition >= t->config.partitions)
    return Status::InvalidArgument(
        "topic '" + std::string(topic) + "' has " + std::to_string(t->config.partitions) +
        " partitions; partition " + std::to_string(partition) + " does not exist");
  *out = t->partitions[partition].get();
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Misc

int64_t JournalImpl::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t JournalImpl::MonotonicNow() const {
  if (options_.monotonic_clock) return options_.monotonic_clock();
  // CLOCK_BOOTTIME rather than steady_clock's CLOCK_MONOTONIC: time really
  // passes while the machine is suspended, and the wall clock counts it.
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void JournalImpl::Log(LogLevel level, const std::string& msg) const {
  if (options_.logger) options_.logger(level, msg);
}

}  // namespace journal

// ---------------------------------------------------------------------------
// Journal::Open

Status Journal::Open(const JournalOptions& options, std::unique_ptr<Journal>* out) {
  using journal::JournalImpl;
  out->reset();
  JournalOptions opts = options;
  while (opts.path.size() > 1 && opts.path.back() == '/') opts.path.pop_back();
  Status s = journal::ValidateOptions(opts);
  if (!s.ok()) return s;

  struct stat st;
  if (stat(opts.path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Status::InvalidArgument("journal path " + opts.path + " is not a directory");
  } else if (errno == ENOENT) {
    if (!opts.create_if_missing)
      return Status::NotFound("journal directory " + opts.path +
                              " does not exist (create_if_missing is false)");
    s = journal::MakeDirs(opts.path);
    if (!s.ok()) return s;
  } else {
    return Status::FailedPrecondition("cannot access " + opts.path + ": " + std::strerror(errno));
  }

  const std::string data_file = opts.path + "/data.mdb";
  const bool data_exists = stat(data_file.c_str(), &st) == 0;
  if ((!data_exists || st.st_size == 0) && journal::ReadInstanceFile(opts.path) != 0)
    return journal::JournalGone(opts.path, data_exists ? "empty" : "missing");
  if (!data_exists) {
    std::vector<std::string> names;
    s = journal::ListDir(opts.path, &names);
    if (!s.ok()) return s;
    for (const std::string& n : names) {
      if (n != journal::kLockFileName && n != "lock.mdb")
        return Status::FailedPrecondition("directory " + opts.path +
                                          " is not empty and holds no brook journal (found '" + n +
                                          "'); choose an empty or new directory for a journal");
    }
    if (!opts.create_if_missing)
      return Status::NotFound("no brook journal in " + opts.path + " (create_if_missing is false)");
  }

  const std::string lock_file = opts.path + "/" + journal::kLockFileName;
  int fd = open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::FailedPrecondition("cannot open " + lock_file + ": " + std::strerror(errno) +
                                      "; check that the directory is writable");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK)
      return Status::FailedPrecondition(
          "journal " + opts.path +
          " is already open (in this process or another); a journal has one owner at a time");
    return Status::FailedPrecondition("cannot lock " + lock_file + ": " + std::strerror(err));
  }

  auto impl = std::make_unique<JournalImpl>(opts, fd);
  s = impl->Init();
  if (!s.ok()) return s;
  *out = std::move(impl);
  return Status::OK();
}

}  // namespace brook
