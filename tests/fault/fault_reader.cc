// A reader process for the fault suite's reader_slots round (tests/fault/):
// opens a journal read-only beside the producer that owns it, as `brook
// journal stats` does (a second brook::Journal cannot open it: the owner
// holds brook.lock), starts read transactions, reads the producer id in the
// first and holds them all, each taking one slot of LMDB's reader table
// (MDB_NOTLS: a transaction per slot), until it is killed:
//
//   fault_reader --journal DIR [--transactions N] [--hold-ms MS]
//
// It tells the harness one line:
//
//   ready HEX K      K >= 1 transactions are open (fewer than N: the reader
//                    table filled up); HEX: the producer id read
//   full message     LMDB's reader table has no free slot (exit 3)
//   error message    anything else (exit 2)
//
// It holds the transactions for --hold-ms (default 60,000) and then exits
// 0; it dies with its parent.
#include <lmdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "journal/journal_format.h"
#include "journal/lmdb_error.h"
#include "journal/lmdb_val.h"
#include "tests/fault/child_args.h"

namespace {

void Say(const std::string& line) {
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
}

[[noreturn]] void Fail(int rc, const std::string& what, const std::string& path) {
  const std::string s = brook::journal::LmdbStatus(rc, what, path).ToString();
  Say((rc == MDB_READERS_FULL ? "full " : "error ") + s + "\n");
  _exit(rc == MDB_READERS_FULL ? 3 : 2);
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 4;
  brook::fault::ChildArgs args;
  std::string err;
  if (!args.Parse(argc, argv, &err) || args.Str("journal").empty()) {
    Say("error usage: fault_reader --journal DIR [--hold-ms MS]" + (err.empty() ? "" : ": " + err) +
        "\n");
    return 2;
  }
  const std::string path = args.Str("journal");
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) Fail(rc, "creating the environment", path);
  // As the producer sets them (journal_impl.cc); the lock file keeps the first.
  mdb_env_set_maxdbs(env, 65000 + brook::journal::kMetadataDbCount);
  mdb_env_set_maxreaders(env, 512);
  rc = mdb_env_open(env, path.c_str(), MDB_RDONLY | MDB_NOTLS, 0644);
  if (rc != 0) Fail(rc, "opening the environment read-only", path);
  MDB_txn* txn = nullptr;
  // The producer may grow the file past the map read at open: adopt its size
  // (no transaction of ours is open) and retry, as `brook journal` does.
  for (int attempt = 0; attempt < 8; ++attempt) {
    rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    if (rc != MDB_MAP_RESIZED || mdb_env_set_mapsize(env, 0) != 0) break;
  }
  if (rc != 0) Fail(rc, "starting a read transaction", path);
  const uint64_t wanted =
      std::max<uint64_t>(1, std::min<uint64_t>(args.U64("transactions", 1), 4096));
  std::vector<MDB_txn*> more;
  while (1 + more.size() < wanted) {
    MDB_txn* t = nullptr;
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) != 0) break;  // full (or resized): enough
    more.push_back(t);
  }
  MDB_dbi meta;
  rc = mdb_dbi_open(txn, brook::journal::kMetaDb, 0, &meta);
  if (rc != 0) Fail(rc, "opening the metadata", path);
  MDB_val k = brook::journal::Val(brook::journal::kMetaProducerId), v;
  rc = mdb_get(txn, meta, &k, &v);
  if (rc != 0) Fail(rc, "reading the producer id", path);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < v.mv_size; ++i) {
    const auto b = static_cast<const unsigned char*>(v.mv_data)[i];
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  Say("ready " + hex + " " + std::to_string(1 + more.size()) + "\n");
  // Holds the transaction (and its reader slot) until killed.
  std::this_thread::sleep_for(std::chrono::milliseconds(args.U64("hold-ms", 60000)));
  for (MDB_txn* t : more) mdb_txn_abort(t);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return 0;
}
