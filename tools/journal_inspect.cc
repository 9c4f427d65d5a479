#include "tools/journal_inspect.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "brook/journal.h"
#include "journal/journal_format.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"
#include "journal/record_format.h"
#include "tools/cli.h"

namespace brook::cli {

namespace {

using journal::GetU32BE;
using journal::GetU64BE;
using journal::LmdbStatus;
using journal::Val;

// The most partitions a journal can hold (JournalOptions::max_partitions is
// at most 65000), plus brook's three metadata databases. LMDB needs the
// bound before it can read how many there are.
constexpr unsigned kMaxDbs = 65000 + 3;
// LMDB answers MDB_MAP_RESIZED when the writer grew the file past this
// process's map; adopting the new size and retrying succeeds unless the
// writer keeps growing it in between, which a few rounds outlast.
constexpr int kResizeRetries = 8;

std::string_view Bytes(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

std::string Where(const std::string& topic, uint32_t partition) {
  return topic + "/" + std::to_string(partition);
}

// Decodes one stored value as DecodeRecord does for a reader, plus the checks
// only the storage can make: nothing after the record, and the record is the
// one its key names.
Status DecodeStored(uint64_t key_offset, std::string_view value, RecordView* view,
                    std::vector<Header>* headers) {
  headers->clear();
  size_t used = 0;
  Status s = journal::DecodeRecord(value, view, headers, &used);
  if (!s.ok()) return s;
  if (used != value.size())
    return Status::DataLoss("the stored value holds " + std::to_string(value.size() - used) +
                            " byte(s) after the record");
  if (view->offset != key_offset)
    return Status::DataLoss("the record stored under offset " + std::to_string(key_offset) +
                            " says it is offset " + std::to_string(view->offset));
  view->headers_begin = headers->data();
  return Status::OK();
}

std::optional<int64_t> TimestampOf(uint64_t key_offset, const MDB_val& v) {
  RecordView view;
  std::vector<Header> headers;
  if (!DecodeStored(key_offset, Bytes(v), &view, &headers).ok()) return std::nullopt;
  return view.timestamp_ns;
}

uint64_t KeyOffset(const MDB_val& k) {
  return k.mv_size == 8 ? GetU64BE(static_cast<const char*>(k.mv_data)) : UINT64_MAX;
}

std::string AgeText(uint64_t ms) {
  struct Unit {
    uint64_t ms;
    const char* suffix;
  };
  static const Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::string RetentionText(const InspectTopic& t) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (t.max_age_ms) add("age " + AgeText(t.max_age_ms));
  if (t.max_bytes) add(FormatBytes(t.max_bytes) + "/partition");
  if (t.max_records) add(std::to_string(t.max_records) + " records/partition");
  return out.empty() ? "none" : out;
}

std::string OptionalTime(const std::optional<int64_t>& ns) { return ns ? FormatTime(*ns) : "-"; }

void OptionalTimeJson(JsonObject* o, const std::string& name, const std::optional<int64_t>& ns) {
  if (ns) {
    o->Int(name + "_ns", *ns).Str(name, FormatTime(*ns));
  } else {
    o->Null(name + "_ns").Null(name);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// JournalReader

JournalReader::~JournalReader() {
  if (env_) mdb_env_close(env_);
}

Status JournalReader::Open(const std::string& path_in, std::unique_ptr<JournalReader>* out) {
  std::string path = path_in;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return Status::NotFound("no brook journal in " + path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return Status::NotFound("no brook journal in " + path +
                            ": it is not a directory (a journal is a directory holding data.mdb)");
  // Checked before LMDB sees the directory, which would otherwise leave a
  // lock.mdb in any directory it was pointed at.
  if (stat((path + "/data.mdb").c_str(), &st) != 0)
    return Status::NotFound("no brook journal in " + path + " (it holds no data.mdb)");

  std::unique_ptr<JournalReader> r(new JournalReader());
  r->path_ = path;
  int rc = mdb_env_create(&r->env_);
  if (rc != 0) return LmdbStatus(rc, "creating the LMDB environment", path);
  mdb_env_set_maxdbs(r->env_, kMaxDbs);
  mdb_env_set_maxreaders(r->env_, 512);  // as the writer sets it; the lock file keeps the first
  // No map size: LMDB then maps what the writer last recorded in the meta page.
  rc = mdb_env_open(r->env_, path.c_str(), MDB_RDONLY | MDB_NOTLS, 0644);
  if (rc != 0) {
    mdb_env_close(r->env_);
    r->env_ = nullptr;
    return LmdbStatus(rc, "opening the environment read-only", path);
  }

  MDB_txn* txn = nullptr;
  Status s = r->BeginRead(&txn);
  if (!s.ok()) return s;
  auto fail = [&](Status e) {
    mdb_txn_abort(txn);
    return e;
  };
  rc = mdb_dbi_open(txn, journal::kMetaDb, 0, &r->meta_dbi_);
  if (rc == MDB_NOTFOUND)
    return fail(Status::FailedPrecondition(
        "directory " + path +
        " holds an LMDB environment that is not a brook journal (it has no brook metadata); "
        "point at a brook journal directory"));
  if (rc != 0) return fail(LmdbStatus(rc, "opening the metadata", path));
  MDB_val k = Val(journal::kMetaFormatVersion), v;
  rc = mdb_get(txn, r->meta_dbi_, &k, &v);
  if (rc != 0 || v.mv_size != 4)
    return fail(Status::DataLoss("journal " + path +
                                 " has no valid format version: the metadata is damaged"));
  const uint32_t version = GetU32BE(static_cast<const char*>(v.mv_data));
  if (version > Journal::kFormatVersion)
    return fail(Status::FailedPrecondition(
        "journal " + path + " has format version " + std::to_string(version) +
        ", newer than this brook understands (" + std::to_string(Journal::kFormatVersion) +
        "); inspect it with a newer brook"));
  rc = mdb_dbi_open(txn, journal::kTopicsDb, 0, &r->topics_dbi_);
  if (rc == 0) rc = mdb_dbi_open(txn, journal::kPartitionsDb, 0, &r->partitions_dbi_);
  if (rc != 0)
    return fail(rc == MDB_NOTFOUND ? Status::DataLoss("journal " + path +
                                                      " lacks its topic tables: the metadata "
                                                      "is damaged")
                                   : LmdbStatus(rc, "opening the topic tables", path));
  // Committing (rather than aborting) a read transaction keeps the database
  // handles it opened for later transactions.
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "reading the metadata", path);
  *out = std::move(r);
  return Status::OK();
}

Status JournalReader::OpenAndDescribe(const std::string& path, std::unique_ptr<JournalReader>* out,
                                      JournalInfo* info) {
  Status s = Open(path, out);
  return s.ok() ? (*out)->Describe(info) : s;
}

Status JournalReader::BeginRead(MDB_txn** txn) {
  int rc = 0;
  for (int attempt = 0; attempt < kResizeRetries; ++attempt) {
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, txn);
    if (rc != MDB_MAP_RESIZED) break;
    // No transaction of ours is open here, as LMDB requires for a resize.
    rc = mdb_env_set_mapsize(env_, 0);
    if (rc != 0) break;
  }
  return rc == 0 ? Status::OK() : LmdbStatus(rc, "starting a read transaction", path_);
}

Status JournalReader::RecordDb(const std::string& topic, uint32_t partition, MDB_dbi* dbi) {
  const std::string name = journal::RecordDbName(topic, partition);
  auto it = record_dbs_.find(name);
  if (it != record_dbs_.end()) {
    *dbi = it->second;
    return Status::OK();
  }
  MDB_txn* txn = nullptr;
  Status s = BeginRead(&txn);
  if (!s.ok()) return s;
  int rc = mdb_dbi_open(txn, name.c_str(), 0, dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
      return Status::DataLoss("journal " + path_ + ": the records of " + Where(topic, partition) +
                              " (database " + name + ") are missing");
    return LmdbStatus(rc, "opening " + name, path_);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "opening " + name, path_);
  record_dbs_.emplace(name, *dbi);
  return Status::OK();
}

Status JournalReader::ReadState(MDB_txn* txn, const std::string& topic, uint32_t partition,
                                PartitionState* out) {
  const std::string key = journal::PartitionKey(topic, partition);
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, partitions_dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return Status::DataLoss("journal " + path_ + ": the state of " + Where(topic, partition) +
                            " is missing: the metadata is damaged");
  if (rc != 0) return LmdbStatus(rc, "reading the state of " + Where(topic, partition), path_);
  const char* p = static_cast<const char*>(v.mv_data);
  if (v.mv_size < journal::kPartitionRecordSize ||
      static_cast<uint8_t>(p[0]) != journal::kPartitionRecordVersion)
    return Status::DataLoss("journal " + path_ + ": the state of " + Where(topic, partition) +
                            " is damaged or from a newer brook");
  out->high = GetU64BE(p + 1);
  out->low = GetU64BE(p + 9);
  out->bytes = GetU64BE(p + 17);
  out->last_appended_ns = static_cast<int64_t>(GetU64BE(p + 25));
  if (out->low > out->high)
    return Status::DataLoss("journal " + path_ + ": the state of " + Where(topic, partition) +
                            " has its low watermark " + std::to_string(out->low) +
                            " above its high watermark " + std::to_string(out->high));
  return Status::OK();
}

Status JournalReader::Describe(JournalInfo* out) {
  *out = JournalInfo();
  out->path = path_;
  struct stat st;
  if (stat((path_ + "/data.mdb").c_str(), &st) == 0)
    out->file_bytes = static_cast<uint64_t>(st.st_size);

  // Topics first, then the record databases they name (opening a database
  // needs a transaction of its own), then everything else in one snapshot.
  MDB_txn* txn = nullptr;
  Status s = BeginRead(&txn);
  if (!s.ok()) return s;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, topics_dbi_, &cur);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbStatus(rc, "listing topics", path_);
  }
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    InspectTopic t;
    t.name = std::string(Bytes(k));
    const char* p = static_cast<const char*>(v.mv_data);
    if (v.mv_size < journal::kTopicRecordSize ||
        static_cast<uint8_t>(p[0]) != journal::kTopicRecordVersion) {
      s = Status::DataLoss("journal " + path_ + ": the record of topic '" + t.name +
                           "' is damaged or from a newer brook");
      break;
    }
    t.partitions = GetU32BE(p + 1);
    t.max_age_ms = GetU64BE(p + 5);
    t.max_bytes = GetU64BE(p + 13);
    t.max_records = GetU64BE(p + 21);
    t.created_ns = static_cast<int64_t>(GetU64BE(p + 29));
    if (t.partitions == 0 || t.partitions > kMaxDbs) {
      s = Status::DataLoss("journal " + path_ + ": topic '" + t.name +
                           "' has an invalid partition count (" + std::to_string(t.partitions) +
                           ")");
      break;
    }
    out->topics.push_back(std::move(t));
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (s.ok() && rc != 0 && rc != MDB_NOTFOUND) s = LmdbStatus(rc, "listing topics", path_);
  if (!s.ok()) return s;

  std::vector<MDB_dbi> dbis;
  for (const InspectTopic& t : out->topics) {
    for (uint32_t p = 0; p < t.partitions; ++p) {
      MDB_dbi dbi;
      s = RecordDb(t.name, p, &dbi);
      if (!s.ok()) return s;
      dbis.push_back(dbi);
    }
  }

  s = BeginRead(&txn);
  if (!s.ok()) return s;
  auto fail = [&](Status e) {
    mdb_txn_abort(txn);
    return e;
  };
  auto get = [&](std::string_view key, MDB_val* val) {
    MDB_val mk = Val(key);
    return mdb_get(txn, meta_dbi_, &mk, val);
  };
  rc = get(journal::kMetaFormatVersion, &v);
  if (rc == 0 && v.mv_size == 4)
    out->format_version = GetU32BE(static_cast<const char*>(v.mv_data));
  rc = get(journal::kMetaProducerId, &v);
  if (rc != 0 || v.mv_size != 16)
    return fail(Status::DataLoss("journal " + path_ +
                                 " has no valid producer id: the metadata is damaged"));
  std::memcpy(out->producer.bytes.data(), v.mv_data, 16);
  rc = get(journal::kMetaEpoch, &v);
  if (rc != 0 || v.mv_size != 8)
    return fail(
        Status::DataLoss("journal " + path_ + " has no valid epoch: the metadata is damaged"));
  out->epoch = GetU64BE(static_cast<const char*>(v.mv_data));
  if (get(journal::kMetaCreated, &v) == 0 && v.mv_size == 8)
    out->created_ns = static_cast<int64_t>(GetU64BE(static_cast<const char*>(v.mv_data)));
  if (get(journal::kMetaCleanClose, &v) == 0 && v.mv_size == 1)
    out->clean_close = static_cast<const char*>(v.mv_data)[0] == 1;

  size_t i = 0;
  for (const InspectTopic& t : out->topics) {
    for (uint32_t p = 0; p < t.partitions; ++p, ++i) {
      InspectPartition ip;
      ip.topic = t.name;
      ip.partition = p;
      s = ReadState(txn, t.name, p, &ip.state);
      if (!s.ok()) return fail(s);
      MDB_stat ms;
      rc = mdb_stat(txn, dbis[i], &ms);
      if (rc != 0) return fail(LmdbStatus(rc, "reading " + Where(t.name, p), path_));
      ip.records = ms.ms_entries;
      rc = mdb_cursor_open(txn, dbis[i], &cur);
      if (rc != 0) return fail(LmdbStatus(rc, "reading " + Where(t.name, p), path_));
      if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) ip.first_ns = TimestampOf(KeyOffset(k), v);
      if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) ip.last_ns = TimestampOf(KeyOffset(k), v);
      mdb_cursor_close(cur);
      out->partitions.push_back(std::move(ip));
    }
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  MDB_stat env_stat;
  mdb_env_stat(env_, &env_stat);
  out->map_bytes = info.me_mapsize;
  out->used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * env_stat.ms_psize;
  mdb_txn_abort(txn);
  return Status::OK();
}

Status JournalReader::Scan(const std::string& topic, uint32_t partition, uint64_t from, uint64_t to,
                           const std::function<bool(const ScannedRecord&)>& visit) {
  MDB_dbi dbi;
  Status s = RecordDb(topic, partition, &dbi);
  if (!s.ok()) return s;
  std::vector<Header> headers;
  uint64_t next = from;
  bool more = next < to;
  while (more) {
    MDB_txn* txn = nullptr;
    s = BeginRead(&txn);
    if (!s.ok()) return s;
    ScannedRecord rec;
    s = ReadState(txn, topic, partition, &rec.state);
    MDB_cursor* cur = nullptr;
    int rc = 0;
    if (s.ok()) {
      rc = mdb_cursor_open(txn, dbi, &cur);
      if (rc != 0) s = LmdbStatus(rc, "reading " + Where(topic, partition), path_);
    }
    if (!s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
    char key_buf[8];
    journal::PutU64BE(key_buf, next);
    MDB_val k = Val(key_buf, 8), v;
    uint64_t in_batch = 0;
    more = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      rec.key_offset = KeyOffset(k);
      if (rec.key_offset >= to) break;
      if (in_batch == kScanBatch) {
        more = true;  // resume here in a new transaction
        break;
      }
      ++in_batch;
      rec.encoded = Bytes(v);
      rec.view = RecordView();
      rec.decoded = DecodeStored(rec.key_offset, rec.encoded, &rec.view, &headers);
      if (!visit(rec)) break;
      if (rec.key_offset == UINT64_MAX) break;  // a malformed key ends the walk
      next = rec.key_offset + 1;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
      return LmdbStatus(rc, "reading " + Where(topic, partition), path_);
  }
  return Status::OK();
}

Status JournalReader::CheckBounds(const std::string& topic, uint32_t partition,
                                  PartitionState* state, std::vector<std::string>* problems) {
  MDB_dbi dbi;
  Status s = RecordDb(topic, partition, &dbi);
  if (!s.ok()) return s;
  MDB_txn* txn = nullptr;
  s = BeginRead(&txn);
  if (!s.ok()) return s;
  s = ReadState(txn, topic, partition, state);
  MDB_stat ms;
  MDB_cursor* cur = nullptr;
  int rc = 0;
  if (s.ok()) rc = mdb_stat(txn, dbi, &ms);
  if (s.ok() && rc == 0) rc = mdb_cursor_open(txn, dbi, &cur);
  if (s.ok() && rc != 0) s = LmdbStatus(rc, "reading " + Where(topic, partition), path_);
  if (!s.ok()) {
    mdb_txn_abort(txn);
    return s;
  }
  const uint64_t expected = state->high - state->low;
  if (ms.ms_entries != expected)
    problems->push_back("holds " + std::to_string(ms.ms_entries) +
                        " record(s) but its watermarks [" + std::to_string(state->low) + ", " +
                        std::to_string(state->high) + ") say " + std::to_string(expected));
  MDB_val k, v;
  if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && KeyOffset(k) != state->low)
    problems->push_back("its first record is offset " + std::to_string(KeyOffset(k)) +
                        " but its low watermark is " + std::to_string(state->low));
  if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && KeyOffset(k) + 1 != state->high)
    problems->push_back("its last record is offset " + std::to_string(KeyOffset(k)) +
                        " but its high watermark is " + std::to_string(state->high));
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  return Status::OK();
}

Status JournalReader::CopyTo(const std::string& dest, bool compact) {
  const int rc = mdb_env_copy2(env_, dest.c_str(), compact ? MDB_CP_COMPACT : 0);
  if (rc != 0) return LmdbStatus(rc, "copying to " + dest, path_);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Output

void PrintJournalInfo(const JournalInfo& info, bool json) {
  if (json) {
    std::vector<std::string> topics;
    size_t i = 0;
    for (const InspectTopic& t : info.topics) {
      std::vector<std::string> parts;
      uint64_t records = 0, bytes = 0;
      for (uint32_t p = 0; p < t.partitions; ++p, ++i) {
        const InspectPartition& ip = info.partitions[i];
        records += ip.records;
        bytes += ip.state.bytes;
        JsonObject o;
        o.Num("partition", ip.partition)
            .Num("low_watermark", ip.state.low)
            .Num("high_watermark", ip.state.high)
            .Num("records", ip.records)
            .Num("bytes", ip.state.bytes);
        OptionalTimeJson(&o, "first_timestamp", ip.first_ns);
        OptionalTimeJson(&o, "last_timestamp", ip.last_ns);
        parts.push_back(o.Done());
      }
      JsonObject retention;
      retention.Num("max_age_ms", t.max_age_ms)
          .Num("max_bytes", t.max_bytes)
          .Num("max_records", t.max_records);
      JsonObject o;
      o.Str("name", t.name)
          .Num("partition_count", t.partitions)
          .Num("records", records)
          .Num("bytes", bytes)
          .Raw("retention", retention.Done())
          .Int("created_ns", t.created_ns)
          .Str("created", FormatTime(t.created_ns))
          .Raw("partitions", JsonArray(parts));
      topics.push_back(o.Done());
    }
    JsonObject o;
    o.Str("path", info.path)
        .Str("producer", info.producer.ToHex())
        .Num("epoch", info.epoch)
        .Num("format_version", info.format_version)
        .Int("created_ns", info.created_ns)
        .Str("created", FormatTime(info.created_ns));
    if (info.clean_close) {
      o.Bool("clean_close", *info.clean_close);
    } else {
      o.Null("clean_close");
    }
    o.Num("file_bytes", info.file_bytes)
        .Num("map_bytes", info.map_bytes)
        .Num("used_bytes", info.used_bytes)
        .Raw("topics", JsonArray(topics));
    std::printf("%s\n", o.Done().c_str());
    return;
  }

  std::string clean = "unknown (not recorded)";
  if (info.clean_close)
    clean = *info.clean_close ? "yes" : "no (open now, or the last epoch ended in a crash)";
  std::printf("journal      %s\n", info.path.c_str());
  std::printf("producer     %s\n", info.producer.ToHex().c_str());
  std::printf("epoch        %llu\n", static_cast<unsigned long long>(info.epoch));
  std::printf("format       %u\n", info.format_version);
  std::printf("created      %s\n", FormatTime(info.created_ns).c_str());
  std::printf("clean close  %s\n", clean.c_str());
  std::printf("file         %s (data.mdb), %s in use, map %s\n",
              FormatBytes(info.file_bytes).c_str(), FormatBytes(info.used_bytes).c_str(),
              FormatBytes(info.map_bytes).c_str());
  if (info.topics.empty()) {
    std::printf("\nno topics\n");
    return;
  }
  std::printf("\n");
  Table topics({"TOPIC", "PARTITIONS", "RECORDS", "BYTES", "RETENTION", "CREATED"});
  Table parts({"TOPIC", "PARTITION", "LOW", "HIGH", "RECORDS", "BYTES", "FIRST", "LAST"});
  size_t i = 0;
  for (const InspectTopic& t : info.topics) {
    uint64_t records = 0, bytes = 0;
    for (uint32_t p = 0; p < t.partitions; ++p, ++i) {
      const InspectPartition& ip = info.partitions[i];
      records += ip.records;
      bytes += ip.state.bytes;
      parts.Row({t.name, std::to_string(p), std::to_string(ip.state.low),
                 std::to_string(ip.state.high), std::to_string(ip.records),
                 FormatBytes(ip.state.bytes), OptionalTime(ip.first_ns), OptionalTime(ip.last_ns)});
    }
    topics.Row({t.name, std::to_string(t.partitions), std::to_string(records), FormatBytes(bytes),
                RetentionText(t), FormatTime(t.created_ns)});
  }
  topics.Print(stdout);
  std::printf("\n");
  parts.Print(stdout);
}

int PrintJournalStats(const std::string& command, const std::string& path, bool json) {
  const CommandSpec spec(command);
  std::unique_ptr<JournalReader> reader;
  JournalInfo info;
  Status s = JournalReader::OpenAndDescribe(path, &reader, &info);
  if (!s.ok()) return Fail(spec, s);
  PrintJournalInfo(info, json);
  return kExitOk;
}

int DescribeJournalDirectory(const std::string& path, bool json) {
  return PrintJournalStats("describe", path, json);
}

}  // namespace brook::cli
