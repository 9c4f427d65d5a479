#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "journal/group_name.h"
#include "journal/journal_format.h"
#include "journal/journal_impl.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"

// Consumer groups' committed positions: the brook.groups database
// (docs/JOURNAL.md). Writes go through the leader like topic creation (the
// transaction itself is PutGroupRecordsOnWriter in journal_write.cc, beside
// the append commit whose map and disk handling it shares); reads are short
// read-only transactions.

namespace brook::journal {
namespace {

std::string StreamName(std::string_view topic, uint32_t partition) {
  return std::string(topic) + "/" + std::to_string(partition);
}

// Splits a groups key (group NUL topic NUL u32) into its topic and partition.
bool ParseGroupKey(std::string_view key, size_t prefix, std::string* topic, uint32_t* partition) {
  if (key.size() < prefix + 1 + 4 || key[key.size() - 5] != '\0') return false;
  *topic = std::string(key.substr(prefix, key.size() - 5 - prefix));
  *partition = GetU32BE(key.data() + key.size() - 4);
  return !topic->empty() && topic->find('\0') == std::string::npos;
}

}  // namespace

Status JournalImpl::CommitGroupPositions(std::string_view group,
                                         const std::vector<GroupPosition>& positions) {
  Status s = ValidateGroupName(group);
  if (!s.ok()) return s;
  if (positions.empty()) return Status::OK();
  const int64_t now = Now();
  std::vector<std::pair<std::string, std::string>> records;
  records.reserve(positions.size());
  std::set<std::string> seen;
  for (const GroupPosition& p : positions) {
    const Partition* part;
    s = LookupPartition(p.topic, p.partition, &part);
    if (!s.ok())
      return s.IsNotFound()
                 ? Status::NotFound("cannot commit a position of group '" + std::string(group) +
                                    "': " + std::string(s.message()))
                 : s;
    std::string key = GroupPositionKey(group, p.topic, p.partition);
    if (!seen.insert(key).second)
      return Status::InvalidArgument("CommitGroupPositions: stream " +
                                     StreamName(p.topic, p.partition) +
                                     " is listed twice; give each stream once");
    std::string value(kGroupPositionRecordSize, '\0');
    value[0] = static_cast<char>(kGroupPositionRecordVersion);
    PutU64BE(&value[1], p.next);
    PutU64BE(&value[9], p.epoch);
    PutU64BE(&value[17], static_cast<uint64_t>(p.committed_ns != 0 ? p.committed_ns : now));
    records.emplace_back(std::move(key), std::move(value));
  }
  return RunOnWriter([this, &records] { return PutGroupRecordsOnWriter(records); });
}

Status JournalImpl::DecodeGroupPosition(const MDB_val& v, const std::string& what,
                                        GroupPosition* out) const {
  const char* d = static_cast<const char*>(v.mv_data);
  if (v.mv_size < kGroupPositionRecordSize ||
      static_cast<uint8_t>(d[0]) != kGroupPositionRecordVersion)
    return Status::DataLoss("journal " + options_.path + ": the stored position of " + what +
                            " is damaged or from a newer brook (" + std::to_string(v.mv_size) +
                            " bytes); commit a new position to replace it");
  out->next = GetU64BE(d + 1);
  out->epoch = GetU64BE(d + 9);
  out->committed_ns = static_cast<int64_t>(GetU64BE(d + 17));
  return Status::OK();
}

Status JournalImpl::GetGroupPositions(std::string_view group,
                                      std::vector<GroupPosition>* out) const {
  out->clear();
  Status s = ValidateGroupName(group);
  if (!s.ok()) return s;
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "reading group positions", options_.path);
  const std::string prefix = GroupKeyPrefix(group);
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), groups_dbi_, &cur);
  if (rc != 0) return LmdbStatus(rc, "reading group positions", options_.path);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
       rc == 0 && k.mv_size > prefix.size() &&
       std::memcmp(k.mv_data, prefix.data(), prefix.size()) == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    GroupPosition p;
    const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (!ParseGroupKey(key, prefix.size(), &p.topic, &p.partition)) {
      mdb_cursor_close(cur);
      out->clear();
      return Status::DataLoss("journal " + options_.path + ": a stored position of group '" +
                              std::string(group) + "' has a damaged key");
    }
    s = DecodeGroupPosition(
        v, "group '" + std::string(group) + "' in " + StreamName(p.topic, p.partition), &p);
    if (!s.ok()) {
      mdb_cursor_close(cur);
      out->clear();
      return s;
    }
    out->push_back(std::move(p));
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    out->clear();
    return LmdbStatus(rc, "reading group positions", options_.path);
  }
  return Status::OK();
}

Status JournalImpl::GetGroupPosition(std::string_view group, std::string_view topic,
                                     uint32_t partition, GroupPosition* out) const {
  Status s = ValidateGroupName(group);
  if (!s.ok()) return s;
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "reading a group position", options_.path);
  const std::string key = GroupPositionKey(group, topic, partition);
  MDB_val k = Val(key), v;
  const int rc = mdb_get(txn.get(), groups_dbi_, &k, &v);
  const std::string what = "group '" + std::string(group) + "' in " + StreamName(topic, partition);
  if (rc == MDB_NOTFOUND)
    return Status::NotFound("no position is stored for " + what + " in journal " + options_.path);
  if (rc != 0) return LmdbStatus(rc, "reading a group position", options_.path);
  GroupPosition p;
  s = DecodeGroupPosition(v, what, &p);
  if (!s.ok()) return s;
  p.topic = std::string(topic);
  p.partition = partition;
  *out = std::move(p);
  return Status::OK();
}

Status JournalImpl::ListGroups(std::vector<std::string>* out) const {
  out->clear();
  ReadTxn txn(this);
  if (txn.rc() != 0) return LmdbStatus(txn.rc(), "listing groups", options_.path);
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), groups_dbi_, &cur);
  if (rc != 0) return LmdbStatus(rc, "listing groups", options_.path);
  MDB_val k, v;
  std::string next;
  // One seek per group: group names hold no byte below 0x20, so "group\x01"
  // sorts after every key of the group and before any other group's.
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
    const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos || nul == 0) {
      mdb_cursor_close(cur);
      out->clear();
      return Status::DataLoss("journal " + options_.path +
                              ": the group positions hold a damaged key");
    }
    out->emplace_back(key.substr(0, nul));
    next = out->back();
    next += '\x01';
    k = Val(next);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    out->clear();
    return LmdbStatus(rc, "listing groups", options_.path);
  }
  return Status::OK();
}

}  // namespace brook::journal
