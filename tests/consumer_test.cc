// The consumer against real producers on loopback. Every delivery test checks
// every record: none lost, none duplicated, each stream in offset order, and
// each payload the one published at that offset.
#include <poll.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "tests/raw_lmdb.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

ProducerOptions ProducerOpts(const std::string& dir) {
  ProducerOptions o;
  o.journal = TestOptions(dir);
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 50ms;
  return o;
}

std::unique_ptr<Producer> OpenProducer(const ProducerOptions& o) {
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(o, &p));
  return p;
}

ConsumerOptions ConsumerOpts(const std::vector<const Producer*>& producers,
                             std::vector<std::string> topics) {
  ConsumerOptions o;
  for (const Producer* p : producers)
    o.producers.push_back({p->pub_endpoint(), p->replay_endpoint()});
  o.topics = std::move(topics);
  o.request_timeout = 500ms;
  return o;
}

std::unique_ptr<Consumer> OpenConsumer(const ConsumerOptions& o) {
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(o, &c));
  return c;
}

std::string PayloadOf(const std::string& topic, uint32_t partition, uint64_t offset) {
  return topic + "/" + std::to_string(partition) + "@" + std::to_string(offset);
}

// Publishes `count` records to each partition, payload PayloadOf(...), in
// batches of `batch`; offsets must start at `first`. Safe to run on any
// thread (Catch's assertions are not): returns what went wrong, or "".
std::string Publish(Producer* p, const std::string& topic, uint32_t partitions, uint64_t first,
                    uint64_t count, uint64_t batch = 50) {
  for (uint64_t base = first; base < first + count; base += batch) {
    const uint64_t n = std::min(batch, first + count - base);
    std::vector<std::string> payloads;
    for (uint32_t part = 0; part < partitions; ++part)
      for (uint64_t i = 0; i < n; ++i) payloads.push_back(PayloadOf(topic, part, base + i));
    std::vector<RecordInput> in;
    size_t k = 0;
    for (uint32_t part = 0; part < partitions; ++part)
      for (uint64_t i = 0; i < n; ++i) {
        RecordInput r;
        r.payload = payloads[k++];
        r.partition = part;
        in.push_back(r);
      }
    std::vector<RecordPosition> pos;
    Status s = p->PublishBatch(topic, in, &pos);
    if (!s.ok()) return s.ToString();
    for (size_t i = 0; i < pos.size(); ++i)
      if (pos[i].offset != base + (i % n))
        return "unexpected offset " + std::to_string(pos[i].offset);
  }
  return "";
}

// Publishes on a thread of its own; Join() returns what went wrong, or "".
class Publisher {
 public:
  template <typename Fn>
  explicit Publisher(Fn fn) : thread_([this, fn] { error_ = fn(); }) {}
  std::string Join() {
    if (thread_.joinable()) thread_.join();
    return error_;
  }
  ~Publisher() { Join(); }

 private:
  std::string error_;
  std::thread thread_;
};

// Collects deliveries and checks, as they come, that each stream is in order
// with no gap and no duplicate and every payload is right.
struct Collector {
  std::map<std::tuple<std::string, std::string, uint32_t>, uint64_t> next;  // stream -> next
  std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t> first_seen;
  std::vector<ConsumerEvent> events;
  uint64_t total = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Expect(const ProducerId& producer, const std::string& topic, uint32_t partition,
              uint64_t from) {
    next[{producer.ToHex(), topic, partition}] = from;
  }

  PollHandler Handler() {
    PollHandler h;
    h.on_record = [this](const StreamId& s, const RecordView& r) {
      auto key = std::make_tuple(s.producer.ToHex(), s.topic, s.partition);
      auto it = next.find(key);
      std::string err;
      if (it == next.end()) {
        err = "record of an unexpected stream " + s.topic;
      } else if (r.offset != it->second) {
        err = s.topic + "/" + std::to_string(s.partition) + ": got offset " +
              std::to_string(r.offset) + ", expected " + std::to_string(it->second);
      } else if (r.payload != PayloadOf(s.topic, s.partition, r.offset)) {
        err = "wrong payload at " + std::to_string(r.offset);
      }
      if (!err.empty()) {
        if (errors++ == 0) first_error = err;
      }
      if (it != next.end()) it->second = r.offset + 1;
      ++total;
    };
    h.on_event = [this](const ConsumerEvent& e) {
      events.push_back(e);
      if (e.kind == ConsumerEvent::Kind::kSkipped) {
        auto key = std::make_tuple(e.stream.producer.ToHex(), e.stream.topic, e.stream.partition);
        if (next.count(key) && next[key] == e.from) next[key] = e.to;
      }
      if (e.kind == ConsumerEvent::Kind::kTailLost) {
        // Offsets [from, to) are issued again: expect them from `from`.
        auto key = std::make_tuple(e.stream.producer.ToHex(), e.stream.topic, e.stream.partition);
        if (next.count(key) && next[key] == e.to) next[key] = e.from;
      }
    };
    return h;
  }

  // Polls until `expected` records arrived or `limit` passed.
  void PollUntil(Consumer* c, uint64_t expected, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    PollHandler h = Handler();
    while (total < expected && std::chrono::steady_clock::now() < deadline)
      REQUIRE_OK(c->Poll(h, 1000, 50ms));
  }
};

}  // namespace

TEST_CASE("consumer delivers every record live, in order, once", "[consumer]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.partitions = 3;
  REQUIRE_OK(p->CreateTopic("orders", tc));
  auto c = OpenConsumer(ConsumerOpts({p.get()}, {"orders"}));
  Collector col;
  for (uint32_t part = 0; part < 3; ++part) col.Expect(p->producer_id(), "orders", part, 0);
  Publisher publisher([&] { return Publish(p.get(), "orders", 3, 0, 2000); });
  col.PollUntil(c.get(), 6000);
  CHECK(publisher.Join() == "");
  col.PollUntil(c.get(), 6000);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 6000);
  // Nothing more arrives: no duplicates later either.
  size_t more = 0;
  REQUIRE_OK(c->Poll(col.Handler(), 1000, 300ms, &more));
  CHECK(more == 0);
  CHECK(c->stats().records_delivered == 6000);
}

TEST_CASE("a consumer that joins late replays the backlog, then goes live without a seam",
          "[consumer]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 2, 0, 5000, 500) == "");  // the backlog
  auto c = OpenConsumer(ConsumerOpts({p.get()}, {"t"}));
  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 0);
  // Publishing goes on while the consumer catches up.
  Publisher publisher([&] { return Publish(p.get(), "t", 2, 5000, 5000, 10); });
  col.PollUntil(c.get(), 20000);
  CHECK(publisher.Join() == "");
  col.PollUntil(c.get(), 20000);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 20000);
  CHECK(c->stats().replayed_records >= 10000);
}

TEST_CASE("start positions: latest delivers only new records, an offset starts there",
          "[consumer]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  REQUIRE(Publish(p.get(), "t", 1, 0, 100) == "");

  SECTION("latest") {
    auto o = ConsumerOpts({p.get()}, {"t"});
    o.start = StartPosition::Latest();
    auto c = OpenConsumer(o);
    // Let it learn where the end is before publishing.
    std::this_thread::sleep_for(300ms);
    Collector col;
    col.Expect(p->producer_id(), "t", 0, 100);
    REQUIRE(Publish(p.get(), "t", 1, 100, 50) == "");
    col.PollUntil(c.get(), 50);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 50);
  }
  SECTION("offset") {
    auto o = ConsumerOpts({p.get()}, {"t"});
    o.start = StartPosition::Offset(60);
    auto c = OpenConsumer(o);
    Collector col;
    col.Expect(p->producer_id(), "t", 0, 60);
    col.PollUntil(c.get(), 40);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 40);
  }
}

TEST_CASE("start position by timestamp: each partition from its first record at or after it",
          "[consumer]") {
  TempDir dir;
  auto po = ProducerOpts(dir.Sub("p"));
  auto now_ns = std::make_shared<std::atomic<int64_t>>(1'000'000'000);
  po.journal.clock = [now_ns] { return now_ns->load(); };
  auto p = OpenProducer(po);
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 2, 0, 40) == "");  // stamped at 1 s
  now_ns->store(2'000'000'000);
  REQUIRE(Publish(p.get(), "t", 2, 40, 60) == "");  // stamped at 2 s

  SECTION("a time inside the journal") {
    auto o = ConsumerOpts({p.get()}, {"t"});
    o.start = StartPosition::Timestamp(int64_t{1'500'000'000});
    auto c = OpenConsumer(o);
    Collector col;
    for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 40);
    col.PollUntil(c.get(), 120);
    // Then live records go on from there.
    REQUIRE(Publish(p.get(), "t", 2, 100, 10) == "");
    col.PollUntil(c.get(), 140);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 140);
  }
  SECTION("a time after every record: from the end") {
    auto o = ConsumerOpts({p.get()}, {"t"});
    o.start = StartPosition::Timestamp(int64_t{3'000'000'000});
    auto c = OpenConsumer(o);
    // Once the producer said where the end is, the consumer lags by nothing
    // (it had counted from the low watermark while it waited for the answer).
    std::vector<StreamLag> lag;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      lag = c->lag();
      if (lag.size() == 2 && lag[0].next == 100 && lag[1].next == 100) break;
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(lag.size() == 2);
    for (const StreamLag& l : lag) {
      CHECK(l.next == 100);
      CHECK(l.high_watermark == 100);
      CHECK(l.records == 0);
    }
    Collector col;
    for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 100);
    REQUIRE(Publish(p.get(), "t", 2, 100, 10) == "");
    col.PollUntil(c.get(), 20);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 20);
  }
  SECTION("a time before every record: from the start") {
    auto o = ConsumerOpts({p.get()}, {"t"});
    o.start = StartPosition::Timestamp(std::chrono::system_clock::time_point{});
    auto c = OpenConsumer(o);
    Collector col;
    for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 0);
    col.PollUntil(c.get(), 200);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 200);
  }
}

TEST_CASE("records never sent live are found through the heartbeat and replayed", "[consumer]") {
  // Method: the producer's live sending is switched off by taking its commit
  // listener away, so the only way the consumer can learn of the records is a
  // heartbeat's high watermark: the "lost last record" case, made certain.
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  auto c = OpenConsumer(ConsumerOpts({p.get()}, {"t"}));
  std::this_thread::sleep_for(200ms);
  p->journal()->SetCommitListener(nullptr);
  REQUIRE(Publish(p.get(), "t", 1, 0, 1) == "");  // one record, never sent live
  Collector col;
  col.Expect(p->producer_id(), "t", 0, 0);
  col.PollUntil(c.get(), 1, 10s);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 1);
  CHECK(c->stats().gaps_detected >= 1);
}

TEST_CASE("a slow consumer with small queues loses nothing: drops are replayed",
          "[consumer][slow]") {
  TempDir dir;
  auto po = ProducerOpts(dir.Sub("p"));
  po.pub_high_water_mark = 20;
  auto p = OpenProducer(po);
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  auto o = ConsumerOpts({p.get()}, {"t"});
  o.sub_high_water_mark = 20;
  o.max_queued_records = 200;
  o.max_buffered_live_records = 500;
  auto c = OpenConsumer(o);
  std::this_thread::sleep_for(200ms);
  const uint64_t kRecords = 20000;
  Publisher publisher([&] { return Publish(p.get(), "t", 1, 0, kRecords, 1); });
  Collector col;
  col.Expect(p->producer_id(), "t", 0, 0);
  PollHandler inner = col.Handler();
  PollHandler slow;
  uint64_t n = 0;
  slow.on_record = [&](const StreamId& s, const RecordView& r) {
    inner.on_record(s, r);
    if (++n % 500 == 0) std::this_thread::sleep_for(5ms);  // a slow handler
  };
  slow.on_event = inner.on_event;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (col.total < kRecords && std::chrono::steady_clock::now() < deadline)
    REQUIRE_OK(c->Poll(slow, 100, 50ms));
  CHECK(publisher.Join() == "");
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == kRecords);
  INFO("gaps detected " << c->stats().gaps_detected);
  CHECK(c->stats().gaps_detected > 0);  // it did fall behind and recover
}

TEST_CASE("records removed by retention before they were read are reported as skipped",
          "[consumer][retention]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.retention.max_records = 10;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 1, 0, 100) == "");
  REQUIRE_OK(p->journal()->EnforceRetention());
  auto o = ConsumerOpts({p.get()}, {"t"});
  o.start = StartPosition::Offset(0);
  auto c = OpenConsumer(o);
  Collector col;
  col.Expect(p->producer_id(), "t", 0, 0);
  col.PollUntil(c.get(), 10);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 10);
  REQUIRE(col.events.size() == 1);
  CHECK(col.events[0].kind == ConsumerEvent::Kind::kSkipped);
  CHECK(col.events[0].from == 0);
  CHECK(col.events[0].to == 90);
  CHECK(col.events[0].message.find("removed by retention") != std::string::npos);
}

TEST_CASE("several producers, topics and partitions into one consumer", "[consumer]") {
  TempDir dir;
  std::vector<std::unique_ptr<Producer>> producers;
  for (int i = 0; i < 3; ++i) {
    producers.push_back(OpenProducer(ProducerOpts(dir.Sub("p" + std::to_string(i)))));
    TopicConfig tc;
    tc.partitions = 2;
    REQUIRE_OK(producers.back()->CreateTopic("a", tc));
    REQUIRE_OK(producers.back()->CreateTopic("b", tc));
    REQUIRE_OK(producers.back()->CreateTopic("ignored", tc));
  }
  auto c = OpenConsumer(
      ConsumerOpts({producers[0].get(), producers[1].get(), producers[2].get()}, {"a", "b"}));
  Collector col;
  for (auto& p : producers)
    for (const char* t : {"a", "b"})
      for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), t, part, 0);
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (auto& p : producers)
    publishers.push_back(std::make_unique<Publisher>([raw = p.get()] {
      std::string e = Publish(raw, "a", 2, 0, 300);
      if (e.empty()) e = Publish(raw, "b", 2, 0, 300);
      if (e.empty()) e = Publish(raw, "ignored", 2, 0, 10);
      return e;
    }));
  const uint64_t expected = 3 * 2 * 2 * 300;
  col.PollUntil(c.get(), expected);
  for (auto& t : publishers) CHECK(t->Join() == "");
  col.PollUntil(c.get(), expected);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == expected);
}

TEST_CASE("a named consumer that started at latest and got nothing starts there next time",
          "[consumer][positions]") {
  // Its start position is stored although no record came: the next run gets
  // what was published while it was down instead of starting at latest again.
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 2, 0, 30) == "");  // before: never delivered
  auto o = ConsumerOpts({p.get()}, {"t"});
  o.name = "late";
  o.state_dir = dir.Sub("consumer");
  o.start = StartPosition::Latest();
  SECTION("by Latest") {}
  SECTION("by a time after every record") {
    o.start = StartPosition::Timestamp(std::chrono::system_clock::now() + std::chrono::hours(1));
  }
  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 30);
  {
    auto c = OpenConsumer(o);
    // Bounded: until both streams' lag says they stand at 30, then a poll
    // that takes the start positions and commits them.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::vector<StreamLag> lag;
    while (std::chrono::steady_clock::now() < deadline) {
      REQUIRE_OK(c->Poll(col.Handler(), 1000, 50ms));
      lag = c->lag();
      if (lag.size() == 2 && lag[0].next == 30 && lag[1].next == 30) break;
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(lag.size() == 2);
    REQUIRE_OK(c->Poll(col.Handler(), 1000, 50ms));
    REQUIRE_OK(c->Close());
  }
  REQUIRE(col.total == 0);
  REQUIRE(Publish(p.get(), "t", 2, 30, 20) == "");  // while it is down
  {
    auto c = OpenConsumer(o);
    col.PollUntil(c.get(), 40);
    REQUIRE_OK(c->Close());
  }
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 40);
}

TEST_CASE("a named consumer resumes from its committed position after a restart",
          "[consumer][positions]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 2, 0, 500) == "");
  auto o = ConsumerOpts({p.get()}, {"t"});
  o.name = "billing";
  o.state_dir = dir.Sub("consumer") + "/nested/state";  // parents made too
  o.auto_commit = false;
  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 0);
  {
    auto c = OpenConsumer(o);
    col.PollUntil(c.get(), 600);  // part of the 1,000
    REQUIRE(col.total >= 600);
    REQUIRE_OK(c->Commit());
    REQUIRE_OK(c->Close());
  }
  const uint64_t first_run = col.total;
  // Published while the consumer is down.
  REQUIRE(Publish(p.get(), "t", 2, 500, 250) == "");
  {
    auto c = OpenConsumer(o);
    col.PollUntil(c.get(), 1500);
    REQUIRE_OK(c->Close());
  }
  INFO(col.first_error);
  CHECK(col.errors == 0);  // resumed exactly where it committed: no gap, no duplicate
  CHECK(col.total == 1500);
  CHECK(first_run < 1500);

  // Without Commit, auto_commit off, a restart delivers again (at-least-once).
  auto o2 = o;
  o2.name = "other";
  o2.auto_commit = true;
  o2.auto_commit_interval = 0ms;
  Collector col2;
  for (uint32_t part = 0; part < 2; ++part) col2.Expect(p->producer_id(), "t", part, 0);
  {
    auto c = OpenConsumer(o2);
    col2.PollUntil(c.get(), 1500);
  }
  CHECK(col2.total == 1500);
  {
    auto c = OpenConsumer(o2);  // everything was committed: nothing comes again
    size_t n = 0;
    REQUIRE_OK(c->Poll(col2.Handler(), 1000, 500ms, &n));
    CHECK(n == 0);
  }
  CHECK(col2.errors == 0);
}

namespace {

// A producer on ipc:// endpoints in `dir`, so that a restart binds the same
// endpoints and consumers reconnect by themselves.
ProducerOptions IpcProducerOpts(const TempDir& dir, const std::string& journal) {
  ProducerOptions o = ProducerOpts(dir.Sub(journal));
  o.pub_endpoint = "ipc://" + dir.Sub("pub.sock");
  o.replay_endpoint = "ipc://" + dir.Sub("replay.sock");
  return o;
}

ConsumerOptions IpcConsumerOpts(const TempDir& dir, std::vector<std::string> topics) {
  ConsumerOptions o;
  o.producers.push_back({"ipc://" + dir.Sub("pub.sock"), "ipc://" + dir.Sub("replay.sock")});
  o.topics = std::move(topics);
  o.request_timeout = 300ms;
  return o;
}

// Copies a running journal's files (not its lock file): what a power loss
// leaves when the journal was last synced now.
void SnapshotJournal(const std::string& from, const std::string& to) {
  std::filesystem::create_directory(to);
  for (const auto& f : std::filesystem::directory_iterator(from))
    if (f.path().filename() != "lock.mdb")
      std::filesystem::copy(f.path(), to + "/" + f.path().filename().string());
}

// Puts the snapshot in the journal's place, as the power loss would have.
void RestoreJournal(const std::string& snapshot, const std::string& journal) {
  std::filesystem::remove_all(journal);
  std::filesystem::rename(snapshot, journal);
}

}  // namespace

TEST_CASE("a producer restarted on the same journal: the consumer reconnects and goes on",
          "[consumer][restart]") {
  TempDir dir;
  auto p = OpenProducer(IpcProducerOpts(dir, "journal"));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  const ProducerId id = p->producer_id();
  auto c = OpenConsumer(IpcConsumerOpts(dir, {"t"}));
  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(id, "t", part, 0);
  REQUIRE(Publish(p.get(), "t", 2, 0, 300) == "");
  col.PollUntil(c.get(), 600);
  REQUIRE(col.total == 600);

  REQUIRE_OK(p->Close());
  p.reset();
  col.PollUntil(c.get(), 601, 1s);  // the producer is away: nothing, no error
  p = OpenProducer(IpcProducerOpts(dir, "journal"));
  CHECK(p->producer_id() == id);
  REQUIRE(Publish(p.get(), "t", 2, 300, 300) == "");
  col.PollUntil(c.get(), 1200);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 1200);
  CHECK(col.events.empty());
}

TEST_CASE("a producer whose journal was wiped is a new producer, reported, followed from the start",
          "[consumer][restart]") {
  TempDir dir;
  auto p = OpenProducer(IpcProducerOpts(dir, "journal-a"));
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  const ProducerId old_id = p->producer_id();
  auto co = IpcConsumerOpts(dir, {"t"});
  co.name = "watcher";
  co.state_dir = dir.Sub("consumer");
  auto c = OpenConsumer(co);
  Collector col;
  col.Expect(old_id, "t", 0, 0);
  REQUIRE(Publish(p.get(), "t", 1, 0, 100) == "");
  col.PollUntil(c.get(), 100);
  REQUIRE(col.total == 100);
  REQUIRE_OK(p->Close());
  p.reset();

  // Same endpoints, a fresh journal: offsets 0.. again, under a new id.
  p = OpenProducer(IpcProducerOpts(dir, "journal-b"));
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  CHECK(p->producer_id() != old_id);
  col.Expect(p->producer_id(), "t", 0, 0);
  REQUIRE(Publish(p.get(), "t", 1, 0, 50) == "");
  col.PollUntil(c.get(), 150);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 150);
  REQUIRE(col.events.size() == 1);
  CHECK(col.events[0].kind == ConsumerEvent::Kind::kNewProducer);
  CHECK(col.events[0].stream.producer == p->producer_id());
}

TEST_CASE("a producer that lost its tail (same id, new epoch, lower high watermark) is reported",
          "[consumer][restart]") {
  // Method: a copy of the journal's data file taken while it held 50 synced
  // records (and the producer was running) stands in for what a power loss
  // in nosync mode leaves behind: the same producer id, the later commits
  // undone, the epoch not closed cleanly. The consumer had processed 100.
  TempDir dir;
  auto po = IpcProducerOpts(dir, "journal");
  auto p = OpenProducer(po);
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  const ProducerId id = p->producer_id();
  REQUIRE(Publish(p.get(), "t", 1, 0, 50) == "");
  REQUIRE_OK(p->journal()->Sync());
  SnapshotJournal(dir.Sub("journal"), dir.Sub("snapshot"));
  REQUIRE(Publish(p.get(), "t", 1, 50, 50) == "");

  auto co = IpcConsumerOpts(dir, {"t"});
  co.name = "reader";
  co.state_dir = dir.Sub("consumer");
  Collector col;
  col.Expect(id, "t", 0, 0);
  {
    auto c = OpenConsumer(co);
    col.PollUntil(c.get(), 100);
    REQUIRE(col.total == 100);
    REQUIRE_OK(c->Close());  // commits position 100
  }
  REQUIRE_OK(p->Close());
  p.reset();
  RestoreJournal(dir.Sub("snapshot"), dir.Sub("journal"));
  p = OpenProducer(po);  // same id, a new epoch, high watermark 50
  CHECK(p->producer_id() == id);
  // New records take offsets 50.. again; the consumer must not take the
  // ones at 50..99 for those it processed.
  REQUIRE(Publish(p.get(), "t", 1, 50, 70) == "");

  auto c = OpenConsumer(co);
  col.PollUntil(c.get(), 170);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 170);
  REQUIRE(col.events.size() == 1);
  CHECK(col.events[0].kind == ConsumerEvent::Kind::kTailLost);
  CHECK(col.events[0].from == 50);
  CHECK(col.events[0].to == 100);
}

TEST_CASE("a connected consumer finds the tail a restarted producer lost", "[consumer][restart]") {
  // As above, but the consumer stays connected across the restart, and the
  // restarted producer publishes past the old high watermark before the
  // consumer hears from it: a high watermark check alone would miss it.
  TempDir dir;
  auto po = IpcProducerOpts(dir, "journal");
  auto p = OpenProducer(po);
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  const ProducerId id = p->producer_id();
  REQUIRE(Publish(p.get(), "t", 1, 0, 50) == "");
  REQUIRE_OK(p->journal()->Sync());
  SnapshotJournal(dir.Sub("journal"), dir.Sub("snapshot"));
  REQUIRE(Publish(p.get(), "t", 1, 50, 50) == "");
  auto c = OpenConsumer(IpcConsumerOpts(dir, {"t"}));
  Collector col;
  col.Expect(id, "t", 0, 0);
  col.PollUntil(c.get(), 100);
  REQUIRE(col.total == 100);

  REQUIRE_OK(p->Close());
  p.reset();
  RestoreJournal(dir.Sub("snapshot"), dir.Sub("journal"));
  p = OpenProducer(po);
  REQUIRE(Publish(p.get(), "t", 1, 50, 80) == "");  // offsets 50..129
  col.PollUntil(c.get(), 180);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 180);
  REQUIRE(col.events.size() == 1);
  CHECK(col.events[0].kind == ConsumerEvent::Kind::kTailLost);
  CHECK(col.events[0].from == 50);
  CHECK(col.events[0].to == 100);
}

TEST_CASE("a damaged record in the producer's journal stops its stream with a DataLoss event",
          "[consumer][errors]") {
  TempDir dir;
  auto po = IpcProducerOpts(dir, "journal");
  ProducerId id;
  {
    auto p = OpenProducer(po);
    REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
    id = p->producer_id();
    REQUIRE(Publish(p.get(), "t", 1, 0, 10) == "");
    REQUIRE_OK(p->Close());
  }
  DamageStoredRecord(dir.Sub("journal"), "t", 0, 5, 4, 0x10);  // a payload byte
  auto p = OpenProducer(po);
  auto c = OpenConsumer(IpcConsumerOpts(dir, {"t"}));  // request_timeout 300 ms
  Collector col;
  col.Expect(id, "t", 0, 0);
  col.PollUntil(c.get(), 5);
  // Long enough for several retries of the fetch at offset 5.
  PollHandler h = col.Handler();
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) REQUIRE_OK(c->Poll(h, 1000, 50ms));
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 5);            // 0..4, and nothing at or after the damaged record
  REQUIRE(col.events.size() == 1);  // said once, not at every retry
  const ConsumerEvent& e = col.events[0];
  CHECK(e.kind == ConsumerEvent::Kind::kDataLoss);
  CHECK(e.stream.producer == id);
  CHECK(e.stream.topic == "t");
  CHECK(e.from == 5);
  CHECK(e.to == 6);
  CHECK(e.message.find("damaged record at offset 5 of t/0") != std::string::npos);
  CHECK(e.message.find("record 5 of t/0") != std::string::npos);  // the producer's error
  // The stream stays there: new records are not delivered past the damage.
  REQUIRE(Publish(p.get(), "t", 1, 10, 5) == "");
  col.PollUntil(c.get(), 6, 2s);
  CHECK(col.total == 5);
  CHECK(col.events.size() == 1);
}

TEST_CASE("a journal restored from a backup the producer went on without is reported",
          "[consumer][restart]") {
  // docs/OPERATIONS.md, "Backups": the backup (data.mdb alone, as mdb_copy
  // writes it) holds 0..99; the producer went on, restarted, and published
  // 100..199, which the consumer processed; then the backup was put back in
  // place. The restored journal has the same id, and without its instance
  // file matching, an epoch the consumer could have seen.
  TempDir dir;
  auto po = IpcProducerOpts(dir, "journal");
  auto p = OpenProducer(po);
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  const ProducerId id = p->producer_id();
  REQUIRE(Publish(p.get(), "t", 1, 0, 100) == "");
  REQUIRE_OK(p->Close());
  p.reset();
  std::filesystem::create_directories(dir.Sub("backup"));
  std::filesystem::copy(dir.Sub("journal") + "/data.mdb", dir.Sub("backup") + "/data.mdb");
  p = OpenProducer(po);
  REQUIRE(Publish(p.get(), "t", 1, 100, 100) == "");

  auto co = IpcConsumerOpts(dir, {"t"});
  co.name = "reader";
  co.state_dir = dir.Sub("consumer");
  Collector col;
  col.Expect(id, "t", 0, 0);
  {
    auto c = OpenConsumer(co);
    col.PollUntil(c.get(), 200);
    REQUIRE(col.total == 200);
    REQUIRE_OK(c->Close());  // commits position 200
  }
  REQUIRE_OK(p->Close());
  p.reset();
  std::filesystem::copy(dir.Sub("backup") + "/data.mdb", dir.Sub("journal") + "/data.mdb",
                        std::filesystem::copy_options::overwrite_existing);
  p = OpenProducer(po);
  CHECK(p->producer_id() == id);
  REQUIRE(Publish(p.get(), "t", 1, 100, 150) == "");  // new records at 100..249

  auto c = OpenConsumer(co);
  col.PollUntil(c.get(), 350);
  INFO(col.first_error);
  CHECK(col.errors == 0);
  CHECK(col.total == 350);
  REQUIRE(col.events.size() == 1);
  CHECK(col.events[0].kind == ConsumerEvent::Kind::kTailLost);
  CHECK(col.events[0].from == 100);
  CHECK(col.events[0].to == 200);
}

TEST_CASE("lag says how far each stream is behind, in records and in time", "[consumer][lag]") {
  TempDir dir;
  auto po = ProducerOpts(dir.Sub("p"));
  auto now_ns = std::make_shared<std::atomic<int64_t>>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() -
      int64_t{60'000'000'000});  // records stamped a minute ago
  po.journal.clock = [now_ns] { return now_ns->load(); };
  auto p = OpenProducer(po);
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  REQUIRE(Publish(p.get(), "t", 2, 0, 100) == "");
  auto c = OpenConsumer(ConsumerOpts({p.get()}, {"t"}));

  // Nothing processed yet: each stream is 100 records behind, as soon as the
  // consumer has heard of it.
  std::vector<StreamLag> lag;
  for (int i = 0; i < 200; ++i) {
    lag = c->lag();
    if (lag.size() == 2 && lag[0].records == 100 && lag[1].records == 100 &&
        lag[0].time.count() > 0 && lag[1].time.count() > 0)
      break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(lag.size() == 2);
  for (const StreamLag& l : lag) {
    CHECK(l.stream.producer == p->producer_id());
    CHECK(l.next == 0);
    CHECK(l.high_watermark == 100);
    CHECK(l.records == 100);
    // The oldest unprocessed record was published a minute ago.
    CHECK(l.time >= 59s);
    CHECK(l.time < 10min);
  }

  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 0);
  col.PollUntil(c.get(), 200);
  REQUIRE(col.total == 200);
  for (const StreamLag& l : c->lag()) {
    CHECK(l.next == 100);
    CHECK(l.records == 0);
    CHECK(l.time.count() == 0);
  }
}

TEST_CASE("fd() is readable exactly while records wait for Poll", "[consumer][fd]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  auto c = OpenConsumer(ConsumerOpts({p.get()}, {"t"}));
  auto readable = [&](int timeout_ms) {
    pollfd pfd{c->fd(), POLLIN, 0};
    return ::poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
  };
  REQUIRE(c->fd() >= 0);
  CHECK_FALSE(readable(200));  // nothing published

  REQUIRE(Publish(p.get(), "t", 1, 0, 30) == "");
  Collector col;
  col.Expect(p->producer_id(), "t", 0, 0);
  PollHandler h = col.Handler();
  // An event loop's way: wait on the fd, then poll without waiting.
  for (int round = 0; round < 100 && col.total < 30; ++round) {
    REQUIRE(readable(5000));
    size_t n = 0;
    do {
      REQUIRE_OK(c->Poll(h, 7, 0ms, &n));
    } while (n > 0);
  }
  CHECK(col.total == 30);
  CHECK(col.errors == 0);
  CHECK_FALSE(readable(100));  // drained
}

TEST_CASE("the callback form delivers everything on the consumer's thread", "[consumer][start]") {
  TempDir dir;
  auto p = OpenProducer(ProducerOpts(dir.Sub("p")));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  auto co = ConsumerOpts({p.get()}, {"t"});
  co.name = "callback";
  co.state_dir = dir.Sub("consumer");
  auto c = OpenConsumer(co);

  // The handler runs on another thread: it only records, under a lock; the
  // checks happen here.
  std::mutex mu;
  Collector col;
  for (uint32_t part = 0; part < 2; ++part) col.Expect(p->producer_id(), "t", part, 0);
  PollHandler inner = col.Handler();
  std::atomic<bool> on_other_thread{true};
  const auto test_thread = std::this_thread::get_id();
  PollHandler h;
  h.on_record = [&](const StreamId& s, const RecordView& r) {
    if (std::this_thread::get_id() == test_thread) on_other_thread = false;
    std::lock_guard<std::mutex> lk(mu);
    inner.on_record(s, r);
  };
  REQUIRE_OK(c->Start(h, 64));
  CHECK(c->Start(h, 64).IsFailedPrecondition());  // once
  size_t n;
  CHECK(c->Poll(h, 10, 0ms, &n).IsFailedPrecondition());  // the thread delivers

  REQUIRE(Publish(p.get(), "t", 2, 0, 500) == "");
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (col.total >= 1000) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE_OK(c->Stop());
  {
    std::lock_guard<std::mutex> lk(mu);
    INFO(col.first_error);
    CHECK(col.errors == 0);
    CHECK(col.total == 1000);
  }
  CHECK(on_other_thread);

  // Stopped: Poll works again and gets what follows, nothing twice.
  REQUIRE(Publish(p.get(), "t", 2, 500, 10) == "");
  col.PollUntil(c.get(), 1020);
  CHECK(col.total == 1020);
  CHECK(col.errors == 0);
  REQUIRE_OK(c->Close());
  CHECK(c->Start(h, 64).IsFailedPrecondition());
}
