// A producer process for the fault suite (tests/fault/), started, killed and
// restarted by fault_harness:
//
//   fault_producer --journal DIR --pub EP --replay EP --tag TAG --topics T1,T2
//                  [--partitions N] [--durability fsync|nometasync|nosync]
//                  [--seq-base S] [--count N] [--rate R] [--max-batch B]
//                  [--initial-map BYTES] [--max-map BYTES] [--keep-going]
//                  [--retention-age-ms MS] [--retention-bytes B]
//                  [--retention-records N] [--seed S]
//
// Opens a producer on the journal (creating the topics if missing), then
// publishes from one thread per partition (each taking its partition of
// every topic in turn) records whose payloads are EncodeFaultPayload with
// sequence numbers from --seq-base up, --count per stream (0: until killed),
// at about --rate records/s per stream (0: flat out), in batches of 1 ..
// --max-batch. It tells the harness, one line per write:
//
//   id HEX                          the producer id
//   ready
//   t TOPIC PART SEQ0 N             about to publish seqs SEQ0 .. SEQ0+N-1
//   k TOPIC PART SEQ0 N OFF0        acknowledged at offsets OFF0 .. OFF0+N-1
//   f TOPIC PART SEQ0 N message     failed (the error); with --keep-going it
//                                   tries new records after 20 ms, else exits 2
//   done                            every stream published --count
//   error message                   it cannot go on (exit 2)
//
// BROOK_CRASH_POINT in its environment arms the library's crash points. It
// dies with its parent and exits by itself after ten minutes.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "brook/producer.h"
#include "tests/fault/child_args.h"
#include "tests/fault/payload.h"

namespace {

using namespace brook;
using brook::fault::ChildArgs;

void Say(const std::string& line) {
  // One write per line: lines below PIPE_BUF never interleave between threads.
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

[[noreturn]] void Fail(const std::string& what) {
  Say("error " + what + "\n");
  std::fprintf(stderr, "fault_producer: %s\n", what.c_str());
  _exit(2);
}

std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  if (s.size() > 300) s.resize(300);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 4;  // the parent is already gone
  ChildArgs args;
  std::string err;
  if (!args.Parse(argc, argv, &err)) Fail(err);
  const std::vector<std::string> topics = args.List("topics");
  const uint64_t partitions = args.U64("partitions", 1);
  const uint64_t seq_base = args.U64("seq-base", 0);
  const uint64_t count = args.U64("count", 0);
  const uint64_t rate = args.U64("rate", 0);
  const uint64_t max_batch = std::max<uint64_t>(1, args.U64("max-batch", 16));
  const bool keep_going = args.Has("keep-going");
  const std::string tag = args.Str("tag");
  if (topics.empty() || partitions == 0 || partitions > 64 || tag.empty())
    Fail("--topics, --tag and 1..64 --partitions are required");

  ProducerOptions o;
  o.journal.path = args.Str("journal");
  o.journal.initial_map_size = args.U64("initial-map", 4u << 20);
  o.journal.max_map_size = args.U64("max-map", 1ull << 30);
  const std::string mode = args.Str("durability", "fsync");
  if (mode == "fsync") {
    o.journal.durability = Durability::kFsync;
  } else if (mode == "nometasync") {
    o.journal.durability = Durability::kNoMetaSync;
  } else if (mode == "nosync") {
    o.journal.durability = Durability::kNoSync;
  } else {
    Fail("unknown durability " + mode);
  }
  o.pub_endpoint = args.Str("pub");
  o.replay_endpoint = args.Str("replay");
  o.heartbeat_interval = std::chrono::milliseconds(50);
  // Warnings and errors (a full disk, a damaged record) go to its log.
  o.logger = [](LogLevel level, std::string_view m) {
    if (level >= LogLevel::kWarning)
      std::fprintf(stderr, "fault_producer: %s: %.*s\n",
                   level == LogLevel::kError ? "error" : "warning", static_cast<int>(m.size()),
                   m.data());
  };
  o.journal.logger = o.logger;
  std::unique_ptr<Producer> p;
  Status s = Producer::Open(o, &p);
  if (!s.ok()) Fail("Producer::Open: " + OneLine(s.ToString()));
  TopicConfig tc;
  tc.partitions = static_cast<uint32_t>(partitions);
  tc.retention.max_age = std::chrono::milliseconds(args.U64("retention-age-ms", 0));
  tc.retention.max_bytes = args.U64("retention-bytes", 0);
  tc.retention.max_records = args.U64("retention-records", 0);
  for (const std::string& t : topics) {
    s = p->CreateTopic(t, tc);
    if (!s.ok()) Fail("CreateTopic " + t + ": " + OneLine(s.ToString()));
  }
  Say("id " + p->producer_id().ToHex() + "\n");
  Say("ready\n");

  std::vector<std::thread> threads;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (uint32_t part = 0; part < partitions; ++part) {
    threads.emplace_back([&, part] {
      std::mt19937_64 rng(args.U64("seed", 1) * 1000003u + part);
      std::vector<uint64_t> next(topics.size(), seq_base), sent(topics.size(), 0);
      std::vector<std::string> payloads;
      std::vector<RecordInput> in;
      std::vector<RecordPosition> pos;
      const auto start = std::chrono::steady_clock::now();
      uint64_t batches = 0;
      for (size_t live = topics.size(); live > 0 && std::chrono::steady_clock::now() < deadline;) {
        live = 0;
        for (size_t ti = 0; ti < topics.size(); ++ti) {
          if (count != 0 && sent[ti] >= count) continue;
          ++live;
          const std::string& topic = topics[ti];
          uint64_t n = 1 + rng() % max_batch;
          if (count != 0) n = std::min(n, count - sent[ti]);
          payloads.clear();
          for (uint64_t i = 0; i < n; ++i)
            payloads.push_back(fault::EncodeFaultPayload({tag, topic, part, next[ti] + i}));
          in.assign(n, RecordInput{});
          for (uint64_t i = 0; i < n; ++i) {
            in[i].payload = payloads[i];
            in[i].partition = part;
          }
          const std::string head = topic + " " + std::to_string(part) + " " +
                                   std::to_string(next[ti]) + " " + std::to_string(n);
          Say("t " + head + "\n");
          Status ps = p->PublishBatch(topic, in, &pos);
          if (!ps.ok()) {
            Say("f " + head + " " + OneLine(ps.ToString()) + "\n");
            if (!keep_going) Fail("PublishBatch: " + OneLine(ps.ToString()));
            next[ti] += n;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
          }
          bool consecutive = pos.size() == n;
          for (uint64_t i = 0; consecutive && i < n; ++i)
            consecutive = pos[i].partition == part && pos[i].offset == pos[0].offset + i;
          if (consecutive) {
            Say("k " + head + " " + std::to_string(pos[0].offset) + "\n");
          } else {
            // Not where a single-writer stream must land: report each record
            // as it landed and let the checker judge.
            for (size_t i = 0; i < pos.size(); ++i)
              Say("k " + topic + " " + std::to_string(part) + " " + std::to_string(next[ti] + i) +
                  " 1 " + std::to_string(pos[i].offset) + "\n");
          }
          next[ti] += n;
          sent[ti] += n;
        }
        ++batches;
        if (rate != 0) {
          // Paced per stream: sleep until this thread's records are due.
          const uint64_t total = sent.empty() ? 0 : sent[0];
          const auto due = start + std::chrono::microseconds(total * 1000000 / rate);
          std::this_thread::sleep_until(std::min(due, deadline));
        } else if (batches % 64 == 0) {
          std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (count != 0) Say("done\n");
  // Serve (heartbeats, replays) until killed; never for ever.
  std::this_thread::sleep_until(deadline);
  return 5;
}
