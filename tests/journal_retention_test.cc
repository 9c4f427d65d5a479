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

// A simulated wall clock and monotonic clock for the journal: time passes on
// both; the wall clock alone jumps.
struct SimClocks {
  std::atomic<int64_t> wall{1'000'000'000'000};
  std::atomic<int64_t> monotonic{0};
  void Attach(JournalOptions* o) {
    o->clock = [this] { return wall.load(); };
    o->monotonic_clock = [this] { return monotonic.load(); };
  }
  void Pass(int64_t ns) {
    wall += ns;
    monotonic += ns;
  }
  void Jump(int64_t ns) { wall += ns; }
};

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kDay = 24 * 60 * kMinute;

// A journal in `dir` on the simulated clocks, with a topic "t" whose records
// are kept 10 minutes. *opts: its options, for opening it again.
std::unique_ptr<Journal> OpenTenMinutes(const TempDir& dir, SimClocks* now, JournalOptions* opts,
                                        uint32_t partitions = 1) {
  *opts = TestOptions(dir.path());
  now->Attach(opts);
  auto j = OpenJournal(*opts);
  TopicConfig tc;
  tc.partitions = partitions;
  tc.retention.max_age = std::chrono::minutes(10);
  REQUIRE_OK(j->CreateTopic("t", tc));
  return j;
}

Watermarks Marks(const Journal& j, const std::string& topic, uint32_t partition = 0) {
  Watermarks w;
  REQUIRE_OK(j.GetWatermarks(topic, partition, &w));
  return w;
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
  SimClocks now;
  JournalOptions opts;
  auto j = OpenTenMinutes(dir, &now, &opts);
  const int64_t minute = kMinute;
  for (int i = 0; i < 30; ++i) {  // one record per minute
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(minute);
  }
  // now = start + 30 min: records older than 20 min (offsets 0..19 at
  // minutes 0..19, i.e. < now - 10 min) go.
  REQUIRE_OK(j->EnforceRetention());
  Watermarks w;
  REQUIRE_OK(j->GetWatermarks("t", 0, &w));
  CHECK(w.low_watermark == 20);
  CHECK(w.high_watermark == 30);

  // Everything ages out: the partition is empty, offsets still continue.
  now.Pass(60 * minute);
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

TEST_CASE("a wall-clock jump forward does not make age retention remove records early",
          "[journal][retention][clock]") {
  TempDir dir;
  SimClocks now;
  JournalOptions opts;
  auto j = OpenTenMinutes(dir, &now, &opts, 2);
  for (int i = 0; i < 30; ++i) {  // minutes 0..29, one record a minute in partition 0
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(kMinute);
  }
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 20);  // minute 30: minutes 0..19 are over 10 min old

  // The wall clock leaps ahead three days, then a year, with no time passing.
  // By the wall clock alone every record is days old: the plain rule would
  // empty the partition. Ages go by the time that really passed.
  now.Jump(3 * kDay);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 20);
  now.Jump(365 * kDay);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 20);

  // Appends go on, stamped by the jumped clock; real minutes still age the
  // records written before the jumps, one by one.
  for (int i = 30; i < 35; ++i) {
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(kMinute);
    REQUIRE_OK(j->EnforceRetention());
  }
  Watermarks w = Marks(*j, "t");
  CHECK(w.low_watermark == 25);  // minute 35: minutes 0..24 are over 10 min old
  CHECK(w.high_watermark == 35);
  // A partition that was empty at the jumps ages its new records normally.
  AppendPayloads(j.get(), "t", Numbered(100, 1), 1);
  now.Pass(11 * kMinute);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t", 1).low_watermark == 1);
  // ... and so does partition 0, past the jumps: records from before them
  // and after them go as each turns 10 minutes old by the monotonic clock.
  w = Marks(*j, "t");
  CHECK(w.low_watermark == 35);  // minute 46: everything (minutes 0..34) is over 10 min old

  // The clock set right again (a jump back of a year and three days): the
  // records stamped while it was ahead look younger than they are, and are
  // kept longer, never removed early; timestamps never went back.
  for (int i = 35; i < 40; ++i) {
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(kMinute);
  }
  now.Jump(-(365 + 3) * kDay);
  for (int i = 40; i < 45; ++i) {
    AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(kMinute);
  }
  REQUIRE_OK(j->EnforceRetention());
  w = Marks(*j, "t");
  CHECK(w.low_watermark == 35);
  CHECK(w.high_watermark == 45);
  auto got = ReadAll(*j, "t", 0, w.low_watermark);
  REQUIRE(got.size() == 10);
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].timestamp_ns >= got[i - 1].timestamp_ns);
  // They go once the correction has passed too: the newest (stamped with
  // the clock that was ahead, at its minute 50) 10 minutes after that.
  now.Pass((365 + 3) * kDay + 10 * kMinute);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 45);
}

TEST_CASE("a wall-clock jump back keeps records and timestamps, and bounds what it delays",
          "[journal][retention][clock]") {
  TempDir dir;
  SimClocks now;
  JournalOptions opts;
  auto j = OpenTenMinutes(dir, &now, &opts);
  std::vector<RecordPosition> pos;
  for (int i = 0; i < 10; ++i) {  // minutes 0..9
    pos = AppendPayloads(j.get(), "t", Numbered(i, 1));
    now.Pass(kMinute);
  }
  const int64_t last_ts = pos[0].timestamp_ns;

  // Back a day: new records keep the newest timestamp (never decrease), and
  // nothing is removed, as the wall clock says every record is from tomorrow.
  now.Jump(-kDay);
  for (int i = 10; i < 15; ++i) {
    pos = AppendPayloads(j.get(), "t", Numbered(i, 1));
    CHECK(pos[0].timestamp_ns == last_ts);
    now.Pass(kMinute);
  }
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 0);

  // Set right again: that is a jump forward as far as the journal can tell,
  // so the records from before it are kept longer by its size (a day), and
  // no record is ever removed before it is 10 minutes old.
  now.Jump(kDay);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 0);
  now.Pass(kDay - 5 * kMinute);
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 0);
  now.Pass(10 * kMinute);
  REQUIRE_OK(j->EnforceRetention());
  const Watermarks w = Marks(*j, "t");
  CHECK(w.low_watermark == 15);
  CHECK(w.high_watermark == 15);
}

TEST_CASE("retention measures wall-clock jumps by the machine's monotonic clock by default",
          "[journal][retention][clock]") {
  TempDir dir;
  auto opts = TestOptions(dir.path());
  std::atomic<int64_t> wall{std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()};
  opts.clock = [&] { return wall.load(); };  // jumps; the monotonic clock is the real one
  auto j = OpenJournal(opts);
  TopicConfig tc;
  tc.retention.max_age = std::chrono::hours(1);
  REQUIRE_OK(j->CreateTopic("t", tc));
  AppendPayloads(j.get(), "t", Numbered(0, 100));
  wall += 30 * kDay;
  REQUIRE_OK(j->EnforceRetention());
  CHECK(Marks(*j, "t").low_watermark == 0);
  REQUIRE_OK(j->Close());
  // A journal opens trusting the wall clock as it finds it: the time it was
  // closed can only be measured by that clock.
  auto k = OpenJournal(opts);
  REQUIRE_OK(k->EnforceRetention());
  CHECK(Marks(*k, "t").low_watermark == 100);
}
