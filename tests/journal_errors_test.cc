// Every failure a user can cause or meet gets a clear Status, never a crash.
// Damage is made with LMDB's own API on a closed journal (the way a disk
// error or an outside program would change it), or with plain file writes.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mutex>
#include <thread>

#include <cstdio>
#include <fstream>

#include "journal/journal_format.h"
#include "node/position_store.h"
#include "tests/raw_lmdb.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

Status TryOpen(const JournalOptions& o) {
  std::unique_ptr<Journal> j;
  Status s = Journal::Open(o, &j);
  if (s.ok()) CHECK(j != nullptr);
  return s;
}

}  // namespace

TEST_CASE("bad options are refused with a message naming the field", "[journal][errors]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.path.clear();
  CHECK(TryOpen(o).ToString().find("path") != std::string::npos);
  o = TestOptions(dir.path());
  o.max_map_size = o.initial_map_size - 1;
  CHECK(TryOpen(o).IsInvalidArgument());
  CHECK(TryOpen(o).ToString().find("max_map_size") != std::string::npos);
  o = TestOptions(dir.path());
  o.max_partitions = 0;
  CHECK(TryOpen(o).ToString().find("max_partitions") != std::string::npos);
  o = TestOptions(dir.path());
  o.sync_interval = std::chrono::milliseconds(0);
  CHECK(TryOpen(o).ToString().find("sync_interval") != std::string::npos);
}

TEST_CASE("opening without create_if_missing finds nothing to open", "[journal][errors]") {
  TempDir dir;
  auto o = TestOptions(dir.Sub("absent"));
  o.create_if_missing = false;
  CHECK(TryOpen(o).IsNotFound());
  o.path = dir.path();  // exists, but empty
  CHECK(TryOpen(o).IsNotFound());
}

TEST_CASE("a path that is a file or a directory of other things is refused", "[journal][errors]") {
  TempDir dir;
  WriteFile(dir.Sub("file"), "hello");
  Status s = TryOpen(TestOptions(dir.Sub("file")));
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("not a directory") != std::string::npos);
  // dir now holds "file": not a journal, and brook will not scribble in it.
  s = TryOpen(TestOptions(dir.path()));
  CHECK(s.IsFailedPrecondition());
  CHECK(s.ToString().find("not empty") != std::string::npos);
}

TEST_CASE("a journal can be open only once at a time", "[journal][errors]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  Status s = TryOpen(TestOptions(dir.path()));
  CHECK(s.IsFailedPrecondition());
  CHECK(s.ToString().find("already open") != std::string::npos);
  REQUIRE_OK(j->Close());
  CHECK_OK(TryOpen(TestOptions(dir.path())));
}

TEST_CASE("a journal from a newer format version is refused, not misread", "[journal][errors]") {
  TempDir dir;
  OpenJournal(TestOptions(dir.path()));  // create and close
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, journal::kMetaDb, 0, &dbi) == 0);
    char v[4];
    journal::PutU32BE(v, Journal::kFormatVersion + 1);
    MDB_val k{journal::kMetaFormatVersion.size(),
              const_cast<char*>(journal::kMetaFormatVersion.data())};
    MDB_val val{4, v};
    REQUIRE(mdb_put(txn, dbi, &k, &val, 0) == 0);
  });
  Status s = TryOpen(TestOptions(dir.path()));
  CHECK(s.IsFailedPrecondition());
  CHECK(s.ToString().find("newer") != std::string::npos);
  CHECK(s.ToString().find("format version 2") != std::string::npos);
}

TEST_CASE("an LMDB environment that is not a brook journal is refused", "[journal][errors]") {
  TempDir dir;
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
    MDB_val k{3, const_cast<char*>("key")}, v{5, const_cast<char*>("value")};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  });
  Status s = TryOpen(TestOptions(dir.path()));
  CHECK(s.IsFailedPrecondition());
  CHECK(s.ToString().find("not a brook journal") != std::string::npos);
}

TEST_CASE("garbage and truncated journal files give an error, not a crash", "[journal][errors]") {
  SECTION("random bytes") {
    TempDir dir;
    std::string junk(64 * 1024, '\0');
    uint32_t x = 12345;
    for (auto& c : junk) {
      x = x * 1103515245 + 12345;
      c = static_cast<char>(x >> 16);
    }
    WriteFile(dir.Sub("data.mdb"), junk);
    Status s = TryOpen(TestOptions(dir.path()));
    INFO(s.ToString());
    CHECK_FALSE(s.ok());
    CHECK(s.IsDataLoss());
  }
  SECTION("a text file named data.mdb") {
    TempDir dir;
    WriteFile(dir.Sub("data.mdb"), "this is not a database\n");
    Status s = TryOpen(TestOptions(dir.path()));
    INFO(s.ToString());
    CHECK_FALSE(s.ok());
  }
  SECTION("a journal truncated to its first page") {
    TempDir dir;
    {
      auto j = OpenJournal(TestOptions(dir.path()));
      REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
      AppendPayloads(j.get(), "t", std::vector<std::string>(2000, std::string(100, 'x')));
    }
    REQUIRE(truncate(dir.Sub("data.mdb").c_str(), 4096) == 0);
    Status s = TryOpen(TestOptions(dir.path()));
    INFO(s.ToString());
    CHECK_FALSE(s.ok());
  }
}

TEST_CASE("a flipped byte in a stored record is caught by its checksum and never served",
          "[journal][errors]") {
  TempDir dir;
  {
    auto j = OpenJournal(TestOptions(dir.path()));
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    std::vector<std::string> payloads;
    for (int i = 0; i < 10; ++i) payloads.push_back("payload number " + std::to_string(i));
    AppendPayloads(j.get(), "t", payloads);
  }
  DamageStoredRecord(dir.path(), "t", 0, 5, 8, 0x04);  // a payload byte of offset 5
  auto j = OpenJournal(TestOptions(dir.path()));
  RecordBatch b;
  // A read from before the damage stops just before it.
  REQUIRE_OK(j->Read("t", 0, 0, ReadOptions{}, &b));
  REQUIRE(b.size() == 5);
  CHECK(b.records().back().offset == 4);
  // A read of the damaged record reports DataLoss naming it.
  Status s = j->Read("t", 0, 5, ReadOptions{}, &b);
  CHECK(s.IsDataLoss());
  CHECK(s.ToString().find("record 5 of t/0") != std::string::npos);
  CHECK(s.ToString().find("checksum mismatch") != std::string::npos);
  CHECK(b.empty());
  // Records after it are still served.
  REQUIRE_OK(j->Read("t", 0, 6, ReadOptions{}, &b));
  CHECK(b.size() == 4);
  // Scan behaves the same way.
  std::vector<uint64_t> visited;
  auto visit = [&](const RecordView& r) {
    visited.push_back(r.offset);
    return true;
  };
  REQUIRE_OK(j->Scan("t", 0, 0, ReadOptions{}, visit));
  CHECK(visited == std::vector<uint64_t>{0, 1, 2, 3, 4});
  visited.clear();
  s = j->Scan("t", 0, 5, ReadOptions{}, visit);
  CHECK(s.IsDataLoss());
  CHECK(s.ToString().find("record 5 of t/0") != std::string::npos);
  CHECK(visited.empty());
}

TEST_CASE("a journal whose data.mdb was emptied or deleted is refused, not started afresh",
          "[journal][errors]") {
  TempDir dir;
  {
    auto j = OpenJournal(TestOptions(dir.path()));
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    AppendPayloads(j.get(), "t", {"a", "b", "c"});
  }
  const std::string data = dir.path() + "/data.mdb";
  for (const bool remove : {false, true}) {
    if (remove) {
      REQUIRE(::unlink(data.c_str()) == 0);
    } else {
      REQUIRE(::truncate(data.c_str(), 0) == 0);
    }
    std::unique_ptr<Journal> j;
    Status s = Journal::Open(TestOptions(dir.path()), &j);
    INFO(s.ToString());
    CHECK(s.IsDataLoss());
    CHECK(s.ToString().find(remove ? "data.mdb is missing" : "data.mdb is empty") !=
          std::string::npos);
    CHECK(s.ToString().find("records are gone") != std::string::npos);
    CHECK(s.ToString().find("Restore data.mdb from a backup") != std::string::npos);
  }
  // Without the instance file the directory holds no journal: a new one.
  REQUIRE(::unlink((dir.path() + "/instance").c_str()) == 0);
  auto j = OpenJournal(TestOptions(dir.path()));
  CHECK(j->ListTopics().empty());
}

TEST_CASE("appends with bad input are refused before they reach the journal", "[journal][errors]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.max_record_bytes = 1000;
  auto j = OpenJournal(o);
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(j->CreateTopic("t", tc));
  std::vector<RecordPosition> pos;
  std::vector<RecordInput> in(1);
  CHECK(j->Append("missing", in, &pos).IsNotFound());
  CHECK(j->Append("t", {}, &pos).IsInvalidArgument());
  in[0].partition = 2;
  Status s = j->Append("t", in, &pos);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("partition 2 does not exist") != std::string::npos);
  in[0].partition.reset();
  std::string big(2000, 'x');
  in[0].payload = big;
  s = j->Append("t", in, &pos);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("max_record_bytes") != std::string::npos);
  in[0].payload = "ok";
  in[0].headers = {{"a", "1"}, {"a", "2"}};
  CHECK(j->Append("t", in, &pos).IsInvalidArgument());
  RecordBatch b;
  CHECK(j->Read("t", 7, 0, ReadOptions{}, &b).IsInvalidArgument());
  CHECK(j->Read("nope", 0, 0, ReadOptions{}, &b).IsNotFound());
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.high_watermark == 0);  // nothing reached the journal
}

TEST_CASE("the map grows by itself until its maximum, then appends fail cleanly and recover",
          "[journal][errors]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.initial_map_size = 1u << 20;
  o.max_map_size = 8u << 20;
  std::vector<std::string> log;
  std::mutex log_mu;
  o.logger = [&](LogLevel, std::string_view m) {
    std::lock_guard<std::mutex> lk(log_mu);
    log.emplace_back(m);
  };
  uint64_t acked = 0;
  const std::string payload(1000, 'm');
  {
    auto j = OpenJournal(o);
    TopicConfig tc;
    tc.retention.max_records = 0;
    REQUIRE_OK(j->CreateTopic("t", tc));
    std::vector<RecordInput> in(100);
    for (auto& r : in) r.payload = payload;
    std::vector<RecordPosition> pos;
    Status s;
    for (int i = 0; i < 1000; ++i) {
      s = j->Append("t", in, &pos);
      if (!s.ok()) break;
      acked += in.size();
    }
    INFO(s.ToString());
    CHECK(s.IsResourceExhausted());
    CHECK(s.ToString().find("max_map_size") != std::string::npos);
    CHECK(acked > 2000);  // it grew past the 1 MiB start
    {
      std::lock_guard<std::mutex> lk(log_mu);
      bool grew = false;
      for (auto& m : log) grew |= m.find("map grown") != std::string::npos;
      CHECK(grew);
    }
    // Nothing committed was lost or damaged.
    auto got = ReadAll(*j, "t", 0);
    REQUIRE(got.size() == acked);
    for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].payload == payload);

    // Retention makes room; appends succeed again in the same session.
    tc.retention.max_records = acked / 2;
    REQUIRE_OK(j->CreateTopic("t", tc));
    REQUIRE_OK(j->EnforceRetention());
    s = j->Append("t", in, &pos);
    INFO(s.ToString());
    REQUIRE(s.ok());
    CHECK(pos[0].offset == acked);
    acked += in.size();
  }
  // Or reopen with a larger maximum.
  o.max_map_size = 64u << 20;
  auto j = OpenJournal(o);
  std::vector<RecordPosition> pos;
  std::vector<RecordInput> in(100);
  for (auto& r : in) r.payload = payload;
  REQUIRE_OK(j->Append("t", in, &pos));
  CHECK(pos[0].offset == acked);
}

TEST_CASE("a full disk fails appends with ResourceExhausted and they resume once room is made",
          "[journal][errors]") {
  // Method: the child limits its own file size with RLIMIT_FSIZE, which makes
  // the kernel fail the journal's writes (EFBIG) exactly where a full disk
  // would (ENOSPC): at the commit's page writes. It checks every acknowledged
  // record, lifts the limit and appends again. A child keeps the limit out of
  // this process.
  TempDir dir;
  std::string cmd = std::string(BROOK_CRASH_CHILD) + " diskfull " + dir.Sub("j") + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(out.find("ResourceExhausted") != std::string::npos);
  CHECK(out.find("ok ") != std::string::npos);
}

namespace {

// Runs fn() in a child process and returns its exit code, or -(signal) if a
// signal killed it: a crash (SIGBUS) fails the test instead of the runner.
template <typename Fn>
int InChild(Fn fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace

TEST_CASE("a journal cut short in the middle gives an error or intact records, never a crash",
          "[journal][errors]") {
  // The meta page then counts pages beyond the file's end, and a mapped page
  // beyond the end of its file kills whoever touches it (SIGBUS): the open
  // extends the file with zeros, which read as damage.
  for (const bool aligned : {true, false}) {
    TempDir dir;
    {
      auto j = OpenJournal(TestOptions(dir.path()));
      TopicConfig tc;
      tc.partitions = 2;
      REQUIRE_OK(j->CreateTopic("t", tc));
      for (uint32_t p = 0; p < 2; ++p)
        AppendPayloads(j.get(), "t", std::vector<std::string>(3000, std::string(100, 'x')), p);
    }
    struct stat st;
    REQUIRE(stat(dir.Sub("data.mdb").c_str(), &st) == 0);
    for (const double fraction : {0.9, 0.5, 0.2}) {
      off_t len = static_cast<off_t>(static_cast<double>(st.st_size) * fraction);
      if (aligned) len -= len % 4096;
      REQUIRE(truncate(dir.Sub("data.mdb").c_str(), len) == 0);
      INFO("truncated to " << len << " of " << st.st_size << " bytes");
      // 0: refused with DataLoss; 1: opened, every read intact or DataLoss; 2: other.
      const int rc = InChild([&] {
        std::unique_ptr<Journal> j;
        Status s = Journal::Open(TestOptions(dir.path()), &j);
        if (!s.ok()) return s.IsDataLoss() ? 0 : 2;
        for (uint32_t p = 0; p < 2; ++p) {
          RecordBatch b;
          for (uint64_t at = 0; at < 3000;) {
            s = j->Read("t", p, at, ReadOptions{}, &b);
            if (s.IsDataLoss() || (s.ok() && b.empty())) {
              ++at;  // damaged (or gone): the next one
              continue;
            }
            if (!s.ok()) return 2;
            for (const RecordView& r : b)
              if (r.payload != std::string(100, 'x') || r.offset != at++) return 2;
          }
        }
        return 1;
      });
      CHECK((rc == 0 || rc == 1));
    }
  }
}

TEST_CASE("reader slots of processes that died inside a read are reclaimed when the table is full",
          "[journal][errors]") {
  // LMDB's reader table (lock.mdb, 512 slots) is shared by every process
  // that opens the journal, readers beside its owner included (brook
  // journal, mdb_copy). A process killed inside a read transaction keeps
  // its slot: once they hold every slot, each read of the owner failed with
  // ResourceExhausted until it was restarted.
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  AppendPayloads(j.get(), "t", {"a", "b", "c"});
  // 0: died holding a read transaction; 3: the table was full.
  auto die_reading = [&] {
    return InChild([&] {
      MDB_env* env = nullptr;
      MDB_txn* txn = nullptr;
      int rc = mdb_env_create(&env);
      if (rc == 0) rc = mdb_env_set_maxdbs(env, 64);
      if (rc == 0) rc = mdb_env_open(env, dir.path().c_str(), MDB_RDONLY | MDB_NOTLS, 0644);
      if (rc == 0) rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
      return rc == 0 ? 0 : rc == MDB_READERS_FULL ? 3 : 2;  // exits holding it
    });
  };
  int held = 0, full = 0;
  for (int i = 0; i < 530; ++i) {
    const int rc = die_reading();
    REQUIRE((rc == 0 || rc == 3));
    (rc == 0 ? held : full) += 1;
  }
  CHECK(held == 512);
  CHECK(full == 530 - 512);
  // The owner clears the dead readers' slots and reads on.
  RecordBatch b;
  REQUIRE_OK(j->Read("t", 0, 0, ReadOptions{}, &b));
  CHECK(b.size() == 3);
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.high_watermark == 3);
  // And new readers find slots again.
  CHECK(die_reading() == 0);
}

TEST_CASE("a consumer's damaged position store is an error naming its directory, not a crash",
          "[consumer][errors]") {
  TempDir dir;
  const std::string state = dir.Sub("state");
  {
    std::unique_ptr<node::PositionStore> s;
    REQUIRE_OK(node::PositionStore::Open(state, "c", &s));
    std::vector<node::PositionStore::Entry> entries;
    for (uint32_t p = 0; p < 300; ++p) {
      node::PositionStore::Entry e;
      e.stream.topic = "topic-with-a-longer-name";
      e.stream.partition = p;
      e.position = node::PositionStore::Position{p * 10ull, 1};
      entries.push_back(e);
    }
    REQUIRE_OK(s->Put(entries));
  }
  struct stat st;
  REQUIRE(stat((state + "/data.mdb").c_str(), &st) == 0);
  REQUIRE(st.st_size > 4 * 4096);
  // Cut short: the pages its trees point at beyond the end read as damage.
  REQUIRE(truncate((state + "/data.mdb").c_str(), st.st_size / 2 + 100) == 0);
  const int rc = InChild([&] {
    std::unique_ptr<node::PositionStore> s;
    Status o = node::PositionStore::Open(state, "c", &s);
    if (!o.ok()) return o.ToString().find(state) != std::string::npos ? 0 : 2;
    StreamId id;
    id.topic = "topic-with-a-longer-name";
    for (uint32_t p = 0; p < 300; ++p) {
      id.partition = p;
      auto at = s->Get(id);
      if (at && at->next != p * 10ull) return 2;  // a wrong position, never
    }
    return 1;
  });
  CHECK((rc == 0 || rc == 1));
  // Not an LMDB file at all: DataLoss saying it is the consumer's state and
  // what to do, not a journal's advice.
  WriteFile(state + "/data.mdb", std::string(64 * 1024, 'z'));
  std::remove((state + "/lock.mdb").c_str());
  std::unique_ptr<node::PositionStore> s;
  Status o = node::PositionStore::Open(state, "c", &s);
  INFO(o.ToString());
  CHECK(o.IsDataLoss());
  CHECK(o.ToString().find("consumer state directory " + state) != std::string::npos);
  CHECK(o.ToString().find("move it aside") != std::string::npos);
  CHECK(o.ToString().find("journal") == std::string::npos);
}

TEST_CASE("retention makes room at the maximum map even after small appends took every page",
          "[journal][errors]") {
  // Small appends fill the map to its last page; deleting records needs a few
  // pages too (LMDB copies what it changes), so without a reserve that
  // appends may not take, retention failed with MDB_MAP_FULL for ever and
  // only a larger maximum could make room.
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.initial_map_size = 1u << 20;
  o.max_map_size = 2u << 20;
  auto j = OpenJournal(o);
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(j->CreateTopic("t", tc));
  const std::string payload(60, 's');
  std::vector<RecordInput> one(1);
  one[0].payload = payload;
  std::vector<RecordPosition> pos;
  uint64_t acked = 0;
  Status s;
  for (int i = 0; i < 100000; ++i) {
    one[0].partition = static_cast<uint32_t>(i % 2);
    s = j->Append("t", one, &pos);
    if (!s.ok()) break;
    ++acked;
  }
  INFO(s.ToString());
  REQUIRE(s.IsResourceExhausted());
  CHECK(s.ToString().find("max_map_size") != std::string::npos);
  // A few more small appends at the top: none may take the last pages.
  for (int i = 0; i < 100; ++i) CHECK(j->Append("t", one, &pos).IsResourceExhausted());
  Watermarks before;
  REQUIRE_OK(j->GetWatermarks("t", 0, &before));
  tc.retention.max_records = acked / 4;
  REQUIRE_OK(j->CreateTopic("t", tc));
  REQUIRE_OK(j->EnforceRetention());
  for (int i = 0; i < 100; ++i) {
    one[0].partition = static_cast<uint32_t>(i % 2);
    REQUIRE_OK(j->Append("t", one, &pos));
  }
  Watermarks after;
  REQUIRE_OK(j->GetWatermarks("t", 0, &after));
  CHECK(after.high_watermark == before.high_watermark + 50);
  CHECK(after.low_watermark > before.low_watermark);
  const auto kept = ReadAll(*j, "t", 0, after.low_watermark);
  REQUIRE(kept.size() == after.high_watermark - after.low_watermark);
  CHECK(kept.back().payload == payload);
}

TEST_CASE("a refused open leaves the journal as it found it, a crashed epoch included",
          "[journal][errors]") {
  // The open failed after LMDB had the file open, and the destructor's Close
  // marked the epoch as cleanly closed: the next open then recorded no epoch
  // start, so consumers could not learn of a tail a crash had undone (and a
  // damaged journal was written to while being refused).
  TempDir dir;
  {
    auto j = OpenJournal(TestOptions(dir.path()));
    TopicConfig tc;
    tc.partitions = 4;
    REQUIRE_OK(j->CreateTopic("t", tc));
    AppendPayloads(j.get(), "t", {"a", "b"});
  }
  auto clean_close = [&](const char* set) {
    char flag = 0;
    WithRawLmdb(dir.path(), [&](MDB_txn* txn) {
      MDB_dbi dbi;
      REQUIRE(mdb_dbi_open(txn, journal::kMetaDb, 0, &dbi) == 0);
      MDB_val k{journal::kMetaCleanClose.size(),
                const_cast<char*>(journal::kMetaCleanClose.data())};
      MDB_val v{1, const_cast<char*>(set)};
      if (set) REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
      REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
      flag = static_cast<const char*>(v.mv_data)[0];
    });
    return flag;
  };
  REQUIRE(clean_close("\0") == 0);  // as if the process had crashed
  auto o = TestOptions(dir.path());
  o.max_partitions = 2;  // it holds 4: refused after LMDB opened the file
  Status s = TryOpen(o);
  CHECK(s.IsInvalidArgument());
  CHECK(clean_close(nullptr) == 0);
}
