// baseline_bench: the machine's limits without brook — the baselines brook's
// benchmarks are measured against, each printed as one JSON line (bench_util.h).
//
//   baseline_bench [--runs N] [--quick] [--only GROUP[,GROUP]]
//
// Groups:
//   pubsub   raw ZeroMQ PUB→SUB throughput, one frame per record, publisher and
//            subscriber in separate processes (fork). The subscriber checks every
//            sequence number and the figure is records/s *received*. Several
//            high-water marks, with and without ZMQ_XPUB_NODROP, are measured;
//            the best one per size is reported again as "pub/sub tcp, one frame"
//            and used for "pub/sub ipc".
//   latency  one-way PUB→SUB latency over tcp at fixed paced rates (CLOCK_MONOTONIC
//            send stamps, the same clock in both processes).
//   rtt      DEALER/ROUTER sequential round trips over tcp loopback, client and
//            server in separate processes.
//   lmdb     raw mdb_put(MDB_APPEND) per durability mode and batch size, and the
//            latency of one synchronous commit.
//
// Each figure is the median of N runs (one sample per run); within a group the
// configurations alternate inside each run so that the shared machine's noise
// hits all of them alike. Progress and notes go to stderr.
#include <lmdb.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/bench_util.h"

namespace {

using brook::bench::Figure;
using brook::bench::Median;
using brook::bench::Quantile;
using brook::bench::Report;

constexpr uint64_t kNsPerSec = 1000000000ull;

struct Options {
  int runs = 3;
  bool quick = false;
  std::set<std::string> only;  // empty: every group

  bool Wants(const std::string& group) const { return only.empty() || only.count(group) > 0; }
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "baseline_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void DieZmq(const char* what) {
  std::fprintf(stderr, "baseline_bench: %s: %s\n", what, zmq_strerror(zmq_errno()));
  std::exit(1);
}

void CheckMdb(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "baseline_bench: %s: %s\n", what, mdb_strerror(rc));
    std::exit(1);
  }
}

// Reports one figure (value: the median of `samples`).
void Emit(const std::string& group, const std::string& system, const std::string& name,
          int64_t size, const std::string& mode, const std::string& metric, const std::string& unit,
          const std::vector<double>& samples) {
  Figure f;
  f.group = group;
  f.system = system;
  f.name = name;
  f.size = size;
  f.mode = mode;
  f.metric = metric;
  f.unit = unit;
  f.samples = samples;
  Report(f);
}

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// Waits until CLOCK_MONOTONIC reaches `t` (ns). On this kind of VM one
// clock_nanosleep costs ~16 us even when its deadline has passed, and a short
// sleep overshoots by the 50 us default timer slack: so sleep (with the slack
// cut to 1 ns, see PacedWaitSetup) only to kSpinNs before the deadline, spin
// the rest with sched_yield, and never sleep when the deadline is already due.
// Measured at 100,000/s: a busy spin took one of the two cores from the ZeroMQ
// I/O threads and the subscriber (p99 ~4 ms); yielding or sleeping did not.
constexpr uint64_t kSpinNs = 30000;

void PacedWaitSetup() { prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }

void WaitUntilNs(uint64_t t) {
  uint64_t now = NowNs();
  if (now >= t) return;
  if (t - now > 2 * kSpinNs) {
    const uint64_t wake = t - kSpinNs;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(wake / kNsPerSec);
    ts.tv_nsec = static_cast<long>(wake % kNsPerSec);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
  }
  while (NowNs() < t) {
    sched_yield();  // two cores: a busy spin would starve the I/O threads
  }
}

// Whole-buffer pipe I/O; false on EOF.
bool ReadAll(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) Die("read");
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void WriteAll(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) Die("write");
    p += r;
    n -= static_cast<size_t>(r);
  }
}

void SetInt(void* sock, int option, int value, const char* what) {
  if (zmq_setsockopt(sock, option, &value, sizeof value) != 0) DieZmq(what);
}

std::string LastEndpoint(void* sock) {
  char buf[256];
  size_t len = sizeof buf;
  if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, buf, &len) != 0) DieZmq("ZMQ_LAST_ENDPOINT");
  return std::string(buf, strnlen(buf, len));
}

std::string MakeTempDir(const std::string& base) {
  std::string tmpl = base + "/brook-baseline-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) Die("mkdtemp");
  return buf.data();
}

// A child process, ready to be told what to do through `to_child` and to
// answer through `from_child`. Its body runs `fn(read_fd, write_fd)` and exits.
struct Child {
  pid_t pid = -1;
  int to_child = -1;    // parent writes
  int from_child = -1;  // parent reads

  template <typename Fn>
  static Child Start(Fn fn) {
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) Die("pipe");
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      close(down[1]);
      close(up[0]);
      fn(down[0], up[1]);
      _exit(0);
    }
    close(down[0]);
    close(up[1]);
    Child c;
    c.pid = pid;
    c.to_child = down[1];
    c.from_child = up[0];
    return c;
  }

  void Wait() {
    close(to_child);
    close(from_child);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "baseline_bench: child %d failed (status %d)\n", pid, status);
      std::exit(1);
    }
  }
};

// ---------------------------------------------------------------------------
// pubsub and latency: XPUB (publisher, parent) → SUB (subscriber, child)

// The publisher's socket configuration.
struct PubConfig {
  int hwm = 1000;  // SNDHWM on the publisher, RCVHWM on the subscriber; 0: unbounded
  bool nodrop = true;

  std::string Name() const {
    std::string s = nodrop ? "xpub nodrop hwm " : "xpub hwm ";
    return s + (hwm == 0 ? "0 (unbounded)" : std::to_string(hwm));
  }
  bool Lossy() const { return !nodrop && hwm > 0; }
};

// Sent to the subscriber before it connects.
struct SubSetup {
  char endpoint[240];
  uint64_t count;  // messages the publisher will send
  int32_t hwm;
  int32_t size;
  int32_t latency;  // 1: compute one-way latencies from the stamps in the payload
  int32_t idle_ms;  // give up after this long without a message
};

// The subscriber's answer.
struct SubResult {
  uint64_t received = 0;
  uint64_t lost = 0;     // sequence numbers skipped (gaps)
  uint64_t invalid = 0;  // out of order, repeated, or of the wrong size
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  double p50 = 0, p99 = 0, p999 = 0;  // latency only, us
};

// Payload: [0, 8) sequence number, [8, 16) send time (latency runs), rest zeros.
void SubscriberMain(int in, int out) {
  SubSetup setup{};
  if (!ReadAll(in, &setup, sizeof setup)) _exit(2);
  void* ctx = zmq_ctx_new();
  void* sub = zmq_socket(ctx, ZMQ_SUB);
  SetInt(sub, ZMQ_RCVHWM, setup.hwm, "ZMQ_RCVHWM");
  SetInt(sub, ZMQ_LINGER, 0, "ZMQ_LINGER");
  // Idle time after which the subscriber gives up on the rest (dropped ones).
  SetInt(sub, ZMQ_RCVTIMEO, setup.idle_ms, "ZMQ_RCVTIMEO");
  if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0) DieZmq("ZMQ_SUBSCRIBE");
  if (zmq_connect(sub, setup.endpoint) != 0) DieZmq("zmq_connect");
  const char ready = 1;
  WriteAll(out, &ready, 1);

  SubResult r;
  std::vector<double> lat;
  if (setup.latency) lat.reserve(setup.count);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  uint64_t expected = 0;
  for (;;) {
    if (zmq_msg_recv(&msg, sub, 0) < 0) {
      if (zmq_errno() == EAGAIN) break;  // idle: the rest was dropped
      if (zmq_errno() == EINTR) continue;
      DieZmq("zmq_msg_recv");
    }
    const uint64_t now = NowNs();
    if (zmq_msg_size(&msg) != static_cast<size_t>(setup.size)) {
      ++r.invalid;
      continue;
    }
    const char* p = static_cast<const char*>(zmq_msg_data(&msg));
    uint64_t seq;
    std::memcpy(&seq, p, 8);
    if (seq < expected) {
      ++r.invalid;
      continue;
    }
    r.lost += seq - expected;
    expected = seq + 1;
    if (r.received++ == 0) r.first_ns = now;
    r.last_ns = now;
    if (setup.latency) {
      uint64_t sent;
      std::memcpy(&sent, p + 8, 8);
      lat.push_back(static_cast<double>(now - sent) / 1e3);
    }
    if (seq + 1 == setup.count) break;
  }
  r.lost += setup.count - expected;  // the tail that never came
  if (setup.latency && !lat.empty()) {
    // Discard the first 5 % as warm-up.
    std::vector<double> kept(lat.begin() + static_cast<long>(lat.size() / 20), lat.end());
    r.p50 = Quantile(&kept, 0.50);
    r.p99 = Quantile(&kept, 0.99);
    r.p999 = Quantile(&kept, 0.999);
  }
  zmq_msg_close(&msg);
  WriteAll(out, &r, sizeof r);
  zmq_close(sub);
  zmq_ctx_term(ctx);
}

struct PubRun {
  SubResult sub;
  uint64_t start_ns = 0;     // just before the first send
  uint64_t sent_end_ns = 0;  // after the last send returned
  uint64_t count = 0;

  double ReceivedRate() const {
    if (sub.received == 0 || sub.last_ns <= start_ns) return 0;
    return static_cast<double>(sub.received) * 1e9 / static_cast<double>(sub.last_ns - start_ns);
  }
};

// One publisher→subscriber run of `count` messages of `size` bytes. With
// `rate` > 0, paced at that many per second and stamped with the send time.
PubRun RunPubSub(const std::string& bind, const PubConfig& cfg, int size, uint64_t count,
                 double rate) {
  Child child = Child::Start(SubscriberMain);
  void* ctx = zmq_ctx_new();
  void* pub = zmq_socket(ctx, ZMQ_XPUB);
  SetInt(pub, ZMQ_SNDHWM, cfg.hwm, "ZMQ_SNDHWM");
  SetInt(pub, ZMQ_XPUB_NODROP, cfg.nodrop ? 1 : 0, "ZMQ_XPUB_NODROP");
  SetInt(pub, ZMQ_RCVTIMEO, 10000, "ZMQ_RCVTIMEO");
  SetInt(pub, ZMQ_LINGER, 0, "ZMQ_LINGER");
  if (zmq_bind(pub, bind.c_str()) != 0) DieZmq("zmq_bind");

  SubSetup setup{};
  const std::string ep = LastEndpoint(pub);
  std::snprintf(setup.endpoint, sizeof setup.endpoint, "%s", ep.c_str());
  setup.count = count;
  setup.hwm = cfg.hwm;
  setup.size = size;
  setup.latency = rate > 0 ? 1 : 0;
  // A configuration that drops ends with a silence; one that must not drop
  // gets time to ride out a stall of the shared machine.
  setup.idle_ms = cfg.Lossy() ? 250 : 5000;
  WriteAll(child.to_child, &setup, sizeof setup);
  char ready;
  if (!ReadAll(child.from_child, &ready, 1)) Die("subscriber died");

  // Slow joiner: wait until the subscription has reached the publisher.
  char sub_msg[64];
  int n = zmq_recv(pub, sub_msg, sizeof sub_msg, 0);
  if (n < 1 || sub_msg[0] != 1) DieZmq("no subscription arrived");

  std::vector<char> buf(static_cast<size_t>(size), 0);
  if (rate > 0) PacedWaitSetup();
  PubRun run;
  run.count = count;
  run.start_ns = NowNs();
  const double interval_ns = rate > 0 ? 1e9 / rate : 0;
  for (uint64_t i = 0; i < count; ++i) {
    std::memcpy(buf.data(), &i, 8);
    if (rate > 0) {
      WaitUntilNs(run.start_ns + static_cast<uint64_t>(static_cast<double>(i) * interval_ns));
      const uint64_t now = NowNs();
      std::memcpy(buf.data() + 8, &now, 8);
    }
    while (zmq_send(pub, buf.data(), buf.size(), 0) < 0) {
      if (zmq_errno() != EINTR) DieZmq("zmq_send");
    }
  }
  run.sent_end_ns = NowNs();
  if (!ReadAll(child.from_child, &run.sub, sizeof run.sub)) Die("subscriber died");
  child.Wait();
  zmq_close(pub);
  zmq_ctx_term(ctx);
  return run;
}

void PubSubGroup(const Options& o) {
  std::fprintf(stderr, "== pubsub: XPUB (parent process) -> SUB (forked child), one frame\n");
  const std::vector<int> sizes = {100, 1024};
  std::vector<PubConfig> configs;
  // Tried once with 3000 and 100000 as well: for 100 B, 10000-100000 were
  // within noise of each other; for 1 KiB, 1000-3000 were best.
  for (int hwm : {100, 1000, 10000}) {
    configs.push_back({hwm, true});
    configs.push_back({hwm, false});
  }
  configs.push_back({30000, true});
  configs.push_back({0, false});  // unbounded: NODROP would never act
  auto count_for = [&](int size) -> uint64_t {
    if (o.quick) return size <= 100 ? 100000 : 40000;
    return size <= 100 ? 2000000 : 600000;
  };

  // samples[size][config index]
  std::map<int, std::vector<std::vector<double>>> samples;
  std::map<int, std::vector<std::vector<double>>> delivered;  // fraction delivered
  for (int size : sizes) {
    samples[size].resize(configs.size());
    delivered[size].resize(configs.size());
  }
  for (int r = 0; r < o.runs; ++r) {
    for (size_t c = 0; c < configs.size(); ++c) {
      for (int size : sizes) {
        PubRun run = RunPubSub("tcp://127.0.0.1:0", configs[c], size, count_for(size), 0);
        const double frac = static_cast<double>(run.sub.received) / static_cast<double>(run.count);
        std::fprintf(stderr,
                     "   run %d %-28s %4d B: received %8llu/%llu (lost %llu, invalid %llu) "
                     "%.3f M/s received, sending took %.3f s\n",
                     r + 1, configs[c].Name().c_str(), size,
                     static_cast<unsigned long long>(run.sub.received),
                     static_cast<unsigned long long>(run.count),
                     static_cast<unsigned long long>(run.sub.lost),
                     static_cast<unsigned long long>(run.sub.invalid), run.ReceivedRate() / 1e6,
                     static_cast<double>(run.sent_end_ns - run.start_ns) / 1e9);
        if (run.sub.invalid > 0) {
          std::fprintf(stderr, "baseline_bench: subscriber saw out-of-order messages\n");
          std::exit(1);
        }
        if (configs[c].nodrop && configs[c].hwm > 0 && run.sub.lost > 0) {
          std::fprintf(stderr, "baseline_bench: WARNING: messages lost despite XPUB_NODROP\n");
        }
        samples[size][c].push_back(run.ReceivedRate());
        delivered[size][c].push_back(frac);
      }
    }
  }

  // A configuration that drops (no NODROP, bounded queue) delivers a few
  // percent of what was sent: its "received rate" is that of a short burst, not
  // a throughput, so it is reported as the fraction delivered and is never the
  // baseline. The best is the fastest configuration that delivered everything.
  std::map<int, size_t> best;
  for (int size : sizes) {
    size_t b = configs.size();
    for (size_t c = 0; c < configs.size(); ++c) {
      const std::string name = "pub/sub tcp, one frame, " + configs[c].Name();
      const bool lossless =
          *std::min_element(delivered[size][c].begin(), delivered[size][c].end()) == 1.0;
      if (!configs[c].Lossy()) {
        Emit("pubsub", "zmq", name, size, "-", "rate", "rec/s", samples[size][c]);
      } else {
        std::fprintf(stderr, "  (lossy; received %.0f rec/s while it lasted)\n",
                     Median(samples[size][c]));
        std::vector<double> pct;
        for (double d : delivered[size][c]) pct.push_back(100 * d);
        Emit("pubsub", "zmq", name, size, "-", "delivered", "%", pct);
      }
      if (lossless &&
          (b == configs.size() || Median(samples[size][c]) > Median(samples[size][b]))) {
        b = c;
      }
    }
    if (b == configs.size()) {
      std::fprintf(stderr, "baseline_bench: no configuration delivered everything\n");
      std::exit(1);
    }
    best[size] = b;
    std::fprintf(stderr, "  best for %d B: %s\n", size, configs[b].Name().c_str());
    Emit("pubsub", "zmq", "pub/sub tcp, one frame", size, "-", "rate", "rec/s", samples[size][b]);
  }

  // ipc, with the best tcp configuration of each size.
  const std::string dir = MakeTempDir("/tmp");
  std::map<int, std::vector<double>> ipc;
  for (int r = 0; r < o.runs; ++r) {
    for (int size : sizes) {
      const PubConfig& cfg = configs[best[size]];
      PubRun run = RunPubSub("ipc://" + dir + "/pubsub", cfg, size, count_for(size), 0);
      std::fprintf(stderr, "   run %d ipc %-24s %4d B: received %8llu/%llu %.3f M/s\n", r + 1,
                   cfg.Name().c_str(), size, static_cast<unsigned long long>(run.sub.received),
                   static_cast<unsigned long long>(run.count), run.ReceivedRate() / 1e6);
      if (run.sub.invalid > 0) std::exit(1);
      ipc[size].push_back(run.ReceivedRate());
    }
  }
  std::filesystem::remove_all(dir);
  for (int size : sizes) {
    Emit("pubsub", "zmq", "pub/sub ipc", size, "-", "rate", "rec/s", ipc[size]);
  }
}

void LatencyGroup(const Options& o) {
  const PubConfig cfg{1000, true};
  std::fprintf(
      stderr,
      "== latency: XPUB (parent) -> SUB (forked child) over tcp, 100 B, %s, paced to "
      "per-message CLOCK_MONOTONIC deadlines (sleep, then sched_yield the last 30 us); stamp "
      "= CLOCK_MONOTONIC at send\n",
      cfg.Name().c_str());
  const std::vector<double> rates = {1000, 10000, 100000};
  const double seconds = o.quick ? 0.3 : 2.0;
  std::map<double, std::vector<double>> p50, p99, p999;
  for (int r = 0; r < o.runs; ++r) {
    for (double rate : rates) {
      const auto count = static_cast<uint64_t>(rate * seconds);
      PubRun run = RunPubSub("tcp://127.0.0.1:0", cfg, 100, count, rate);
      const double achieved =
          static_cast<double>(count) * 1e9 / static_cast<double>(run.sent_end_ns - run.start_ns);
      std::fprintf(stderr,
                   "   run %d @%.0f/s: %llu/%llu received, sent at %.0f/s, p50 %.1f p99 %.1f "
                   "p999 %.1f us\n",
                   r + 1, rate, static_cast<unsigned long long>(run.sub.received),
                   static_cast<unsigned long long>(count), achieved, run.sub.p50, run.sub.p99,
                   run.sub.p999);
      if (run.sub.invalid > 0 || run.sub.lost > 0) {
        std::fprintf(stderr, "baseline_bench: latency run lost or reordered messages\n");
        std::exit(1);
      }
      p50[rate].push_back(run.sub.p50);
      p99[rate].push_back(run.sub.p99);
      p999[rate].push_back(run.sub.p999);
    }
  }
  for (double rate : rates) {
    char name[64];
    std::snprintf(name, sizeof name, "pub/sub tcp @%.0f/s", rate);
    for (auto& [metric, s] : {std::make_pair("p50", &p50[rate]), std::make_pair("p99", &p99[rate]),
                              std::make_pair("p999", &p999[rate])}) {
      Emit("latency", "zmq", name, 100, "-", metric, "us", *s);
    }
  }
}

// ---------------------------------------------------------------------------
// rtt: DEALER (parent) ↔ ROUTER (forked child)

void RouterEchoMain(int in, int out) {
  (void)in;
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  SetInt(router, ZMQ_LINGER, 1000, "ZMQ_LINGER");
  if (zmq_bind(router, "tcp://127.0.0.1:0") != 0) DieZmq("zmq_bind");
  char ep[240] = {};
  std::snprintf(ep, sizeof ep, "%s", LastEndpoint(router).c_str());
  WriteAll(out, ep, sizeof ep);
  zmq_msg_t id, body;
  zmq_msg_init(&id);
  zmq_msg_init(&body);
  for (;;) {
    if (zmq_msg_recv(&id, router, 0) < 0 || zmq_msg_recv(&body, router, 0) < 0) {
      DieZmq("router recv");
    }
    if (zmq_msg_size(&body) == 0) break;  // the client is done
    if (zmq_msg_send(&id, router, ZMQ_SNDMORE) < 0 || zmq_msg_send(&body, router, 0) < 0) {
      DieZmq("router send");
    }
  }
  zmq_msg_close(&id);
  zmq_msg_close(&body);
  zmq_close(router);
  zmq_ctx_term(ctx);
}

void RttGroup(const Options& o) {
  std::fprintf(stderr,
               "== rtt: DEALER (parent process) <-> ROUTER echo (forked child), tcp loopback, "
               "100 B, sequential request/reply\n");
  const double seconds = o.quick ? 0.3 : 1.5;
  std::vector<double> p50, p99, p999, rates;
  for (int r = 0; r < o.runs; ++r) {
    Child child = Child::Start(RouterEchoMain);
    char ep[240];
    if (!ReadAll(child.from_child, ep, sizeof ep)) Die("server died");
    void* ctx = zmq_ctx_new();
    void* dealer = zmq_socket(ctx, ZMQ_DEALER);
    SetInt(dealer, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    if (zmq_connect(dealer, ep) != 0) DieZmq("zmq_connect");
    std::vector<char> req(100, 0), rep(256);
    std::vector<double> lat;
    lat.reserve(200000);
    const uint64_t start = NowNs();
    const uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
    uint64_t measured_start = 0;
    uint64_t i = 0;
    for (;; ++i) {
      std::memcpy(req.data(), &i, 8);
      const uint64_t t0 = NowNs();
      if (t0 >= end) break;
      if (zmq_send(dealer, req.data(), req.size(), 0) < 0) DieZmq("dealer send");
      const int n = zmq_recv(dealer, rep.data(), rep.size(), 0);
      const uint64_t t1 = NowNs();
      uint64_t echoed;
      std::memcpy(&echoed, rep.data(), 8);
      if (n != 100 || echoed != i) {
        std::fprintf(stderr, "baseline_bench: bad reply\n");
        std::exit(1);
      }
      if (i == 0) measured_start = t0;
      lat.push_back(static_cast<double>(t1 - t0) / 1e3);
    }
    const uint64_t finish = NowNs();
    if (zmq_send(dealer, "", 0, 0) < 0) DieZmq("dealer send");
    child.Wait();
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    // Discard the first 5 % as warm-up (connection set-up lands in the first).
    std::vector<double> kept(lat.begin() + static_cast<long>(lat.size() / 20), lat.end());
    p50.push_back(Quantile(&kept, 0.50));
    p99.push_back(Quantile(&kept, 0.99));
    p999.push_back(Quantile(&kept, 0.999));
    rates.push_back(static_cast<double>(i) * 1e9 / static_cast<double>(finish - measured_start));
    std::fprintf(stderr, "   run %d: %llu round trips, %.0f/s, p50 %.1f p99 %.1f p999 %.1f us\n",
                 r + 1, static_cast<unsigned long long>(i), rates.back(), p50.back(), p99.back(),
                 p999.back());
  }
  const std::string name = "dealer/router tcp round trip";
  for (auto& [metric, s] :
       {std::make_pair("p50", &p50), std::make_pair("p99", &p99), std::make_pair("p999", &p999)}) {
    Emit("rtt", "zmq", name, 100, "-", metric, "us", *s);
  }
  Emit("rtt", "zmq", name + "s", 100, "-", "rate", "rec/s", rates);
}

// ---------------------------------------------------------------------------
// lmdb

// A directory for LMDB files on a real disk: fsync on tmpfs would be free.
std::string LmdbBaseDir() {
  for (const char* base : {"/var/tmp", "."}) {
    struct statfs s {};
    if (statfs(base, &s) != 0) continue;
    if (s.f_type == 0x01021994 /* TMPFS_MAGIC */ || s.f_type == 0x858458f6 /* RAMFS_MAGIC */) {
      continue;
    }
    if (access(base, W_OK) == 0) return base;
  }
  std::fprintf(stderr, "baseline_bench: no writable non-tmpfs directory for LMDB\n");
  std::exit(1);
}

struct Env {
  std::string dir;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;

  Env(const std::string& base, unsigned flags) : dir(MakeTempDir(base)) {
    CheckMdb(mdb_env_create(&env), "mdb_env_create");
    CheckMdb(mdb_env_set_mapsize(env, size_t{4} << 30), "mdb_env_set_mapsize");
    CheckMdb(mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0644), "mdb_env_open");
    MDB_txn* txn;
    CheckMdb(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    CheckMdb(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
    CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~Env() {
    mdb_env_close(env);
    std::filesystem::remove_all(dir);
  }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
};

void BigEndian(uint64_t v, unsigned char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(v);
    v >>= 8;
  }
}

// Appends batches of `batch` records of `size` bytes for about `seconds` (at
// most `max_records`); records/s.
double AppendRate(const std::string& base, unsigned flags, int size, int batch, double seconds,
                  uint64_t max_records) {
  Env e(base, flags);
  std::vector<char> value(static_cast<size_t>(size), 'x');
  unsigned char key[8];
  uint64_t next = 0;
  const uint64_t start = NowNs();
  const uint64_t end = start + static_cast<uint64_t>(seconds * 1e9);
  uint64_t now = start;
  while (now < end && next < max_records) {
    MDB_txn* txn;
    CheckMdb(mdb_txn_begin(e.env, nullptr, 0, &txn), "mdb_txn_begin");
    for (int i = 0; i < batch; ++i, ++next) {
      BigEndian(next, key);
      MDB_val k{8, key};
      MDB_val v{value.size(), value.data()};
      CheckMdb(mdb_put(txn, e.dbi, &k, &v, MDB_APPEND), "mdb_put");
    }
    CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
    now = NowNs();
  }
  return static_cast<double>(next) * 1e9 / static_cast<double>(now - start);
}

// Latencies (us) of `n` write transactions of one 100 B append each, committed
// with full sync, after a few unmeasured ones.
std::vector<double> SyncCommitLatencies(const std::string& base, int n) {
  Env e(base, 0);
  std::vector<char> value(100, 'x');
  unsigned char key[8];
  std::vector<double> lat;
  const int warmup = 10;
  for (int i = 0; i < warmup + n; ++i) {
    const uint64_t t0 = NowNs();
    MDB_txn* txn;
    CheckMdb(mdb_txn_begin(e.env, nullptr, 0, &txn), "mdb_txn_begin");
    BigEndian(static_cast<uint64_t>(i), key);
    MDB_val k{8, key};
    MDB_val v{value.size(), value.data()};
    CheckMdb(mdb_put(txn, e.dbi, &k, &v, MDB_APPEND), "mdb_put");
    CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
    if (i >= warmup) lat.push_back(static_cast<double>(NowNs() - t0) / 1e3);
  }
  return lat;
}

// The floor of fsync latency for any single-writer LMDB journal at a given
// arrival rate: records arrive every 1/rate s (one 100 B append each); one
// committer thread takes every record waiting, appends them in one write
// transaction and commits it with full sync (group commit, LMDB's own two
// flushes: data, then meta page), again and again. Latency: arrival ->
// commit returned. No encoding, no network, no acknowledgement: what is left
// of brook's fsync path when everything but the journal costs nothing. When a
// commit takes longer than the gap between arrivals, most records wait for
// the commit in progress, then for their own. `pipelined` overlaps commits:
// see below; it is the best a single LMDB writer can do without giving up
// LMDB's own ordering of data before meta page.
std::vector<double> GroupCommitLatencies(const std::string& base, double rate, int n,
                                         bool pipelined) {
  Env e(base, pipelined ? MDB_NOMETASYNC : 0);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> waiting;  // arrival times
  bool done = false;
  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(n));
  // Pipelined: the committer's commit returns once the data pages are synced
  // and the meta page written, not synced; a syncer thread makes each
  // committed batch durable with one mdb_env_sync while the committer goes on
  // to the next batch, and a record's latency ends at that sync.
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::vector<uint64_t> unsynced;  // arrival times of committed records
  bool committer_done = false;
  std::thread syncer;
  if (pipelined) {
    syncer = std::thread([&] {
      std::vector<uint64_t> flushing;
      for (;;) {
        {
          std::unique_lock<std::mutex> lk(sync_mu);
          sync_cv.wait(lk, [&] { return committer_done || !unsynced.empty(); });
          if (unsynced.empty()) return;
          flushing.swap(unsynced);
        }
        CheckMdb(mdb_env_sync(e.env, 1), "mdb_env_sync");
        const uint64_t now = NowNs();
        for (uint64_t arrived : flushing) lat.push_back(static_cast<double>(now - arrived) / 1e3);
        flushing.clear();
      }
    });
  }
  std::thread committer([&] {
    std::vector<char> value(100, 'x');
    unsigned char key[8];
    uint64_t next = 0;
    std::vector<uint64_t> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return done || !waiting.empty(); });
        if (waiting.empty()) break;
        batch.swap(waiting);
      }
      MDB_txn* txn;
      CheckMdb(mdb_txn_begin(e.env, nullptr, 0, &txn), "mdb_txn_begin");
      for (size_t i = 0; i < batch.size(); ++i, ++next) {
        BigEndian(next, key);
        MDB_val k{8, key};
        MDB_val v{value.size(), value.data()};
        CheckMdb(mdb_put(txn, e.dbi, &k, &v, MDB_APPEND), "mdb_put");
      }
      CheckMdb(mdb_txn_commit(txn), "mdb_txn_commit");
      if (pipelined) {
        {
          std::lock_guard<std::mutex> lk(sync_mu);
          unsynced.insert(unsynced.end(), batch.begin(), batch.end());
        }
        sync_cv.notify_one();
      } else {
        const uint64_t now = NowNs();
        for (uint64_t arrived : batch) lat.push_back(static_cast<double>(now - arrived) / 1e3);
      }
      batch.clear();
    }
    if (pipelined) {
      {
        std::lock_guard<std::mutex> lk(sync_mu);
        committer_done = true;
      }
      sync_cv.notify_one();
    }
  });
  PacedWaitSetup();
  const uint64_t gap = static_cast<uint64_t>(1e9 / rate);
  const uint64_t start = NowNs() + 1000000;
  for (int i = 0; i < n; ++i) {
    WaitUntilNs(start + static_cast<uint64_t>(i) * gap);
    {
      std::lock_guard<std::mutex> lk(mu);
      waiting.push_back(NowNs());
    }
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lk(mu);
    done = true;
  }
  cv.notify_one();
  committer.join();
  if (syncer.joinable()) syncer.join();
  // The first records met an empty, cold journal.
  lat.erase(lat.begin(), lat.begin() + std::min<size_t>(lat.size(), 100));
  return lat;
}

void LmdbGroup(const Options& o) {
  const std::string base = LmdbBaseDir();
  std::fprintf(stderr,
               "== lmdb: mdb_put(MDB_APPEND), 8-byte big-endian keys, fresh environment per "
               "sample in %s (not tmpfs), map 4 GiB, no MDB_WRITEMAP\n",
               base.c_str());
  struct Mode {
    const char* name;
    unsigned flags;
  };
  const std::vector<Mode> modes = {
      {"nosync", MDB_NOSYNC}, {"nometasync", MDB_NOMETASYNC}, {"fsync", 0}};
  const std::vector<int> sizes = {100, 1024};
  const std::vector<int> batches = {1, 100, 1000};
  const double seconds = o.quick ? 0.1 : 0.5;
  const uint64_t max_records = o.quick ? 300000 : 3000000;
  const int commits = o.quick ? 50 : 400;

  // Key: mode index, size, batch.
  std::map<std::tuple<size_t, int, int>, std::vector<double>> rates;
  // p50 / p99 / p999 of each run's 100 B fsync latencies, emitted as three
  // figures named `name`.
  struct Percentiles {
    explicit Percentiles(std::string n) : name(std::move(n)) {}
    std::string name;
    std::vector<double> p50, p99, p999;
    void Add(std::vector<double>* lat, int run, const std::string& label) {
      p50.push_back(Quantile(lat, 0.50));
      p99.push_back(Quantile(lat, 0.99));
      p999.push_back(Quantile(lat, 0.999));
      std::fprintf(stderr, "   run %d %s: p50 %.1f p99 %.1f p999 %.1f us\n", run, label.c_str(),
                   p50.back(), p99.back(), p999.back());
    }
    void EmitAll() const {
      Emit("lmdb", "lmdb", name, 100, "fsync", "p50", "us", p50);
      Emit("lmdb", "lmdb", name, 100, "fsync", "p99", "us", p99);
      Emit("lmdb", "lmdb", name, 100, "fsync", "p999", "us", p999);
    }
  };
  Percentiles one{"one synchronous commit"};
  Percentiles group{"group commit at 10k/s arrivals"};
  Percentiles pipelined{"pipelined group commit at 10k/s arrivals"};
  const int arrivals = o.quick ? 2000 : 20000;
  for (int r = 0; r < o.runs; ++r) {
    for (size_t m = 0; m < modes.size(); ++m) {
      for (int size : sizes) {
        for (int batch : batches) {
          const double rate = AppendRate(base, modes[m].flags, size, batch, seconds, max_records);
          rates[{m, size, batch}].push_back(rate);
          std::fprintf(stderr, "   run %d %-10s %4d B batch %4d: %.0f rec/s\n", r + 1,
                       modes[m].name, size, batch, rate);
        }
      }
    }
    std::vector<double> lat = SyncCommitLatencies(base, commits);
    one.Add(&lat, r + 1, "one synchronous commit x" + std::to_string(commits));
    const std::string n = std::to_string(arrivals);
    lat = GroupCommitLatencies(base, 10000, arrivals, false);
    group.Add(&lat, r + 1, "group commit, arrivals at 10k/s x" + n);
    lat = GroupCommitLatencies(base, 10000, arrivals, true);
    pipelined.Add(&lat, r + 1, "pipelined group commit (syncer thread), arrivals at 10k/s x" + n);
  }
  for (size_t m = 0; m < modes.size(); ++m) {
    for (int size : sizes) {
      for (int batch : batches) {
        Emit("lmdb", "lmdb", "append batch " + std::to_string(batch), size, modes[m].name, "rate",
             "rec/s", rates[{m, size, batch}]);
      }
    }
  }
  for (const Percentiles* p : {&one, &group, &pipelined}) p->EmitAll();
}

void Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--runs N] [--quick] [--only GROUP[,GROUP]]\n"
               "  groups: pubsub, latency, rtt, lmdb\n",
               argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool runs_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      o.runs = std::atoi(argv[++i]);
      runs_given = true;
      if (o.runs < 1) Usage(argv[0]);
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--only" && i + 1 < argc) {
      std::string list = argv[++i];
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const std::string g = list.substr(pos, comma - pos);
        if (g != "pubsub" && g != "latency" && g != "rtt" && g != "lmdb") Usage(argv[0]);
        o.only.insert(g);
        pos = comma + 1;
      }
    } else {
      Usage(argv[0]);
    }
  }
  if (o.quick && !runs_given) o.runs = 1;

  const auto start = brook::bench::Clock::now();
  if (o.Wants("pubsub")) PubSubGroup(o);
  if (o.Wants("latency")) LatencyGroup(o);
  if (o.Wants("rtt")) RttGroup(o);
  if (o.Wants("lmdb")) LmdbGroup(o);
  std::fprintf(stderr, "baseline_bench: done in %.1f s\n", brook::bench::SecondsSince(start));
  return 0;
}
