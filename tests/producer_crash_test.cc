// Producer crash test with real processes. Method: the producer runs in a
// child process (tests/producer_child.cc) on ipc:// endpoints in a temporary
// directory, publishing numbered records (payload derived from partition and
// offset) to 3 partitions from 3 threads and reporting each acknowledged
// batch. A consumer in this process follows it. We SIGKILL the producer at
// random moments (some during its start-up), leave it down for a while (the
// consumer waits), and start it again on the same journal and the same
// endpoints; it goes on numbering from the journal's high watermark. A last
// life publishes a fixed number of records and stays up.
//
// Checked: every life finds the same producer id and a high watermark at or
// above everything acknowledged before (SIGKILL loses nothing acknowledged,
// in fsync, nometasync and nosync modes alike: the OS keeps the page cache); the
// ipc socket files left behind by SIGKILL do not stop the next life from
// binding; and the consumer delivers every offset 0 .. final high watermark
// of every partition exactly once, in order, each with its own payload, with
// no event (nothing was lost, so there is nothing to report).
//
// The seed of the kill moments is random per run and printed on failure;
// BROOK_TEST_SEED=N repeats a run (the kill moments, not the timing).
//
// A replay whose last page arrived but whose end never did (the producer
// killed between the two messages, or the connection cut) once stalled a
// stream for good: the consumer asked again for zero records, which the
// producer refuses. The last test below makes that moment certain.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "brook/consumer.h"
#include "node/wire.h"
#include "tests/delivery_check.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kPartitions = 3;
const char* const kTopic = "t";

uint64_t TestSeed() {
  if (const char* s = std::getenv("BROOK_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// What one producer life reported.
struct LifeReport {
  std::string id;
  std::map<uint32_t, uint64_t> start_hw;  // "hw P N"
  std::map<uint32_t, uint64_t> acked;     // highest acknowledged offset + 1, per partition
  bool ready = false;
  bool done = false;
  std::string error;      // "error ..." or a malformed line
  std::string order_err;  // acknowledgements out of order
};

// A producer child whose stdout is parsed line by line as it comes.
class ProducerLife {
 public:
  explicit ProducerLife(const std::vector<std::string>& argv) : child_(Spawn(argv)) {}
  // After a failed assertion: kill and reap without Catch (it may be unwinding).
  ~ProducerLife() {
    if (child_.pid <= 0) return;
    kill(child_.pid, SIGKILL);
    close(child_.stdout_fd);
    int status = 0;
    waitpid(child_.pid, &status, 0);
  }

  // Reads what the child wrote, waiting up to `ms` for the first bytes.
  void Drain(int ms) {
    char buf[65536];
    for (int i = 0; i < 64 && WaitReadable(child_.stdout_fd, i == 0 ? ms : 0); ++i) {
      const ssize_t n = read(child_.stdout_fd, buf, sizeof buf);
      if (n <= 0) break;
      Parse(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

  // SIGKILLs the child, parses what it wrote before it died, returns the wait status.
  int Kill() {
    std::string rest;
    const int status = KillAndReap(&child_, &rest);
    Parse(rest);
    return status;
  }

  const LifeReport& report() const { return report_; }

 private:
  void Parse(std::string_view data) {
    pending_.append(data);
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      const std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      std::istringstream in(line);
      std::string tag;
      in >> tag;
      uint32_t part = 0;
      uint64_t n = 0;
      if (tag == "p" && in >> part >> n) {
        auto [it, fresh] = report_.acked.try_emplace(part, report_.start_hw[part]);
        if (n < it->second && report_.order_err.empty())
          report_.order_err = "partition " + std::to_string(part) + " acknowledged " +
                              std::to_string(n) + " after " + std::to_string(it->second - 1);
        it->second = n + 1;
      } else if (tag == "hw" && in >> part >> n) {
        report_.start_hw[part] = n;
      } else if (tag == "id") {
        in >> report_.id;
      } else if (tag == "ready") {
        report_.ready = true;
      } else if (tag == "done") {
        report_.done = true;
      } else if (report_.error.empty()) {
        report_.error = "child said: " + line;
      }
    }
  }

  ChildProcess child_;
  std::string pending_;
  LifeReport report_;
};

// The id the child printed (32 hex digits) as a ProducerId.
bool ParseId(const std::string& hex, ProducerId* out) {
  if (hex.size() != 2 * out->bytes.size()) return false;
  for (size_t i = 0; i < out->bytes.size(); ++i) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    out->bytes[i] = static_cast<uint8_t>(v);
  }
  return out->ToHex() == hex;
}

// The consumer's last log lines (its logger runs on the consumer's threads).
class LogTail {
 public:
  Logger logger() {
    return [this](LogLevel, std::string_view m) {
      std::lock_guard<std::mutex> lk(mu_);
      ++count_;
      lines_.emplace_back(m);
      if (lines_.size() > 12) lines_.pop_front();
    };
  }
  std::string Text() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::string out = std::to_string(count_) + " log lines; the last ones:";
    for (const std::string& l : lines_) out += "\n  " + l;
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> lines_;
  uint64_t count_ = 0;
};

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void RunProducerCrashRounds(const std::string& mode) {
  const uint64_t seed = TestSeed();
  INFO("mode " << mode << ", seed " << seed << " (BROOK_TEST_SEED=" << seed << " repeats it)");
  std::mt19937_64 rng(seed);
  TempDir dir;
  const std::string pub_sock = dir.Sub("pub.sock");
  const std::string replay_sock = dir.Sub("replay.sock");
  auto argv = [&](const std::string& start, uint64_t count) {
    return std::vector<std::string>{BROOK_PRODUCER_CHILD,
                                    dir.Sub("journal"),
                                    "ipc://" + pub_sock,
                                    "ipc://" + replay_sock,
                                    mode,
                                    kTopic,
                                    std::to_string(kPartitions),
                                    start,
                                    std::to_string(count)};
  };
  // Lives that are killed publish "for ever"; the last one a fixed amount.
  const uint64_t kUnbounded = 100000000;
  const uint64_t kLastLife = 300;
  const int kKilledLives = 8;

  std::unique_ptr<Consumer> consumer;
  LogTail log;  // outlives the consumer
  DeliveryChecker checker;
  PollHandler handler = checker.Handler();
  ProducerId id;
  std::string id_hex;
  std::map<uint32_t, uint64_t> acked;  // acknowledged so far, over all lives
  std::map<uint32_t, uint64_t> last_start_hw;
  int stale_files_seen = 0;

  auto poll_for = [&](std::chrono::milliseconds d, ProducerLife* life) {
    const auto until = Clock::now() + d;
    do {
      if (consumer) {
        REQUIRE_OK(consumer->Poll(handler, 2000, 5ms));
      } else {
        std::this_thread::sleep_for(5ms);
      }
      if (life) life->Drain(0);
    } while (Clock::now() < until);
  };

  // Checks a life's report against what the lives before it acknowledged.
  auto check_life = [&](const LifeReport& r, int life_no) {
    INFO("life " << life_no);
    CHECK(r.error == "");
    CHECK(r.order_err == "");
    if (!r.ready) return;
    if (id_hex.empty()) id_hex = r.id;
    CHECK(r.id == id_hex);  // same journal, same producer
    for (uint32_t part = 0; part < kPartitions; ++part) {
      INFO("partition " << part);
      REQUIRE(r.start_hw.count(part) == 1);
      // Nothing acknowledged before was lost by the SIGKILL.
      CHECK(r.start_hw.at(part) >= acked[part]);
      CHECK(r.start_hw.at(part) >= last_start_hw[part]);
      last_start_hw[part] = r.start_hw.at(part);
      if (r.acked.count(part)) acked[part] = std::max(acked[part], r.acked.at(part));
    }
  };

  int life_no = 0;
  for (; life_no < kKilledLives; ++life_no) {
    ProducerLife life(argv(life_no == 0 ? "0" : "hw", kUnbounded));
    if (life_no == 0) {
      // The first life creates the topic; the consumer starts once it exists.
      const auto deadline = Clock::now() + 20s;
      while (!life.report().ready && life.report().error.empty() && Clock::now() < deadline)
        life.Drain(50);
      REQUIRE(life.report().error == "");
      REQUIRE(life.report().ready);
      REQUIRE(ParseId(life.report().id, &id));
      for (uint32_t part = 0; part < kPartitions; ++part) checker.Expect(id, kTopic, part, 0);
      ConsumerOptions co;
      co.producers.push_back({"ipc://" + pub_sock, "ipc://" + replay_sock});
      co.topics = {kTopic};
      co.request_timeout = 300ms;
      co.logger = log.logger();
      REQUIRE_OK(Consumer::Open(co, &consumer));
    }
    // A random moment: one life in four dies during its start-up.
    const int run_ms =
        rng() % 4 == 0 ? static_cast<int>(rng() % 30) : 100 + static_cast<int>(rng() % 300);
    poll_for(std::chrono::milliseconds(run_ms), &life);
    const int status = life.Kill();
    {
      INFO("life " << life_no << " ran " << run_ms << " ms");
      CHECK(WIFSIGNALED(status));  // it was alive until killed (no error exit)
      if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGKILL);
    }
    check_life(life.report(), life_no);
    if (FileExists(pub_sock) && FileExists(replay_sock)) ++stale_files_seen;
    // The producer stays down a while; the consumer waits without error.
    poll_for(std::chrono::milliseconds(rng() % 300), nullptr);
  }

  // The last life publishes kLastLife more records per partition and stays up.
  ProducerLife last(argv("hw", kLastLife));
  {
    const auto deadline = Clock::now() + 30s;
    while (!last.report().done && last.report().error.empty() && Clock::now() < deadline)
      poll_for(20ms, &last);
  }
  REQUIRE(last.report().error == "");
  REQUIRE(last.report().done);
  check_life(last.report(), life_no);
  std::map<uint32_t, uint64_t> final_hw;
  uint64_t expected_total = 0;
  for (uint32_t part = 0; part < kPartitions; ++part) {
    final_hw[part] = last.report().start_hw.at(part) + kLastLife;
    CHECK(last.report().acked.at(part) == final_hw[part]);
    expected_total += final_hw[part];
  }
  // The consumer catches up with everything, bounded.
  {
    const auto deadline = Clock::now() + 30s;
    auto caught_up = [&] {
      for (uint32_t part = 0; part < kPartitions; ++part)
        if (checker.Next(id, kTopic, part) < final_hw[part]) return false;
      return true;
    };
    while (!caught_up() && checker.errors() == 0 && Clock::now() < deadline) poll_for(20ms, &last);
  }
  // Nothing more comes: no late duplicate.
  poll_for(300ms, &last);
  const ConsumerStats stats = consumer->stats();
  std::string lag;
  for (const StreamLag& l : consumer->lag())
    lag += " " + std::to_string(l.stream.partition) + ": next " + std::to_string(l.next) +
           ", high watermark " + std::to_string(l.high_watermark) + ";";
  REQUIRE_OK(consumer->Close());
  last.Kill();

  INFO("stale ipc files found after "
       << stale_files_seen << " of " << kKilledLives << " kills; delivered " << checker.total()
       << " (live " << stats.live_records << ", replayed " << stats.replayed_records << ")");
  INFO("first delivery error: " << checker.first_error());
  INFO("the consumer's lag per partition:" << lag);
  INFO("the consumer's " << log.Text());
  CHECK(checker.errors() == 0);
  CHECK(checker.events().empty());
  for (uint32_t part = 0; part < kPartitions; ++part) {
    INFO("partition " << part << ": final high watermark " << final_hw[part]
                      << ", acknowledged over all lives " << acked[part]);
    CHECK(checker.Next(id, kTopic, part) == final_hw[part]);
    CHECK(final_hw[part] >= acked[part]);
    CHECK(final_hw[part] > kLastLife);  // the killed lives did publish
  }
  CHECK(checker.total() == expected_total);
  CHECK(stats.records_delivered == expected_total);
  // SIGKILL leaves the socket files behind; binding again worked regardless.
  CHECK(stale_files_seen == kKilledLives);
}

}  // namespace

TEST_CASE("a producer killed with SIGKILL and restarted on its journal (fsync) loses nothing",
          "[producer][crash]") {
  RunProducerCrashRounds("fsync");
}

TEST_CASE("a producer killed with SIGKILL and restarted on its journal (nosync) loses nothing",
          "[producer][crash]") {
  RunProducerCrashRounds("nosync");
}

TEST_CASE("a producer killed with SIGKILL and restarted on its journal (nometasync) loses nothing",
          "[producer][crash]") {
  RunProducerCrashRounds("nometasync");
}

// The stall described at the top of this file, made certain.
TEST_CASE("a replay whose last page arrived but whose end never did does not stall the stream",
          "[producer][crash]") {
  // Method: a fake producer (a ROUTER and a PUB speaking node/wire.h, with
  // record bytes from a real journal) describes 3 records, answers the
  // consumer's fetch with a page holding all 3 and then sends no end, as a
  // producer killed (or a connection cut) right after the last page. From
  // then on it answers like the real producer, which now has 5 records, and
  // sends heartbeats saying so. The consumer must go on to deliver 3 and 4,
  // and must never send a request the producer refuses as malformed.
  TempDir dir;
  auto j = OpenJournal(TestOptions(dir.Sub("journal")));
  REQUIRE_OK(j->CreateTopic("t", TopicConfig{}));
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < 5; ++i) payloads.push_back(StreamPayload("t", 0, i));
  AppendPayloads(j.get(), "t", payloads);
  std::vector<std::string> encoded;
  REQUIRE_OK(j->Scan("t", 0, 0, ReadOptions{}, [&](const RecordView& r) {
    encoded.emplace_back(r.encoded);
    return true;
  }));
  REQUIRE(encoded.size() == 5);
  const ProducerId id = j->producer_id();
  const uint64_t epoch = j->epoch();

  zmq::context_t ctx;
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  pub.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::linger, 0);
  pub.bind("ipc://" + dir.Sub("pub.sock"));
  router.bind("ipc://" + dir.Sub("replay.sock"));

  LogTail log;
  ConsumerOptions co;
  co.producers.push_back({"ipc://" + dir.Sub("pub.sock"), "ipc://" + dir.Sub("replay.sock")});
  co.topics = {"t"};
  co.request_timeout = 200ms;
  co.logger = log.logger();
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(co, &c));
  DeliveryChecker checker;
  checker.Expect(id, "t", 0, 0);
  PollHandler h = checker.Handler();

  uint64_t high = 3;  // what the fake producer has
  int fetches = 0, malformed = 0;
  std::string first_malformed;
  auto send = [&](const zmq::message_t& peer, const std::string& frame) {
    (void)router.send(zmq::buffer(peer.data(), peer.size()),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)router.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  };
  auto next_heartbeat = Clock::now();
  const auto deadline = Clock::now() + 3s;  // 15 request timeouts
  while (checker.total() < 5 && Clock::now() < deadline) {
    REQUIRE_OK(c->Poll(h, 100, 10ms));
    std::vector<zmq::message_t> parts;
    while (zmq::recv_multipart(router, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
      if (parts.size() == 2) {
        node::Request req;
        node::ErrorCode code;
        std::string out;
        const Status s = node::DecodeRequest(parts[1].to_string_view(), &req, &code);
        if (!s.ok()) {  // what the real producer answers
          if (malformed++ == 0) first_malformed = s.message();
          node::EncodeError(req.id, code, s.message(), Watermarks{0, high}, &out);
          send(parts[0], out);
        } else if (req.kind == node::Kind::kDescribe) {
          node::EncodeDescribeAnswer(req.id, id, epoch, {{"t", {Watermarks{0, high}}}}, &out);
          send(parts[0], out);
        } else if (req.kind == node::Kind::kFetch && req.from_offset <= high) {
          const uint64_t n = std::min<uint64_t>(req.max_records, high - req.from_offset);
          if (n > 0) {
            node::EncodePagePrefix(req.id, 0, req.from_offset, static_cast<uint32_t>(n),
                                   Watermarks{0, high}, epoch, &out);
            for (uint64_t k = 0; k < n; ++k) out += encoded[req.from_offset + k];
            send(parts[0], out);
          }
          if (++fetches == 1) {
            high = 5;  // the end is lost; the producer is back with 2 more records
          } else {
            out.clear();
            node::EncodeEnd(req.id, req.from_offset + n, Watermarks{0, high}, epoch, &out);
            send(parts[0], out);
          }
        }
      }
      parts.clear();
    }
    if (fetches > 0 && Clock::now() >= next_heartbeat) {
      node::Heartbeat hb;
      hb.producer = id;
      hb.epoch = epoch;
      hb.partitions = {Watermarks{0, high}};
      std::string out;
      node::EncodeHeartbeat("t", hb, &out);
      (void)pub.send(zmq::buffer(out), zmq::send_flags::dontwait);
      next_heartbeat = Clock::now() + 50ms;
    }
  }
  INFO("fetches " << fetches << ", malformed requests " << malformed << " (first: '"
                  << first_malformed << "'); delivered " << checker.total() << " of 5");
  INFO("first delivery error: " << checker.first_error());
  INFO("the consumer's " << log.Text());
  CHECK(fetches >= 1);
  CHECK(malformed == 0);
  CHECK(checker.errors() == 0);
  CHECK(checker.total() == 5);
  REQUIRE_OK(c->Close());
}
