// node_bench: brook's producer and consumer, measured end to end.
//
//   node_bench [--runs R] [--quick] [--only GROUP[,GROUP...]] [--dir DIR]
//              [--partitions P] [--big-replay N]
//
// Groups (each figure one JSON line on stdout, see bench_util.h):
//   publish  acknowledged publishes/s: one publisher with a window of
//            outstanding asynchronous publishes; 64 publishers each with a
//            window; one publisher of 1,000-record batches; 64 publishers
//            each waiting for every publish (synchronous).
//   e2e      records/s from the first publish to the last record delivered
//            to a consumer in another process, every record checked.
//   latency  one-way latency, publish call to the consumer's handler, at
//            fixed rates, stamped with CLOCK_MONOTONIC (one clock for both
//            processes); p50 / p99 / p99.9.
//   replay   a consumer process catching up on a journal of records
//            (1,000,000 by default), alone and while live traffic goes on.
//   memory   peak resident memory of the producer and the consumer during
//            e2e, and while a consumer catches up on --big-replay records
//            (10,000,000 by default).
//
// Every delivery is checked by the consumer process: per partition, offsets
// dense from 0 and each payload carrying its own offset; a run with any
// missing, duplicated or misplaced record fails the benchmark (exit 1).
//
// The journal lives under --dir (default /var/tmp): not tmpfs, where fsync
// is free. Progress goes to stderr.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "brook/consumer.h"
#include "brook/producer.h"

namespace {

using namespace brook;
using namespace brook::bench;
using namespace std::chrono_literals;

struct Config {
  int runs = 3;
  bool quick = false;
  std::set<std::string> only;
  std::string dir = "/var/tmp";
  uint32_t partitions = 4;
  uint64_t big_replay = 10'000'000;

  bool Wants(const std::string& group) const { return only.empty() || only.count(group) > 0; }
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "node_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Peak resident memory of this process since the last ResetPeakRss, in MiB
// (VmHWM; writing 5 to clear_refs resets it, Linux >= 4.0).
double PeakRssSinceReset() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return PeakRssMiB();
}
void ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

// This process's private resident memory (RssAnon: heap, stacks; not the
// journal's file pages LMDB maps, which the kernel can drop), in MiB.
double PrivateRssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) / 1024.0;
  return 0;
}

// The highest PrivateRssMiB seen, sampled every 5 ms while it lives.
class PrivatePeak {
 public:
  PrivatePeak()
      : thread_([this] {
          while (!stop_.load()) {
            const double now = PrivateRssMiB();
            if (now > peak_.load()) peak_.store(now);
            std::this_thread::sleep_for(5ms);
          }
        }) {}
  ~PrivatePeak() { Stop(); }
  double Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return std::max(peak_.load(), PrivateRssMiB());
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<double> peak_{0};
  std::thread thread_;
};

const char* ModeName(Durability d) { return DurabilityName(d); }

Figure Fig(std::string group, std::string name, size_t size, std::string mode,
           std::string metric = "rate", std::string unit = "rec/s") {
  Figure f;
  f.group = std::move(group);
  f.system = "brook";
  f.name = std::move(name);
  f.size = size;
  f.mode = std::move(mode);
  f.metric = std::move(metric);
  f.unit = std::move(unit);
  return f;
}

// Sleeps until 30 us before `due_ns` (CLOCK_MONOTONIC), then yields until
// it. A busy spin would take one of the two cores from the I/O threads and
// the consumer, and a plain sleep overshoots by tens of microseconds on this
// VM (see main: the timer slack is set to 1 ns).
void WaitUntil(int64_t due_ns) {
  for (int64_t now = MonoNs(); now < due_ns; now = MonoNs()) {
    if (due_ns - now > 30'000) {
      const int64_t ns = due_ns - now - 30'000;
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      nanosleep(&ts, nullptr);
    } else {
      sched_yield();
    }
  }
}

// The payload of the record at `offset`: its send time (CLOCK_MONOTONIC ns)
// and its offset, then filler up to `size` bytes.
void FillPayload(std::string* p, size_t size, int64_t send_ns, uint64_t offset) {
  p->resize(std::max<size_t>(size, 16));
  std::memcpy(&(*p)[0], &send_ns, 8);
  std::memcpy(&(*p)[8], &offset, 8);
}

// ---------------------------------------------------------------------------
// The consumer process
//
// Reads one line of orders on stdin:
//   <pub> <replay> <partitions> <expected records> <backlog records> <latency 0|1>
// writes "ready" once it follows every partition, then one line of results:
//   ok <received> <errors> <first_ns> <backlog_done_ns> <last_ns> <peak_rss_mib>
//      <p50_us> <p99_us> <p999_us>
// Records are spread over partitions by offset: record i of partition p is
// the p-th partition's i-th (the producer places them round-robin).

int ConsumerMain() {
  char pub[512], replay[512];
  unsigned partitions = 0;
  unsigned long long expected = 0, backlog = 0;
  int latency = 0;
  if (std::scanf("%511s %511s %u %llu %llu %d", pub, replay, &partitions, &expected, &backlog,
                 &latency) != 6)
    return 2;
  ConsumerOptions o;
  o.producers.push_back({pub, replay});
  o.topics = {"bench"};
  o.request_timeout = 1000ms;
  std::unique_ptr<Consumer> c;
  PrivatePeak private_peak;
  const int64_t open_ns = MonoNs();
  Check(Consumer::Open(o, &c), "consumer open");
  // Ready when every partition is known (the producer answered describe).
  for (int i = 0; i < 500 && c->lag().size() < partitions; ++i) std::this_thread::sleep_for(10ms);
  if (c->lag().size() < partitions) Die("the consumer never learned the partitions");
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<uint64_t> next(partitions, 0);
  const uint64_t backlog_per_partition = backlog / std::max(1u, partitions);
  uint64_t received = 0, errors = 0, backlog_left = backlog;
  int64_t first_ns = 0, last_ns = 0, backlog_done_ns = backlog == 0 ? open_ns : 0;
  std::vector<double> lat;
  if (latency) lat.reserve(expected);
  PollHandler h;
  h.on_record = [&](const StreamId& s, const RecordView& r) {
    const int64_t now = MonoNs();
    if (first_ns == 0) first_ns = now;
    last_ns = now;
    ++received;
    uint64_t offset_in_payload = ~0ull;
    int64_t sent = 0;
    if (r.payload.size() >= 16) {
      std::memcpy(&sent, r.payload.data(), 8);
      std::memcpy(&offset_in_payload, r.payload.data() + 8, 8);
    }
    if (s.partition >= partitions || r.offset != next[s.partition] ||
        offset_in_payload != r.offset) {
      if (errors++ < 5)
        std::fprintf(stderr, "consumer: partition %u offset %" PRIu64 " expected %" PRIu64 "\n",
                     s.partition, r.offset, s.partition < partitions ? next[s.partition] : 0);
    }
    if (s.partition < partitions) {
      next[s.partition] = r.offset + 1;
      if (r.offset < backlog_per_partition && --backlog_left == 0) backlog_done_ns = now;
    }
    if (latency) lat.push_back(static_cast<double>(now - sent) / 1000.0);
  };
  h.on_event = [&](const ConsumerEvent& e) {
    ++errors;
    std::fprintf(stderr, "consumer: unexpected event: %s\n", e.message.c_str());
  };
  const auto limit = Clock::now() + 600s;
  while (received < expected && Clock::now() < limit) Check(c->Poll(h, 4096, 100ms), "poll");
  if (received < expected) ++errors;
  const double rss = PeakRssMiB();
  const double private_rss = private_peak.Stop();
  double p50 = 0, p99 = 0, p999 = 0;
  if (latency && !lat.empty()) {
    // The first 5 % are warm-up (connections, page faults).
    lat.erase(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(lat.size() / 20));
    p50 = Quantile(&lat, 0.5);
    p99 = Quantile(&lat, 0.99);
    p999 = Quantile(&lat, 0.999);
  }
  std::printf("ok %llu %llu %lld %lld %lld %.1f %.2f %.2f %.2f %.1f\n",
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(errors),
              static_cast<long long>(first_ns), static_cast<long long>(backlog_done_ns),
              static_cast<long long>(last_ns), rss, p50, p99, p999, private_rss);
  std::fflush(stdout);
  Check(c->Close(), "consumer close");
  return 0;
}

// The parent's handle on a consumer process.
struct ConsumerProcess {
  pid_t pid = -1;
  FILE* to = nullptr;
  FILE* from = nullptr;

  struct Result {
    uint64_t received = 0, errors = 0;
    int64_t first_ns = 0, backlog_done_ns = 0, last_ns = 0;
    double rss = 0, p50 = 0, p99 = 0, p999 = 0, private_rss = 0;
  };

  static ConsumerProcess Spawn(const std::string& self) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) Die("pipe");
    ConsumerProcess p;
    p.pid = fork();
    if (p.pid < 0) Die("fork");
    if (p.pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execl(self.c_str(), self.c_str(), "--consumer", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p.to = fdopen(in[1], "w");
    p.from = fdopen(out[0], "r");
    return p;
  }

  void Order(const Producer& producer, uint32_t partitions, uint64_t expected, uint64_t backlog,
             bool latency) {
    std::fprintf(to, "%s %s %u %llu %llu %d\n", producer.pub_endpoint().c_str(),
                 producer.replay_endpoint().c_str(), partitions,
                 static_cast<unsigned long long>(expected),
                 static_cast<unsigned long long>(backlog), latency ? 1 : 0);
    std::fflush(to);
    char line[64] = {0};
    if (!std::fgets(line, sizeof line, from) || std::strncmp(line, "ready", 5) != 0)
      Die("the consumer process did not start");
  }

  Result Wait() {
    Result r;
    char line[512] = {0};
    if (!std::fgets(line, sizeof line, from)) Die("the consumer process died");
    unsigned long long rec, err;
    long long f, b, l;
    if (std::sscanf(line, "ok %llu %llu %lld %lld %lld %lf %lf %lf %lf %lf", &rec, &err, &f, &b, &l,
                    &r.rss, &r.p50, &r.p99, &r.p999, &r.private_rss) != 10)
      Die(std::string("bad consumer result: ") + line);
    r.received = rec;
    r.errors = err;
    r.first_ns = f;
    r.backlog_done_ns = b;
    r.last_ns = l;
    fclose(to);
    fclose(from);
    int status = 0;
    waitpid(pid, &status, 0);
    if (r.errors != 0)
      Die("the consumer saw " + std::to_string(r.errors) + " missing, duplicated or misplaced " +
          "records or events: the benchmark is void");
    return r;
  }
};

// ---------------------------------------------------------------------------
// The producer side

struct Bench {
  Config cfg;
  std::string self;
  int counter = 0;

  // A fresh producer on a fresh journal with one topic "bench".
  std::unique_ptr<Producer> OpenProducer(Durability d, std::string* dir) {
    *dir =
        cfg.dir + "/brook-node-bench-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    std::filesystem::remove_all(*dir);
    ProducerOptions po;
    po.journal.path = *dir;
    po.journal.durability = d;
    po.journal.initial_map_size = 1ull << 30;
    po.pub_endpoint = "tcp://127.0.0.1:0";
    po.replay_endpoint = "tcp://127.0.0.1:0";
    po.heartbeat_interval = 200ms;
    std::unique_ptr<Producer> p;
    Check(Producer::Open(po, &p), "producer open");
    TopicConfig tc;
    tc.partitions = cfg.partitions;
    Check(p->CreateTopic("bench", tc), "create topic");
    return p;
  }

  static void CloseProducer(std::unique_ptr<Producer> p, const std::string& dir) {
    Check(p->Close(), "producer close");
    p.reset();
    std::filesystem::remove_all(dir);
  }

  // Publishes records first_seq .. first_seq + count - 1 in batches of
  // `batch`: record `seq` goes to partition seq % P at offset seq / P (the
  // partitions are only ever written this way); payloads stamped now.
  void PublishBatches(Producer* p, uint64_t first_seq, uint64_t count, size_t size, size_t batch) {
    std::vector<std::string> payloads(batch);
    std::vector<RecordInput> in(batch);
    const uint32_t parts = cfg.partitions;
    uint64_t i = 0;
    while (i < count) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, count - i));
      in.resize(n);
      const int64_t now = MonoNs();
      for (size_t k = 0; k < n; ++k) {
        const uint64_t seq = first_seq + i + k;
        const uint32_t part = static_cast<uint32_t>(seq % parts);
        FillPayload(&payloads[k], size, now, seq / parts);
        in[k].payload = payloads[k];
        in[k].partition = part;
      }
      Check(p->PublishBatch("bench", in), "publish batch");
      i += n;
    }
  }

  // --- publish ------------------------------------------------------------

  // Publishers each keeping up to `window` asynchronous publishes of one
  // record outstanding, for `seconds`; returns acknowledged records/s.
  double AsyncPublishers(Producer* p, int publishers, int window, size_t size, double seconds) {
    std::atomic<uint64_t> acked{0};
    std::atomic<bool> failed{false};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < publishers; ++t) {
      threads.emplace_back([&, t] {
        std::string payload;
        FillPayload(&payload, size, 0, 0);
        std::mutex mu;
        std::condition_variable cv;
        int outstanding = 0;
        std::vector<RecordInput> one(1);
        one[0].payload = payload;
        one[0].partition = static_cast<uint32_t>(t) % cfg.partitions;
        while (!stop.load(std::memory_order_relaxed)) {
          {
            std::unique_lock<std::mutex> lk(mu);
            // Refill when half the window is back, as a pipelining client
            // does, rather than waking for every acknowledgement.
            if (outstanding >= window) cv.wait(lk, [&] { return outstanding <= window / 2; });
            ++outstanding;
          }
          Status s = p->PublishAsync("bench", one,
                                     [&](const Status& st, const std::vector<RecordPosition>&) {
                                       if (!st.ok()) failed = true;
                                       acked.fetch_add(1, std::memory_order_relaxed);
                                       std::lock_guard<std::mutex> lk(mu);
                                       if (--outstanding == window / 2 || outstanding == 0)
                                         cv.notify_one();
                                     });
          if (!s.ok()) {
            failed = true;
            break;
          }
        }
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return outstanding == 0; });
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    const uint64_t done = acked.load();
    const double elapsed = SecondsSince(start);
    for (auto& t : threads) t.join();
    if (failed) Die("an asynchronous publish failed");
    return static_cast<double>(done) / elapsed;
  }

  // Publishers each waiting for every publish of one record.
  double SyncPublishers(Producer* p, int publishers, size_t size, double seconds) {
    std::atomic<uint64_t> acked{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < publishers; ++t) {
      threads.emplace_back([&, t] {
        std::string payload;
        FillPayload(&payload, size, 0, 0);
        RecordInput r;
        r.payload = payload;
        r.partition = static_cast<uint32_t>(t) % cfg.partitions;
        while (!stop.load(std::memory_order_relaxed)) {
          Check(p->Publish("bench", r), "publish");
          acked.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    const uint64_t done = acked.load();
    const double elapsed = SecondsSince(start);
    for (auto& t : threads) t.join();
    return static_cast<double>(done) / elapsed;
  }

  double BatchPublisher(Producer* p, size_t size, double seconds) {
    const auto start = Clock::now();
    uint64_t done = 0;
    while (SecondsSince(start) < seconds) {
      PublishBatches(p, done, 1000, size, 1000);
      done += 1000;
    }
    return static_cast<double>(done) / SecondsSince(start);
  }

  void RunPublish() {
    const double seconds = cfg.quick ? 0.3 : 1.5;
    for (size_t size : {size_t{100}, size_t{1024}}) {
      for (Durability d : {Durability::kNoSync, Durability::kNoMetaSync, Durability::kFsync}) {
        Figure one = Fig("publish", "1 publisher, window 1000", size, ModeName(d));
        Figure many = Fig("publish", "64 publishers, window 64 each", size, ModeName(d));
        Figure batch = Fig("publish", "1 publisher, batches of 1000", size, ModeName(d));
        Figure sync = Fig("publish", "64 publishers, synchronous", size, ModeName(d));
        for (int run = 0; run < cfg.runs; ++run) {
          std::string dir;
          auto p = OpenProducer(d, &dir);
          one.samples.push_back(AsyncPublishers(p.get(), 1, 1000, size, seconds));
          many.samples.push_back(AsyncPublishers(p.get(), 64, 64, size, seconds));
          batch.samples.push_back(BatchPublisher(p.get(), size, seconds));
          sync.samples.push_back(SyncPublishers(p.get(), 64, size, seconds));
          CloseProducer(std::move(p), dir);
        }
        for (Figure* f : {&one, &many, &batch, &sync}) Report(*f);
      }
    }
  }

  // --- e2e ----------------------------------------------------------------

  void RunE2e() {
    const uint64_t records = cfg.quick ? 200'000 : 3'000'000;
    for (size_t size : {size_t{100}, size_t{1024}}) {
      const uint64_t n = size > 100 ? records / 3 : records;
      for (Durability d : {Durability::kNoSync, Durability::kNoMetaSync, Durability::kFsync}) {
        Figure rate =
            Fig("e2e", "producer -> consumer process, batches of 1000", size, ModeName(d));
        Figure prss =
            Fig("memory", "producer peak during e2e", size, ModeName(d), "peak_rss", "MiB");
        Figure crss =
            Fig("memory", "consumer peak during e2e", size, ModeName(d), "peak_rss", "MiB");
        for (int run = 0; run < cfg.runs; ++run) {
          ConsumerProcess cp = ConsumerProcess::Spawn(self);
          std::string dir;
          ResetPeakRss();
          auto p = OpenProducer(d, &dir);
          cp.Order(*p, cfg.partitions, n, 0, false);
          const int64_t start = MonoNs();
          PublishBatches(p.get(), 0, n, size, 1000);
          ConsumerProcess::Result r = cp.Wait();
          rate.samples.push_back(static_cast<double>(n) * 1e9 /
                                 static_cast<double>(r.last_ns - start));
          prss.samples.push_back(PeakRssSinceReset());
          crss.samples.push_back(r.rss);
          CloseProducer(std::move(p), dir);
        }
        Report(rate);
        Report(prss);
        Report(crss);
      }
    }
  }

  // --- latency ------------------------------------------------------------

  // Publishes one record at a time at `rate`/s for `seconds`: synchronously
  // in nosync mode (the call returns after the commit), asynchronously in the
  // synced modes (group commit gathers what arrives during an fsync).
  // Returns each publish's acknowledgement latency in us (warm-up dropped).
  std::vector<double> Paced(Producer* p, Durability d, double rate, uint64_t count) {
    std::vector<double> ack(count, 0.0);
    std::string payload;
    std::vector<RecordInput> one(1);
    const int64_t start = MonoNs();
    const double interval_ns = 1e9 / rate;
    std::atomic<uint64_t> acked{0};
    std::atomic<bool> failed{false};
    for (uint64_t i = 0; i < count; ++i) {
      const int64_t due = start + static_cast<int64_t>(static_cast<double>(i) * interval_ns);
      WaitUntil(due);
      const uint32_t part = static_cast<uint32_t>(i % cfg.partitions);
      const int64_t sent = MonoNs();
      FillPayload(&payload, 100, sent, i / cfg.partitions);
      one[0].payload = payload;
      one[0].partition = part;
      if (d == Durability::kNoSync) {
        Check(p->PublishBatch("bench", one), "publish");
        ack[i] = static_cast<double>(MonoNs() - sent) / 1000.0;
        acked.fetch_add(1, std::memory_order_relaxed);
      } else {
        Check(p->PublishAsync("bench", one,
                              [&ack, &acked, &failed, i, sent](const Status& s,
                                                               const std::vector<RecordPosition>&) {
                                if (!s.ok()) failed = true;
                                ack[i] = static_cast<double>(MonoNs() - sent) / 1000.0;
                                acked.fetch_add(1, std::memory_order_release);
                              }),
              "publish async");
      }
    }
    for (int i = 0; i < 10000 && acked.load(std::memory_order_acquire) < count; ++i)
      std::this_thread::sleep_for(1ms);
    if (failed || acked.load(std::memory_order_acquire) < count)
      Die("a paced publish failed or was never acknowledged");
    ack.erase(ack.begin(), ack.begin() + static_cast<std::ptrdiff_t>(ack.size() / 20));
    return ack;
  }

  void RunLatency() {
    const double seconds = cfg.quick ? 0.5 : 2.0;
    for (Durability d : {Durability::kNoSync, Durability::kFsync}) {
      for (double rate : {1000.0, 10000.0, 100000.0}) {
        const std::string name = "publish -> handler @" + std::to_string(int(rate)) + "/s";
        Figure p50 = Fig("latency", name, 100, ModeName(d), "p50", "us");
        Figure p99 = Fig("latency", name, 100, ModeName(d), "p99", "us");
        Figure p999 = Fig("latency", name, 100, ModeName(d), "p999", "us");
        const std::string ack_name = "publish -> acknowledged @" + std::to_string(int(rate)) + "/s";
        Figure a50 = Fig("latency", ack_name, 100, ModeName(d), "p50", "us");
        Figure a99 = Fig("latency", ack_name, 100, ModeName(d), "p99", "us");
        const uint64_t count =
            static_cast<uint64_t>(rate * seconds) / cfg.partitions * cfg.partitions;
        for (int run = 0; run < cfg.runs; ++run) {
          ConsumerProcess cp = ConsumerProcess::Spawn(self);
          std::string dir;
          auto p = OpenProducer(d, &dir);
          cp.Order(*p, cfg.partitions, count, 0, true);
          std::this_thread::sleep_for(200ms);  // subscriptions settle
          std::vector<double> ack = Paced(p.get(), d, rate, count);
          a50.samples.push_back(Quantile(&ack, 0.5));
          a99.samples.push_back(Quantile(&ack, 0.99));
          ConsumerProcess::Result r = cp.Wait();
          p50.samples.push_back(r.p50);
          p99.samples.push_back(r.p99);
          p999.samples.push_back(r.p999);
          CloseProducer(std::move(p), dir);
        }
        Report(p50);
        Report(p99);
        Report(p999);
        Report(a50);
        Report(a99);
      }
    }
  }

  // --- replay -------------------------------------------------------------

  // A consumer process catches up on `backlog` records; with `live_rate` > 0
  // the producer meanwhile publishes live_rate records/s for `live_seconds`.
  // Returns the consumer's result; *start is when it was told to begin.
  ConsumerProcess::Result CatchUp(Producer* p, uint64_t backlog, double live_rate,
                                  double live_seconds, int64_t* start) {
    const uint64_t live =
        static_cast<uint64_t>(live_rate * live_seconds) / cfg.partitions * cfg.partitions;
    ConsumerProcess cp = ConsumerProcess::Spawn(self);
    *start = MonoNs();
    cp.Order(*p, cfg.partitions, backlog + live, backlog, false);
    if (live > 0) {
      const int64_t t0 = MonoNs();
      uint64_t sent = 0;
      while (sent < live) {
        // Batches of 100 at the given rate.
        const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(sent) / live_rate * 1e9);
        WaitUntil(due);
        const uint64_t n = std::min<uint64_t>(100, live - sent);
        PublishBatches(p, backlog + sent, n, 100, 100);
        sent += n;
      }
    }
    return cp.Wait();
  }

  void RunReplay() {
    const uint64_t backlog = cfg.quick ? 100'000 : 1'000'000;
    for (size_t size : {size_t{100}, size_t{1024}}) {
      Figure alone =
          Fig("replay", "catch-up of " + std::to_string(backlog) + " records", size, "nosync");
      Figure busy =
          Fig("replay", "catch-up of " + std::to_string(backlog) + " records, live 50k/s going on",
              size, "nosync");
      for (int run = 0; run < cfg.runs; ++run) {
        std::string dir;
        auto p = OpenProducer(Durability::kNoSync, &dir);
        PublishBatches(p.get(), 0, backlog, size, 1000);
        int64_t start = 0;
        ConsumerProcess::Result r = CatchUp(p.get(), backlog, 0, 0, &start);
        alone.samples.push_back(static_cast<double>(backlog) * 1e9 /
                                static_cast<double>(r.backlog_done_ns - start));
        CloseProducer(std::move(p), dir);
        if (size > 100) continue;  // live traffic is 100 B records
        p = OpenProducer(Durability::kNoSync, &dir);
        PublishBatches(p.get(), 0, backlog, size, 1000);
        r = CatchUp(p.get(), backlog, 50'000, cfg.quick ? 0.5 : 2.0, &start);
        busy.samples.push_back(static_cast<double>(backlog) * 1e9 /
                               static_cast<double>(r.backlog_done_ns - start));
        CloseProducer(std::move(p), dir);
      }
      Report(alone);
      if (!busy.samples.empty()) Report(busy);
    }
  }

  // --- memory -------------------------------------------------------------

  void RunMemory() {
    const uint64_t backlog = cfg.quick ? 200'000 : cfg.big_replay;
    Figure prss = Fig("memory", "producer peak, serving a replay of " + std::to_string(backlog),
                      100, "nosync", "peak_rss", "MiB");
    Figure crss = Fig("memory", "consumer peak, catching up on " + std::to_string(backlog), 100,
                      "nosync", "peak_rss", "MiB");
    Figure ppriv =
        Fig("memory", "producer private peak, serving a replay of " + std::to_string(backlog), 100,
            "nosync", "peak_private", "MiB");
    Figure cpriv = Fig("memory", "consumer private peak, catching up on " + std::to_string(backlog),
                       100, "nosync", "peak_private", "MiB");
    Figure before = Fig("memory", "producer private, journal written, before the replay", 100,
                        "nosync", "private", "MiB");
    Figure rate =
        Fig("replay", "catch-up of " + std::to_string(backlog) + " records", 100, "nosync");
    std::string dir;
    auto p = OpenProducer(Durability::kNoSync, &dir);
    std::fprintf(stderr, "memory: writing %" PRIu64 " records\n", backlog);
    PublishBatches(p.get(), 0, backlog, 100, 1000);
    ResetPeakRss();
    before.samples.push_back(PrivateRssMiB());
    PrivatePeak producer_peak;
    int64_t start = 0;
    ConsumerProcess::Result r = CatchUp(p.get(), backlog, 0, 0, &start);
    prss.samples.push_back(PeakRssSinceReset());
    ppriv.samples.push_back(producer_peak.Stop());
    crss.samples.push_back(r.rss);
    cpriv.samples.push_back(r.private_rss);
    rate.samples.push_back(static_cast<double>(backlog) * 1e9 /
                           static_cast<double>(r.backlog_done_ns - start));
    CloseProducer(std::move(p), dir);
    Report(before);
    Report(prss);
    Report(ppriv);
    Report(crss);
    Report(cpriv);
    Report(rate);
  }
};

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // pacing sleeps wake on time
  Bench b;
  b.self = "/proc/self/exe";
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) b.self.assign(exe, static_cast<size_t>(len));
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--consumer") return ConsumerMain();
    if (a == "--runs" && i + 1 < argc) {
      b.cfg.runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      b.cfg.quick = true;
      b.cfg.runs = 1;
    } else if (a == "--only" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      std::string g;
      while (std::getline(ss, g, ',')) b.cfg.only.insert(g);
    } else if (a == "--dir" && i + 1 < argc) {
      b.cfg.dir = argv[++i];
    } else if (a == "--partitions" && i + 1 < argc) {
      b.cfg.partitions = static_cast<uint32_t>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--big-replay" && i + 1 < argc) {
      b.cfg.big_replay = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--runs R] [--quick] [--only publish,e2e,latency,replay,memory] "
                   "[--dir DIR] [--partitions P] [--big-replay N]\n",
                   argv[0]);
      return 2;
    }
  }
  std::fprintf(stderr, "node_bench: journals under %s, %u partitions, %d run(s) per figure\n",
               b.cfg.dir.c_str(), b.cfg.partitions, b.cfg.runs);
  if (b.cfg.Wants("e2e")) b.RunE2e();
  if (b.cfg.Wants("latency")) b.RunLatency();
  if (b.cfg.Wants("replay")) b.RunReplay();
  if (b.cfg.Wants("publish")) b.RunPublish();
  if (b.cfg.Wants("memory")) b.RunMemory();
  return 0;
}
