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
