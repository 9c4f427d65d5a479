// nats_bench: NATS JetStream (Debian's nats-server, the nats.c client) on
// loopback, as a peer of brook.
//
//   nats_bench [--runs N] [--quick] [--records N]
//
// Starts its own `nats-server -js` on 127.0.0.1 and a free port, with its
// store in a fresh temporary directory, and uses one stream with file storage
// and one subject, created afresh for every measurement. Modes:
//   - "nats-default": the server's default, which syncs the store every
//     2 minutes and acknowledges before syncing (Jepsen 2025 lost acknowledged
//     writes this way). Closest to brook's nosync; not comparable to fsync.
//   - "fsync": `jetstream { sync_interval: always }`, measured only when the
//     installed server accepts it (the option appeared in nats-server 2.10;
//     the program checks with `nats-server -t` and says so on stderr when the
//     server rejects it -- Debian bookworm's 2.9.10 does).
// Workloads, at payloads of 100 and 1024 B:
//   - publish: js_Publish one at a time (waits for each PubAck), rec/s; and
//     js_PublishAsync with at most 4000 acks pending, then
//     js_PublishAsyncComplete, rec/s;
//   - replay:  an ordered push consumer reading the whole stream from its
//     start, rec/s;
//   - e2e:     an ordered consumer on a second connection receiving while the
//     publisher publishes asynchronously; rec/s delivered, every record checked
//     present, in order and intact.
// One JSON line per figure on stdout (bench/bench_util.h), progress on stderr.
// If nats-server is not installed, says so and exits 0 with no figures.
#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "bench/peers/peer_util.h"

namespace {

using namespace brook::bench;
using namespace brook::bench::peers;

constexpr const char* kStream = "BENCH";
constexpr const char* kSubject = "bench.s";
constexpr int64_t kMaxPending = 4000;

void Check(natsStatus s, const char* what, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  if (s == NATS_OK) return;
  std::string msg = std::string(what) + ": " + natsStatus_GetText(s);
  if (jerr) msg += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  const char* last = nats_GetLastError(nullptr);
  if (last && *last) msg += std::string(" - ") + last;
  throw std::runtime_error(msg);
}

std::atomic<int64_t> g_async_errors{0};

void OnAsyncError(jsCtx*, jsPubAckErr*, void*) { g_async_errors.fetch_add(1); }

// One connection and its JetStream context.
class Nats {
 public:
  explicit Nats(int port) {
    std::string url = "nats://127.0.0.1:" + std::to_string(port);
    Check(natsConnection_ConnectTo(&nc_, url.c_str()), "connect");
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 30000;
    o.PublishAsync.MaxPending = kMaxPending;
    o.PublishAsync.StallWait = 30000;
    o.PublishAsync.ErrHandler = OnAsyncError;
    Check(natsConnection_JetStream(&js_, nc_, &o), "JetStream context");
  }
  ~Nats() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  Nats(const Nats&) = delete;
  Nats& operator=(const Nats&) = delete;
  jsCtx* js() { return js_; }

  // Deletes the stream if it exists and creates it empty, file storage.
  void FreshStream() {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    js_DeleteStream(js_, kStream, nullptr, &jerr);  // absent the first time
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = kStream;
    const char* subjects[1] = {kSubject};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo* si = nullptr;
    jerr = static_cast<jsErrCode>(0);
    Check(js_AddStream(&si, js_, &cfg, nullptr, &jerr), "js_AddStream", jerr);
    jsStreamInfo_Destroy(si);
  }

  void PublishSync(size_t size, int64_t n) {
    std::string payload;
    for (int64_t i = 0; i < n; ++i) {
      FillPayload(&payload, size, static_cast<uint64_t>(i), 0);
      jsPubAck* pa = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      Check(js_Publish(&pa, js_, kSubject, payload.data(), static_cast<int>(payload.size()),
                       nullptr, &jerr),
            "js_Publish", jerr);
      if (!pa || pa->Sequence != static_cast<uint64_t>(i + 1)) {
        jsPubAck_Destroy(pa);
        throw std::runtime_error("js_Publish: unexpected sequence in PubAck");
      }
      jsPubAck_Destroy(pa);
    }
  }

  void PublishAsync(size_t size, int64_t n) {
    g_async_errors = 0;
    std::string payload;
    for (int64_t i = 0; i < n; ++i) {
      FillPayload(&payload, size, static_cast<uint64_t>(i), 0);
      Check(
          js_PublishAsync(js_, kSubject, payload.data(), static_cast<int>(payload.size()), nullptr),
          "js_PublishAsync");
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    Check(js_PublishAsyncComplete(js_, &po), "js_PublishAsyncComplete");
    if (g_async_errors.load()) {
      throw std::runtime_error(std::to_string(g_async_errors.load()) +
                               " asynchronous publishes failed");
    }
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// An ordered consumer from the start of the stream, checking every record.
class Receiver {
 public:
  Receiver(Nats* nats, size_t size, int64_t n) : size_(size), n_(n) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    so.Stream = kStream;
    so.Config.DeliverPolicy = js_DeliverAll;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    Check(js_Subscribe(&sub_, nats->js(), kSubject, OnMsg, this, nullptr, &so, &jerr),
          "js_Subscribe (ordered)", jerr);
    // The ordered consumer's flow control bounds what is in flight; no drops here.
    Check(natsSubscription_SetPendingLimits(sub_, 1 << 20, 1 << 30), "SetPendingLimits");
  }
  ~Receiver() {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Waits for all n records (or timeout); returns MonoNanos() of the last one.
  int64_t Wait(int timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(timeout_s), [&] { return done_; })) {
      throw std::runtime_error("consumer received " + std::to_string(next_) + " of " +
                               std::to_string(n_) + " records before timing out");
    }
    if (errors_) {
      throw std::runtime_error("consumer saw " + std::to_string(errors_) +
                               " missing, duplicate or damaged records");
    }
    return end_ns_;
  }

 private:
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    static_cast<Receiver*>(closure)->Take(msg);
    natsMsg_Destroy(msg);
  }
  void Take(natsMsg* msg) {
    // Only the subscription's own thread calls this; mu_ guards what Wait reads.
    bool ok = CheckPayload(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)),
                           size_, static_cast<uint64_t>(next_), nullptr);
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) ++errors_;
    if (++next_ == n_) {
      end_ns_ = MonoNanos();
      done_ = true;
      cv_.notify_all();
    }
  }

  size_t size_;
  int64_t n_;
  natsSubscription* sub_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_ = 0;
  int64_t errors_ = 0;
  int64_t end_ns_ = 0;
  bool done_ = false;
};

// Whether this nats-server accepts `sync_interval: always` (nats-server >= 2.10).
bool SupportsSyncAlways(const std::string& binary, Server* scratch) {
  scratch->WriteFile("probe.conf", "listen: 127.0.0.1:" + std::to_string(scratch->port()) +
                                       "\njetstream {\n  store_dir: \"" + scratch->dir() +
                                       "/probe\"\n  sync_interval: always\n}\n");
  std::string cmd =
      binary + " -t -c " + scratch->dir() + "/probe.conf > " + scratch->dir() + "/probe.log 2>&1";
  int rc = std::system(cmd.c_str());
  return rc == 0;
}

struct ModeSpec {
  std::string mode;
  std::string jetstream_extra;  // lines added to the jetstream block
};

int Main(int argc, char** argv) {
  InstallCleanup();
  const Options opt = ParseOptions(argc, argv);
  const std::string binary = FindBinary("nats-server");
  if (binary.empty()) {
    std::fprintf(stderr,
                 "nats_bench: nats-server not found (install it with "
                 "scripts/install-deps.sh --bench); no figures\n");
    return 0;
  }
  std::vector<ModeSpec> modes = {{"nats-default", ""}};
  {
    Server probe("nats-probe", binary);
    if (SupportsSyncAlways(binary, &probe)) {
      modes.push_back({"fsync", "  sync_interval: always\n"});
    } else {
      std::fprintf(stderr,
                   "nats_bench: this nats-server rejects `sync_interval: always` (it appeared in "
                   "nats-server 2.10): no fsync-mode figures; JetStream here acknowledges before "
                   "it syncs (every 2 minutes by default)\n");
    }
  }
  const size_t sizes[] = {100, 1024};
  for (const ModeSpec& m : modes) {
    Server server("nats", binary);
    server.WriteFile("nats.conf", "listen: 127.0.0.1:" + std::to_string(server.port()) +
                                      "\njetstream {\n  store_dir: \"" + server.dir() + "/js\"\n" +
                                      m.jetstream_extra + "}\n");
    server.Start({"-c", server.dir() + "/nats.conf"});
    std::fprintf(stderr, "nats_bench: nats-server on 127.0.0.1:%d in %s, mode %s\n", server.port(),
                 server.dir().c_str(), m.mode.c_str());
    for (size_t size : sizes) {
      Nats pub(server.port());
      Nats sub(server.port());
      const int64_t n_sync = RecordsFor(opt, 20000, 1000);
      const int64_t n_async = RecordsFor(opt, size <= 100 ? 300000 : 160000, 10000);
      Figure fsync_pub = MakeFigure("publish", "nats", "js_Publish one at a time", size, m.mode);
      Figure fasync_pub =
          MakeFigure("publish", "nats",
                     "js_PublishAsync " + std::to_string(kMaxPending) + " pending", size, m.mode);
      Figure frep = MakeFigure("replay", "nats", "ordered consumer from the start", size, m.mode);
      Figure fe2e = MakeFigure("e2e", "nats", "js_PublishAsync -> ordered consumer", size, m.mode);
      for (int run = 0; run < opt.runs; ++run) {
        pub.FreshStream();
        auto start = Clock::now();
        pub.PublishSync(size, n_sync);
        fsync_pub.samples.push_back(static_cast<double>(n_sync) / SecondsSince(start));

        pub.FreshStream();
        start = Clock::now();
        pub.PublishAsync(size, n_async);
        fasync_pub.samples.push_back(static_cast<double>(n_async) / SecondsSince(start));

        {
          int64_t t0 = MonoNanos();
          Receiver r(&sub, size, n_async);
          int64_t end = r.Wait(120);
          frep.samples.push_back(static_cast<double>(n_async) /
                                 (static_cast<double>(end - t0) / 1e9));
        }

        pub.FreshStream();
        {
          Receiver r(&sub, size, n_async);
          int64_t t0 = MonoNanos();
          pub.PublishAsync(size, n_async);
          int64_t end = r.Wait(120);
          fe2e.samples.push_back(static_cast<double>(n_async) /
                                 (static_cast<double>(end - t0) / 1e9));
        }
        std::fprintf(stderr,
                     "  run %d, %zu B: sync publish %.0f (%lld), async publish %.0f, replay %.0f, "
                     "e2e %.0f rec/s (%lld)\n",
                     run + 1, size, fsync_pub.samples.back(), static_cast<long long>(n_sync),
                     fasync_pub.samples.back(), frep.samples.back(), fe2e.samples.back(),
                     static_cast<long long>(n_async));
      }
      Report(fsync_pub);
      Report(fasync_pub);
      Report(frep);
      Report(fe2e);
    }
    server.Stop();
  }
  nats_CloseAndWait(5000);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nats_bench: error: %s\n", e.what());
    return 1;
  }
}
