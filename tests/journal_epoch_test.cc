// The epoch history: where what a reader saw under an old epoch ends, after
// clean closes and after crashes. Method for a crash in a weak durability
// mode: a copy of the data file taken while the journal is open and synced
// is what a power loss leaves (the epoch not closed cleanly, later commits
// gone).
#include <lmdb.h>

#include <cstring>
#include <filesystem>

#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {

// Copies the journal's files (not its lock file) from `from` to `to`.
void Snapshot(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const auto& f : std::filesystem::directory_iterator(from))
    if (f.path().filename() != "lock.mdb")
      std::filesystem::copy(f.path(), to + "/" + f.path().filename().string(),
                            std::filesystem::copy_options::overwrite_existing);
}

uint64_t EpochEndOf(const Journal& j, uint64_t epoch) {
  uint64_t end = 0;
  Status s = j.EpochEnd("t", 0, epoch, &end);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return end;
}

std::vector<std::string> Payloads(int n) { return std::vector<std::string>(n, "x"); }

}  // namespace

TEST_CASE("after clean closes nothing read under an old epoch is undone", "[journal][epoch]") {
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"));
  {
    auto j = OpenJournal(opts);
    REQUIRE(j->epoch() == 1);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    AppendPayloads(j.get(), "t", Payloads(10));
    CHECK(EpochEndOf(*j, 1) == 10);  // the current epoch: the high watermark
    REQUIRE_OK(j->Close());
  }
  auto j = OpenJournal(opts);
  REQUIRE(j->epoch() == 2);
  AppendPayloads(j.get(), "t", Payloads(5));
  CHECK(EpochEndOf(*j, 1) == 15);
  CHECK(EpochEndOf(*j, 2) == 15);
}

TEST_CASE("a crash that undid records is found from every earlier epoch", "[journal][epoch]") {
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"), Durability::kNoSync);
  {
    auto j = OpenJournal(opts);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    AppendPayloads(j.get(), "t", Payloads(10));
    REQUIRE_OK(j->Sync());
    Snapshot(dir.Sub("j"), dir.Sub("lost-after-10"));
    AppendPayloads(j.get(), "t", Payloads(10));  // offsets 10..19, read by someone, then lost
    REQUIRE_OK(j->Close());
  }
  std::filesystem::remove_all(dir.Sub("j"));
  std::filesystem::rename(dir.Sub("lost-after-10"), dir.Sub("j"));
  {
    auto j = OpenJournal(opts);  // epoch 2 starts at 10 after an unclean end
    REQUIRE(j->epoch() == 2);
    CHECK(EpochEndOf(*j, 1) == 10);
    CHECK(EpochEndOf(*j, 0) == 10);
    AppendPayloads(j.get(), "t", Payloads(15));  // 10..24 under epoch 2
    CHECK(EpochEndOf(*j, 1) == 10);
    CHECK(EpochEndOf(*j, 2) == 25);
    REQUIRE_OK(j->Sync());
    Snapshot(dir.Sub("j"), dir.Sub("lost-after-25"));
    AppendPayloads(j.get(), "t", Payloads(5));  // 25..29, lost next
    REQUIRE_OK(j->Close());
  }
  std::filesystem::remove_all(dir.Sub("j"));
  std::filesystem::rename(dir.Sub("lost-after-25"), dir.Sub("j"));
  {
    auto j = OpenJournal(opts);  // epoch 3 starts at 25
    REQUIRE(j->epoch() == 3);
    CHECK(EpochEndOf(*j, 1) == 10);
    CHECK(EpochEndOf(*j, 2) == 25);
    CHECK(EpochEndOf(*j, 3) == 25);
    AppendPayloads(j.get(), "t", Payloads(1));
    CHECK(EpochEndOf(*j, 3) == 26);
    REQUIRE_OK(j->Sync());
    Snapshot(dir.Sub("j"), dir.Sub("lost-all-of-3"));
    REQUIRE_OK(j->Close());
  }
  // A crash that leaves less than an earlier epoch's start: that entry says
  // nothing more, and the lower start answers for every earlier epoch.
  std::filesystem::remove_all(dir.Sub("j"));
  Snapshot(dir.Sub("lost-all-of-3"), dir.Sub("j"));
  {
    auto j = OpenJournal(opts);  // epoch 4 starts at 26
    CHECK(EpochEndOf(*j, 3) == 26);
    CHECK(EpochEndOf(*j, 1) == 10);
  }
}

TEST_CASE("the epoch history of a partition stays bounded", "[journal][epoch]") {
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"), Durability::kNoSync);
  {
    auto j = OpenJournal(opts);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  }
  // Each round: open uncleanly (a copy taken while open), append one record.
  for (int round = 0; round < 300; ++round) {
    auto j = OpenJournal(opts);
    AppendPayloads(j.get(), "t", Payloads(1));
    REQUIRE_OK(j->Sync());
    Snapshot(dir.Sub("j"), dir.Sub("crashed"));
    REQUIRE_OK(j->Close());
    std::filesystem::remove_all(dir.Sub("j"));
    std::filesystem::rename(dir.Sub("crashed"), dir.Sub("j"));
  }
  auto j = OpenJournal(opts);
  // Only nothing was lost in these crashes: every epoch's end is where the
  // next one began, and the history kept the newest 256 epochs.
  const uint64_t e = j->epoch();
  CHECK(EpochEndOf(*j, e - 1) == 300);
  CHECK(EpochEndOf(*j, e - 100) == 300 - 99);
  CHECK(EpochEndOf(*j, e - 250) == 300 - 249);
  REQUIRE_OK(j->Close());

  // Count the entries, reading the file with LMDB itself.
  MDB_env* env;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 8);
  REQUIRE(mdb_env_open(env, dir.Sub("j").c_str(), MDB_RDONLY, 0644) == 0);
  MDB_txn* txn;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, "brook.meta", 0, &dbi) == 0);
  MDB_cursor* cur;
  REQUIRE(mdb_cursor_open(txn, dbi, &cur) == 0);
  MDB_val k, v;
  size_t entries = 0;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    if (k.mv_size > 2 && std::memcmp(k.mv_data, "e:", 2) == 0) ++entries;
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  CHECK(entries == 256);
}

// A backup is data.mdb alone (mdb_copy writes only that): restored in place
// of a journal that went on after the copy, or into an empty directory.
TEST_CASE("a journal restored from a backup tells readers of the records it lacks",
          "[journal][epoch]") {
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"));
  std::vector<std::string> warnings;
  opts.logger = [&](LogLevel level, std::string_view msg) {
    if (level == LogLevel::kWarning) warnings.emplace_back(msg);
  };
  uint64_t copy_epoch = 0, later_epoch = 0;
  {
    auto j = OpenJournal(opts);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    AppendPayloads(j.get(), "t", Payloads(100));
    copy_epoch = j->epoch();
    REQUIRE_OK(j->Close());
  }
  std::filesystem::create_directories(dir.Sub("backup"));
  std::filesystem::copy(dir.Sub("j") + "/data.mdb", dir.Sub("backup") + "/data.mdb");
  {
    auto j = OpenJournal(opts);  // the producer goes on: a clean reopen, no jump
    later_epoch = j->epoch();
    CHECK(later_epoch == copy_epoch + 1);
    AppendPayloads(j.get(), "t", Payloads(100));  // 100..199, read by a consumer
    REQUIRE_OK(j->Close());
  }
  CHECK(warnings.empty());

  SECTION("restored in place: the instance file stays, and no longer matches") {
    std::filesystem::copy(dir.Sub("backup") + "/data.mdb", dir.Sub("j") + "/data.mdb",
                          std::filesystem::copy_options::overwrite_existing);
  }
  SECTION("restored into an empty directory: no instance file") {
    std::filesystem::remove_all(dir.Sub("j"));
    std::filesystem::create_directories(dir.Sub("j"));
    std::filesystem::copy(dir.Sub("backup") + "/data.mdb", dir.Sub("j") + "/data.mdb");
  }
  auto j = OpenJournal(opts);
  CHECK(j->epoch() >= copy_epoch + (uint64_t{1} << 32));
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("restored backup") != std::string::npos);
  // A reader that read 100..199 under the later epoch learns they are gone,
  // even once the restored journal has written past 200.
  CHECK(EpochEndOf(*j, later_epoch) == 100);
  AppendPayloads(j.get(), "t", Payloads(150));
  CHECK(EpochEndOf(*j, later_epoch) == 100);
  CHECK(EpochEndOf(*j, copy_epoch) == 100);
  CHECK(EpochEndOf(*j, j->epoch()) == 250);
  REQUIRE_OK(j->Close());
  // And the next open is an ordinary one.
  const uint64_t restored_epoch = j->epoch();
  auto again = OpenJournal(opts);
  CHECK(again->epoch() == restored_epoch + 1);
  CHECK(warnings.size() == 1);
}

TEST_CASE("a journal copied whole, or one that lost only its instance file, loses nothing",
          "[journal][epoch]") {
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"));
  uint64_t epoch = 0;
  {
    auto j = OpenJournal(opts);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    AppendPayloads(j.get(), "t", Payloads(40));
    epoch = j->epoch();
    REQUIRE_OK(j->Close());
  }
  SECTION("the instance file lost (or a crash before it was written)") {
    std::filesystem::remove(dir.Sub("j") + "/instance");
    auto j = OpenJournal(opts);
    CHECK(j->epoch() > epoch + 1);       // taken for a copy: the harmless jump
    CHECK(EpochEndOf(*j, epoch) == 40);  // nothing reported lost
  }
  SECTION("moved with its instance file (cp -a, or mdb_copy then the file)") {
    Snapshot(dir.Sub("j"), dir.Sub("moved"));
    auto moved = opts;
    moved.path = dir.Sub("moved");
    auto j = OpenJournal(moved);
    CHECK(j->epoch() == epoch + 1);
    CHECK(EpochEndOf(*j, epoch) == 40);
  }
}

TEST_CASE("a journal larger than initial_map_size opens when its file is full to the end",
          "[journal][epoch]") {
  // Found by the 10-minute soak: a 299 MB journal whose file held no free
  // page was mapped at exactly the file's length on reopen, and the open's
  // own transaction (the new epoch) failed with MDB_MAP_FULL, 16 GiB short
  // of max_map_size. A compacted copy (mdb_copy -c, as docs/OPERATIONS.md
  // suggests for making a journal smaller) is such a file.
  TempDir dir;
  auto opts = TestOptions(dir.Sub("j"), Durability::kNoSync);
  opts.initial_map_size = 1u << 20;
  opts.max_map_size = 1ull << 30;
  {
    auto j = OpenJournal(opts);
    REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
    const std::string payload(1000, 'x');
    for (int b = 0; b < 16; ++b)
      AppendPayloads(j.get(), "t", std::vector<std::string>(500, payload));
    REQUIRE_OK(j->Close());
  }
  std::filesystem::create_directories(dir.Sub("compact"));
  MDB_env* env;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 16);
  mdb_env_set_mapsize(env, 1ull << 30);
  REQUIRE(mdb_env_open(env, dir.Sub("j").c_str(), MDB_RDONLY, 0644) == 0);
  REQUIRE(mdb_env_copy2(env, dir.Sub("compact").c_str(), MDB_CP_COMPACT) == 0);
  mdb_env_close(env);
  REQUIRE(std::filesystem::file_size(dir.Sub("compact") + "/data.mdb") > 4u << 20);

  auto copy = opts;
  copy.path = dir.Sub("compact");
  auto j = OpenJournal(copy);  // failed with MDB_MAP_FULL
  CHECK(EpochEndOf(*j, j->epoch()) == 16 * 500);
  AppendPayloads(j.get(), "t", Payloads(10));
  CHECK(EpochEndOf(*j, j->epoch()) == 16 * 500 + 10);
}
