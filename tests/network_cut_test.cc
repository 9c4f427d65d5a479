// Network cuts between a consumer and a producer on TCP. Method: the
// consumer reaches the producer's live stream and its replay server through
// two TCP proxies (tests/tcp_proxy.h); publishing goes on from a thread the
// whole time. Each round cuts (the proxy closes its listener and resets every
// connection) the live path, the replay path or both for about a second, then
// restores them on the same ports, so ZeroMQ reconnects by itself. One round
// restores the live path a second before the replay path: live records come
// back with a hole that cannot be replayed yet. Checked: every record
// published (every offset of both partitions) is delivered exactly once, in
// order, with its own payload, and no event is reported; and each cut was
// real (the consumer reconnected through the proxy after each restore).
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "tests/delivery_check.h"
#include "tests/tcp_proxy.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<TcpProxy> ProxyTo(const std::string& endpoint) {
  std::string host;
  uint16_t port = 0;
  REQUIRE(TcpProxy::ParseEndpoint(endpoint, &host, &port));
  auto proxy = std::make_unique<TcpProxy>(host, port);
  REQUIRE(proxy->Start() == "");
  return proxy;
}

}  // namespace

TEST_CASE("a consumer behind cut and restored connections gets every record once, in order",
          "[consumer][network]") {
  TempDir dir;
  ProducerOptions po;
  po.journal = TestOptions(dir.Sub("p"));
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.heartbeat_interval = 50ms;
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(po, &p));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));

  auto pub_proxy = ProxyTo(p->pub_endpoint());
  auto replay_proxy = ProxyTo(p->replay_endpoint());
  ConsumerOptions co;
  co.producers.push_back({pub_proxy->endpoint(), replay_proxy->endpoint()});
  co.topics = {"t"};
  co.request_timeout = 300ms;
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(co, &c));
  DeliveryChecker checker;
  for (uint32_t part = 0; part < 2; ++part) checker.Expect(p->producer_id(), "t", part, 0);
  PollHandler handler = checker.Handler();

  // Publishes both partitions, 10 records each per commit, about 5,000
  // records per second, until told to stop (bounded by count too).
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};  // per partition
  std::string publish_error;
  std::vector<std::thread> publisher;
  publisher.emplace_back([&] {
    const uint64_t kMax = 200000;
    for (uint64_t next = 0; !stop && next < kMax; next += 10) {
      publish_error = PublishRange(p.get(), "t", {0, 1}, next, 10, 10);
      if (!publish_error.empty()) return;
      published = next + 10;
      std::this_thread::sleep_for(2ms);
    }
  });
  StopAndJoin stop_publishing(&stop, &publisher);

  auto poll_for = [&](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (Clock::now() < until) REQUIRE_OK(c->Poll(handler, 1000, 10ms));
  };

  enum class Cut { kBoth, kLive, kReplay, kLiveBackFirst };
  const std::vector<Cut> rounds = {Cut::kBoth, Cut::kLive, Cut::kLiveBackFirst, Cut::kReplay,
                                   Cut::kBoth};
  uint64_t pub_restarts = 0, replay_restarts = 0;
  for (size_t round = 0; round < rounds.size(); ++round) {
    INFO("round " << round);
    poll_for(400ms);
    const Cut cut = rounds[round];
    const bool live = cut != Cut::kReplay, replay = cut != Cut::kLive;
    const uint64_t pub_accepted = pub_proxy->accepted();
    const uint64_t replay_accepted = replay_proxy->accepted();
    if (live) pub_proxy->Stop();
    if (replay) replay_proxy->Stop();
    poll_for(1000ms);
    if (live) {
      REQUIRE(pub_proxy->Start() == "");
      ++pub_restarts;
    }
    if (cut == Cut::kLiveBackFirst) poll_for(1000ms);  // live again, replay still cut
    if (replay) {
      REQUIRE(replay_proxy->Start() == "");
      ++replay_restarts;
    }
    // The consumer reconnects through each restored proxy (bounded wait).
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline && ((live && pub_proxy->accepted() == pub_accepted) ||
                                       (replay && replay_proxy->accepted() == replay_accepted)))
      poll_for(20ms);
    CHECK((!live || pub_proxy->accepted() > pub_accepted));
    CHECK((!replay || replay_proxy->accepted() > replay_accepted));
  }
  poll_for(400ms);
  stop_publishing.Join();
  REQUIRE(publish_error == "");
  const uint64_t n = published;
  {
    const auto deadline = Clock::now() + 30s;
    while (
        Clock::now() < deadline && checker.errors() == 0 &&
        (checker.Next(p->producer_id(), "t", 0) < n || checker.Next(p->producer_id(), "t", 1) < n))
      poll_for(20ms);
  }
  poll_for(300ms);  // nothing more: no late duplicate
  const ConsumerStats stats = c->stats();
  INFO("published " << n << " per partition; delivered " << checker.total() << " (live "
                    << stats.live_records << ", replayed " << stats.replayed_records << ", gaps "
                    << stats.gaps_detected << "); proxies accepted " << pub_proxy->accepted()
                    << " live and " << replay_proxy->accepted() << " replay connections");
  INFO("first delivery error: " << checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.events().empty());
  CHECK(checker.Next(p->producer_id(), "t", 0) == n);
  CHECK(checker.Next(p->producer_id(), "t", 1) == n);
  CHECK(checker.total() == 2 * n);
  CHECK(n > 10000);                // publishing went on throughout
  CHECK(stats.gaps_detected > 0);  // what was published during the cuts came by replay
  CHECK(stats.replayed_records > 0);
  CHECK(pub_proxy->accepted() >= 1 + pub_restarts);
  CHECK(replay_proxy->accepted() >= 1 + replay_restarts);
  REQUIRE_OK(c->Close());
}
