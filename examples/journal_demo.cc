// journal_demo: journals records into a brook journal and reads them back.
//
//   journal_demo [directory]
//
// Creates (or reopens) a journal, appends 100,000 order events keyed by
// customer from four threads (group commit, fsync durability), reads every
// partition back, checks each record, and shows what a reopen keeps: the
// producer id, a new epoch, and offsets that continue.
#include <brook/journal.h>
#include <brook/partitioner.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

int Die(const brook::Status& s, const char* what) {
  std::fprintf(stderr, "journal_demo: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/brook-demo-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return buf.data();
}

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const std::string dir = argc > 1 ? argv[1] : MakeTempDir();
  if (dir.empty()) {
    std::perror("mkdtemp");
    return 1;
  }
  constexpr int kThreads = 4, kPerThread = 25000, kBatch = 250;
  constexpr uint32_t kPartitions = 3;

  brook::JournalOptions options;
  options.path = dir;
  options.durability = brook::Durability::kFsync;
  std::unique_ptr<brook::Journal> journal;
  brook::Status s = brook::Journal::Open(options, &journal);
  if (!s.ok()) return Die(s, "open");
  std::printf("journal   %s\nproducer  %s  epoch %llu\n", dir.c_str(),
              journal->producer_id().ToHex().c_str(),
              static_cast<unsigned long long>(journal->epoch()));

  brook::TopicConfig topic;
  topic.partitions = kPartitions;
  topic.retention.max_age = std::chrono::hours(24 * 7);
  if (!(s = journal->CreateTopic("orders", topic)).ok()) return Die(s, "create topic");

  std::map<uint32_t, uint64_t> start;  // high watermarks before this run
  for (uint32_t p = 0; p < kPartitions; ++p) {
    brook::Watermarks w;
    if (!(s = journal->GetWatermarks("orders", p, &w)).ok()) return Die(s, "watermarks");
    start[p] = w.high_watermark;
  }

  // Append from several threads: the writer commits their batches together.
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  std::vector<brook::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> keys(kBatch), payloads(kBatch);
      std::vector<brook::RecordInput> batch(kBatch);
      std::vector<brook::RecordPosition> positions;
      for (int i = 0; i < kPerThread; i += kBatch) {
        for (int k = 0; k < kBatch; ++k) {
          const int n = t * kPerThread + i + k;
          keys[k] = "customer-" + std::to_string(n % 1000);
          payloads[k] =
              "{\"order\":" + std::to_string(n) + ",\"amount\":" + std::to_string(n % 97 + 1) + "}";
          batch[k].key = keys[k];
          batch[k].payload = payloads[k];
          batch[k].headers = {{"type", "order-placed"}};
        }
        brook::Status st = journal->Append("orders", batch, &positions);
        if (!st.ok()) {
          results[t] = st;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& r : results)
    if (!r.ok()) return Die(r, "append");
  const double append_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const uint64_t total = uint64_t(kThreads) * kPerThread;
  std::printf("appended  %llu records in %.2f s (%.0f records/s, fsync, group commit)\n",
              static_cast<unsigned long long>(total), append_s, total / append_s);

  // Read everything back and check it.
  const auto t1 = Clock::now();
  uint64_t read = 0, bad = 0;
  brook::RecordBatch batch;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    uint64_t next = start[p];
    for (;;) {
      if (!(s = journal->Read("orders", p, next, brook::ReadOptions{}, &batch)).ok())
        return Die(s, "read");
      if (batch.empty()) break;
      for (const brook::RecordView& r : batch) {
        if (r.offset != next++ || !r.key || brook::PartitionForKey(*r.key, kPartitions) != p ||
            r.header("type") != std::optional<std::string_view>("order-placed"))
          ++bad;
        ++read;
      }
    }
    std::printf("partition %u: offsets %llu..%llu\n", p,
                static_cast<unsigned long long>(batch.low_watermark),
                static_cast<unsigned long long>(batch.high_watermark));
  }
  const double read_s = std::chrono::duration<double>(Clock::now() - t1).count();
  std::printf("read back %llu records in %.3f s (%.0f records/s, every checksum verified)\n",
              static_cast<unsigned long long>(read), read_s, read / read_s);

  // Reopen: same producer, new epoch, offsets continue.
  const brook::ProducerId id = journal->producer_id();
  if (!(s = journal->Close()).ok()) return Die(s, "close");
  if (!(s = brook::Journal::Open(options, &journal)).ok()) return Die(s, "reopen");
  std::vector<brook::RecordInput> one(1);
  one[0].key = std::string_view("customer-1");
  one[0].payload = "{\"order\":\"after-reopen\"}";
  std::vector<brook::RecordPosition> pos;
  if (!(s = journal->Append("orders", one, &pos)).ok()) return Die(s, "append after reopen");
  std::printf("reopened  same producer id: %s, epoch %llu, next offset in partition %u: %llu\n",
              journal->producer_id() == id ? "yes" : "NO",
              static_cast<unsigned long long>(journal->epoch()), pos[0].partition,
              static_cast<unsigned long long>(pos[0].offset));

  const bool ok = read == total && bad == 0 && journal->producer_id() == id;
  std::printf("summary   expected %llu, read %llu, damaged or misplaced %llu: %s\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(read),
              static_cast<unsigned long long>(bad), ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
