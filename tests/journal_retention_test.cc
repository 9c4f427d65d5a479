#include <atomic>
#include <mutex>
#include <thread>

#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {

std::vector<std::string> Numbered(int from, int count, size_t size = 10) {
  std::vector<std::string> out;
  for (int i = from; i < from + count; ++i) {
    std::string p = "r" + std::to_string(i);
    p.resize(std::max(size, p.size()), '.');
    out.push_back(p);
  }
  return out;
}

}  // namespace

TEST_CASE("retention by record count keeps the newest records and moves the low watermark",
          "[journal][retention]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.retention.max_records = 30;
  REQUIRE_OK(j->CreateTopic("t", tc));
  AppendPayloads(j.get(), "t", Numbered(0, 100));
  REQUIRE_OK(j->EnforceRetention());
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 70);
  CHECK(w.high_watermark == 100);
  auto got = ReadAll(*j, "t", 0, 70);
  REQUIRE(got.size() == 30);
  CHECK(got.front().payload.rfind("r70", 0) == 0);

  RecordBatch b;
  Status s = j->Read("t", 0, 10, ReadOptions{}, &b);
  CHECK(s.IsOutOfRange());
  CHECK(s.ToString().find("removed by retention") != std::string::npos);
  CHECK(s.ToString().find("low watermark is 70") != std::string::npos);
  CHECK(b.low_watermark == 70);

  // Offsets are never reused: appends continue from the high watermark.
  auto pos = AppendPayloads(j.get(), "t", {"next"});
  CHECK(pos[0].offset == 100);
}

TEST_CASE("retention by bytes keeps at most the configured bytes per partition",
          "[journal][retention]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 2;
  tc.retention.max_bytes = 10'000;
  REQUIRE_OK(j->CreateTopic("t", tc));
  for (uint32_t p = 0; p < 2; ++p) AppendPayloads(j.get(), "t", Numbered(0, 500, 100), p);
  REQUIRE_OK(j->EnforceRetention());
  for (uint32_t p = 0; p < 2; ++p) {
    auto got = ReadAll(
        *j, "t", p, 0 + [&] {
          Watermarks w;
          REQUIRE_OK(j->GetWatermarks("t", p, &w));
          return w.low_watermark;
        }());
    size_t bytes = 0;
    RecordBatch b;
    Watermarks w;
    REQUIRE_OK(j->GetWatermarks("t", p, &w));
    for (uint64_t off = w.low_watermark; off < w.high_watermark;) {
      REQUIRE_OK(j->Read("t", p, off, ReadOptions{}, &b));
      bytes += b.encoded().size();
      off = b.records().back().offset + 1;
    }
    CHECK(bytes <= 10'000);
    CHECK(bytes > 10'000 - 200);  // removes no more than needed (records are ~130 B)
    CHECK(got.back().offset == 499);
    CHECK(w.high_watermark == 500);
  }
}

TEST_CASE("retention by age removes records older than the limit", "[journal][retention]") {
  TempDir dir;
  auto opts = TestOptions(dir.path());
  std::atomic<int64_t> now{1'000'000'000'000};
  opts.clock = [&] { return now.load(); };
  auto j = OpenJournal(opts);
  TopicConfig tc;
  tc.retention.max_age = std::chrono::minutes(10);
  REQUIRE_OK(j->CreateTopic("t", tc));
  const int64_t minute = 60'000'000'000;
  for (int i = 0; i < 30; ++i) {  // one record per minute
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now += minute;
  }
  // now = start + 30 min: records older than 20 min (offsets 0..19 at
  // minutes 0..19, i.e. < now - 10 min) go.
  REQUIRE_OK(j->EnforceRetention());
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 20);
  CHECK(w.high_watermark == 30);

  // Everything ages out: the partition is empty, offsets still continue.
  now += 60 * minute;
  REQUIRE_OK(j->EnforceRetention());
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 30);
  CHECK(w.high_watermark == 30);
  RecordBatch b;
  REQUIRE_OK(j->Read("t", 0, 30, ReadOptions{}, &b));
  CHECK(b.empty());
  CHECK(j->Read("t", 0, 29, ReadOptions{}, &b).IsOutOfRange());
  REQUIRE_OK(j->Close());

  auto k = OpenJournal(opts);  // and after a reopen
  auto pos = AppendPayloads(k.get(), "t", {"after"});
  CHECK(pos[0].offset == 30);
  REQUIRE_OK(k->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 30);
  CHECK(w.high_watermark == 31);
}

TEST_CASE("retention runs by itself on the writer thread", "[journal][retention]") {
  TempDir dir;
  auto opts = TestOptions(dir.path());
  opts.retention_interval = std::chrono::milliseconds(10);
  auto j = OpenJournal(opts);
  TopicConfig tc;
  tc.retention.max_records = 5;
  REQUIRE_OK(j->CreateTopic("t", tc));
  AppendPayloads(j.get(), "t", Numbered(0, 50));
  Watermarks w;
  for (int i = 0; i < 500; ++i) {  // bounded: at most ~5 s
    REQUIRE_OK(j->GetWatermarks("t", 0, &w));
    if (w.low_watermark == 45) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(w.low_watermark == 45);
}

TEST_CASE("retention of a large backlog proceeds in bounded transactions", "[journal][retention]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.retention.max_records = 10;
  REQUIRE_OK(j->CreateTopic("t", tc));
  std::vector<std::string> payloads(1000, "x");
  for (int i = 0; i < 50; ++i) AppendPayloads(j.get(), "t", payloads);  // 50,000 records
  REQUIRE_OK(j->EnforceRetention());
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 49'990);
  CHECK(ReadAll(*j, "t", 0, w.low_watermark).size() == 10);
}
