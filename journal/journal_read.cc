#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "journal/journal_format.h"
#include "journal/journal_impl.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"
#include "journal/record_format.h"

// Reads: Read, Scan, watermarks and seek by timestamp, each in a short
// read-only transaction that never blocks the writer.

namespace brook::journal {

// ---------------------------------------------------------------------------
// Reads

bool JournalImpl::ClearDeadReaders() const {
  // LMDB's reader table (lock.mdb) is shared by every process that opens the
  // journal, readers beside the producer included; a process killed inside a
  // read transaction keeps its slot, and LMDB clears such slots only when
  // asked (brook asks at open and here, when the table is full).
  int dead = 0;
  if (mdb_reader_check(env_, &dead) != 0 || dead <= 0) return false;
  Log(LogLevel::kWarning, "journal " + options_.path + ": LMDB's reader table was full; cleared " +
                              std::to_string(dead) +
                              " slot(s) held by processes that died inside a read transaction");
  return true;
}

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

Status JournalImpl::EpochEnd(std::string_view topic, uint32_t partition, uint64_t epoch,
                             uint64_t* end) const {
  const Partition* part;
  Status s = LookupPartition(topic, partition, &part);
  if (!s.ok()) return s;
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "reading the epoch history", options_.path);
  PartitionState st;
  s = ReadState(txn.get(), *part, &st);
  if (!s.ok()) return s;
  *end = st.next_offset;
  if (epoch == UINT64_MAX) return Status::OK();
  // The first entry of an epoch after `epoch`: starts increase with the
  // epoch, so it is the lowest start among them.
  const std::string prefix = EpochKeyPrefix(part->state_key);
  std::string key = prefix;
  key.resize(prefix.size() + 8);
  PutU64BE(&key[prefix.size()], epoch + 1);
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), meta_dbi_, &cur);
  if (rc != 0) return LmdbStatus(rc, "reading the epoch history", options_.path);
  MDB_val k = Val(key), v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && k.mv_size == key.size() &&
      std::memcmp(k.mv_data, prefix.data(), prefix.size()) == 0 && v.mv_size == 8) {
    *end = std::min(*end, GetU64BE(static_cast<const char*>(v.mv_data)));
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND)
    return LmdbStatus(rc, "reading the epoch history", options_.path);
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

}  // namespace brook::journal
