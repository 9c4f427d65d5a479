// Readers in other threads, during appends, see only committed, consistent
// ranges: every record they get decodes and verifies, offsets are dense from
// where they asked, each payload is the one appended at that offset, and
// watermarks never go backwards.
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;

namespace {
std::string PayloadFor(uint32_t partition, uint64_t offset) {
  return "p" + std::to_string(partition) + "-o" + std::to_string(offset) +
         std::string(offset % 50, '#');
}
}  // namespace

TEST_CASE("readers during appends see only committed, consistent ranges", "[journal][threads]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(j->CreateTopic("t", tc));
  const uint64_t kPerPartition = 20000;
  std::atomic<bool> writers_done{false};
  std::atomic<int> errors{0};
  std::atomic<uint64_t> records_checked{0};

  // One writer per partition, so the payload of each offset is known.
  std::vector<std::thread> writers;
  for (uint32_t p = 0; p < 2; ++p) {
    writers.emplace_back([&, p] {
      std::mt19937 rng(p);
      uint64_t next = 0;
      std::vector<std::string> payloads;
      std::vector<RecordInput> in;
      std::vector<RecordPosition> pos;
      while (next < kPerPartition) {
        const uint64_t n = std::min<uint64_t>(1 + rng() % 200, kPerPartition - next);
        payloads.clear();
        for (uint64_t i = 0; i < n; ++i) payloads.push_back(PayloadFor(p, next + i));
        in.assign(n, RecordInput{});
        for (uint64_t i = 0; i < n; ++i) {
          in[i].payload = payloads[i];
          in[i].partition = p;
        }
        if (!j->Append("t", in, &pos).ok() || pos[0].offset != next) ++errors;
        next += n;
      }
    });
  }

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(100 + r);
      uint64_t last_high[2] = {0, 0};
      RecordBatch b;
      for (int iter = 0; iter < 200000 && !writers_done.load(); ++iter) {
        const uint32_t p = rng() % 2;
        const uint64_t from = last_high[p] == 0 ? 0 : rng() % (last_high[p] + 1);
        ReadOptions ro;
        ro.max_records = 1 + rng() % 500;
        Status s = j->Read("t", p, from, ro, &b);
        if (!s.ok()) {
          ++errors;
          continue;
        }
        if (b.high_watermark < last_high[p]) ++errors;  // watermarks never go back
        last_high[p] = b.high_watermark;
        uint64_t expect = from;
        for (const RecordView& rec : b) {
          if (rec.offset != expect || rec.payload != PayloadFor(p, expect)) ++errors;
          ++expect;
        }
        if (expect > b.high_watermark) ++errors;  // nothing beyond what was committed
        records_checked += b.size();
      }
    });
  }
  for (auto& t : writers) t.join();
  writers_done = true;
  for (auto& t : readers) t.join();
  CHECK(errors.load() == 0);
  CHECK(records_checked.load() > 0);
  for (uint32_t p = 0; p < 2; ++p) {
    auto got = ReadAll(*j, "t", p);
    REQUIRE(got.size() == kPerPartition);
    for (uint64_t i = 0; i < kPerPartition; ++i) REQUIRE(got[i].payload == PayloadFor(p, i));
  }
}

TEST_CASE("many concurrent appenders share commits and every record lands exactly once",
          "[journal][threads]") {
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.path(), Durability::kFsync));
  TopicConfig tc;
  tc.partitions = 3;
  REQUIRE_OK(j->CreateTopic("t", tc));
  const int kThreads = 16, kPerThread = 100;
  std::mutex mu;
  std::set<std::pair<uint32_t, uint64_t>> positions;
  std::set<std::string> acked_payloads;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string payload = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<RecordInput> in(1);
        in[0].key = std::string_view(payload);
        in[0].payload = payload;
        std::vector<RecordPosition> pos;
        if (!j->Append("t", in, &pos).ok()) {
          ++errors;
          continue;
        }
        std::lock_guard<std::mutex> lk(mu);
        if (!positions.insert({pos[0].partition, pos[0].offset}).second) ++errors;
        acked_payloads.insert(payload);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors.load() == 0);
  CHECK(positions.size() == size_t(kThreads * kPerThread));
  std::set<std::string> stored;
  for (uint32_t p = 0; p < 3; ++p) {
    auto got = ReadAll(*j, "t", p);
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].offset == i);
      CHECK(stored.insert(got[i].payload).second);  // no duplicate
    }
  }
  CHECK(stored == acked_payloads);
}
