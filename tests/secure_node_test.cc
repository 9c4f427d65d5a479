// A CURVE-secured producer and real consumers on loopback: an allowed
// consumer gets every record, live and by replay; an unknown key, a plain
// consumer, a consumer pinning the wrong server key and raw plain sockets get
// nothing; a consumer admitted later (the allow-list changed) catches up on
// everything. Every delivery is checked record by record (delivery_check.h).
#include <zmq.hpp>

#include <chrono>
#include <mutex>
#include <thread>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "brook/security.h"
#include "tests/delivery_check.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kPartitions = 2;

TopicConfig OrdersConfig() {
  TopicConfig tc;
  tc.partitions = kPartitions;
  return tc;
}

KeyPair NewKeys() {
  KeyPair k;
  REQUIRE_OK(GenerateKeyPair(&k));
  return k;
}

struct SecureSetup {
  KeyPair server = NewKeys();
  KeyPair allowed = NewKeys();
  KeyPair stranger = NewKeys();
};

ProducerOptions SecureProducerOpts(const std::string& dir, const SecureSetup& keys) {
  ProducerOptions o;
  o.journal = TestOptions(dir);
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 50ms;
  o.security.enabled = true;
  o.security.server = keys.server;
  o.security.allowed_client_keys = {keys.allowed.public_key};
  return o;
}

// A CURVE producer admitting keys.allowed, with topic "orders".
std::unique_ptr<Producer> OpenSecureProducer(const TempDir& dir, const SecureSetup& keys) {
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(SecureProducerOpts(dir.Sub("j"), keys), &p));
  REQUIRE_OK(p->CreateTopic("orders", OrdersConfig()));
  return p;
}

// Log lines of a consumer, kept for assertions.
struct LogSink {
  std::mutex mu;
  std::vector<std::string> lines;
  Logger logger() {
    return [this](LogLevel, std::string_view line) {
      std::lock_guard<std::mutex> lk(mu);
      lines.emplace_back(line);
    };
  }
  bool Contains(const std::string& text) {
    std::lock_guard<std::mutex> lk(mu);
    for (const std::string& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
};

ConsumerOptions ConsumerOptsFor(const Producer& p, const ClientSecurity& security) {
  ConsumerOptions o;
  o.producers.push_back({p.pub_endpoint(), p.replay_endpoint()});
  o.topics = {"orders"};
  o.request_timeout = 500ms;
  o.security = security;
  return o;
}

ClientSecurity Client(const KeyPair& client, const std::string& server_public_key) {
  ClientSecurity c;
  c.enabled = true;
  c.client = client;
  c.server_public_key = server_public_key;
  return c;
}

// Polls until `checker` has seen `total` records or `limit` passes.
void PollUntil(Consumer* c, DeliveryChecker* checker, uint64_t total,
               std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  PollHandler h = checker->Handler();
  for (int turns = 0;
       turns < 100000 && checker->total() < total && std::chrono::steady_clock::now() < deadline;
       ++turns)
    REQUIRE_OK(c->Poll(h, 1000, 50ms));
}

// Polls for `span` and returns how many records arrived.
uint64_t RecordsWithin(Consumer* c, std::chrono::milliseconds span) {
  uint64_t n = 0;
  PollHandler h;
  h.on_record = [&](const StreamId&, const RecordView&) { ++n; };
  const auto deadline = std::chrono::steady_clock::now() + span;
  for (int turns = 0; turns < 10000 && std::chrono::steady_clock::now() < deadline; ++turns)
    REQUIRE_OK(c->Poll(h, 1000, 20ms));
  return n;
}

void ExpectAll(DeliveryChecker* checker, const Producer& p) {
  for (uint32_t part = 0; part < kPartitions; ++part)
    checker->Expect(p.producer_id(), "orders", part, 0);
}

}  // namespace

TEST_CASE("an allowed consumer gets every record of a CURVE producer, by replay and live",
          "[secure]") {
  TempDir dir;
  SecureSetup keys;
  std::unique_ptr<Producer> p = OpenSecureProducer(dir, keys);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 500) == "");  // before: replayed

  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(ConsumerOptsFor(*p, Client(keys.allowed, keys.server.public_key)), &c));
  DeliveryChecker checker;
  ExpectAll(&checker, *p);
  PollUntil(c.get(), &checker, 1000, 10s);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 500, 500) == "");  // after: live
  PollUntil(c.get(), &checker, 2000, 10s);

  INFO(checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.total() == 2000);
  for (uint32_t part = 0; part < kPartitions; ++part)
    CHECK(checker.Next(p->producer_id(), "orders", part) == 1000);
  CHECK(c->stats().live_records > 0);
  CHECK(c->stats().replayed_records > 0);
  CHECK(c->stats().handshakes_failed == 0);
  CHECK(p->stats().handshakes_admitted >= 2);  // live and replay connections
  CHECK(p->stats().handshakes_refused == 0);
}

TEST_CASE("consumers a CURVE producer must not serve get nothing, and are told why", "[secure]") {
  TempDir dir;
  SecureSetup keys;
  std::unique_ptr<Producer> p = OpenSecureProducer(dir, keys);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 100) == "");

  LogSink log;
  std::unique_ptr<Consumer> c;
  SECTION("an unknown client key") {
    ConsumerOptions o = ConsumerOptsFor(*p, Client(keys.stranger, keys.server.public_key));
    o.logger = log.logger();
    REQUIRE_OK(Consumer::Open(o, &c));
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 100, 100) == "");
    CHECK(RecordsWithin(c.get(), 1500ms) == 0);
    CHECK(c->stats().handshakes_failed > 0);
    CHECK(p->stats().handshakes_refused > 0);
    CHECK(log.Contains("refused this consumer's key"));
    CHECK(log.Contains(keys.stranger.public_key));
  }
  SECTION("a plain consumer") {
    ConsumerOptions o = ConsumerOptsFor(*p, ClientSecurity{});
    o.logger = log.logger();
    REQUIRE_OK(Consumer::Open(o, &c));
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 100, 100) == "");
    CHECK(RecordsWithin(c.get(), 1500ms) == 0);
    CHECK(c->stats().handshakes_failed > 0);
    CHECK(log.Contains("runs with CURVE security and this consumer without"));
  }
  SECTION("a consumer pinning another server key") {
    ConsumerOptions o = ConsumerOptsFor(*p, Client(keys.allowed, keys.stranger.public_key));
    o.logger = log.logger();
    REQUIRE_OK(Consumer::Open(o, &c));
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 100, 100) == "");
    CHECK(RecordsWithin(c.get(), 1500ms) == 0);
    CHECK(c->stats().handshakes_failed > 0);
    CHECK(log.Contains("is not the server_public_key"));
  }
  CHECK(c->stats().records_delivered == 0);
  CHECK(p->stats().replay_requests == 0);  // not one request got through
}

TEST_CASE("raw plain sockets get neither the live stream nor answers from a CURVE producer",
          "[secure]") {
  TempDir dir;
  SecureSetup keys;
  std::unique_ptr<Producer> p = OpenSecureProducer(dir, keys);

  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(p->pub_endpoint());
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(p->replay_endpoint());
  // A describe request as docs/PROTOCOL.md spells it: [1, 1, id].
  const unsigned char describe[] = {0x93, 0x01, 0x01, 0x07};
  (void)dealer.send(zmq::buffer(describe, sizeof describe), zmq::send_flags::dontwait);

  uint64_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 1500ms;
  for (int turns = 0; turns < 1000 && std::chrono::steady_clock::now() < deadline; ++turns) {
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, turns * 10ull, 10) == "");
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0},
                               {dealer.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, 20ms);
    zmq::message_t m;
    while (sub.recv(m, zmq::recv_flags::dontwait)) ++received;
    while (dealer.recv(m, zmq::recv_flags::dontwait)) ++received;
  }
  CHECK(received == 0);
  CHECK(p->stats().replay_requests == 0);
  CHECK(p->stats().rejected_requests == 0);  // nothing reached the server at all
}

TEST_CASE("a consumer refused at first catches up once the producer allows its key", "[secure]") {
  TempDir dir;
  SecureSetup keys;
  std::unique_ptr<Producer> p = OpenSecureProducer(dir, keys);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 300) == "");

  std::unique_ptr<Consumer> c;
  REQUIRE_OK(
      Consumer::Open(ConsumerOptsFor(*p, Client(keys.stranger, keys.server.public_key)), &c));
  DeliveryChecker checker;
  ExpectAll(&checker, *p);
  PollUntil(c.get(), &checker, 1, 1000ms);
  REQUIRE(checker.total() == 0);
  REQUIRE(c->stats().handshakes_failed > 0);

  REQUIRE_OK(p->SetAllowedClientKeys({keys.allowed.public_key, keys.stranger.public_key}));
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 300, 300) == "");
  // The consumer connects again about 5 s after the refusal.
  PollUntil(c.get(), &checker, 1200, 20s);
  INFO(checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.total() == 1200);
  for (uint32_t part = 0; part < kPartitions; ++part)
    CHECK(checker.Next(p->producer_id(), "orders", part) == 600);
}

TEST_CASE("security options of producer and consumer are checked at Open", "[secure]") {
  TempDir dir;
  SecureSetup keys;
  std::unique_ptr<Producer> p;

  ProducerOptions po = SecureProducerOpts(dir.Sub("j"), keys);
  po.security.enabled = false;  // keys filled in: a likely mistake
  Status s = Producer::Open(po, &p);
  CHECK(s.IsInvalidArgument());
  CHECK(s.message().find("ProducerOptions::security") != std::string::npos);

  po = SecureProducerOpts(dir.Sub("j"), keys);
  po.security.allowed_client_keys.clear();
  CHECK(Producer::Open(po, &p).IsInvalidArgument());

  po = SecureProducerOpts(dir.Sub("j"), keys);
  REQUIRE_OK(Producer::Open(po, &p));
  std::unique_ptr<Consumer> c;
  ConsumerOptions co = ConsumerOptsFor(*p, Client(keys.allowed, "not a key"));
  s = Consumer::Open(co, &c);
  CHECK(s.IsInvalidArgument());
  CHECK(s.message().find("server_public_key") != std::string::npos);

  // A per-producer key without security on would connect in plain TCP.
  co = ConsumerOptsFor(*p, ClientSecurity{});
  co.producers[0].server_public_key = keys.server.public_key;
  CHECK(Consumer::Open(co, &c).IsInvalidArgument());

  // A per-producer key overrides the default one.
  co = ConsumerOptsFor(*p, Client(keys.allowed, keys.stranger.public_key));
  co.producers[0].server_public_key = keys.server.public_key;
  REQUIRE_OK(Consumer::Open(co, &c));
  REQUIRE_OK(p->CreateTopic("orders", OrdersConfig()));
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 50) == "");
  DeliveryChecker checker;
  ExpectAll(&checker, *p);
  PollUntil(c.get(), &checker, 100, 10s);
  INFO(checker.first_error());
  CHECK(checker.errors() == 0);
  CHECK(checker.total() == 100);

  std::unique_ptr<Producer> plain;
  ProducerOptions plain_opts = SecureProducerOpts(dir.Sub("plain"), keys);
  plain_opts.security = ServerSecurity{};
  REQUIRE_OK(Producer::Open(plain_opts, &plain));
  CHECK(plain->SetAllowedClientKeys({keys.allowed.public_key}).IsFailedPrecondition());
}
