#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "brook/partitioner.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

TEST_CASE("journal round-trips records with keys, headers and payloads", "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  REQUIRE_OK(j->CreateTopic("orders", TopicConfig{}));

  std::vector<RecordInput> in(3);
  in[0].key = std::string_view("alice");
  in[0].headers = {{"content-type", "text/plain"}, {"trace", std::string_view("\0\1\2", 3)}};
  in[0].payload = "first";
  in[1].payload = "";  // keyless, empty payload
  in[2].key = std::string_view("");
  in[2].payload = std::string_view("bin\0ary", 7);
  std::vector<RecordPosition> pos;
  REQUIRE_OK(j->Append("orders", in, &pos));
  REQUIRE(pos.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(pos[i].partition == 0);
    CHECK(pos[i].offset == uint64_t(i));
  }

  auto got = ReadAll(*j, "orders", 0);
  REQUIRE(got.size() == 3);
  CHECK(got[0].key == std::optional<std::string>("alice"));
  CHECK(got[0].payload == "first");
  REQUIRE(got[0].headers.size() == 2);
  CHECK(got[0].headers[0] ==
        std::make_pair(std::string("content-type"), std::string("text/plain")));
  CHECK(got[0].headers[1].second == std::string("\0\1\2", 3));
  CHECK_FALSE(got[1].key.has_value());
  CHECK(got[1].payload.empty());
  CHECK(got[2].key == std::optional<std::string>(""));
  CHECK(got[2].payload == std::string("bin\0ary", 7));
  for (int i = 0; i < 3; ++i) CHECK(got[i].timestamp_ns == pos[i].timestamp_ns);

  RecordBatch batch;
  REQUIRE_OK(j->Read("orders", 0, 0, ReadOptions{}, &batch));
  CHECK(batch[0].header("trace") == std::optional<std::string_view>(std::string_view("\0\1\2", 3)));
  CHECK_FALSE(batch[0].header("missing").has_value());
  // The batch's encoded bytes are the records back to back.
  size_t total = 0;
  for (const auto& r : batch) total += r.encoded.size();
  CHECK(batch.encoded().size() == total);
}

TEST_CASE("offsets are dense per partition from zero across appends", "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 4;
  REQUIRE_OK(j->CreateTopic("t", tc));
  std::map<uint32_t, uint64_t> next;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.push_back("key-" + std::to_string(i));
  for (int round = 0; round < 10; ++round) {
    std::vector<RecordInput> in(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      in[i].key = keys[i];
      in[i].payload = keys[i];
    }
    std::vector<RecordPosition> pos;
    REQUIRE_OK(j->Append("t", in, &pos));
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(pos[i].partition == PartitionForKey(keys[i], 4));
      CHECK(pos[i].offset == next[pos[i].partition]++);
    }
  }
  for (uint32_t p = 0; p < 4; ++p) {
    Watermarks w;
    REQUIRE_OK(j->GetWatermarks("t", p, &w));
    CHECK(w.low_watermark == 0);
    CHECK(w.high_watermark == next[p]);
    auto got = ReadAll(*j, "t", p);
    REQUIRE(got.size() == next[p]);
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].offset == i);
      CHECK(PartitionForKey(got[i].payload, 4) == p);
    }
  }
}

TEST_CASE("keyless records spread round-robin over partitions", "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 3;
  REQUIRE_OK(j->CreateTopic("rr", tc));
  std::vector<RecordInput> in(9);
  for (auto& r : in) r.payload = "x";
  std::vector<RecordPosition> pos;
  REQUIRE_OK(j->Append("rr", in, &pos));
  std::map<uint32_t, int> count;
  for (auto& p : pos) count[p.partition]++;
  CHECK(count[0] == 3);
  CHECK(count[1] == 3);
  CHECK(count[2] == 3);
}

TEST_CASE("reads are bounded by max records and max bytes but return at least one record",
          "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  std::vector<std::string> payloads;
  for (int i = 0; i < 100; ++i) payloads.push_back(std::string(100, char('a' + i % 26)));
  AppendPayloads(j.get(), "t", payloads);

  RecordBatch b;
  ReadOptions ro;
  ro.max_records = 10;
  REQUIRE_OK(j->Read("t", 0, 5, ro, &b));
  REQUIRE(b.size() == 10);
  CHECK(b[0].offset == 5);
  CHECK(b[9].offset == 14);
  CHECK(b.low_watermark == 0);
  CHECK(b.high_watermark == 100);

  ro.max_records = 1000;
  ro.max_bytes = 1000;  // each record is ~130 bytes encoded
  REQUIRE_OK(j->Read("t", 0, 0, ro, &b));
  CHECK(b.size() >= 1);
  CHECK(b.encoded().size() <= 1000);
  CHECK(b.size() == 1000 / b[0].encoded.size());

  ro.max_bytes = 1;  // smaller than one record: still one
  REQUIRE_OK(j->Read("t", 0, 50, ro, &b));
  REQUIRE(b.size() == 1);
  CHECK(b[0].offset == 50);

  REQUIRE_OK(j->Read("t", 0, 100, ReadOptions{}, &b));  // at the high watermark
  CHECK(b.empty());
  CHECK(b.high_watermark == 100);

  Status s = j->Read("t", 0, 101, ReadOptions{}, &b);
  CHECK(s.IsOutOfRange());
  CHECK(s.ToString().find("high watermark 100") != std::string::npos);
  ro.max_records = 0;
  CHECK(j->Read("t", 0, 0, ro, &b).IsInvalidArgument());
}

TEST_CASE("timestamps are non-decreasing within a partition even if the clock goes back",
          "[journal]") {
  TempDir dir;
  auto opts = TestOptions(dir.path());
  std::atomic<int64_t> now{1'000'000'000'000};
  opts.clock = [&] { return now.load(); };
  auto j = OpenJournal(opts);
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  auto a = AppendPayloads(j.get(), "t", {"a"});
  now = 500'000'000'000;  // the wall clock jumped back
  auto b = AppendPayloads(j.get(), "t", {"b"});
  now = 2'000'000'000'000;
  auto c = AppendPayloads(j.get(), "t", {"c"});
  CHECK(a[0].timestamp_ns == 1'000'000'000'000);
  CHECK(b[0].timestamp_ns == 1'000'000'000'000);
  CHECK(c[0].timestamp_ns == 2'000'000'000'000);
  auto got = ReadAll(*j, "t", 0);
  REQUIRE(got.size() == 3);
  CHECK(got[1].timestamp_ns == 1'000'000'000'000);
}

TEST_CASE("seek by timestamp finds the first offset at or after the time", "[journal]") {
  TempDir dir;
  auto opts = TestOptions(dir.path());
  std::atomic<int64_t> now{0};
  opts.clock = [&] { return now.load(); };
  auto j = OpenJournal(opts);
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  // Offsets 0..99 at times 1000, 1000, 2000, 2000, ... (two records per tick).
  for (int i = 0; i < 50; ++i) {
    now = (i + 1) * 1000;
    AppendPayloads(j.get(), "t", {"x", "y"});
  }
  uint64_t off = 999;
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 0, &off));
  CHECK(off == 0);
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 1000, &off));
  CHECK(off == 0);
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 1001, &off));
  CHECK(off == 2);
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 25000, &off));
  CHECK(off == 48);
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 50000, &off));
  CHECK(off == 98);
  REQUIRE_OK(j->SeekByTimestamp("t", 0, 50001, &off));
  CHECK(off == 100);  // none: the high watermark
  REQUIRE_OK(j->CreateTopic("empty", TopicConfig{}));
  REQUIRE_OK(j->SeekByTimestamp("empty", 0, 5, &off));
  CHECK(off == 0);
}

TEST_CASE("a reopened journal keeps its records, producer id and topics, and bumps its epoch",
          "[journal]") {
  TempDir dir;
  ProducerId id;
  uint64_t epoch;
  {
    auto j = OpenJournal(TestOptions(dir.path(), Durability::kFsync));
    CHECK(j->epoch() == 1);
    id = j->producer_id();
    epoch = j->epoch();
    TopicConfig tc;
    tc.partitions = 2;
    tc.retention.max_records = 1000;
    REQUIRE_OK(j->CreateTopic("t", tc));
    AppendPayloads(j.get(), "t", {"a", "b", "c"}, 1);
    REQUIRE_OK(j->Close());
    REQUIRE_OK(j->Close());  // idempotent
    std::vector<RecordPosition> pos;
    CHECK(j->Append("t", std::vector<RecordInput>(1), &pos).IsFailedPrecondition());
    // Every call on a closed journal fails cleanly.
    RecordBatch b;
    CHECK(j->Read("t", 1, 0, ReadOptions{}, &b).IsFailedPrecondition());
    Watermarks w;
    CHECK(j->GetWatermarks("t", 1, &w).IsFailedPrecondition());
    uint64_t off;
    CHECK(j->SeekByTimestamp("t", 1, 0, &off).IsFailedPrecondition());
    CHECK(j->Sync().IsFailedPrecondition());
    CHECK(j->EnforceRetention().IsFailedPrecondition());
    CHECK(j->CreateTopic("u", TopicConfig{}).IsFailedPrecondition());
    CHECK(j->AppendAsync("t", std::vector<RecordInput>(1), nullptr).IsFailedPrecondition());
  }
  auto j = OpenJournal(TestOptions(dir.path(), Durability::kFsync));
  CHECK(j->producer_id() == id);
  CHECK(j->epoch() == epoch + 1);
  TopicInfo info;
  REQUIRE_OK(j->GetTopic("t", &info));
  CHECK(info.config.partitions == 2);
  CHECK(info.config.retention.max_records == 1000);
  auto got = ReadAll(*j, "t", 1);
  REQUIRE(got.size() == 3);
  CHECK(got[2].payload == "c");
  auto pos = AppendPayloads(j.get(), "t", {"d"}, 1);
  CHECK(pos[0].offset == 3);
  CHECK(j->ListTopics().size() == 1);

  TempDir other;
  auto k = OpenJournal(TestOptions(other.path()));
  CHECK(k->producer_id() != id);  // a new journal is a new producer
}

TEST_CASE("creating a topic again is idempotent but cannot change its partition count",
          "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 3;
  REQUIRE_OK(j->CreateTopic("t", tc));
  tc.retention.max_bytes = 1 << 20;
  REQUIRE_OK(j->CreateTopic("t", tc));  // updates retention
  TopicInfo info;
  REQUIRE_OK(j->GetTopic("t", &info));
  CHECK(info.config.retention.max_bytes == (1u << 20));
  tc.partitions = 4;
  Status s = j->CreateTopic("t", tc);
  CHECK(s.IsAlreadyExists());
  CHECK(s.ToString().find("3 partitions") != std::string::npos);
  CHECK(j->GetTopic("nope", &info).IsNotFound());
}

TEST_CASE("topic names are validated with a message naming the rule", "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  for (std::string bad :
       {std::string(""), std::string("."), std::string(".."), std::string("has space"),
        std::string("slash/y"), std::string("nul\0x", 5), std::string("__internal"),
        std::string(201, 'a'), std::string("colon:x"), std::string("ünïcode")}) {
    Status s = j->CreateTopic(bad, TopicConfig{});
    INFO(bad << " -> " << s.ToString());
    CHECK(s.IsInvalidArgument());
    CHECK(s.ToString().find("invalid topic name") != std::string::npos);
  }
  for (std::string good : {std::string("a"), std::string("orders.v2"), std::string("user_events-1"),
                           std::string(200, 'z')})
    CHECK_OK(j->CreateTopic(good, TopicConfig{}));
  TopicConfig zero;
  zero.partitions = 0;
  CHECK(j->CreateTopic("zero", zero).IsInvalidArgument());
  zero.partitions = 5000;
  CHECK(j->CreateTopic("many", zero).IsInvalidArgument());
}

TEST_CASE("async appends call back after commit, and close acknowledges every pending one",
          "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path(), Durability::kFsync));
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  std::mutex mu;
  std::vector<uint64_t> acked;
  int failures = 0;
  const int kAppends = 300;
  std::vector<std::string> payloads;
  for (int i = 0; i < kAppends; ++i) payloads.push_back("p" + std::to_string(i));
  for (int i = 0; i < kAppends; ++i) {
    std::vector<RecordInput> in(1);
    in[0].payload = payloads[i];
    REQUIRE_OK(j->AppendAsync("t", in, [&](const Status& s, const std::vector<RecordPosition>& p) {
      std::lock_guard<std::mutex> lk(mu);
      if (s.ok()) {
        acked.push_back(p[0].offset);
      } else {
        ++failures;
      }
    }));
  }
  REQUIRE_OK(j->Close());  // drains the queue: every append is answered
  std::lock_guard<std::mutex> lk(mu);
  CHECK(failures == 0);
  REQUIRE(acked.size() == kAppends);
  for (int i = 0; i < kAppends; ++i) CHECK(acked[i] == uint64_t(i));  // in submission order

  auto k = OpenJournal(TestOptions(dir.path()));
  auto got = ReadAll(*k, "t", 0);
  REQUIRE(got.size() == kAppends);
  for (int i = 0; i < kAppends; ++i) CHECK(got[i].payload == payloads[i]);
}

TEST_CASE("the commit listener sees each partition's committed records as one contiguous run",
          "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(j->CreateTopic("t", tc));
  std::mutex mu;
  std::map<uint32_t, std::vector<std::string>> seen;  // partition -> payloads in order
  std::map<uint32_t, uint64_t> next;
  bool contiguous = true;
  j->SetCommitListener([&](const CommittedRange& r) {
    std::lock_guard<std::mutex> lk(mu);
    if (r.first_offset != next[r.partition]) contiguous = false;
    next[r.partition] = r.first_offset + r.count;
    // A run starts with a record: fixarray(6) then its offset.
    if (r.encoded.empty() || uint8_t(r.encoded[0]) != 0x96) contiguous = false;
    seen[r.partition].push_back(std::string(r.encoded));
  });
  for (int i = 0; i < 20; ++i) {
    std::vector<RecordInput> in(5);
    for (int k = 0; k < 5; ++k) {
      in[k].payload = "x";
      in[k].partition = uint32_t(k % 2);
    }
    std::vector<RecordPosition> pos;
    REQUIRE_OK(j->Append("t", in, &pos));
  }
  std::lock_guard<std::mutex> lk(mu);
  CHECK(contiguous);
  CHECK(next[0] == 60);
  CHECK(next[1] == 40);
  // The concatenated runs equal what a read returns byte for byte.
  for (uint32_t p = 0; p < 2; ++p) {
    std::string runs;
    for (auto& s : seen[p]) runs += s;
    std::string stored;
    RecordBatch b;
    uint64_t from = 0;
    for (int g = 0; g < 100 && from < next[p]; ++g) {
      REQUIRE_OK(j->Read("t", p, from, ReadOptions{}, &b));
      stored += std::string(b.encoded());
      from = b.records().back().offset + 1;
    }
    CHECK(runs == stored);
  }
}

TEST_CASE("scan visits the same records as read, in place, and stops when asked", "[journal]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  std::vector<RecordInput> in(50);
  std::vector<std::string> payloads(50);
  for (int i = 0; i < 50; ++i) {
    payloads[i] = "payload-" + std::to_string(i);
    in[i].payload = payloads[i];
    in[i].headers = {{"i", payloads[i]}};
  }
  std::vector<RecordPosition> pos;
  REQUIRE_OK(j->Append("t", in, &pos));

  std::vector<std::string> seen;
  Watermarks w;
  ReadOptions ro;
  ro.max_records = 20;
  REQUIRE_OK(j->Scan(
      "t", 0, 10, ro,
      [&](const RecordView& r) {
        CHECK(r.offset == 10 + seen.size());
        CHECK(r.header("i") == std::optional<std::string_view>(r.payload));
        seen.emplace_back(r.payload);
        return true;
      },
      &w));
  REQUIRE(seen.size() == 20);
  CHECK(seen.front() == "payload-10");
  CHECK(seen.back() == "payload-29");
  CHECK(w.high_watermark == 50);

  RecordBatch b;
  REQUIRE_OK(j->Read("t", 0, 10, ro, &b));
  for (size_t i = 0; i < b.size(); ++i) CHECK(b[i].payload == seen[i]);

  int visits = 0;
  REQUIRE_OK(j->Scan("t", 0, 0, ReadOptions{}, [&](const RecordView&) { return ++visits < 3; }));
  CHECK(visits == 3);

  CHECK(j->Scan("t", 0, 51, ReadOptions{}, [](const RecordView&) { return true; }).IsOutOfRange());
  visits = 0;
  REQUIRE_OK(j->Scan("t", 0, 50, ReadOptions{}, [&](const RecordView&) { return ++visits > 0; }));
  CHECK(visits == 0);
}

TEST_CASE("the journal is a plain LMDB environment that mdb_stat and mdb_dump read", "[journal]") {
  TempDir dir;
  {
    auto j = OpenJournal(TestOptions(dir.path()));
    TopicConfig tc;
    tc.partitions = 2;
    REQUIRE_OK(j->CreateTopic("orders", tc));
    AppendPayloads(j.get(), "orders", {"a", "b", "c"}, 1);
  }
  auto run = [](const std::string& cmd, std::string* out) {
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) *out += buf;
    return pclose(p);
  };
  std::string stat, dump;
  CHECK(run("mdb_stat -a " + dir.path() + " 2>&1", &stat) == 0);
  INFO(stat);
  CHECK(stat.find("Status of r:orders:1") != std::string::npos);
  CHECK(stat.find("Status of brook.meta") != std::string::npos);
  CHECK(run("mdb_dump -s r:orders:1 " + dir.path() + " 2>&1", &dump) == 0);
  INFO(dump);
  // Keys are big-endian offsets: 0, 1, 2.
  CHECK(dump.find(" 0000000000000000\n") != std::string::npos);
  CHECK(dump.find(" 0000000000000002\n") != std::string::npos);
}
