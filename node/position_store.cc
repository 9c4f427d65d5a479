#include "node/position_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "journal/journal_format.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"

namespace brook::node {

using journal::GetU64BE;
using journal::PutU64BE;
using journal::Val;

namespace {

// journal::LmdbStatus said of the consumer's state directory, with damage
// explained for a consumer (its advice is for a journal).
Status LmdbStatus(int rc, const std::string& what, const std::string& dir) {
  const std::string where = "consumer state directory " + dir + ": " + what + " failed: ";
  if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
    return Status::DataLoss(where + mdb_strerror(rc) +
                            ". The stored positions are damaged: restore the directory from a "
                            "copy, or move it aside to start again from ConsumerOptions::start "
                            "(records processed before may be delivered again).");
  const Status s = journal::LmdbStatus(rc, what, dir);
  const std::string prefix = "journal " + dir + ": " + what + " failed: ";
  std::string_view m = s.message();
  if (m.substr(0, prefix.size()) == prefix) m.remove_prefix(prefix.size());
  return Status(s.code(), where + std::string(m));
}

}  // namespace

Status PositionStore::Open(const std::string& dir, const std::string& name,
                           std::unique_ptr<PositionStore>* out) {
  // Parents too, like the journal's directory.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Status::InvalidArgument("cannot create the consumer state directory " + dir + ": " +
                                   ec.message());
  std::unique_ptr<PositionStore> s(new PositionStore());
  s->dir_ = dir;
  s->name_ = name;
  int rc = mdb_env_create(&s->env_);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env_, 256u << 20);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env_, 4);
  if (rc == 0) rc = mdb_env_open(s->env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0644);
  uint64_t added = 0;
  if (rc == 0) rc = journal::ExtendToLastPage(s->env_, &added);  // a file cut short: no SIGBUS
  if (rc != 0) return LmdbStatus(rc, "opening the consumer positions", dir);
  MDB_txn* txn;
  rc = mdb_txn_begin(s->env_, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, "brook.positions", MDB_CREATE, &s->dbi_);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn) {
    mdb_txn_abort(txn);
  }
  if (rc != 0) return LmdbStatus(rc, "opening the consumer positions", dir);
  *out = std::move(s);
  return Status::OK();
}

PositionStore::~PositionStore() {
  if (env_) {
    mdb_env_sync(env_, 1);
    mdb_env_close(env_);
  }
}

std::string PositionStore::Key(const StreamId& s) const {
  std::string k("p\0", 2);
  k += name_;
  k += '\0';
  k += s.producer.ToHex();
  k += '\0';
  k += s.topic;
  k += '\0';
  char p[4];
  journal::PutU32BE(p, s.partition);
  k.append(p, 4);
  return k;
}

std::optional<PositionStore::Position> PositionStore::Get(const StreamId& stream) const {
  MDB_txn* txn;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return std::nullopt;
  const std::string key = Key(stream);
  MDB_val k = Val(key), v;
  std::optional<Position> out;
  if (mdb_get(txn, dbi_, &k, &v) == 0 && (v.mv_size == 8 || v.mv_size == 16)) {
    const char* d = static_cast<const char*>(v.mv_data);
    out = Position{GetU64BE(d), v.mv_size == 16 ? GetU64BE(d + 8) : 0};
  }
  mdb_txn_abort(txn);
  return out;
}

Status PositionStore::Put(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::OK();
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbStatus(rc, "committing consumer positions", dir_);
  for (const Entry& e : entries) {
    const std::string key = Key(e.stream);
    char buf[16];
    PutU64BE(buf, e.position.next);
    PutU64BE(buf + 8, e.position.epoch);
    MDB_val k = Val(key), v = Val(buf, 16);
    rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbStatus(rc, "committing consumer positions", dir_);
    }
  }
  rc = mdb_txn_commit(txn);
  return rc == 0 ? Status::OK() : LmdbStatus(rc, "committing consumer positions", dir_);
}

std::optional<ProducerId> PositionStore::ProducerAt(const std::string& endpoint) const {
  MDB_txn* txn;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return std::nullopt;
  const std::string key = "e" + std::string(1, '\0') + name_ + '\0' + endpoint;
  MDB_val k = Val(key), v;
  std::optional<ProducerId> out;
  if (mdb_get(txn, dbi_, &k, &v) == 0 && v.mv_size == 16) {
    ProducerId id;
    std::memcpy(id.bytes.data(), v.mv_data, 16);
    out = id;
  }
  mdb_txn_abort(txn);
  return out;
}

Status PositionStore::SetProducerAt(const std::string& endpoint, const ProducerId& id) {
  MDB_txn* txn;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbStatus(rc, "recording a producer id", dir_);
  const std::string key = "e" + std::string(1, '\0') + name_ + '\0' + endpoint;
  MDB_val k = Val(key), v = Val(id.bytes.data(), 16);
  rc = mdb_put(txn, dbi_, &k, &v, 0);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  return rc == 0 ? Status::OK() : LmdbStatus(rc, "recording a producer id", dir_);
}

}  // namespace brook::node
