// load_bench: a producer's acknowledged publish rate, unloaded and under
// load, in the same run, as ratios (issue 8, item 9).
//
//   load_bench [--runs R] [--quick] [--seconds S] [--only LOAD[,LOAD...]]
//              [--modes nosync,fsync] [--dir DIR] [--processes K]
//              [--consumers N] [--topics T] [--replays N] [--prefill N]
//              [--topics-prefill N] [--idle N] [--idle-wave N]
//              [--child-nice N] [--partitions P] [--catchup-timeout S]
//
// The publisher is the same in every phase: one thread calling
// PublishBatch with 100 records of 100 B, in a loop for --seconds (2 s; 0.3 s
// with --quick); the figure is acknowledged records per second. Each phase
// opens a fresh producer on a fresh journal (under --dir, default /var/tmp:
// not tmpfs, where fsync is free), on 127.0.0.1 with ephemeral ports; every
// topic has --partitions partitions (1). Modes: nosync and fsync (--modes).
// --quick, the CI smoke run (~15 s): 1 run, nosync, 0.3 s per phase, 20,000
// records pre-filled for the replays, 60 s to catch up.
//
// Loads (--only takes the names in brackets; "unloaded" always runs, first
// and again last in every run, and a run's loaded rates are divided by the
// mean of the two):
//   [one]       1 consumer process following the producer live (reference:
//               what one legitimate consumer costs on the same two cores).
//   [consumers] 100 consumers (--consumers), spread over --processes child
//               processes (4), following the producer live.
//   [topics]    1,000 topics (--topics) on the producer, each batch published
//               to the next topic round-robin, 1 consumer following them all.
//               With --topics-prefill N (0 by default) the journal holds N
//               records first, so the consumer starts with a replay of every
//               topic.
//   [replays]   100 consumers (--replays) starting from Earliest on a journal
//               pre-filled with 200,000 records (--prefill), replaying while
//               the producer publishes.
//   [idle]      1,000 raw TCP connections (--idle) to the replay port that
//               connect and send nothing, held for the whole phase, and 1
//               consumer that connects after them. They are made --idle-wave
//               (100) at a time, each wave accepted before the next: ZeroMQ's
//               listen backlog is 100, and a burst of 1,000 connects waits
//               for the kernel's SYN retries (--idle-wave 1000 shows it).
//
// --child-nice N runs the consumer processes at niceness N: with 19 the
// publisher gets the CPU first, and the ratio shows the producer's own cost
// of the load rather than two cores shared with the consumers.
//
// Every consumer checks every record it receives (per stream: offsets dense
// from 0, each payload naming its topic, partition and offset) and must end
// with every record published, within --catchup-timeout (120 s) after the
// publisher stops. A phase where any consumer misses, duplicates or misplaces
// a record, sees an event, or does not catch up fails the benchmark: exit 1
// (after the remaining phases and the table).
//
// Consumers under load are configured with smaller buffers than the
// defaults (sub_high_water_mark 100 messages, max_queued_records 10,000):
// a live message is one commit's records of a partition (here 100 records,
// ~14 KB), so the default 10,000-message high-water mark would let each of
// 100 lagging consumers hold up to ~140 MB. What they drop, they replay.
//
// Output: one JSON line per figure on stdout (bench_util.h; group "load"),
// progress and a table on stderr.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

constexpr size_t kPayload = 100;  // bytes per record
constexpr uint32_t kBatch = 100;  // records per PublishBatch

// Child processes this process started, killed (by pid) if it dies.
std::vector<pid_t> g_children;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "load_bench: %s\n", what.c_str());
  for (pid_t pid : g_children) kill(pid, SIGKILL);
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

std::string TopicName(uint32_t t) { return "t" + std::to_string(t); }

// The payload of `topic`/`partition`@`offset`: topic, partition and offset
// at the front, a filler, and the three folded together in the last 8 bytes,
// so a record at the wrong place, or cut short, never passes.
uint64_t Tail(uint32_t topic, uint32_t partition, uint64_t offset) {
  return offset * 0x9E3779B97F4A7C15ull ^ (uint64_t{topic} << 32 | partition);
}

void EncodePayload(char* p, uint32_t topic, uint32_t partition, uint64_t offset) {
  std::memcpy(p, &topic, 4);
  std::memcpy(p + 4, &partition, 4);
  std::memcpy(p + 8, &offset, 8);
  const uint64_t tail = Tail(topic, partition, offset);
  std::memcpy(p + kPayload - 8, &tail, 8);
}

bool PayloadIs(std::string_view p, uint32_t topic, uint32_t partition, uint64_t offset) {
  if (p.size() != kPayload) return false;
  uint32_t t, part;
  uint64_t o, tail;
  std::memcpy(&t, p.data(), 4);
  std::memcpy(&part, p.data() + 4, 4);
  std::memcpy(&o, p.data() + 8, 8);
  std::memcpy(&tail, p.data() + kPayload - 8, 8);
  return t == topic && part == partition && o == offset && tail == Tail(topic, partition, offset);
}

// Where records go: batch b (counting from 0 over the journal's life) goes
// to topic b % topics; its record k to partition k % partitions, at that
// partition's next offset. So a count of batches says what every stream
// holds, and the consumers need nothing else to check completeness.
uint64_t StreamRecords(uint64_t batches, uint32_t topics, uint32_t partitions, uint32_t topic,
                       uint32_t partition) {
  const uint64_t topic_batches = batches / topics + (topic < batches % topics ? 1 : 0);
  const uint64_t per_batch = kBatch / partitions + (partition < kBatch % partitions ? 1 : 0);
  return topic_batches * per_batch;
}

// Reads one line from `fd` (without the newline) within `timeout`. False on
// EOF, error or time-out.
bool ReadLine(int fd, std::chrono::milliseconds timeout, std::string* line) {
  line->clear();
  const auto deadline = Clock::now() + timeout;
  for (size_t n = 0; n < 65536; ++n) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int r = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    char c;
    const ssize_t got = read(fd, &c, 1);
    if (got <= 0) return false;
    if (c == '\n') return true;
    *line += c;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The consumer process: holds many consumers, checks every record.
//
// stdin, first line:
//   <pub> <replay> <topics> <partitions> <consumers> <sub_hwm> <max_queued> <catchup_s>
// stdout: "ready <ms>" once every consumer knows every partition (the
// producer answered its describe). Then stdin: "end <batches>" once the
// publisher stopped; stdout, when every consumer has every record or
// catchup_s passed:
//   ok <complete> <consumers> <errors> <received> <gaps> <replayed> <catchup_ms>
// Checking goes on from the start: replaying consumers deliver before "end".

struct Follower {
  std::unique_ptr<Consumer> consumer;
  std::vector<uint64_t> next;  // per stream (topic * partitions + partition)
  uint64_t received = 0;
  uint64_t errors = 0;
  PollHandler handler;
};

int ChildMain() {
  std::string line;
  if (!ReadLine(0, 60s, &line)) return 2;
  char pub[512], replay[512];
  unsigned topics = 0, partitions = 0, count = 0, catchup_s = 0;
  int sub_hwm = 0;
  unsigned long long max_queued = 0;
  if (std::sscanf(line.c_str(), "%511s %511s %u %u %u %d %llu %u", pub, replay, &topics,
                  &partitions, &count, &sub_hwm, &max_queued, &catchup_s) != 8 ||
      topics == 0 || partitions == 0 || count == 0)
    return 2;
  const size_t streams = size_t{topics} * partitions;
  ConsumerOptions o;
  o.producers.push_back({pub, replay});
  for (uint32_t t = 0; t < topics; ++t) o.topics.push_back(TopicName(t));
  o.start = StartPosition::Earliest();
  o.sub_high_water_mark = sub_hwm;
  o.max_queued_records = static_cast<size_t>(max_queued);

  const auto open_start = Clock::now();
  std::vector<Follower> fs(count);
  int reported = 0;  // errors printed, at most 5 per process
  for (unsigned i = 0; i < count; ++i) {
    Follower& f = fs[i];
    f.next.assign(streams, 0);
    f.handler.on_record = [&f, &reported, i, topics, partitions](const StreamId& s,
                                                                 const RecordView& r) {
      ++f.received;
      const char* name = s.topic.c_str();
      char* end = nullptr;
      const unsigned long t = name[0] == 't' ? std::strtoul(name + 1, &end, 10) : topics;
      const bool known = end && *end == '\0' && t < topics && s.partition < partitions;
      uint64_t* next = known ? &f.next[t * partitions + s.partition] : nullptr;
      if (next && r.offset == *next &&
          PayloadIs(r.payload, static_cast<uint32_t>(t), s.partition, r.offset)) {
        ++*next;
        return;
      }
      ++f.errors;
      if (reported++ < 5)
        std::fprintf(
            stderr, "load_bench consumer %u: %s/%u offset %" PRIu64 ": %s (expected %" PRIu64 ")\n",
            i, s.topic.c_str(), s.partition, r.offset,
            !next               ? "an unexpected stream"
            : r.offset != *next ? (r.offset < *next ? "a duplicate" : "a gap")
                                : "a wrong payload",
            next ? *next : 0);
      if (next && r.offset >= *next) *next = r.offset + 1;
    };
    f.handler.on_event = [&f, &reported, i](const ConsumerEvent& e) {
      ++f.errors;
      if (reported++ < 5)
        std::fprintf(stderr, "load_bench consumer %u: unexpected event: %s\n", i,
                     e.message.c_str());
    };
    Status s = Consumer::Open(o, &f.consumer);
    if (!s.ok()) {
      std::fprintf(stderr, "load_bench consumer %u: open: %s\n", i, s.ToString().c_str());
      return 2;
    }
  }

  std::vector<pollfd> pfds(count + 1);
  pfds[0] = {0, POLLIN, 0};
  for (unsigned i = 0; i < count; ++i) pfds[i + 1] = {fs[i].consumer->fd(), POLLIN, 0};
  bool ready = false, ended = false;
  uint64_t expected = 0;  // records per consumer, once ended
  auto end_time = Clock::now();
  auto last_ready_check = Clock::now() - 1s;
  const auto ready_deadline = open_start + 120s;
  std::string input;
  unsigned complete = 0;
  // Bounded in time: 120 s to be ready, then catchup_s after "end" (and
  // the parent waits at most 600 s for "end").
  for (;;) {
    const auto now = Clock::now();
    if (!ready && now - last_ready_check >= 20ms) {
      last_ready_check = now;
      bool all = true;
      for (Follower& f : fs) all = all && f.consumer->lag().size() >= streams;
      if (all) {
        ready = true;
        std::printf(
            "ready %lld\n",
            static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - open_start).count()));
        std::fflush(stdout);
      } else if (now > ready_deadline) {
        std::fprintf(stderr,
                     "load_bench consumer process: not every consumer learned the "
                     "partitions within 120 s\n");
        return 3;
      }
    }
    if (!ended && now > ready_deadline + 600s) return 3;
    if (ended && now > end_time + std::chrono::seconds(catchup_s)) break;
    if (poll(pfds.data(), pfds.size(), 20) < 0 && errno != EINTR) return 3;
    if (!ended && (pfds[0].revents & (POLLIN | POLLHUP))) {
      char buf[256];
      const ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) return 3;  // the parent went away
      input.append(buf, static_cast<size_t>(n));
      unsigned long long batches = 0;
      if (input.find('\n') != std::string::npos) {
        if (std::sscanf(input.c_str(), "end %llu", &batches) != 1) return 3;
        ended = true;
        end_time = Clock::now();
        pfds[0].fd = -1;  // poll ignores it from now on
        for (uint32_t t = 0; t < topics; ++t)
          for (uint32_t p = 0; p < partitions; ++p)
            expected += StreamRecords(batches, topics, partitions, t, p);
      }
    }
    for (unsigned i = 0; i < count; ++i) {
      if (!(pfds[i + 1].revents & POLLIN)) continue;
      Status s = fs[i].consumer->Poll(fs[i].handler, 10000, 0ms);
      if (!s.ok()) {
        std::fprintf(stderr, "load_bench consumer %u: poll: %s\n", i, s.ToString().c_str());
        return 3;
      }
    }
    if (ended) {
      complete = 0;
      for (const Follower& f : fs) complete += f.errors == 0 && f.received == expected;
      if (complete == count) break;
    }
  }
  const int64_t catchup_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - end_time).count();
  uint64_t errors = 0, received = 0, gaps = 0, replayed = 0;
  for (Follower& f : fs) {
    if (f.received != expected && f.errors == 0) {
      ++f.errors;
      if (reported++ < 5)
        std::fprintf(stderr,
                     "load_bench consumer: received %" PRIu64 " of %" PRIu64
                     " records within %u s\n",
                     f.received, expected, catchup_s);
    }
    errors += f.errors;
    received += f.received;
    const ConsumerStats st = f.consumer->stats();
    gaps += st.gaps_detected;
    replayed += st.replayed_records;
  }
  std::printf("ok %u %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %lld\n", complete, count,
              errors, received, gaps, replayed, static_cast<long long>(catchup_ms));
  std::fflush(stdout);
  for (Follower& f : fs) (void)f.consumer->Close();
  return 0;
}

// The parent's handle on a consumer process.
struct Child {
  pid_t pid = -1;
  int to = -1, from = -1;
  unsigned consumers = 0;

  struct Result {
    unsigned complete = 0, consumers = 0;
    uint64_t errors = 0, received = 0, gaps = 0, replayed = 0;
    double catchup_s = 0;
  };

  static Child Spawn(const std::string& self, int niceness) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) Die("pipe");
    Child c;
    c.pid = fork();
    if (c.pid < 0) Die("fork");
    if (c.pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (niceness != 0 && setpriority(PRIO_PROCESS, 0, niceness) != 0) _exit(126);
      dup2(in[0], 0);
      dup2(out[1], 1);
      execl(self.c_str(), self.c_str(), "--child", static_cast<char*>(nullptr));
      _exit(127);
    }
    g_children.push_back(c.pid);
    close(in[0]);
    close(out[1]);
    c.to = in[1];
    c.from = out[0];
    return c;
  }

  void Send(const std::string& line) const {
    const std::string l = line + "\n";
    if (write(to, l.data(), l.size()) != static_cast<ssize_t>(l.size()))
      Die("a consumer process went away");
  }

  void Order(const Producer& p, uint32_t topics, uint32_t partitions, unsigned n, int sub_hwm,
             size_t max_queued, int catchup_s) {
    consumers = n;
    Send(p.pub_endpoint() + " " + p.replay_endpoint() + " " + std::to_string(topics) + " " +
         std::to_string(partitions) + " " + std::to_string(n) + " " + std::to_string(sub_hwm) +
         " " + std::to_string(max_queued) + " " + std::to_string(catchup_s));
  }

  // Milliseconds the process took to have every consumer ready.
  double WaitReady() const {
    std::string line;
    long long ms = 0;
    if (!ReadLine(from, 150s, &line) || std::sscanf(line.c_str(), "ready %lld", &ms) != 1)
      Die("a consumer process did not get ready: '" + line + "'");
    return static_cast<double>(ms);
  }

  Result Wait(int catchup_s) {
    Result r;
    std::string line;
    unsigned long long e, rec, g, rep;
    long long ms;
    if (!ReadLine(from, std::chrono::seconds(catchup_s + 60), &line) ||
        std::sscanf(line.c_str(), "ok %u %u %llu %llu %llu %llu %lld", &r.complete, &r.consumers,
                    &e, &rec, &g, &rep, &ms) != 7)
      Die("a consumer process failed: '" + line + "'");
    r.errors = e;
    r.received = rec;
    r.gaps = g;
    r.replayed = rep;
    r.catchup_s = static_cast<double>(ms) / 1000.0;
    close(to);
    close(from);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(100ms);
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    g_children.erase(std::remove(g_children.begin(), g_children.end(), pid), g_children.end());
    return r;
  }
};

// ---------------------------------------------------------------------------
// Idle connections

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

// `n` TCP connections to `endpoint` ("tcp://127.0.0.1:PORT") that send
// nothing, made `wave` at a time: each wave is connected and accepted by the
// producer (each accepted connection is a descriptor of this process too)
// before the next, at most 5 s per wave. *accepted: how many the producer
// accepted; *seconds: how long it took.
std::vector<int> OpenIdle(const std::string& endpoint, int n, int wave, int* accepted,
                          double* seconds) {
  const size_t colon = endpoint.rfind(':');
  if (endpoint.rfind("tcp://127.0.0.1:", 0) != 0 || colon == std::string::npos)
    Die("idle connections need a tcp://127.0.0.1 endpoint, not " + endpoint);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(endpoint.c_str() + colon + 1)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int before = OpenFds();
  const auto start = Clock::now();
  std::vector<int> fds;
  for (int first = 0; first < n; first += wave) {
    const int count = std::min(wave, n - first);
    std::vector<pollfd> pfds;
    for (int i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
        Die(std::string("connect: ") + std::strerror(errno));
      fds.push_back(fd);
      pfds.push_back({fd, POLLOUT, 0});
    }
    // Connected from this side (bounded: 5 s per wave).
    const auto deadline = Clock::now() + 5s;
    size_t connected = 0;
    while (connected < pfds.size() && Clock::now() < deadline) {
      if (poll(pfds.data(), pfds.size(), 100) < 0 && errno != EINTR) Die("poll");
      for (pollfd& p : pfds) {
        if (p.fd < 0 || !p.revents) continue;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) Die(std::string("idle connection: ") + std::strerror(err));
        p.fd = -1;
        ++connected;
      }
    }
    if (connected < pfds.size())
      Die(std::to_string(pfds.size() - connected) + " idle connections not established in 5 s");
    // Accepted by the producer (bounded: 5 s per wave).
    const int want = before + 2 * static_cast<int>(fds.size());
    while (OpenFds() < want && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  }
  *accepted = OpenFds() - before - static_cast<int>(fds.size());
  *seconds = SecondsSince(start);
  return fds;
}

// How many of `fds` the other side has not closed (the producer's greeting
// makes them readable; only a hang-up counts).
int StillOpen(const std::vector<int>& fds) {
  std::vector<pollfd> pfds;
  for (int fd : fds) pfds.push_back({fd, POLLRDHUP, 0});
  if (poll(pfds.data(), pfds.size(), 0) < 0) return -1;
  int open = 0;
  for (const pollfd& p : pfds) open += (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
  return open;
}

// ---------------------------------------------------------------------------
// The benchmark

struct Config {
  int runs = 3;
  bool quick = false;
  double seconds = 2.0;
  std::set<std::string> only;
  std::vector<Durability> modes = {Durability::kNoSync, Durability::kFsync};
  std::string dir = "/var/tmp";
  unsigned processes = 4;
  unsigned consumers = 100;
  uint32_t topics = 1000;
  unsigned replays = 100;
  uint64_t prefill = 200'000;
  uint64_t topics_prefill = 0;  // records in the journal before the topics load's consumer starts
  int idle = 1000;
  int idle_wave = 100;  // connections made at once (ZeroMQ's listen backlog is 100)
  int child_nice = 0;   // niceness of the consumer processes
  int catchup_timeout = 120;
  int sub_hwm = 100;
  size_t max_queued = 10'000;
};

// One phase: the producer's setting and its load.
struct Load {
  std::string key;   // for --only
  std::string name;  // in the figures
  unsigned consumers = 0;
  uint32_t topics = 1;
  uint64_t prefill = 0;  // records written before the consumers start
  int idle = 0;
};

struct PhaseResult {
  double rate = 0;
  bool delivered = true;  // every consumer got every record in order
  unsigned consumers = 0, complete = 0;
  uint64_t errors = 0, gaps = 0, replayed = 0;
  double ready_s = 0, catchup_s = 0;
  int idle_accepted = 0, idle_open_at_end = 0;
  double idle_accept_s = 0;
  // This process (publisher and producer) while publishing: CPU time over
  // wall time, and CPU microseconds per acknowledged record.
  double cores = 0, cpu_us = 0;
  ProducerStats stats;  // at the end of the phase
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The publisher: PublishBatch of kBatch records, topics round-robin, offsets
// checked against the acknowledged positions.
class Publisher {
 public:
  Publisher(uint32_t topics, uint32_t partitions)
      : topics_(topics),
        partitions_(partitions),
        next_(size_t{topics} * partitions, 0),
        payloads_(kBatch, std::string(kPayload, 'x')),
        in_(kBatch) {
    for (uint32_t t = 0; t < topics; ++t) names_.push_back(TopicName(t));
  }

  void PublishOne(Producer* p) {
    const uint32_t t = static_cast<uint32_t>(batches_ % topics_);
    for (uint32_t k = 0; k < kBatch; ++k) {
      const uint32_t part = k % partitions_;
      EncodePayload(&payloads_[k][0], t, part, next_[t * partitions_ + part] + k / partitions_);
      in_[k].payload = payloads_[k];
      in_[k].partition = part;
    }
    Check(p->PublishBatch(names_[t], in_, &positions_), "publish batch");
    for (uint32_t k = 0; k < kBatch; ++k) {
      const uint32_t part = k % partitions_;
      if (positions_[k].partition != part ||
          positions_[k].offset != next_[t * partitions_ + part] + k / partitions_)
        Die("a record landed at offset " + std::to_string(positions_[k].offset) + " of " +
            names_[t] + "/" + std::to_string(positions_[k].partition));
    }
    for (uint32_t part = 0; part < partitions_; ++part)
      next_[t * partitions_ + part] += kBatch / partitions_ + (part < kBatch % partitions_ ? 1 : 0);
    ++batches_;
  }

  // Publishes for `seconds`; returns acknowledged records/s.
  double Run(Producer* p, double seconds) {
    const uint64_t first = batches_;
    const auto start = Clock::now();
    // Bounded in time, and in count as a guard (10^8 records).
    for (uint64_t i = 0; i < 1'000'000 && SecondsSince(start) < seconds; ++i) PublishOne(p);
    return static_cast<double>((batches_ - first) * kBatch) / SecondsSince(start);
  }

  uint64_t batches() const { return batches_; }

 private:
  uint32_t topics_, partitions_;
  std::vector<uint64_t> next_;
  std::vector<std::string> names_;
  std::vector<std::string> payloads_;
  std::vector<RecordInput> in_;
  std::vector<RecordPosition> positions_;
  uint64_t batches_ = 0;
};

struct Bench {
  Config cfg;
  std::string self;
  int counter = 0;
  uint32_t partitions = 1;

  PhaseResult RunPhase(const Load& load, Durability d) {
    PhaseResult res;
    // Children first: they must not inherit the producer's sockets.
    std::vector<Child> kids;
    const unsigned procs = load.consumers == 0 ? 0 : std::min(load.consumers, cfg.processes);
    for (unsigned i = 0; i < procs; ++i) kids.push_back(Child::Spawn(self, cfg.child_nice));

    const std::string dir =
        cfg.dir + "/brook-load-bench-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    std::filesystem::remove_all(dir);
    ProducerOptions po;
    po.journal.path = dir;
    po.journal.durability = d;
    po.journal.initial_map_size = 1ull << 30;
    po.pub_endpoint = "tcp://127.0.0.1:0";
    po.replay_endpoint = "tcp://127.0.0.1:0";
    std::unique_ptr<Producer> p;
    Check(Producer::Open(po, &p), "producer open");
    TopicConfig tc;
    tc.partitions = partitions;
    for (uint32_t t = 0; t < load.topics; ++t) Check(p->CreateTopic(TopicName(t), tc), "topic");
    Publisher pub(load.topics, partitions);
    for (uint64_t i = 0; i < load.prefill / kBatch; ++i) pub.PublishOne(p.get());

    std::vector<int> idle;
    if (load.idle > 0)
      idle = OpenIdle(p->replay_endpoint(), load.idle, cfg.idle_wave, &res.idle_accepted,
                      &res.idle_accept_s);

    for (unsigned i = 0; i < procs; ++i) {
      const unsigned n = load.consumers / procs + (i < load.consumers % procs ? 1 : 0);
      kids[i].Order(*p, load.topics, partitions, n, cfg.sub_hwm, cfg.max_queued,
                    cfg.catchup_timeout);
    }
    for (Child& k : kids) res.ready_s = std::max(res.ready_s, k.WaitReady() / 1000.0);

    const double cpu0 = CpuSeconds();
    const uint64_t batches0 = pub.batches();
    const auto t0 = Clock::now();
    res.rate = pub.Run(p.get(), cfg.seconds);
    const double elapsed = SecondsSince(t0);
    const double cpu = CpuSeconds() - cpu0;
    const double records = static_cast<double>((pub.batches() - batches0) * kBatch);
    res.cores = cpu / elapsed;
    res.cpu_us = records > 0 ? cpu * 1e6 / records : 0;

    if (!idle.empty()) res.idle_open_at_end = StillOpen(idle);
    for (Child& k : kids) k.Send("end " + std::to_string(pub.batches()));
    for (Child& k : kids) {
      Child::Result r = k.Wait(cfg.catchup_timeout);
      res.consumers += r.consumers;
      res.complete += r.complete;
      res.errors += r.errors;
      res.gaps += r.gaps;
      res.replayed += r.replayed;
      res.catchup_s = std::max(res.catchup_s, r.catchup_s);
    }
    res.delivered = res.errors == 0 && res.complete == res.consumers;
    res.stats = p->stats();
    for (int fd : idle) close(fd);
    Check(p->Close(), "producer close");
    p.reset();
    std::filesystem::remove_all(dir);
    return res;
  }

  int Run() {
    std::vector<Load> loads;
    loads.push_back({"unloaded", "unloaded", 0, 1, 0, 0});
    loads.push_back({"one", "1 consumer following live", 1, 1, 0, 0});
    loads.push_back({"consumers", std::to_string(cfg.consumers) + " consumers following live",
                     cfg.consumers, 1, 0, 0});
    loads.push_back(
        {"topics",
         std::to_string(cfg.topics) + " topics round-robin, 1 consumer of all" +
             (cfg.topics_prefill ? " from " + std::to_string(cfg.topics_prefill) + " records"
                                 : std::string()),
         1, cfg.topics, cfg.topics_prefill, 0});
    loads.push_back({"replays",
                     std::to_string(cfg.replays) + " consumers replaying " +
                         std::to_string(cfg.prefill) + " records from earliest",
                     cfg.replays, 1, cfg.prefill, 0});
    loads.push_back(
        {"idle", std::to_string(cfg.idle) + " idle TCP connections to the replay port, 1 consumer",
         1, 1, 0, cfg.idle});
    loads.push_back({"unloaded", "unloaded, again", 0, 1, 0, 0});
    std::vector<Load> chosen;
    for (const Load& l : loads)
      if (l.key == "unloaded" || cfg.only.empty() || cfg.only.count(l.key)) chosen.push_back(l);

    bool all_delivered = true;
    struct Row {
      std::string load, mode;
      std::vector<double> rates, ratios, cores, cpu_us, catchup, ready, gaps, replayed;
      unsigned consumers = 0;
      uint64_t errors = 0;
      int idle_accepted = -1, idle_open = -1;  // the least of the runs
      bool delivered = true;
    };
    std::vector<Row> rows;
    for (Durability d : cfg.modes) {
      const std::string mode = DurabilityName(d);
      std::vector<Row> mode_rows(chosen.size());
      for (size_t i = 0; i < chosen.size(); ++i) {
        mode_rows[i].load = chosen[i].name;
        mode_rows[i].mode = mode;
      }
      for (int run = 0; run < cfg.runs; ++run) {
        std::vector<double> rates;
        for (size_t i = 0; i < chosen.size(); ++i) {
          std::fprintf(stderr, "load_bench: %s, run %d: %s\n", mode.c_str(), run + 1,
                       chosen[i].name.c_str());
          const PhaseResult r = RunPhase(chosen[i], d);
          Row& row = mode_rows[i];
          rates.push_back(r.rate);
          row.rates.push_back(r.rate);
          row.cores.push_back(r.cores);
          row.cpu_us.push_back(r.cpu_us);
          std::fprintf(stderr, "  %.0f rec/s, producer process %.2f cores, %.2f us CPU/record\n",
                       r.rate, r.cores, r.cpu_us);
          if (chosen[i].idle > 0) {
            row.idle_accepted = row.idle_accepted < 0
                                    ? r.idle_accepted
                                    : std::min(row.idle_accepted, r.idle_accepted);
            row.idle_open = row.idle_open < 0 ? r.idle_open_at_end
                                              : std::min(row.idle_open, r.idle_open_at_end);
            std::fprintf(stderr,
                         "  idle connections: %d accepted by the producer in %.2f s, %d still "
                         "open after publishing\n",
                         r.idle_accepted, r.idle_accept_s, r.idle_open_at_end);
          }
          if (r.consumers == 0) continue;
          std::fprintf(stderr,
                       "  producer: %" PRIu64 " replay requests (%" PRIu64 " refused), %" PRIu64
                       " pages, %" PRIu64 " records replayed\n",
                       r.stats.replay_requests, r.stats.rejected_requests, r.stats.replay_pages,
                       r.stats.replay_records);
          row.catchup.push_back(r.catchup_s);
          row.ready.push_back(r.ready_s);
          row.gaps.push_back(static_cast<double>(r.gaps));
          row.replayed.push_back(static_cast<double>(r.replayed));
          row.consumers = r.consumers;
          row.errors += r.errors;
          std::fprintf(stderr,
                       "  consumers: %u of %u complete, ready in %.2f s, all caught up %.2f s "
                       "after publishing stopped, %" PRIu64 " gaps, %" PRIu64
                       " records replayed, %" PRIu64 " check errors\n",
                       r.complete, r.consumers, r.ready_s, r.catchup_s, r.gaps, r.replayed,
                       r.errors);
          if (!r.delivered) {
            row.delivered = false;
            all_delivered = false;
            std::fprintf(stderr, "load_bench: DELIVERY CHECK FAILED under '%s' (%s)\n",
                         chosen[i].name.c_str(), mode.c_str());
          }
        }
        // The run's unloaded reference: the mean of its unloaded phases.
        double ref = 0;
        int refs = 0;
        for (size_t i = 0; i < chosen.size(); ++i) {
          if (chosen[i].key != "unloaded") continue;
          ref += rates[i];
          ++refs;
        }
        ref /= std::max(1, refs);
        for (size_t i = 0; i < chosen.size(); ++i)
          if (ref > 0) mode_rows[i].ratios.push_back(rates[i] / ref);
      }
      for (Row& row : mode_rows) {
        Figure f;
        f.group = "load";
        f.system = "brook";
        f.size = kPayload;
        f.mode = mode;
        auto report = [&](const std::string& what, const char* metric, const char* unit,
                          const std::vector<double>& samples) {
          f.name = what + ", " + row.load;
          f.metric = metric;
          f.unit = unit;
          f.samples = samples;
          Report(f);
        };
        report("publish, batches of 100", "rate", "rec/s", row.rates);
        report("publish, batches of 100", "ratio", "x unloaded", row.ratios);
        report("producer process CPU while publishing", "cores", "cores", row.cores);
        report("producer process CPU per record", "cpu_per_record", "us", row.cpu_us);
        if (row.consumers > 0) {
          report("consumers ready (every partition known)", "ready", "s", row.ready);
          report("consumers complete after publishing stopped", "catchup", "s", row.catchup);
          report("gaps detected by the consumers", "gaps", "gaps", row.gaps);
          report("records replayed to the consumers", "replayed", "records", row.replayed);
          report("delivery check failures, all runs", "failures", "errors",
                 {static_cast<double>(row.errors)});
        }
        rows.push_back(row);
      }
    }

    std::fprintf(stderr, "\n%-60s %-7s %11s %6s %6s %7s %7s %8s %s\n", "load", "mode", "publish/s",
                 "ratio", "cores", "us/rec", "ready s", "caught s", "delivery");
    for (const Row& r : rows) {
      char ready[16] = "-", caught[16] = "-";
      std::string delivery = "-";
      if (r.consumers > 0) {
        std::snprintf(ready, sizeof ready, "%.2f", Median(r.ready));
        std::snprintf(caught, sizeof caught, "%.2f", Median(r.catchup));
        delivery = std::string(r.delivered ? "ok" : "FAILED") + ", " + std::to_string(r.consumers) +
                   " consumer" + (r.consumers > 1 ? "s" : "");
      }
      if (r.idle_accepted >= 0)
        delivery += "; idle accepted " + std::to_string(r.idle_accepted) + ", open at end " +
                    std::to_string(r.idle_open);
      std::fprintf(stderr, "%-60s %-7s %11.0f %6.2f %6.2f %7.2f %7s %8s %s\n", r.load.c_str(),
                   r.mode.c_str(), Median(r.rates), Median(r.ratios), Median(r.cores),
                   Median(r.cpu_us), ready, caught, delivery.c_str());
    }
    if (!all_delivered) {
      std::fprintf(stderr, "load_bench: a delivery check failed (see above)\n");
      return 1;
    }
    return 0;
  }
};

Durability ParseMode(const std::string& m) {
  if (m == "nosync") return Durability::kNoSync;
  if (m == "nometasync") return Durability::kNoMetaSync;
  if (m == "fsync") return Durability::kFsync;
  Die("unknown durability mode '" + m + "'");
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Bench b;
  b.self = "/proc/self/exe";
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) b.self.assign(exe, static_cast<size_t>(len));
  bool seconds_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--child") return ChildMain();
    if (a == "--runs" && has) {
      b.cfg.runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      b.cfg.quick = true;
    } else if (a == "--seconds" && has) {
      b.cfg.seconds = std::max(0.05, std::atof(argv[++i]));
      seconds_set = true;
    } else if (a == "--only" && has) {
      std::stringstream ss(argv[++i]);
      std::string g;
      while (std::getline(ss, g, ',')) b.cfg.only.insert(g);
    } else if (a == "--modes" && has) {
      std::stringstream ss(argv[++i]);
      std::string m;
      b.cfg.modes.clear();
      while (std::getline(ss, m, ',')) b.cfg.modes.push_back(ParseMode(m));
    } else if (a == "--dir" && has) {
      b.cfg.dir = argv[++i];
    } else if (a == "--processes" && has) {
      b.cfg.processes = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--consumers" && has) {
      b.cfg.consumers = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--topics" && has) {
      b.cfg.topics = static_cast<uint32_t>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--replays" && has) {
      b.cfg.replays = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--partitions" && has) {
      b.partitions = static_cast<uint32_t>(std::max(1, std::atoi(argv[++i])));
    } else if (a == "--topics-prefill" && has) {
      b.cfg.topics_prefill = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--prefill" && has) {
      b.cfg.prefill = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--idle" && has) {
      b.cfg.idle = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--idle-wave" && has) {
      b.cfg.idle_wave = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--child-nice" && has) {
      b.cfg.child_nice = std::atoi(argv[++i]);
    } else if (a == "--catchup-timeout" && has) {
      b.cfg.catchup_timeout = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--runs R] [--quick] [--seconds S] "
          "[--only one,consumers,topics,replays,idle] [--modes nosync,fsync] [--dir DIR] "
          "[--processes K] [--consumers N] [--topics T] [--replays N] [--prefill N] "
          "[--topics-prefill N] "
          "[--idle N] [--idle-wave N] [--child-nice N] [--partitions P] [--catchup-timeout S]\n",
          argv[0]);
      return 2;
    }
  }
  if (b.cfg.quick) {
    b.cfg.runs = 1;
    if (!seconds_set) b.cfg.seconds = 0.3;
    b.cfg.modes = {Durability::kNoSync};
    b.cfg.prefill = std::min<uint64_t>(b.cfg.prefill, 20'000);
    b.cfg.catchup_timeout = std::min(b.cfg.catchup_timeout, 60);
  }
  // Room for the idle connections (both ends live in this process) and the
  // consumers' sockets; the hard limit too when allowed (root).
  rlimit nofile{};
  const rlim_t want = static_cast<rlim_t>(2 * b.cfg.idle + 4096);
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < want) {
    rlimit raised = nofile;
    raised.rlim_cur = want;
    raised.rlim_max = std::max(want, nofile.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      nofile.rlim_cur = nofile.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur < want)
        Die("cannot raise RLIMIT_NOFILE to " + std::to_string(want) + " for " +
            std::to_string(b.cfg.idle) + " idle connections (hard limit " +
            std::to_string(nofile.rlim_max) + "); try a smaller --idle");
    }
  }
  std::fprintf(stderr,
               "load_bench: journals under %s, %d run(s), %.1f s of publishing per phase, "
               "consumers in %u processes\n",
               b.cfg.dir.c_str(), b.cfg.runs, b.cfg.seconds, b.cfg.processes);
  return b.Run();
}
