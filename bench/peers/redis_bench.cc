// redis_bench: Redis Streams (Debian's redis-server, hiredis client) on
// loopback, as a peer of brook.
//
//   redis_bench [--runs N] [--quick] [--records N]
//
// Starts its own redis-server on 127.0.0.1 and a free port, in a fresh
// temporary directory, with the append-only file on and no RDB snapshots, once
// per durability mode:
//   - "fsync":    appendfsync always. Redis writes the AOF and fdatasync()s it
//                 before it sends the replies of one event-loop iteration: a
//                 group commit, acknowledged after the sync, like brook's fsync.
//   - "everysec": appendfsync everysec. Written to the OS at once, synced by a
//                 background thread about once a second, acknowledged before
//                 the sync. Closest to brook's nosync (which never syncs) with a
//                 periodic sync added: it is a poor match for any brook mode,
//                 and its figures say so in their name.
// Workloads, at payloads of 100 and 1024 B (one stream field holding the payload):
//   - publish: XADD pipelined, 1000 commands in flight, rec/s;
//   - replay:  reading the whole stream back with XRANGE COUNT 1000, rec/s;
//   - e2e:     a forked consumer doing blocking XREAD COUNT 1000 while the
//              producer pipelines XADDs; rec/s delivered, every record checked
//              present, in order and intact;
//   - latency: one-way latency at 10k rec/s (one XADD written per record, no
//              batching), p50/p99/p999 in us, stamped with the time each record
//              was due to be sent (so a stalled producer counts as latency).
// One JSON line per figure on stdout (bench/bench_util.h), progress on stderr.
// If redis-server is not installed, says so and exits 0 with no figures.
#include <hiredis/hiredis.h>
#include <poll.h>

#include <memory>

#include "bench/peers/peer_util.h"

namespace {

using namespace brook::bench;
using namespace brook::bench::peers;

constexpr const char* kStream = "bench";
constexpr int kPipeline = 1000;
constexpr int kBatch = 1000;  // XRANGE / XREAD COUNT

struct RedisFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Conn = std::unique_ptr<redisContext, RedisFree>;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

Conn Connect(int port) {
  timeval tv{10, 0};
  Conn c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c) throw std::runtime_error("redisConnect: out of memory");
  if (c->err) throw std::runtime_error(std::string("redisConnect: ") + c->errstr);
  timeval rw{30, 0};
  redisSetTimeout(c.get(), rw);
  return c;
}

Reply Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) throw std::runtime_error(std::string("redis: ") + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("redis " + args[0] + ": " + r->str);
  return r;
}

void AppendXadd(redisContext* c, const std::string& payload) {
  const char* argv[5] = {"XADD", kStream, "*", "d", payload.data()};
  size_t lens[5] = {4, std::strlen(kStream), 1, 1, payload.size()};
  if (redisAppendCommandArgv(c, 5, argv, lens) != REDIS_OK) {
    throw std::runtime_error(std::string("redisAppendCommandArgv: ") + c->errstr);
  }
}

void ReadXaddReply(redisContext* c) {
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK) {
    throw std::runtime_error(std::string("XADD reply: ") + c->errstr);
  }
  Reply r(static_cast<redisReply*>(raw));
  if (r->type != REDIS_REPLY_STRING) {
    throw std::runtime_error(std::string("XADD: ") + (r->str ? r->str : "unexpected reply"));
  }
}

// XADDs records first..first+n-1, `kPipeline` in flight.
void Publish(redisContext* c, size_t size, int64_t n) {
  std::string payload;
  int64_t sent = 0, acked = 0;
  while (acked < n) {
    while (sent < n && sent - acked < kPipeline) {
      FillPayload(&payload, size, static_cast<uint64_t>(sent), 0);
      AppendXadd(c, payload);
      ++sent;
    }
    // Read half a window of replies, so the pipe never drains.
    int64_t until = sent == n ? n : std::min(sent, acked + kPipeline / 2);
    while (acked < until) {
      ReadXaddReply(c);
      ++acked;
    }
  }
}

// Checks the entries of one XRANGE / XREAD array against `next`; returns the last id.
std::string CheckEntries(const redisReply* entries, size_t size, int64_t* next, int64_t* errors,
                         std::vector<double>* latencies, std::string* what) {
  std::string last;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) {
      ++*errors;
      continue;
    }
    last.assign(e->element[0]->str, e->element[0]->len);
    const redisReply* fields = e->element[1];
    int64_t stamp = 0;
    if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
        !CheckPayload(fields->element[1]->str, fields->element[1]->len, size,
                      static_cast<uint64_t>(*next), &stamp)) {
      if (*errors == 0 && what) *what = "record " + std::to_string(*next) + " missing or damaged";
      ++*errors;
    }
    if (latencies) latencies->push_back(Micros(MonoNanos() - stamp));
    ++*next;
  }
  return last;
}

double Replay(redisContext* c, size_t size, int64_t n) {
  auto start = Clock::now();
  std::string from = "-";
  int64_t next = 0, errors = 0;
  std::string what;
  for (;;) {
    Reply r = Command(c, {"XRANGE", kStream, from, "+", "COUNT", std::to_string(kBatch)});
    if (r->type != REDIS_REPLY_ARRAY) throw std::runtime_error("XRANGE: unexpected reply");
    if (r->elements == 0) break;
    std::string last = CheckEntries(r.get(), size, &next, &errors, nullptr, &what);
    from = "(" + last;  // exclusive range start (Redis >= 6.2)
  }
  double secs = SecondsSince(start);
  if (next != n || errors) {
    throw std::runtime_error("replay read " + std::to_string(next) + " of " + std::to_string(n) +
                             " records, " + std::to_string(errors) + " bad: " + what);
  }
  return static_cast<double>(n) / secs;
}

// The forked consumer: blocking XREAD from the start of the (empty) stream
// until `n` records arrived; reports through `out`. With `latencies`, sends
// p50/p99/p999 after the result.
[[noreturn]] void ConsumerMain(int port, size_t size, int64_t n, bool latencies, Pipe* ready,
                               Pipe* out) {
  ConsumerResult res;
  std::vector<double> lat;
  try {
    Conn c = Connect(port);
    if (latencies) lat.reserve(static_cast<size_t>(n));
    ready->Put(static_cast<char>(1));
    std::string from = "0-0";
    int64_t next = 0;
    std::string what;
    while (next < n) {
      Reply r = Command(c.get(), {"XREAD", "COUNT", std::to_string(kBatch), "BLOCK", "20000",
                                  "STREAMS", kStream, from});
      if (r->type == REDIS_REPLY_NIL) {
        what = "XREAD timed out after " + std::to_string(next) + " records";
        res.errors++;
        break;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2) {
        throw std::runtime_error("XREAD: unexpected reply");
      }
      from = CheckEntries(r->element[0]->element[1], size, &next, &res.errors,
                          latencies ? &lat : nullptr, &what);
      res.end_ns = MonoNanos();
    }
    res.received = next;
    std::snprintf(res.what, sizeof res.what, "%s", what.c_str());
  } catch (const std::exception& e) {
    res.errors++;
    std::snprintf(res.what, sizeof res.what, "%s", e.what());
  }
  out->Put(res);
  if (latencies) {
    double q[3] = {Quantile(&lat, 0.5), Quantile(&lat, 0.99), Quantile(&lat, 0.999)};
    out->Put(q);
  }
  _exit(0);
}

struct E2eChild {
  pid_t pid = 0;
  ~E2eChild() { ReapChild(pid, 1); }
};

void CheckConsumer(const ConsumerResult& res, int64_t n) {
  if (res.errors || res.received != n) {
    throw std::runtime_error("consumer received " + std::to_string(res.received) + " of " +
                             std::to_string(n) + " records, " + std::to_string(res.errors) +
                             " errors: " + res.what);
  }
}

double EndToEnd(int port, size_t size, int64_t n) {
  Conn c = Connect(port);
  Command(c.get(), {"DEL", kStream});
  Pipe ready, out;
  E2eChild child;
  child.pid = ForkChild();
  if (child.pid == 0) ConsumerMain(port, size, n, false, &ready, &out);
  char ok;
  if (!ready.Get(&ok, 10000)) throw std::runtime_error("consumer did not start");
  int64_t t0 = MonoNanos();
  Publish(c.get(), size, n);
  ConsumerResult res;
  if (!out.Get(&res, 60000)) throw std::runtime_error("consumer did not report");
  CheckConsumer(res, n);
  return static_cast<double>(n) / (static_cast<double>(res.end_ns - t0) / 1e9);
}

// Reads whatever XADD replies have arrived, without blocking.
int64_t DrainReplies(redisContext* c) {
  int64_t got = 0;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
      throw std::runtime_error(std::string("XADD reply: ") + c->errstr);
    }
    if (raw) {
      Reply r(static_cast<redisReply*>(raw));
      if (r->type != REDIS_REPLY_STRING) throw std::runtime_error("XADD failed");
      ++got;
      continue;
    }
    pollfd p{c->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return got;
    if (redisBufferRead(c) != REDIS_OK) {
      throw std::runtime_error(std::string("read: ") + c->errstr);
    }
  }
}

void Latency(int port, size_t size, int64_t n, double rate, std::vector<double> q_out[3]) {
  Conn c = Connect(port);
  Command(c.get(), {"DEL", kStream});
  Pipe ready, out;
  E2eChild child;
  child.pid = ForkChild();
  if (child.pid == 0) ConsumerMain(port, size, n, true, &ready, &out);
  char ok;
  if (!ready.Get(&ok, 10000)) throw std::runtime_error("consumer did not start");
  usleep(100000);  // let the consumer's first XREAD block
  const int64_t interval = static_cast<int64_t>(1e9 / rate);
  std::string payload;
  int64_t acked = 0;
  const int64_t t0 = MonoNanos() + 1000000;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t due = t0 + i * interval;
    while (MonoNanos() < due) {
      acked += DrainReplies(c.get());
      int64_t rest = due - MonoNanos();
      if (rest > 60000) usleep(static_cast<useconds_t>((rest - 50000) / 1000));
    }
    FillPayload(&payload, size, static_cast<uint64_t>(i), due);
    AppendXadd(c.get(), payload);
    int done = 0;
    while (!done) {
      if (redisBufferWrite(c.get(), &done) != REDIS_OK) {
        throw std::runtime_error(std::string("write: ") + c->errstr);
      }
    }
  }
  while (acked < n) {
    void* raw = nullptr;
    if (redisGetReply(c.get(), &raw) != REDIS_OK) throw std::runtime_error("XADD reply lost");
    freeReplyObject(raw);
    ++acked;
  }
  ConsumerResult res;
  if (!out.Get(&res, 60000)) throw std::runtime_error("consumer did not report");
  CheckConsumer(res, n);
  double q[3];
  if (!out.Get(&q, 10000)) throw std::runtime_error("consumer sent no latencies");
  for (int i = 0; i < 3; ++i) q_out[i].push_back(q[i]);
}

struct ModeSpec {
  const char* mode;
  const char* appendfsync;
  const char* suffix;  // appended to figure names
};

int Main(int argc, char** argv) {
  InstallCleanup();
  const Options opt = ParseOptions(argc, argv);
  const std::string binary = FindBinary("redis-server");
  if (binary.empty()) {
    std::fprintf(stderr,
                 "redis_bench: redis-server not found (install it with "
                 "scripts/install-deps.sh --bench); no figures\n");
    return 0;
  }
  const ModeSpec modes[] = {
      {"fsync", "always", ""},
      {"everysec", "everysec", " (~nosync+sync/s: poor match)"},
  };
  const size_t sizes[] = {100, 1024};
  for (const ModeSpec& m : modes) {
    for (size_t size : sizes) {
      // A fresh server per mode and size keeps the AOF small and the runs alike.
      Server server("redis", binary);
      server.Start({"--port",
                    std::to_string(server.port()),
                    "--bind",
                    "127.0.0.1",
                    "--protected-mode",
                    "yes",
                    "--dir",
                    server.dir(),
                    "--daemonize",
                    "no",
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    m.appendfsync,
                    "--auto-aof-rewrite-percentage",
                    "0",
                    "--logfile",
                    ""});
      std::fprintf(stderr,
                   "redis_bench: redis-server on 127.0.0.1:%d in %s, appendfsync %s, %zu B\n",
                   server.port(), server.dir().c_str(), m.appendfsync, size);
      Conn c = Connect(server.port());
      {
        Reply v = Command(c.get(), {"CONFIG", "GET", "appendfsync"});
        if (v->elements != 2 || std::string(v->element[1]->str) != m.appendfsync) {
          throw std::runtime_error("redis-server did not take appendfsync " +
                                   std::string(m.appendfsync));
        }
      }
      const bool fsync = std::string(m.mode) == "fsync";
      // About 1-2 s per measurement on a 2-core VM.
      const int64_t n_pub = RecordsFor(
          opt, size <= 100 ? (fsync ? 600000 : 1000000) : (fsync ? 80000 : 400000), 20000);
      const int64_t n_lat = RecordsFor(opt, 20000, 3000);
      Figure pub =
          MakeFigure("publish", "redis", "XADD pipelined " + std::to_string(kPipeline) + m.suffix,
                     size, m.mode);
      Figure rep = MakeFigure("replay", "redis",
                              "XRANGE COUNT " + std::to_string(kBatch) + m.suffix, size, m.mode);
      Figure e2e =
          MakeFigure("e2e", "redis", "XADD pipelined -> XREAD BLOCK (fork)" + std::string(m.suffix),
                     size, m.mode);
      for (int run = 0; run < opt.runs; ++run) {
        Command(c.get(), {"DEL", kStream});
        auto start = Clock::now();
        Publish(c.get(), size, n_pub);
        pub.samples.push_back(static_cast<double>(n_pub) / SecondsSince(start));
        rep.samples.push_back(Replay(c.get(), size, n_pub));
        e2e.samples.push_back(EndToEnd(server.port(), size, n_pub));
        Command(c.get(), {"DEL", kStream});
        std::fprintf(stderr, "  run %d: publish %.0f, replay %.0f, e2e %.0f rec/s (%lld records)\n",
                     run + 1, pub.samples.back(), rep.samples.back(), e2e.samples.back(),
                     static_cast<long long>(n_pub));
      }
      Report(pub);
      Report(rep);
      Report(e2e);
      std::vector<double> q[3];
      for (int run = 0; run < opt.runs; ++run) Latency(server.port(), size, n_lat, 10000, q);
      const char* metrics[3] = {"p50", "p99", "p999"};
      for (int i = 0; i < 3; ++i) {
        Figure f = MakeFigure("latency", "redis",
                              "one-way XADD -> XREAD at 10k rec/s" + std::string(m.suffix), size,
                              m.mode, metrics[i], "us");
        f.samples = q[i];
        Report(f);
      }
      c.reset();
      server.Stop();
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_bench: error: %s\n", e.what());
    return 1;
  }
}
