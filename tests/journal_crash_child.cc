// A child process for the journal's fault tests. Modes:
//
//   append <dir> <fsync|nometasync|nosync> <seed>
//     Appends batches to topic "crash" (3 partitions) from two threads until
//     killed, writing "ack <partition> <offset> <seq>\n" to stdout after each
//     acknowledged record. Payloads are CrashPayload(seq), so the parent can
//     check every acknowledged record's content.
//
//   reader <dir>
//     Opens the journal's LMDB environment directly (as another process
//     may), begins a read transaction, prints "ready" and sleeps until
//     killed: a reader slot left behind by a dead process.
//
//   diskfull <dir>
//     Limits the file size (RLIMIT_FSIZE, a full disk as the journal sees
//     it), appends until ResourceExhausted, checks every acknowledged record
//     is intact, lifts the limit, and checks appends succeed again. Exit 0 on
//     success; otherwise prints what failed on stderr and exits non-zero.
#include <lmdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "brook/journal.h"
#include "tests/crash_payload.h"

namespace {

using namespace brook;

int Fail(const std::string& what) {
  std::fprintf(stderr, "journal_crash_child: %s\n", what.c_str());
  return 2;
}

int Append(const std::string& dir, const std::string& mode, unsigned seed) {
  JournalOptions o;
  o.path = dir;
  o.initial_map_size = 1u << 20;
  o.durability = mode == "fsync"        ? Durability::kFsync
                 : mode == "nometasync" ? Durability::kNoMetaSync
                                        : Durability::kNoSync;
  std::unique_ptr<Journal> j;
  Status s = Journal::Open(o, &j);
  if (!s.ok()) return Fail(s.ToString());
  TopicConfig tc;
  tc.partitions = 3;
  s = j->CreateTopic("crash", tc);
  if (!s.ok()) return Fail(s.ToString());

  std::atomic<uint64_t> next_seq{static_cast<uint64_t>(seed) * 1000000000ull};
  std::mutex out_mu;
  auto worker = [&](unsigned wseed) {
    std::mt19937 rng(wseed);
    std::vector<std::string> payloads;
    std::vector<std::string> keys;
    std::vector<RecordInput> in;
    std::vector<RecordPosition> pos;
    for (;;) {
      const size_t n = 1 + rng() % 40;
      const uint64_t first = next_seq.fetch_add(n);
      payloads.clear();
      keys.clear();
      in.assign(n, RecordInput{});
      for (size_t i = 0; i < n; ++i) {
        payloads.push_back(brook::test::CrashPayload(first + i));
        keys.push_back("k" + std::to_string(rng() % 97));
      }
      for (size_t i = 0; i < n; ++i) {
        in[i].key = keys[i];
        in[i].payload = payloads[i];
      }
      Status st = j->Append("crash", in, &pos);
      if (!st.ok()) {
        Fail(st.ToString());
        _exit(3);
      }
      std::string lines;
      for (size_t i = 0; i < n; ++i)
        lines += "ack " + std::to_string(pos[i].partition) + " " + std::to_string(pos[i].offset) +
                 " " + std::to_string(first + i) + "\n";
      std::lock_guard<std::mutex> lk(out_mu);
      const char* p = lines.data();
      size_t left = lines.size();
      while (left > 0) {
        ssize_t w = write(1, p, left);
        if (w <= 0) _exit(4);
        p += w;
        left -= static_cast<size_t>(w);
      }
    }
  };
  std::thread a(worker, seed * 2 + 1), b(worker, seed * 2 + 2);
  a.join();
  b.join();
  return 0;
}

int DiskFull(const std::string& dir) {
  signal(SIGXFSZ, SIG_IGN);  // the write then fails with EFBIG instead of killing us
  JournalOptions o;
  o.path = dir;
  o.durability = Durability::kNoSync;
  o.initial_map_size = 1u << 20;
  std::unique_ptr<Journal> j;
  Status s = Journal::Open(o, &j);
  if (!s.ok()) return Fail(s.ToString());
  s = j->CreateTopic("full", TopicConfig{});
  if (!s.ok()) return Fail(s.ToString());

  // Leave room for a few hundred KiB beyond what exists now.
  struct rlimit lim;
  getrlimit(RLIMIT_FSIZE, &lim);
  const rlimit saved = lim;
  lim.rlim_cur = 2u << 20;
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return Fail("setrlimit failed");

  std::string payload(1000, 'x');
  std::vector<RecordInput> in(50);
  for (auto& r : in) r.payload = payload;
  std::vector<RecordPosition> pos;
  uint64_t acked = 0;
  Status last;
  for (int i = 0; i < 100000; ++i) {
    last = j->Append("full", in, &pos);
    if (!last.ok()) break;
    acked += in.size();
  }
  if (!last.IsResourceExhausted())
    return Fail("expected ResourceExhausted, got " + last.ToString());
  std::printf("full after %llu records: %s\n", static_cast<unsigned long long>(acked),
              last.ToString().c_str());
  if (acked == 0) return Fail("nothing fit before the disk was full");

  auto verify = [&](uint64_t expect) -> int {
    RecordBatch batch;
    uint64_t from = 0, seen = 0;
    for (int guard = 0; guard < 100000 && from < expect; ++guard) {
      Status rs = j->Read("full", 0, from, ReadOptions{}, &batch);
      if (!rs.ok()) return Fail("read after disk full: " + rs.ToString());
      if (batch.empty()) break;
      for (const RecordView& r : batch) {
        if (r.offset != from || r.payload != payload)
          return Fail("record damaged at " + std::to_string(from));
        ++from;
        ++seen;
      }
    }
    if (seen != expect)
      return Fail("expected " + std::to_string(expect) + " records, read " + std::to_string(seen));
    return 0;
  };
  if (int rc = verify(acked)) return rc;
  // Still full: appends keep failing cleanly.
  last = j->Append("full", in, &pos);
  if (!last.IsResourceExhausted())
    return Fail("second append: expected ResourceExhausted, got " + last.ToString());

  // Room is made: the same journal accepts appends again.
  if (setrlimit(RLIMIT_FSIZE, &saved) != 0) return Fail("restoring the limit failed");
  s = j->Append("full", in, &pos);
  if (!s.ok()) return Fail("append after room was made: " + s.ToString());
  if (pos.front().offset != acked) return Fail("offsets did not continue after the full disk");
  acked += in.size();
  if (int rc = verify(acked)) return rc;
  s = j->Close();
  if (!s.ok()) return Fail(s.ToString());
  std::printf("ok %llu\n", static_cast<unsigned long long>(acked));
  return 0;
}

int Reader(const std::string& dir) {
  MDB_env* env;
  if (mdb_env_create(&env) != 0) return Fail("mdb_env_create");
  mdb_env_set_maxdbs(env, 64);
  if (int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0644)) return Fail(mdb_strerror(rc));
  MDB_txn* txn;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) return Fail(mdb_strerror(rc));
  std::printf("ready\n");
  std::fflush(stdout);
  for (int i = 0; i < 600; ++i) sleep(1);  // killed long before
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 5 && std::strcmp(argv[1], "append") == 0)
    return Append(argv[2], argv[3], static_cast<unsigned>(std::stoul(argv[4])));
  if (argc >= 3 && std::strcmp(argv[1], "diskfull") == 0) return DiskFull(argv[2]);
  if (argc >= 3 && std::strcmp(argv[1], "reader") == 0) return Reader(argv[2]);
  std::fprintf(stderr, "usage: %s append <dir> <mode> <seed> | diskfull <dir> | reader <dir>\n",
               argv[0]);
  return 64;
}
