// The producer seen from the network: plain ZeroMQ SUB and DEALER sockets on
// loopback, speaking docs/PROTOCOL.md, check the live stream, heartbeats and
// every replay answer — and that hostile requests get errors while the
// producer keeps serving.
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <map>
#include <thread>

#include "brook/producer.h"
#include "node/wire.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

ProducerOptions Options(const TempDir& dir) {
  ProducerOptions o;
  o.journal = TestOptions(dir.Sub("journal"));
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 30ms;
  return o;
}

std::unique_ptr<Producer> OpenProducer(const ProducerOptions& o) {
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(o, &p));
  REQUIRE(p);
  return p;
}

// Receives one message from `s` within `timeout`; empty optional if none.
std::optional<std::string> Receive(zmq::socket_t& s, std::chrono::milliseconds timeout) {
  zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, timeout);
  if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
  zmq::message_t m;
  if (!s.recv(m, zmq::recv_flags::dontwait)) return std::nullopt;
  return m.to_string();
}

// A subscriber to `topic` that has seen a heartbeat, so its subscription is
// known to be in place (ZeroMQ's slow joiner).
zmq::socket_t Subscribe(zmq::context_t& ctx, const Producer& p, const std::string& topic) {
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, topic + std::string(1, '\0'));
  sub.connect(p.pub_endpoint());
  for (int i = 0; i < 200; ++i) {  // bounded: ~10 s
    auto m = Receive(sub, 50ms);
    LiveMessage live;
    if (m && DecodeLive(*m, &live).ok() && live.kind == Kind::kHeartbeat) return sub;
  }
  FAIL("no heartbeat arrived on " << topic);
  return sub;
}

struct Client {
  zmq::socket_t dealer;
  Client(zmq::context_t& ctx, const Producer& p) : dealer(ctx, zmq::socket_type::dealer) {
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect(p.replay_endpoint());
  }
  void Send(const std::string& frame) { dealer.send(zmq::buffer(frame), zmq::send_flags::none); }
  std::optional<Answer> Next(std::string* storage, std::chrono::milliseconds timeout = 5000ms) {
    auto m = Receive(dealer, timeout);
    if (!m) return std::nullopt;
    *storage = *m;
    Answer a;
    Status s = DecodeAnswer(*storage, &a);
    INFO(s.ToString());
    REQUIRE(s.ok());
    return a;
  }
  Request Fetch(uint64_t id, const std::string& topic, uint32_t partition, uint64_t from,
                uint64_t max_records = 1'000'000, uint32_t credit = 100, uint64_t epoch = 0) {
    Request f;
    f.kind = Kind::kFetch;
    f.id = id;
    f.topic = topic;
    f.partition = partition;
    f.from_offset = from;
    f.max_records = max_records;
    f.max_bytes = 1ull << 40;
    f.credit = credit;
    f.epoch = epoch;
    std::string frame;
    EncodeFetch(f, &frame);
    Send(frame);
    return f;
  }
};

std::string PayloadOf(uint32_t partition, uint64_t offset) {
  return "p" + std::to_string(partition) + "-" + std::to_string(offset);
}

// Publishes `per_partition` records to each partition of `topic`, payloads
// PayloadOf(partition, offset).
void PublishNumbered(Producer* p, const std::string& topic, uint32_t partitions,
                     uint64_t per_partition) {
  for (uint64_t base = 0; base < per_partition; base += 100) {
    const uint64_t n = std::min<uint64_t>(100, per_partition - base);
    std::vector<std::string> payloads;
    std::vector<RecordInput> in;
    for (uint32_t part = 0; part < partitions; ++part)
      for (uint64_t i = 0; i < n; ++i) payloads.push_back(PayloadOf(part, base + i));
    size_t k = 0;
    for (uint32_t part = 0; part < partitions; ++part)
      for (uint64_t i = 0; i < n; ++i) {
        RecordInput r;
        r.payload = payloads[k++];
        r.partition = part;
        in.push_back(r);
      }
    REQUIRE_OK(p->PublishBatch(topic, in));
  }
}

}  // namespace

TEST_CASE("producer binds port 0 and reports the endpoints it got", "[producer]") {
  TempDir dir;
  auto p = OpenProducer(Options(dir));
  CHECK(p->pub_endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(p->replay_endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(p->pub_endpoint() != "tcp://127.0.0.1:0");
  CHECK(p->pub_endpoint() != p->replay_endpoint());
  REQUIRE_OK(p->Close());
  REQUIRE_OK(p->Close());

  auto o = Options(dir);
  o.pub_endpoint.clear();
  std::unique_ptr<Producer> q;
  Status s = Producer::Open(o, &q);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("pub_endpoint") != std::string::npos);
  o = Options(dir);
  o.replay_endpoint = "bogus://nowhere";
  s = Producer::Open(o, &q);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("cannot bind ProducerOptions::replay_endpoint") != std::string::npos);
}

TEST_CASE("every committed record goes out live, in order, once", "[producer]") {
  TempDir dir;
  auto p = OpenProducer(Options(dir));
  TopicConfig tc;
  tc.partitions = 3;
  REQUIRE_OK(p->CreateTopic("orders", tc));
  zmq::context_t ctx;
  auto sub = Subscribe(ctx, *p, "orders");
  const uint64_t kPerPartition = 1000;
  PublishNumbered(p.get(), "orders", 3, kPerPartition);

  std::map<uint32_t, uint64_t> next;
  uint64_t received = 0;
  RecordBatch batch;
  for (int i = 0; i < 100000 && received < 3 * kPerPartition; ++i) {
    auto m = Receive(sub, 5000ms);
    REQUIRE(m);
    LiveMessage live;
    REQUIRE_OK(DecodeLive(*m, &live));
    CHECK(live.topic == "orders");
    if (live.kind != Kind::kRecords) continue;
    CHECK(live.records.producer == p->producer_id());
    CHECK(live.records.epoch == p->epoch());
    REQUIRE(live.records.first_offset == next[live.records.partition]);  // no gap, no duplicate
    REQUIRE_OK(
        DecodeRecords(live.record_bytes, live.records.first_offset, live.records.count, &batch));
    for (const RecordView& r : batch)
      REQUIRE(r.payload == PayloadOf(live.records.partition, r.offset));
    next[live.records.partition] += live.records.count;
    received += live.records.count;
  }
  CHECK(received == 3 * kPerPartition);
  for (uint32_t part = 0; part < 3; ++part) CHECK(next[part] == kPerPartition);
  CHECK(p->stats().records_published == 3 * kPerPartition);
}

TEST_CASE("heartbeats carry every partition's watermarks", "[producer]") {
  TempDir dir;
  auto p = OpenProducer(Options(dir));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("t", tc));
  zmq::context_t ctx;
  auto sub = Subscribe(ctx, *p, "t");
  PublishNumbered(p.get(), "t", 2, 7);
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    auto m = Receive(sub, 100ms);
    LiveMessage live;
    if (!m || !DecodeLive(*m, &live).ok() || live.kind != Kind::kHeartbeat) continue;
    REQUIRE(live.heartbeat.partitions.size() == 2);
    CHECK(live.heartbeat.producer == p->producer_id());
    CHECK(live.heartbeat.sent_ns > 0);
    if (live.heartbeat.partitions[0].high_watermark == 7 &&
        live.heartbeat.partitions[1].high_watermark == 7)
      seen = true;
  }
  CHECK(seen);
  CHECK(p->stats().heartbeats > 0);
}

TEST_CASE("describe answers topics, watermarks, producer id and epoch", "[producer][replay]") {
  TempDir dir;
  auto p = OpenProducer(Options(dir));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("a", tc));
  REQUIRE_OK(p->CreateTopic("b", TopicConfig{}));
  PublishNumbered(p.get(), "a", 2, 5);
  zmq::context_t ctx;
  Client c(ctx, *p);
  std::string f, storage;
  EncodeDescribe(77, &f);
  c.Send(f);
  auto a = c.Next(&storage);
  REQUIRE(a);
  CHECK(a->kind == Kind::kDescribeAnswer);
  CHECK(a->id == 77);
  CHECK(a->producer == p->producer_id());
  CHECK(a->epoch == p->epoch());
  REQUIRE(a->topics.size() == 2);
  CHECK(a->topics[0].name == "a");
  REQUIRE(a->topics[0].partitions.size() == 2);
  CHECK(a->topics[0].partitions[1].high_watermark == 5);
  CHECK(a->topics[1].partitions[0].high_watermark == 0);
}

TEST_CASE("fetch answers in pages under credit and ends at the high watermark",
          "[producer][replay]") {
  TempDir dir;
  auto o = Options(dir);
  o.replay_page_records = 1000;
  auto p = OpenProducer(o);
  REQUIRE_OK(p->CreateTopic("t", TopicConfig{}));
  PublishNumbered(p.get(), "t", 1, 2500);
  zmq::context_t ctx;
  Client c(ctx, *p);
  c.Fetch(5, "t", 0, 0, 1'000'000, /*credit=*/1);
  std::string storage;
  RecordBatch batch;
  uint64_t next = 0;
  auto take_page = [&]() {
    auto a = c.Next(&storage);
    REQUIRE(a);
    REQUIRE(a->kind == Kind::kPage);
    CHECK(a->id == 5);
    REQUIRE(a->first_offset == next);
    REQUIRE_OK(DecodeRecords(a->record_bytes, a->first_offset, a->count, &batch));
    for (const RecordView& r : batch) REQUIRE(r.payload == PayloadOf(0, r.offset));
    next += a->count;
    CHECK(a->watermarks.high_watermark == 2500);
    return a->count;
  };
  CHECK(take_page() == 1000);
  // Out of credit: the server waits.
  CHECK_FALSE(c.Next(&storage, 200ms).has_value());
  std::string credit;
  EncodeCredit(5, 10, &credit);
  c.Send(credit);
  CHECK(take_page() == 1000);
  CHECK(take_page() == 500);
  auto end = c.Next(&storage);
  REQUIRE(end);
  CHECK(end->kind == Kind::kEnd);
  CHECK(end->next_offset == 2500);
  CHECK(next == 2500);

  // A bounded fetch from the middle ends after max_records.
  c.Fetch(6, "t", 0, 100, 10);
  auto page = c.Next(&storage);
  REQUIRE(page);
  CHECK(page->kind == Kind::kPage);
  CHECK(page->first_offset == 100);
  CHECK(page->count == 10);
  end = c.Next(&storage);
  REQUIRE(end);
  CHECK(end->kind == Kind::kEnd);
  CHECK(end->next_offset == 110);

  // At the high watermark: just the end.
  c.Fetch(7, "t", 0, 2500);
  end = c.Next(&storage);
  REQUIRE(end);
  CHECK(end->kind == Kind::kEnd);
  CHECK(end->next_offset == 2500);
}

TEST_CASE("hostile and absurd requests get error answers and the producer keeps serving",
          "[producer][replay][hostile]") {
  TempDir dir;
  auto o = Options(dir);
  o.max_fetches_per_peer = 2;
  o.replay_page_records = 10;
  auto p = OpenProducer(o);
  TopicConfig tc;
  tc.partitions = 2;
  tc.retention.max_records = 50;
  REQUIRE_OK(p->CreateTopic("t", tc));
  PublishNumbered(p.get(), "t", 2, 100);
  REQUIRE_OK(p->journal()->EnforceRetention());  // low watermark 50
  zmq::context_t ctx;
  Client c(ctx, *p);
  std::string storage;
  auto expect_error = [&](uint64_t id, ErrorCode code) {
    auto a = c.Next(&storage);
    REQUIRE(a);
    INFO("answer kind " << int(a->kind) << " message " << a->message);
    REQUIRE(a->kind == Kind::kError);
    CHECK(a->id == id);
    CHECK(a->error == code);
    return *a;
  };

  c.Fetch(1, "nope", 0, 0);
  expect_error(1, ErrorCode::kUnknownTopic);
  c.Fetch(2, "t", 9, 0);
  expect_error(2, ErrorCode::kUnknownPartition);
  c.Fetch(3, "t", 0, 10);  // removed by retention
  Answer a = expect_error(3, ErrorCode::kOutOfRange);
  CHECK(a.watermarks.low_watermark == 50);
  CHECK(std::string(a.message).find("low watermark is 50") != std::string::npos);
  c.Fetch(4, "t", 0, 101);  // beyond the high watermark
  expect_error(4, ErrorCode::kOutOfRange);

  std::string seek;
  EncodeSeek(5, "nope", 0, 0, &seek);
  c.Send(seek);
  expect_error(5, ErrorCode::kUnknownTopic);
  seek.clear();
  EncodeSeek(6, "t", 7, 0, &seek);
  c.Send(seek);
  expect_error(6, ErrorCode::kUnknownPartition);
  seek.clear();
  EncodeSeek(8, "t", 1, 0, &seek);  // before every record: the low watermark
  c.Send(seek);
  {
    auto a = c.Next(&storage);
    REQUIRE(a);
    CHECK(a->kind == Kind::kOffset);
    CHECK(a->id == 8);
    CHECK(a->next_offset == 50);
  }
  // A fetch naming an epoch this journal never had is checked against the
  // history: nothing was undone, so it is served.
  c.Fetch(12, "t", 0, 60, 5, 1, /*epoch=*/p->epoch() + 5);
  {
    auto a = c.Next(&storage);
    REQUIRE(a);
    CHECK(a->kind == Kind::kPage);
    a = c.Next(&storage);
    REQUIRE(a);
    CHECK(a->kind == Kind::kEnd);
  }

  c.Send("garbage");
  expect_error(0, ErrorCode::kBadRequest);
  c.Send(std::string("\x93\x02\x10\x09", 4));  // version 2 describe, id 9
  expect_error(9, ErrorCode::kUnsupportedVersion);
  c.Send(std::string("\x93\x01\x63\x0a", 4));  // unknown kind 99, id 10
  expect_error(10, ErrorCode::kBadRequest);
  // Two frames where one is expected.
  c.dealer.send(zmq::buffer(std::string("a")), zmq::send_flags::sndmore);
  c.dealer.send(zmq::buffer(std::string("b")), zmq::send_flags::none);
  expect_error(0, ErrorCode::kBadRequest);
  // Ten thousand frames in one message: one refusal, nothing kept of them.
  for (int i = 0; i < 9999; ++i) c.dealer.send(zmq::str_buffer("f"), zmq::send_flags::sndmore);
  c.dealer.send(zmq::str_buffer("f"), zmq::send_flags::none);
  expect_error(0, ErrorCode::kBadRequest);
  // max_records 2^63: served, page by page, bounded by the server's pages.
  c.Fetch(11, "t", 1, 50, 1ull << 63, 1);
  auto page = c.Next(&storage);
  REQUIRE(page);
  CHECK(page->kind == Kind::kPage);
  CHECK(page->count == 10);

  // Busy: fetch 11 still waits for credit; one more is allowed, a third is not.
  c.Fetch(12, "t", 0, 50, 1000, 1);
  page = c.Next(&storage);
  REQUIRE(page);
  CHECK(page->id == 12);
  c.Fetch(13, "t", 0, 50, 1000, 1);
  expect_error(13, ErrorCode::kBusy);
  std::string cancel;
  EncodeCancel(11, &cancel);
  c.Send(cancel);

  // A request larger than max_request_bytes: ZeroMQ drops the connection;
  // the producer lives on.
  {
    Client big(ctx, *p);
    big.Send(std::string(200 * 1024, 'x'));
    std::string ignored;
    CHECK_FALSE(big.Next(&ignored, 300ms).has_value());
  }
  // After all that, another client is served normally.
  Client good(ctx, *p);
  std::string f;
  EncodeDescribe(99, &f);
  good.Send(f);
  auto d = good.Next(&storage);
  REQUIRE(d);
  CHECK(d->kind == Kind::kDescribeAnswer);
  CHECK(p->stats().rejected_requests == 10);  // malformed, unknown, busy (not out-of-range fetches)
  // Nothing reached the journal.
  Watermarks w;
  REQUIRE_OK(p->journal()->GetWatermarks("t", 0, &w));
  CHECK(w.high_watermark == 100);
}

TEST_CASE("publish in every form from many threads, and close acknowledges every pending one",
          "[producer][threads]") {
  TempDir dir;
  auto o = Options(dir);
  o.journal.durability = Durability::kFsync;
  auto p = OpenProducer(o);
  TopicConfig tc;
  tc.partitions = 4;
  REQUIRE_OK(p->CreateTopic("t", tc));
  const int kThreads = 8, kEach = 100;
  std::vector<std::vector<std::future<PublishAck>>> futures(kThreads);
  std::atomic<int> callbacks{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        RecordInput r;
        r.key = std::string_view(key);
        r.payload = key;
        switch (i % 3) {
          case 0:
            futures[t].push_back(p->PublishAsync("t", r));
            break;
          case 1: {
            RecordPosition pos;
            if (!p->Publish("t", r, &pos).ok()) ++failures;
            break;
          }
          default:
            if (!p->PublishAsync("t", std::vector<RecordInput>{r},
                                 [&](const Status& s, const std::vector<RecordPosition>&) {
                                   if (s.ok())
                                     ++callbacks;
                                   else
                                     ++failures;
                                 })
                     .ok())
              ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE_OK(p->Close());  // every pending publish is acknowledged by now
  int futures_ok = 0;
  for (auto& v : futures)
    for (auto& f : v) {
      REQUIRE(f.wait_for(0s) == std::future_status::ready);
      if (f.get().status.ok()) ++futures_ok;
    }
  CHECK(failures == 0);
  const int expected_async = kThreads * ((kEach + 2) / 3);
  CHECK(futures_ok == expected_async);
  CHECK(callbacks == kThreads * (kEach / 3));

  auto j = OpenJournal(o.journal);
  uint64_t total = 0;
  for (uint32_t part = 0; part < 4; ++part) total += ReadAll(*j, "t", part).size();
  CHECK(total == uint64_t(kThreads * kEach));
}
