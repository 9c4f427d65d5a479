// A producer process for the producer's crash tests:
//
//   producer_child <journal dir> <pub endpoint> <replay endpoint>
//                  <fsync|nometasync|nosync> <topic> <partitions> <start> <count>
//
// Opens a producer on the journal (creating <topic> with <partitions> if it
// is missing), writes "hw <partition> <high watermark>\n" for each partition
// "id <producer id in hex>\n" and "ready\n", then publishes, from one thread per partition, the
// records at offsets [first, first + count) of that partition, where first is the partition's high
// watermark (<start> "hw") or <start> (which must then equal the high watermark). Each record's
// payload is StreamPayload(topic, partition, offset) (tests/delivery_check.h). After each
// acknowledged batch it writes "p <partition> <last offset of the batch>\n". When every thread is
// done it writes "done\n" and goes on serving (heartbeats, replays) until
// killed. Anything wrong: "error <what>\n" on stdout and stderr, exit 2.
//
// The child dies with its parent (PR_SET_PDEATHSIG) and exits by itself after
// two minutes, so a failed test never leaves it behind.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "brook/producer.h"
#include "tests/delivery_check.h"

namespace {

using namespace brook;

void Say(const std::string& line) {
  // One write per line: lines below PIPE_BUF never interleave between threads.
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

[[noreturn]] void Fail(const std::string& what) {
  Say("error " + what + "\n");
  std::fprintf(stderr, "producer_child: %s\n", what.c_str());
  _exit(2);
}

bool ParseU64(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr,
                 "usage: %s DIR PUB REPLAY fsync|nometasync|nosync TOPIC PARTITIONS START|hw "
                 "COUNT\n",
                 argv[0]);
    return 64;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 4;  // the parent is already gone

  const std::string mode = argv[4];
  const std::string topic = argv[5];
  uint64_t partitions = 0, start = 0, count = 0;
  const bool start_at_hw = std::string(argv[7]) == "hw";
  if (!ParseU64(argv[6], &partitions) || partitions == 0 || partitions > 64)
    Fail("bad partition count");
  if ((!start_at_hw && !ParseU64(argv[7], &start)) || !ParseU64(argv[8], &count))
    Fail("bad start or count");

  ProducerOptions o;
  o.journal.path = argv[1];
  o.journal.initial_map_size = 4u << 20;
  o.journal.max_map_size = 1ull << 30;
  if (mode == "fsync") {
    o.journal.durability = Durability::kFsync;
  } else if (mode == "nometasync") {
    o.journal.durability = Durability::kNoMetaSync;
  } else if (mode == "nosync") {
    o.journal.durability = Durability::kNoSync;
  } else {
    Fail("unknown durability mode " + mode);
  }
  o.pub_endpoint = argv[2];
  o.replay_endpoint = argv[3];
  o.heartbeat_interval = std::chrono::milliseconds(50);
  std::unique_ptr<Producer> p;
  Status s = Producer::Open(o, &p);
  if (!s.ok()) Fail("Producer::Open: " + s.ToString());
  TopicConfig tc;
  tc.partitions = static_cast<uint32_t>(partitions);
  s = p->CreateTopic(topic, tc);
  if (!s.ok()) Fail("CreateTopic: " + s.ToString());

  std::vector<uint64_t> first(partitions);
  for (uint32_t part = 0; part < partitions; ++part) {
    Watermarks w;
    s = p->journal()->GetWatermarks(topic, part, &w);
    if (!s.ok()) Fail("GetWatermarks: " + s.ToString());
    if (!start_at_hw && start != w.high_watermark)
      Fail("start " + std::to_string(start) + " is not the high watermark " +
           std::to_string(w.high_watermark) + " of partition " + std::to_string(part));
    first[part] = w.high_watermark;
    Say("hw " + std::to_string(part) + " " + std::to_string(w.high_watermark) + "\n");
  }
  Say("id " + p->producer_id().ToHex() + "\n");
  Say("ready\n");

  std::vector<std::thread> threads;
  for (uint32_t part = 0; part < partitions; ++part) {
    threads.emplace_back([&, part] {
      std::mt19937 rng(static_cast<unsigned>(getpid()) * 31u + part);
      std::vector<std::string> payloads;
      std::vector<RecordInput> in;
      std::vector<RecordPosition> pos;
      for (uint64_t next = first[part]; next < first[part] + count;) {
        const uint64_t n = std::min<uint64_t>(1 + rng() % 16, first[part] + count - next);
        payloads.clear();
        for (uint64_t i = 0; i < n; ++i)
          payloads.push_back(brook::test::StreamPayload(topic, part, next + i));
        in.assign(n, RecordInput{});
        for (uint64_t i = 0; i < n; ++i) {
          in[i].payload = payloads[i];
          in[i].partition = part;
        }
        Status ps = p->PublishBatch(topic, in, &pos);
        if (!ps.ok()) Fail("PublishBatch: " + ps.ToString());
        for (uint64_t i = 0; i < n; ++i)
          if (pos[i].partition != part || pos[i].offset != next + i)
            Fail("a record landed at " + std::to_string(pos[i].partition) + "@" +
                 std::to_string(pos[i].offset) + ", expected " + std::to_string(part) + "@" +
                 std::to_string(next + i));
        next += n;
        Say("p " + std::to_string(part) + " " + std::to_string(next - 1) + "\n");
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // steady, not flat out
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Say("done\n");
  // Serve (heartbeats, replays) until killed; never for ever.
  std::this_thread::sleep_for(std::chrono::minutes(2));
  return 5;
}
