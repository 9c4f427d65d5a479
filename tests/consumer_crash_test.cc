// Consumer crash test with real processes. Method: a producer in this process
// publishes 2 partitions' worth of numbered records from a thread, steadily;
// a consumer child process (tests/consumer_child.cc) with a stored position
// reports every record its handler processes through a pipe and commits after
// every poll. We SIGKILL it at random moments and start it again, many
// rounds, while publishing goes on. Checked: within one life each partition's
// offsets come in order with no gap; a new life never starts beyond what the
// previous ones reported (no skip: at-least-once); and in the end every
// published offset was delivered.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "brook/producer.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

// Reads the child's output for `ms` (bounded), then kills it and returns
// its complete "r P O" lines as (partition, offset) pairs.
std::vector<std::pair<uint32_t, uint64_t>> RunConsumerFor(const std::vector<std::string>& argv,
                                                          int ms) {
  ChildProcess child = Spawn(argv);
  std::string data;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!WaitReadable(child.stdout_fd, 5)) continue;
    const ssize_t n = read(child.stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  const int status = KillAndReap(&child, &data);
  INFO("consumer child output (start): " << data.substr(0, 300));
  CHECK(WIFSIGNALED(status));  // it was alive until killed
  std::vector<std::pair<uint32_t, uint64_t>> out;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // cut by the kill
    std::istringstream ls(line);
    std::string tag;
    uint32_t p;
    uint64_t o;
    if (ls >> tag >> p >> o && tag == "r") out.emplace_back(p, o);
  }
  return out;
}

}  // namespace

TEST_CASE("a consumer killed with SIGKILL and restarted, many rounds, gets everything in order",
          "[consumer][crash]") {
  TempDir dir;
  ProducerOptions po;
  po.journal = TestOptions(dir.Sub("producer"));
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.heartbeat_interval = 50ms;
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(po, &p));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));

  const uint64_t kPerPartition = 6000;
  std::atomic<bool> publish_failed{false};
  std::thread publisher([&] {
    for (uint64_t i = 0; i < kPerPartition; i += 20) {
      std::vector<RecordInput> in(40);
      for (size_t k = 0; k < in.size(); ++k) {
        in[k].payload = "x";
        in[k].partition = static_cast<uint32_t>(k % 2);
      }
      if (!p->PublishBatch("t", in).ok()) publish_failed = true;
      std::this_thread::sleep_for(2ms);
    }
  });

  const std::vector<std::string> argv = {
      BROOK_CONSUMER_CHILD, p->pub_endpoint(), p->replay_endpoint(),
      dir.Sub("consumer"),  "crashy",          "t"};
  std::mt19937 rng(7);
  std::map<uint32_t, std::set<uint64_t>> delivered;
  std::map<uint32_t, uint64_t> reported_end;  // highest offset + 1 reported so far
  int rounds = 0;
  const auto give_up = std::chrono::steady_clock::now() + 120s;
  for (; std::chrono::steady_clock::now() < give_up; ++rounds) {
    const bool done_publishing =
        !publisher.joinable() || delivered[0].size() + delivered[1].size() >= 2 * kPerPartition;
    auto got = RunConsumerFor(argv, 50 + static_cast<int>(rng() % 250));
    std::map<uint32_t, uint64_t> next_in_life;
    for (auto [part, off] : got) {
      auto it = next_in_life.find(part);
      if (it == next_in_life.end()) {
        // A new life starts at or before where the old ones got to: no skip.
        INFO("round " << rounds << " partition " << part << " starts at " << off
                      << ", previous lives reported up to " << reported_end[part]);
        REQUIRE(off <= reported_end[part]);
      } else {
        INFO("round " << rounds << " partition " << part);
        REQUIRE(off == it->second);  // in order, no gap, no duplicate within a life
      }
      next_in_life[part] = off + 1;
      reported_end[part] = std::max(reported_end[part], off + 1);
      delivered[part].insert(off);
    }
    if (rounds >= 15 && delivered[0].size() == kPerPartition &&
        delivered[1].size() == kPerPartition)
      break;
    (void)done_publishing;
  }
  publisher.join();
  CHECK_FALSE(publish_failed);
  CHECK(rounds >= 15);
  for (uint32_t part = 0; part < 2; ++part) {
    INFO("partition " << part);
    CHECK(delivered[part].size() == kPerPartition);
    if (!delivered[part].empty()) {
      CHECK(*delivered[part].begin() == 0);
      CHECK(*delivered[part].rbegin() == kPerPartition - 1);
    }
  }
}
