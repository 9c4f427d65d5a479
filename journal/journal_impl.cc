#include "journal/journal_impl.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <random>

#include "brook/partitioner.h"
#include "journal/journal_format.h"
#include "journal/lmdb_error.h"
#include "journal/record_format.h"
#include "journal/topic_name.h"

namespace brook {

namespace journal {
namespace {

constexpr uint32_t kMaxPartitionsPerTopic = 4096;
// Retention deletes at most this many records per write transaction, so a
// large cleanup never stalls appends for long.
constexpr uint64_t kRetentionBatch = 20000;
constexpr const char* kLockFileName = "brook.lock";

std::string Errno(int err) { return std::strerror(err); }

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

MDB_val Val(const void* data, size_t size) {
  MDB_val v;
  v.mv_data = const_cast<void*>(data);
  v.mv_size = size;
  return v;
}
MDB_val Val(std::string_view s) { return Val(s.data(), s.size()); }

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

}  // namespace

// ---------------------------------------------------------------------------
// ReadTxn

class JournalImpl::ReadTxn {
 public:
  explicit ReadTxn(const JournalImpl* j) : lock_(j->map_mu_) {
    if (!j->env_) {  // closed: Close() clears env_ under map_mu_
      rc_ = EBADF;
      return;
    }
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
  // +3: brook's own metadata databases.
  mdb_env_set_maxdbs(env_, options_.max_partitions + 3);
  mdb_env_set_maxreaders(env_, 512);
  map_size_ = std::max<uint64_t>(options_.initial_map_size, file_size);
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

  auto get = [&](std::string_view key, MDB_val* v) {
    MDB_val k = Val(key);
    return mdb_get(txn, meta_dbi_, &k, v);
  };
  auto put = [&](std::string_view key, const void* data, size_t size) {
    MDB_val k = Val(key), v = Val(data, size);
    return mdb_put(txn, meta_dbi_, &k, &v, 0);
  };

  char buf[8];
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
    rc = 0;
  }
  ++epoch_;
  PutU64BE(buf, epoch_);
  if (rc == 0) rc = put(kMetaEpoch, buf, 8);
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

  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "committing the new epoch", options_.path);
  // The epoch must be durable before anything is published under it, in
  // every durability mode.
  rc = mdb_env_sync(env_, 1);
  if (rc != 0) return LmdbStatus(rc, "syncing the new epoch", options_.path);
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
  if (writer_.joinable()) writer_.join();
  Status result;
  if (env_) {
    // Readers in other threads finish their transaction first; later ones
    // see env_ == nullptr and fail cleanly.
    std::unique_lock<std::shared_mutex> lk(map_mu_);
    int rc = mdb_env_sync(env_, 1);
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
    const int rc = TryCommit(group);
    if (rc == 0) break;
    if (rc == MDB_MAP_FULL) {
      status = GrowMap();
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
  if (status.ok()) NotifyListener(group);
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

Status JournalImpl::GrowMap() {
  if (map_size_ >= options_.max_map_size)
    return LmdbStatus(MDB_MAP_FULL, "appending", options_.path);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t next = std::min(map_size_ * 2, options_.max_map_size);
  next = next / page * page;
  if (next <= map_size_) return LmdbStatus(MDB_MAP_FULL, "appending", options_.path);
  std::unique_lock<std::shared_mutex> lk(map_mu_);  // no reader inside a transaction now
  int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) return LmdbStatus(rc, "growing the map", options_.path);
  Log(LogLevel::kInfo, "journal " + options_.path + ": map grown from " +
                           std::to_string(map_size_) + " to " + std::to_string(next) + " bytes");
  map_size_ = next;
  return Status::OK();
}

void JournalImpl::SetCommitListener(CommitListener listener) {
  std::lock_guard<std::mutex> lk(listener_mu_);
  listener_ = std::move(listener);
}

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
      auto must_remove = [&](int64_t ts) {
        return (policy.max_records && st.next_offset - st.low > policy.max_records) ||
               (policy.max_bytes && st.bytes > policy.max_bytes) ||
               (age_ns > 0 && ts < now - age_ns);
      };
      if (st.low == st.next_offset) continue;
      if (age_ns == 0 && !must_remove(0)) continue;  // cheap check without a transaction

      MDB_txn* txn;
      int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
      if (rc != 0) return LmdbStatus(rc, "applying retention", options_.path);
      MDB_cursor* cur;
      rc = mdb_cursor_open(txn, part.dbi, &cur);
      uint64_t removed = 0;
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
        if (!must_remove(PeekTimestamp(static_cast<const char*>(v.mv_data)))) break;
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
      budget -= removed;
      if (*more) return Status::OK();
    }
  }
  return Status::OK();
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

// ---------------------------------------------------------------------------
// Reads

Status JournalImpl::GetWatermarks(std::string_view topic, uint32_t partition,
                                  Watermarks* out) const {
  const Partition* part;
  Status s = LookupPartition(topic, partition, &part);
  if (!s.ok()) return s;
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "reading watermarks", options_.path);
  PartitionState st;
  s = ReadState(txn.get(), *part, &st);
  if (!s.ok()) return s;
  out->low_watermark = st.low;
  out->high_watermark = st.next_offset;
  return Status::OK();
}

// The read loop shared by Read and Scan: in one read transaction, checks the
// range against the watermarks, then hands each stored value from
// `from_offset` on to on_value(data, size, offset) -> bool (false: stop),
// within options' bounds, then on_end() while the transaction is still open.
// Returns OK having visited nothing when from_offset is the high watermark.
template <typename OnValue, typename OnEnd>
Status JournalImpl::WalkStored(const Partition& part, const std::string& where,
                               uint64_t from_offset, const ReadOptions& options, Watermarks* wm,
                               OnValue on_value, OnEnd on_end) const {
  if (options.max_records == 0) return Status::InvalidArgument("ReadOptions::max_records is 0");
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "reading " + where, options_.path);
  PartitionState st;
  Status s = ReadState(txn.get(), part, &st);
  if (!s.ok()) return s;
  wm->low_watermark = st.low;
  wm->high_watermark = st.next_offset;
  if (from_offset < st.low)
    return Status::OutOfRange("offset " + std::to_string(from_offset) + " of " + where +
                              " was removed by retention; the low watermark is " +
                              std::to_string(st.low));
  if (from_offset > st.next_offset)
    return Status::OutOfRange("offset " + std::to_string(from_offset) + " of " + where +
                              " is beyond the high watermark " + std::to_string(st.next_offset));
  if (from_offset == st.next_offset) return Status::OK();

  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), part.dbi, &cur);
  if (rc != 0) return LmdbStatus(rc, "reading " + where, options_.path);
  char key[8];
  PutU64BE(key, from_offset);
  MDB_val k = Val(key, 8), v;
  uint64_t expected = from_offset;
  uint64_t count = 0, bytes = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    if (k.mv_size != 8 || GetU64BE(static_cast<const char*>(k.mv_data)) != expected) {
      rc = MDB_CORRUPTED;
      break;
    }
    if (count > 0 && bytes + v.mv_size > options.max_bytes) break;
    if (!on_value(static_cast<const char*>(v.mv_data), v.mv_size, expected)) break;
    ++count;
    ++expected;
    bytes += v.mv_size;
    if (count >= options.max_records || bytes >= options.max_bytes || expected >= st.next_offset)
      break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  on_end();
  if (rc == MDB_NOTFOUND && count == 0)
    return Status::DataLoss("record " + std::to_string(from_offset) + " of " + where +
                            " is missing although the watermarks say it is stored; the "
                            "journal file is damaged");
  if (rc != 0 && rc != MDB_NOTFOUND && count == 0)
    return LmdbStatus(rc, "reading " + where, options_.path);
  return Status::OK();
}

Status JournalImpl::DamagedRecord(const std::string& where, uint64_t offset,
                                  const Status& why) const {
  return Status::DataLoss("record " + std::to_string(offset) + " of " + where + " in journal " +
                          options_.path + " is damaged (" + std::string(why.message()) +
                          "); it is not served. Records before it are intact.");
}

Status JournalImpl::Read(std::string_view topic, uint32_t partition, uint64_t from_offset,
                         const ReadOptions& options, RecordBatch* out) const {
  out->Clear();
  const Partition* part;
  Status s = LookupPartition(topic, partition, &part);
  if (!s.ok()) return s;
  const std::string where = std::string(topic) + "/" + std::to_string(partition);
  detail::ByteBuffer& data = out->mutable_data();
  Watermarks wm;
  size_t count = 0;
  s = WalkStored(
      *part, where, from_offset, options, &wm,
      [&data, &count](const char* p, size_t n, uint64_t) {
        std::memcpy(data.Extend(n), p, n);
        ++count;
        return true;
      },
      [] {});
  out->low_watermark = wm.low_watermark;
  out->high_watermark = wm.high_watermark;
  if (!s.ok()) {
    data.clear();
    return s;
  }

  // Decode and verify outside the transaction: it is short, and the bytes are ours now.
  std::vector<RecordView>& records = out->mutable_records();
  std::vector<Header>& headers = out->mutable_headers();
  records.resize(count);
  std::string_view rest(data.data(), data.size());
  for (size_t i = 0; i < count; ++i) {
    const uint64_t expected = from_offset + i;
    size_t used = 0;
    s = DecodeRecord(rest, &records[i], &headers, &used);
    if (s.ok() && records[i].offset != expected)
      s = Status::DataLoss("record stored under offset " + std::to_string(expected) +
                           " says it is offset " + std::to_string(records[i].offset));
    if (!s.ok()) {
      records.resize(i);
      if (i == 0) {
        data.clear();
        return DamagedRecord(where, expected, s);
      }
      data.Truncate(static_cast<size_t>(rest.data() - data.data()));
      break;
    }
    rest.remove_prefix(used);
  }
  LinkHeaders(&records, &headers);
  return Status::OK();
}

Status JournalImpl::Scan(std::string_view topic, uint32_t partition, uint64_t from_offset,
                         const ReadOptions& options, const RecordVisitor& visit,
                         Watermarks* watermarks) const {
  const Partition* part;
  Status s = LookupPartition(topic, partition, &part);
  if (!s.ok()) return s;
  const std::string where = std::string(topic) + "/" + std::to_string(partition);

  // Records are verified in runs of up to kRun before they are visited: a
  // CRC's latency then overlaps with the next record's instead of stalling
  // each step of the cursor walk.
  constexpr size_t kRun = 256;
  struct Stored {
    const char* data;
    size_t size;
    uint64_t offset;
  };
  std::array<Stored, kRun> run;
  size_t pending = 0;
  std::vector<RecordView> views(kRun);
  std::vector<Header> headers;
  Status damaged;
  bool visited_any = false, stopped = false;

  // Verifies and visits the pending run; false when the scan must stop.
  auto flush = [&]() -> bool {
    headers.clear();
    size_t good = 0;
    for (; good < pending; ++good) {
      const Stored& st = run[good];
      size_t used = 0;
      Status d = DecodeRecord(std::string_view(st.data, st.size), &views[good], &headers, &used);
      if (d.ok() && (used != st.size || views[good].offset != st.offset))
        d = Status::DataLoss("stored under offset " + std::to_string(st.offset) +
                             " but not that record");
      if (!d.ok()) {
        // Stop before it; it is reported now only if nothing was visited.
        if (!visited_any && good == 0) damaged = DamagedRecord(where, st.offset, d);
        break;
      }
    }
    const Header* h = headers.data();
    for (size_t i = 0; i < good; ++i) {
      views[i].headers_begin = h;
      h += views[i].header_count;
    }
    for (size_t i = 0; i < good; ++i) {
      visited_any = true;
      if (!visit(views[i])) return false;
    }
    const bool complete = good == pending;
    pending = 0;
    return complete;
  };

  Watermarks wm;
  s = WalkStored(
      *part, where, from_offset, options, &wm,
      [&](const char* p, size_t n, uint64_t offset) {
        run[pending++] = Stored{p, n, offset};
        if (pending < kRun) return true;
        stopped = !flush();
        return !stopped;
      },
      [&] {
        if (!stopped && pending > 0) flush();
      });
  if (watermarks) *watermarks = wm;
  if (!s.ok()) return s;
  return damaged;
}

Status JournalImpl::SeekByTimestamp(std::string_view topic, uint32_t partition,
                                    int64_t timestamp_ns, uint64_t* offset) const {
  const Partition* part;
  Status s = LookupPartition(topic, partition, &part);
  if (!s.ok()) return s;
  const std::string where = std::string(topic) + "/" + std::to_string(partition);
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "seeking " + where, options_.path);
  PartitionState st;
  s = ReadState(txn.get(), *part, &st);
  if (!s.ok()) return s;
  uint64_t lo = st.low, hi = st.next_offset;
  std::vector<Header> headers;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    char key[8];
    PutU64BE(key, mid);
    MDB_val k = Val(key, 8), v;
    int rc = mdb_get(txn.get(), part->dbi, &k, &v);
    if (rc != 0)
      return rc == MDB_NOTFOUND
                 ? Status::DataLoss("record " + std::to_string(mid) + " of " + where +
                                    " is missing; the journal file is damaged")
                 : LmdbStatus(rc, "seeking " + where, options_.path);
    RecordView r;
    size_t used;
    headers.clear();
    s = DecodeRecord(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), &r, &headers,
                     &used);
    if (!s.ok())
      return Status::DataLoss("record " + std::to_string(mid) + " of " + where + " is damaged (" +
                              std::string(s.message()) + ")");
    if (r.timestamp_ns >= timestamp_ns) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  *offset = lo;
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
  if (stat(data_file.c_str(), &st) != 0) {
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
