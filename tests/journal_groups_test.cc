// Consumer group positions in the journal (brook.groups): committed, read
// back, listed, validated, durable across a reopen, and compatible both ways
// with journals and brooks from before the database existed.
#include <lmdb.h>

#include <string>
#include <vector>

#include "journal/journal_format.h"
#include "tests/raw_lmdb.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {

GroupPosition Pos(const std::string& topic, uint32_t partition, uint64_t next, uint64_t epoch,
                  int64_t committed_ns = 0) {
  GroupPosition p;
  p.topic = topic;
  p.partition = partition;
  p.next = next;
  p.epoch = epoch;
  p.committed_ns = committed_ns;
  return p;
}

std::unique_ptr<Journal> JournalWithTopics(const JournalOptions& o) {
  auto j = OpenJournal(o);
  TopicConfig tc;
  tc.partitions = 4;
  REQUIRE_OK(j->CreateTopic("orders", tc));
  tc.partitions = 2;
  REQUIRE_OK(j->CreateTopic("audit", tc));
  return j;
}

}  // namespace

TEST_CASE("group positions are committed, read back per group and per stream, and listed",
          "[journal][groups]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  int64_t clock = 1'700'000'000'000'000'000;
  o.clock = [&clock] { return clock; };
  auto j = JournalWithTopics(o);

  std::vector<GroupPosition> got;
  REQUIRE_OK(j->GetGroupPositions("billing", &got));
  CHECK(got.empty());  // a group with no positions is not an error
  GroupPosition one;
  CHECK(j->GetGroupPosition("billing", "orders", 0, &one).IsNotFound());
  std::vector<std::string> groups;
  REQUIRE_OK(j->ListGroups(&groups));
  CHECK(groups.empty());

  // committed_ns 0 is stamped with the journal's clock; a given one is kept.
  REQUIRE_OK(j->CommitGroupPositions(
      "billing", {Pos("orders", 3, 30, 1), Pos("orders", 0, 10, 1), Pos("audit", 1, 7, 2, 42)}));
  // Names that are prefixes of each other, and bytes above ASCII, stay apart.
  REQUIRE_OK(j->CommitGroupPositions("bill", {Pos("orders", 0, 1, 1)}));
  REQUIRE_OK(j->CommitGroupPositions("billing2", {Pos("orders", 0, 2, 1)}));
  REQUIRE_OK(j->CommitGroupPositions("fakturering-\xc3\xa5r", {Pos("orders", 1, 3, 1)}));
  REQUIRE_OK(j->CommitGroupPositions("billing", {}));  // nothing: OK, writes nothing

  REQUIRE_OK(j->GetGroupPositions("billing", &got));
  REQUIRE(got.size() == 3);  // ordered by topic, then partition
  CHECK(got[0].topic == "audit");
  CHECK(got[0].partition == 1);
  CHECK(got[0].next == 7);
  CHECK(got[0].epoch == 2);
  CHECK(got[0].committed_ns == 42);
  CHECK(got[1].topic == "orders");
  CHECK(got[1].partition == 0);
  CHECK(got[1].next == 10);
  CHECK(got[1].committed_ns == clock);
  CHECK(got[2].partition == 3);
  CHECK(got[2].next == 30);

  REQUIRE_OK(j->GetGroupPosition("billing", "orders", 3, &one));
  CHECK(one.topic == "orders");
  CHECK(one.partition == 3);
  CHECK(one.next == 30);
  CHECK(one.epoch == 1);
  CHECK(j->GetGroupPosition("billing", "orders", 2, &one).IsNotFound());
  CHECK(j->GetGroupPosition("billing", "orders", 2, &one).ToString().find("billing") !=
        std::string::npos);

  REQUIRE_OK(j->ListGroups(&groups));
  CHECK(groups == std::vector<std::string>{"bill", "billing", "billing2", "fakturering-\xc3\xa5r"});
  REQUIRE_OK(j->GetGroupPositions("bill", &got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].next == 1);

  // A later commit replaces the stream's position and leaves the others.
  clock += 5;
  REQUIRE_OK(j->CommitGroupPositions("billing", {Pos("orders", 0, 11, 3)}));
  REQUIRE_OK(j->GetGroupPosition("billing", "orders", 0, &one));
  CHECK(one.next == 11);
  CHECK(one.epoch == 3);
  CHECK(one.committed_ns == clock);
  REQUIRE_OK(j->GetGroupPositions("billing", &got));
  CHECK(got.size() == 3);
}

TEST_CASE("group positions survive a reopen in every durability mode", "[journal][groups]") {
  for (Durability d : {Durability::kFsync, Durability::kNoMetaSync, Durability::kNoSync}) {
    INFO(DurabilityName(d));
    TempDir dir;
    auto o = TestOptions(dir.path(), d);
    {
      auto j = JournalWithTopics(o);
      REQUIRE_OK(j->CommitGroupPositions("g", {Pos("orders", 2, 99, 1), Pos("audit", 0, 5, 1)}));
      REQUIRE_OK(j->Close());
    }
    auto j = OpenJournal(o);
    std::vector<GroupPosition> got;
    REQUIRE_OK(j->GetGroupPositions("g", &got));
    REQUIRE(got.size() == 2);
    CHECK(got[1].topic == "orders");
    CHECK(got[1].next == 99);
    CHECK(got[0].next == 5);
  }
}

TEST_CASE("group commits are validated and all or nothing", "[journal][groups]") {
  TempDir dir;
  auto j = JournalWithTopics(TestOptions(dir.path()));
  auto commit = [&](std::string_view group, const std::vector<GroupPosition>& p) {
    return j->CommitGroupPositions(group, p);
  };
  Status s = commit("", {Pos("orders", 0, 1, 1)});
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("empty") != std::string::npos);
  s = commit(std::string(256, 'g'), {Pos("orders", 0, 1, 1)});
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("255") != std::string::npos);
  CHECK_OK(commit(std::string(255, 'g'), {Pos("orders", 0, 1, 1)}));
  for (const std::string& bad :
       {std::string("a\tb"), std::string("nul\0x", 5), std::string("del\x7f")}) {
    s = commit(bad, {Pos("orders", 0, 1, 1)});
    CHECK(s.IsInvalidArgument());
    CHECK(s.ToString().find("control character") != std::string::npos);
  }
  std::vector<GroupPosition> got;
  CHECK(j->GetGroupPositions("", &got).IsInvalidArgument());
  GroupPosition one;
  CHECK(j->GetGroupPosition("a\nb", "orders", 0, &one).IsInvalidArgument());

  // One bad stream refuses the whole commit: nothing of it is stored.
  s = commit("g", {Pos("orders", 0, 1, 1), Pos("nope", 0, 1, 1)});
  CHECK(s.IsNotFound());
  CHECK(s.ToString().find("nope") != std::string::npos);
  s = commit("g", {Pos("orders", 0, 1, 1), Pos("orders", 4, 1, 1)});
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("partition 4") != std::string::npos);
  s = commit("g", {Pos("orders", 1, 1, 1), Pos("audit", 0, 1, 1), Pos("orders", 1, 2, 1)});
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("orders/1 is listed twice") != std::string::npos);
  REQUIRE_OK(j->GetGroupPositions("g", &got));
  CHECK(got.empty());

  REQUIRE_OK(j->Close());
  s = commit("g", {Pos("orders", 0, 1, 1)});
  CHECK(s.IsFailedPrecondition());
  CHECK(j->GetGroupPositions("g", &got).IsFailedPrecondition());
  std::vector<std::string> groups;
  CHECK(j->ListGroups(&groups).IsFailedPrecondition());
}

TEST_CASE("a damaged stored group position is DataLoss naming it, never a wrong position",
          "[journal][groups]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  {
    auto j = JournalWithTopics(o);
    REQUIRE_OK(j->CommitGroupPositions("g", {Pos("orders", 1, 10, 1), Pos("orders", 2, 20, 1)}));
  }
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, journal::kGroupsDb, 0, &dbi) == 0);
    const std::string key = journal::GroupPositionKey("g", "orders", 2);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{3, const_cast<char*>("bad")};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  });
  auto j = OpenJournal(o);
  GroupPosition one;
  REQUIRE_OK(j->GetGroupPosition("g", "orders", 1, &one));
  CHECK(one.next == 10);
  Status s = j->GetGroupPosition("g", "orders", 2, &one);
  CHECK(s.IsDataLoss());
  CHECK(s.ToString().find("orders/2") != std::string::npos);
  std::vector<GroupPosition> got;
  s = j->GetGroupPositions("g", &got);
  CHECK(s.IsDataLoss());
  CHECK(got.empty());
  // A new commit replaces the damaged value.
  REQUIRE_OK(j->CommitGroupPositions("g", {Pos("orders", 2, 21, 1)}));
  REQUIRE_OK(j->GetGroupPositions("g", &got));
  CHECK(got.size() == 2);
}

TEST_CASE("a journal from before consumer groups opens, gains brook.groups and keeps version 1",
          "[journal][groups]") {
  // Method: a journal is made, then its brook.groups database is dropped with
  // LMDB's own API, which leaves exactly what a brook without groups wrote.
  TempDir dir;
  auto o = TestOptions(dir.path());
  {
    auto j = JournalWithTopics(o);
    AppendPayloads(j.get(), "orders", {"a", "b"}, 1);
  }
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, journal::kGroupsDb, 0, &dbi) == 0);
    REQUIRE(mdb_drop(txn, dbi, 1) == 0);  // delete the database itself
  });
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi dbi;
    CHECK(mdb_dbi_open(txn, journal::kGroupsDb, 0, &dbi) == MDB_NOTFOUND);
  });
  {
    auto j = OpenJournal(o);
    CHECK(ReadAll(*j, "orders", 1).size() == 2);
    REQUIRE_OK(j->CommitGroupPositions("g", {Pos("orders", 1, 2, j->epoch())}));
  }
  auto j = OpenJournal(o);
  GroupPosition one;
  REQUIRE_OK(j->GetGroupPosition("g", "orders", 1, &one));
  CHECK(one.next == 2);
  WithRawLmdb(dir.path(), [](MDB_txn* txn) {
    MDB_dbi meta;
    REQUIRE(mdb_dbi_open(txn, journal::kMetaDb, 0, &meta) == 0);
    const std::string key(journal::kMetaFormatVersion);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    REQUIRE(mdb_get(txn, meta, &k, &v) == 0);
    REQUIRE(v.mv_size == 4);
    CHECK(journal::GetU32BE(static_cast<const char*>(v.mv_data)) == 1);
  });
}

TEST_CASE("an older brook's view of a journal with groups: its database slots still suffice",
          "[journal][groups]") {
  // Method: a brook before groups set mdb_env_set_maxdbs(max_partitions + 3)
  // and opened brook.meta, brook.topics, brook.partitions and one database per
  // partition. LMDB counts only the databases a process opens, so a journal
  // that also holds brook.groups must open that way with every partition in
  // use. The journal itself, at max_partitions exactly, needs its fourth slot.
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.max_partitions = 6;
  {
    auto j = JournalWithTopics(o);  // 4 + 2 partitions: all six in use
    REQUIRE_OK(j->CommitGroupPositions("g", {Pos("audit", 1, 3, 1)}));
  }
  {
    auto j = OpenJournal(o);  // reopens with all slots taken
    GroupPosition one;
    REQUIRE_OK(j->GetGroupPosition("g", "audit", 1, &one));
  }
  WithRawLmdb(
      dir.path(),
      [](MDB_txn* txn) {
        MDB_dbi dbi;
        for (const char* db : {journal::kMetaDb, journal::kTopicsDb, journal::kPartitionsDb})
          REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
        for (uint32_t p = 0; p < 4; ++p)
          REQUIRE(mdb_dbi_open(txn, journal::RecordDbName("orders", p).c_str(), 0, &dbi) == 0);
        for (uint32_t p = 0; p < 2; ++p)
          REQUIRE(mdb_dbi_open(txn, journal::RecordDbName("audit", p).c_str(), 0, &dbi) == 0);
      },
      6 + 3);
}

TEST_CASE("group commits grow the map like appends, and fail cleanly at its maximum",
          "[journal][groups]") {
  TempDir dir;
  auto o = TestOptions(dir.path());
  o.initial_map_size = 1u << 20;
  o.max_map_size = 2u << 20;
  o.max_partitions = 1000;
  bool grew = false;
  o.logger = [&grew](LogLevel, std::string_view m) {
    grew |= m.find("map grown") != std::string_view::npos;
  };
  auto j = OpenJournal(o);
  TopicConfig tc;
  tc.partitions = 1000;
  REQUIRE_OK(j->CreateTopic("t", tc));
  // Each group commits 1,000 positions (~60 KiB of pages); 1 MiB holds ~15.
  int committed = 0;
  Status s;
  std::vector<GroupPosition> batch;
  for (uint32_t p = 0; p < 1000; ++p) batch.push_back(Pos("t", p, p, 1));
  for (int g = 0; g < 200 && s.ok(); ++g) {
    s = j->CommitGroupPositions("group-" + std::to_string(g), batch);
    if (s.ok()) ++committed;
  }
  CHECK(s.IsResourceExhausted());
  CHECK(s.ToString().find("max_map_size") != std::string::npos);
  CHECK(grew);  // it grew past the 1 MiB start before it stopped at 2 MiB
  CHECK(committed > 5);
  std::vector<std::string> groups;
  REQUIRE_OK(j->ListGroups(&groups));
  CHECK(groups.size() == static_cast<size_t>(committed));  // the failed one left nothing
  std::vector<GroupPosition> got;
  REQUIRE_OK(j->GetGroupPositions("group-0", &got));
  CHECK(got.size() == 1000);
  CHECK(got[999].next == 999);
}
