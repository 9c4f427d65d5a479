// Consumers at scale and start positions. Every delivery test checks every
// record: none lost, none duplicated, each stream in offset order, each
// payload the one published at that offset (tests/delivery_check.h).
//  - 24 consumers on one producer, each receiving every record of 2 topics x
//    3 partitions (a backlog replayed, the rest live).
//  - A consumer joining (earliest) while 2 threads publish at full rate: it
//    replays from offset 0, gets past the backlog it joined with while
//    publishing goes on, and has everything once publishing stops.
//  - Start positions tests/consumer_test.cc does not cover: per partition,
//    with partitions at different watermarks after retention (earliest,
//    latest, an offset below the low watermark but above 0, between the
//    watermarks, exactly at and above the high watermark).
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "tests/delivery_check.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<Producer> OpenTcpProducer(const std::string& dir) {
  ProducerOptions o;
  o.journal = TestOptions(dir);
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 50ms;
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(o, &p));
  return p;
}

ConsumerOptions ConsumerOf(const Producer& p, std::vector<std::string> topics,
                           StartPosition start = StartPosition::Earliest()) {
  ConsumerOptions o;
  o.producers.push_back({p.pub_endpoint(), p.replay_endpoint()});
  o.topics = std::move(topics);
  o.start = start;
  o.request_timeout = 500ms;
  return o;
}

std::unique_ptr<Consumer> OpenConsumer(const ConsumerOptions& o) {
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(o, &c));
  return c;
}

}  // namespace

TEST_CASE("24 consumers on one producer each receive every record of 2 topics x 3 partitions",
          "[consumer][scale]") {
  TempDir dir;
  auto p = OpenTcpProducer(dir.Sub("p"));
  TopicConfig tc;
  tc.partitions = 3;
  const std::vector<std::string> topics = {"orders", "payments"};
  for (const std::string& t : topics) REQUIRE_OK(p->CreateTopic(t, tc));
  const std::vector<uint32_t> parts = {0, 1, 2};
  const uint64_t kBacklog = 200, kPerPartition = 1000;
  for (const std::string& t : topics) REQUIRE(PublishRange(p.get(), t, parts, 0, kBacklog) == "");

  constexpr int kConsumers = 24;
  std::vector<std::unique_ptr<Consumer>> consumers;
  std::vector<DeliveryChecker> checkers(kConsumers);
  std::vector<PollHandler> handlers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.push_back(OpenConsumer(ConsumerOf(*p, topics)));
    for (const std::string& t : topics)
      for (uint32_t part : parts) checkers[i].Expect(p->producer_id(), t, part, 0);
    handlers.push_back(checkers[i].Handler());
  }
  // The rest is published while the consumers replay the backlog and follow.
  std::string publish_error;
  std::atomic<bool> stop{false};
  std::vector<std::thread> publisher;
  publisher.emplace_back([&] {
    for (uint64_t next = kBacklog; next < kPerPartition && !stop; next += 20) {
      for (const std::string& t : topics) {
        publish_error = PublishRange(p.get(), t, parts, next, 20, 20);
        if (!publish_error.empty()) return;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  StopAndJoin join_publisher(&stop, &publisher);
  const uint64_t kExpected = topics.size() * parts.size() * kPerPartition;
  const auto deadline = Clock::now() + 60s;
  auto all_done = [&] {
    for (const DeliveryChecker& ch : checkers)
      if (ch.total() < kExpected || ch.errors() > 0) return false;
    return true;
  };
  while (!all_done() && Clock::now() < deadline) {
    size_t got_any = 0;
    for (int i = 0; i < kConsumers; ++i) {
      size_t n = 0;
      REQUIRE_OK(consumers[i]->Poll(handlers[i], 5000, 0ms, &n));
      got_any += n;
    }
    if (got_any == 0) std::this_thread::sleep_for(2ms);
  }
  join_publisher.Join();
  REQUIRE(publish_error == "");
  // Nothing more arrives: no late duplicates.
  std::this_thread::sleep_for(300ms);
  for (int i = 0; i < kConsumers; ++i) {
    size_t n = 0;
    REQUIRE_OK(consumers[i]->Poll(handlers[i], 5000, 0ms, &n));
  }
  for (int i = 0; i < kConsumers; ++i) {
    INFO("consumer " << i << ": " << checkers[i].first_error());
    CHECK(checkers[i].errors() == 0);
    CHECK(checkers[i].total() == kExpected);
    CHECK(checkers[i].events().empty());
    for (const std::string& t : topics)
      for (uint32_t part : parts)
        CHECK(checkers[i].Next(p->producer_id(), t, part) == kPerPartition);
  }
  for (auto& c : consumers) REQUIRE_OK(c->Close());
}

TEST_CASE("a consumer joining while 2 threads publish at full rate replays from 0 and keeps up",
          "[consumer][scale]") {
  TempDir dir;
  auto p = OpenTcpProducer(dir.Sub("p"));
  TopicConfig tc;
  tc.partitions = 4;
  REQUIRE_OK(p->CreateTopic("fast", tc));

  // Thread k owns partitions 2k and 2k+1 (so each knows the offsets it gets)
  // and publishes batches of 100 records per partition, back to back, until
  // stopped or at kMax per partition.
  const uint64_t kMax = 300000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published[2] = {{0}, {0}};  // per partition of thread k
  std::string errors[2];
  std::vector<std::thread> publishers;
  for (uint32_t k = 0; k < 2; ++k)
    publishers.emplace_back([&, k] {
      for (uint64_t next = 0; !stop && next < kMax; next += 100) {
        errors[k] = PublishRange(p.get(), "fast", {2 * k, 2 * k + 1}, next, 100, 100);
        if (!errors[k].empty()) return;
        published[k] = next + 100;
      }
    });
  StopAndJoin stop_publishing(&stop, &publishers);

  std::this_thread::sleep_for(100ms);  // a backlog builds up
  const uint64_t backlog = 2 * (published[0] + published[1]);
  auto c = OpenConsumer(ConsumerOf(*p, {"fast"}));
  DeliveryChecker checker;
  for (uint32_t part = 0; part < 4; ++part) checker.Expect(p->producer_id(), "fast", part, 0);
  PollHandler h = checker.Handler();
  // The consumer follows for 1.5 s while publishing goes on at full rate.
  const auto publish_until = Clock::now() + 1500ms;
  while (Clock::now() < publish_until && checker.errors() == 0 &&
         (published[0] < kMax || published[1] < kMax))
    REQUIRE_OK(c->Poll(h, 5000, 10ms));
  const uint64_t delivered_while_publishing = checker.total();
  stop_publishing.Join();
  REQUIRE(errors[0] == "");
  REQUIRE(errors[1] == "");
  const uint64_t total = 2 * (published[0] + published[1]);
  const auto stopped = Clock::now();
  while (checker.total() < total && checker.errors() == 0 && Clock::now() < stopped + 30s)
    REQUIRE_OK(c->Poll(h, 5000, 10ms));
  const auto catch_up =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped);
  size_t more = 0;
  REQUIRE_OK(c->Poll(h, 5000, 300ms, &more));
  const ConsumerStats stats = c->stats();
  INFO("backlog at join " << backlog << ", published " << total << ", delivered while publishing "
                          << delivered_while_publishing << ", caught up " << catch_up.count()
                          << " ms after publishing stopped; live " << stats.live_records
                          << ", replayed " << stats.replayed_records << ", gaps "
                          << stats.gaps_detected);
  INFO("first delivery error: " << checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.events().empty());
  CHECK(more == 0);
  CHECK(checker.total() == total);
  for (uint32_t part = 0; part < 4; ++part)
    CHECK(checker.Next(p->producer_id(), "fast", part) == published[part / 2]);
  CHECK(backlog > 0);
  // It kept up: past the backlog it joined with while publishing went on.
  CHECK(delivered_while_publishing > backlog);
  CHECK(stats.replayed_records >= backlog);
}

TEST_CASE("start positions apply per partition, at different watermarks after retention",
          "[consumer][scale][retention]") {
  // Partition 0 holds offsets 70..99 (100 published, 30 kept), partition 1
  // 10..39, partition 2 nothing yet. Each section opens a consumer with one
  // start position, waits until it has learned the watermarks, publishes 10
  // more records per partition and checks exactly what is delivered and
  // which ranges are reported as skipped.
  TempDir dir;
  auto p = OpenTcpProducer(dir.Sub("p"));
  TopicConfig tc;
  tc.partitions = 3;
  tc.retention.max_records = 30;
  REQUIRE_OK(p->CreateTopic("t", tc));
  const uint64_t hw[3] = {100, 40, 0};
  const uint64_t lw[3] = {70, 10, 0};
  for (uint32_t part = 0; part < 3; ++part)
    if (hw[part] > 0) REQUIRE(PublishRange(p.get(), "t", {part}, 0, hw[part]) == "");
  REQUIRE_OK(p->journal()->EnforceRetention());
  for (uint32_t part = 0; part < 3; ++part) {
    Watermarks w;
    REQUIRE_OK(p->journal()->GetWatermarks("t", part, &w));
    REQUIRE(w.low_watermark == lw[part]);
    REQUIRE(w.high_watermark == hw[part]);
  }

  StartPosition start;
  uint64_t first[3];      // the first offset delivered per partition
  uint64_t skip_from[3];  // a skipped range [skip_from, first) when skip_from < first
  SECTION("earliest: from each low watermark, nothing reported") {
    start = StartPosition::Earliest();
    for (uint32_t i = 0; i < 3; ++i) first[i] = skip_from[i] = lw[i];
  }
  SECTION("latest: from each high watermark") {
    start = StartPosition::Latest();
    for (uint32_t i = 0; i < 3; ++i) first[i] = skip_from[i] = hw[i];
  }
  SECTION("offset 20: below one low watermark (skipped), between the other's watermarks") {
    start = StartPosition::Offset(20);
    const uint64_t f[3] = {70, 20, 0}, s[3] = {20, 20, 0};
    for (uint32_t i = 0; i < 3; ++i) first[i] = f[i], skip_from[i] = s[i];
  }
  SECTION("offset 5: below both low watermarks, two skipped ranges") {
    start = StartPosition::Offset(5);
    const uint64_t f[3] = {70, 10, 0}, s[3] = {5, 5, 0};
    for (uint32_t i = 0; i < 3; ++i) first[i] = f[i], skip_from[i] = s[i];
  }
  SECTION("offset 40: below one low watermark, exactly another's high watermark") {
    start = StartPosition::Offset(40);
    const uint64_t f[3] = {70, 40, 0}, s[3] = {40, 40, 0};
    for (uint32_t i = 0; i < 3; ++i) first[i] = f[i], skip_from[i] = s[i];
  }
  SECTION("offset above every high watermark: from each high watermark") {
    start = StartPosition::Offset(1000000);
    for (uint32_t i = 0; i < 3; ++i) first[i] = skip_from[i] = hw[i];
  }

  auto c = OpenConsumer(ConsumerOf(*p, {"t"}, start));
  // Wait until the producer answered the consumer's describe (the watermarks
  // it starts from), with a margin for the answer to be on its way.
  const auto deadline = Clock::now() + 10s;
  while (p->stats().replay_requests == 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE(p->stats().replay_requests > 0);
  std::this_thread::sleep_for(100ms);
  for (uint32_t part = 0; part < 3; ++part)
    REQUIRE(PublishRange(p.get(), "t", {part}, hw[part], 10) == "");

  DeliveryChecker checker;
  uint64_t expected = 0, skipped_ranges = 0;
  for (uint32_t part = 0; part < 3; ++part) {
    checker.Expect(p->producer_id(), "t", part, skip_from[part]);
    expected += hw[part] + 10 - first[part];
    if (skip_from[part] < first[part]) ++skipped_ranges;
  }
  PollHandler h = checker.Handler();
  const auto until = Clock::now() + 20s;
  while (checker.total() < expected && checker.errors() == 0 && Clock::now() < until)
    REQUIRE_OK(c->Poll(h, 1000, 20ms));
  size_t more = 0;
  REQUIRE_OK(c->Poll(h, 1000, 300ms, &more));
  INFO("first delivery error: " << checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(more == 0);
  CHECK(checker.total() == expected);
  for (uint32_t part = 0; part < 3; ++part)
    CHECK(checker.Next(p->producer_id(), "t", part) == hw[part] + 10);
  REQUIRE(checker.events().size() == skipped_ranges);
  for (const ConsumerEvent& e : checker.events()) {
    INFO("event: " << e.message);
    CHECK(e.kind == ConsumerEvent::Kind::kSkipped);
    REQUIRE(e.stream.partition < 3);
    CHECK(e.from == skip_from[e.stream.partition]);
    CHECK(e.to == first[e.stream.partition]);
  }
  REQUIRE_OK(c->Close());
}

TEST_CASE("a consumer replaying more streams than the producer serves at once is not held up",
          "[consumer][scale]") {
  // 64 partitions to replay, the producer serving 2 fetches of one consumer
  // at a time and refusing the rest as busy, a request timeout of a minute:
  // each refused fetch is asked again as soon as one of the consumer's own
  // fetches ends. Retrying only at the timeout would take 31 minutes.
  TempDir dir;
  ProducerOptions po;
  po.journal = TestOptions(dir.Sub("p"));
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.max_fetches_per_peer = 2;
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(po, &p));
  TopicConfig tc;
  tc.partitions = 64;
  REQUIRE_OK(p->CreateTopic("wide", tc));
  std::vector<uint32_t> parts(64);
  for (uint32_t i = 0; i < 64; ++i) parts[i] = i;
  REQUIRE(PublishRange(p.get(), "wide", parts, 0, 200, 200) == "");

  auto o = ConsumerOf(*p, {"wide"});
  o.request_timeout = 60s;
  auto c = OpenConsumer(o);
  DeliveryChecker checker;
  for (uint32_t part : parts) checker.Expect(p->producer_id(), "wide", part, 0);
  PollHandler h = checker.Handler();
  const auto start = Clock::now();
  while (checker.total() < 64 * 200 && checker.errors() == 0 && Clock::now() < start + 30s)
    REQUIRE_OK(c->Poll(h, 5000, 10ms));
  INFO("first delivery error: " << checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.events().empty());
  CHECK(checker.total() == 64 * 200);       // within 30 s, half the request timeout
  CHECK(p->stats().rejected_requests > 0);  // the producer did refuse some as busy
}
