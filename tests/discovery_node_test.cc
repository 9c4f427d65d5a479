// Discovery through the public API: producers announce themselves, consumers
// configured with no endpoints find them, follow the ones that appear later,
// drop the ones that fall silent and resume their streams when they come
// back — every record delivered once, in order. Real UDP on the loopback
// broadcast address, real ZeroMQ on 127.0.0.1, real journals.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "brook/security.h"
#include "tests/delivery_check.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

DiscoveryOptions Discovery(uint16_t port, const std::string& cluster = "shop") {
  return LoopbackDiscovery(port, cluster);
}

ProducerOptions ProducerWithDiscovery(const std::string& dir, const DiscoveryOptions& d) {
  ProducerOptions o;
  o.journal = TestOptions(dir);
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 50ms;
  o.discovery = d;
  return o;
}

std::unique_ptr<Producer> Open(const ProducerOptions& o) {
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(o, &p));
  return p;
}

ConsumerOptions ConsumerWithDiscovery(const DiscoveryOptions& d) {
  ConsumerOptions o;
  o.topics = {"orders"};
  o.discovery = d;
  o.request_timeout = 500ms;
  return o;
}

std::unique_ptr<Consumer> Open(const ConsumerOptions& o) {
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(o, &c));
  return c;
}

// Polls until `want` records arrived in all, or the time is up.
void PollUntil(Consumer* c, DeliveryChecker* check, uint64_t want,
               std::chrono::seconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const PollHandler h = check->Handler();
  while (check->total() < want && std::chrono::steady_clock::now() < deadline)
    REQUIRE_OK(c->Poll(h, 1000, 50ms));
}

// Polls a little longer: nothing more arrives.
void PollQuiet(Consumer* c, DeliveryChecker* check) {
  const PollHandler h = check->Handler();
  for (int i = 0; i < 6; ++i) REQUIRE_OK(c->Poll(h, 1000, 50ms));
}

void CreateOrders(Producer* p) {
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(p->CreateTopic("orders", tc));
}

}  // namespace

TEST_CASE("a consumer with no endpoints finds producers by their beacons, also later ones",
          "[discovery][consumer]") {
  TempDir dir;
  const DiscoveryOptions d = Discovery(FreeUdpPort());
  auto a = Open(ProducerWithDiscovery(dir.Sub("a"), d));
  CreateOrders(a.get());
  REQUIRE(PublishRange(a.get(), "orders", {0, 1}, 0, 100) == "");

  auto c = Open(ConsumerWithDiscovery(d));
  DeliveryChecker check;
  check.Expect(a->producer_id(), "orders", 0, 0);
  check.Expect(a->producer_id(), "orders", 1, 0);
  PollUntil(c.get(), &check, 200);
  INFO(check.first_error());
  REQUIRE(check.errors() == 0);
  REQUIRE(check.total() == 200);

  // Live records go on; a second producer appears and is followed too.
  REQUIRE(PublishRange(a.get(), "orders", {0, 1}, 100, 50) == "");
  auto b = Open(ProducerWithDiscovery(dir.Sub("b"), d));
  CreateOrders(b.get());
  REQUIRE(PublishRange(b.get(), "orders", {0, 1}, 0, 75) == "");
  check.Expect(b->producer_id(), "orders", 0, 0);
  check.Expect(b->producer_id(), "orders", 1, 0);
  PollUntil(c.get(), &check, 200 + 100 + 150);
  PollQuiet(c.get(), &check);
  INFO(check.first_error());
  CHECK(check.errors() == 0);
  CHECK(check.total() == 450);
  CHECK(check.Next(a->producer_id(), "orders", 0) == 150);
  CHECK(check.Next(b->producer_id(), "orders", 1) == 75);
  CHECK(c->stats().producers_discovered == 2);
  CHECK(c->stats().beacons_dropped == 0);
  CHECK(a->stats().beacon_rounds > 0);
  CHECK(a->stats().beacon_errors == 0);
}

TEST_CASE("a producer that falls silent is dropped and its streams resume when it is back",
          "[discovery][consumer]") {
  TempDir dir;
  const DiscoveryOptions d = Discovery(FreeUdpPort());
  auto po = ProducerWithDiscovery(dir.Sub("p"), d);
  auto p = Open(po);
  CreateOrders(p.get());
  const ProducerId id = p->producer_id();
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 60) == "");

  auto c = Open(ConsumerWithDiscovery(d));
  DeliveryChecker check;
  check.Expect(id, "orders", 0, 0);
  check.Expect(id, "orders", 1, 0);
  PollUntil(c.get(), &check, 120);
  REQUIRE(check.total() == 120);

  // Gone for longer than the silence timeout, then back on other ports with
  // the same journal and more records: the consumer reconnects and goes on
  // from where it stood.
  REQUIRE_OK(p->Close());
  p.reset();
  PollQuiet(c.get(), &check);
  std::this_thread::sleep_for(d.silence_timeout + 300ms);
  PollQuiet(c.get(), &check);
  p = Open(po);
  REQUIRE(p->producer_id() == id);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 60, 40) == "");
  PollUntil(c.get(), &check, 200);
  PollQuiet(c.get(), &check);
  INFO(check.first_error());
  CHECK(check.errors() == 0);
  CHECK(check.total() == 200);
  CHECK(check.Next(id, "orders", 0) == 100);
  CHECK(check.Next(id, "orders", 1) == 100);
  CHECK(c->stats().producers_discovered == 2);  // found, then found again
}

TEST_CASE("a producer both named and discovered is followed once", "[discovery][consumer]") {
  TempDir dir;
  const DiscoveryOptions d = Discovery(FreeUdpPort());
  auto p = Open(ProducerWithDiscovery(dir.Sub("p"), d));
  CreateOrders(p.get());
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 100) == "");
  auto o = ConsumerWithDiscovery(d);
  o.producers.push_back({p->pub_endpoint(), p->replay_endpoint()});
  auto c = Open(o);
  DeliveryChecker check;
  check.Expect(p->producer_id(), "orders", 0, 0);
  check.Expect(p->producer_id(), "orders", 1, 0);
  PollUntil(c.get(), &check, 200);
  REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 100, 100) == "");
  PollUntil(c.get(), &check, 400);
  // Several beacon rounds pass: still nothing twice.
  for (int i = 0; i < 6; ++i) PollQuiet(c.get(), &check);
  INFO(check.first_error());
  CHECK(check.errors() == 0);
  CHECK(check.total() == 400);
  CHECK(c->stats().producers_discovered == 0);
}

TEST_CASE("beacons of another cluster, or of producers without an allowed key, are not followed",
          "[discovery][consumer][security]") {
  TempDir dir;
  const uint16_t port = FreeUdpPort();

  SECTION("another cluster") {
    auto p = Open(ProducerWithDiscovery(dir.Sub("p"), Discovery(port, "warehouse")));
    CreateOrders(p.get());
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 10) == "");
    auto c = Open(ConsumerWithDiscovery(Discovery(port, "shop")));
    DeliveryChecker check;
    for (int i = 0; i < 8; ++i) PollQuiet(c.get(), &check);
    CHECK(check.total() == 0);
    CHECK(c->stats().producers_discovered == 0);
    CHECK(p->stats().beacon_rounds > 5);
  }

  SECTION("CURVE: the key a beacon carries must be listed, and is pinned") {
    KeyPair server, client, stranger;
    REQUIRE_OK(GenerateKeyPair(&server));
    REQUIRE_OK(GenerateKeyPair(&client));
    REQUIRE_OK(GenerateKeyPair(&stranger));
    auto po = ProducerWithDiscovery(dir.Sub("p"), Discovery(port));
    po.security.enabled = true;
    po.security.server = server;
    po.security.allowed_client_keys = {client.public_key};
    auto p = Open(po);
    CreateOrders(p.get());
    REQUIRE(PublishRange(p.get(), "orders", {0, 1}, 0, 50) == "");

    auto co = ConsumerWithDiscovery(Discovery(port));
    co.security.enabled = true;
    co.security.client = client;
    SECTION("listed: followed over CURVE") {
      co.discovery_server_keys = {server.public_key};
      auto c = Open(co);
      DeliveryChecker check;
      check.Expect(p->producer_id(), "orders", 0, 0);
      check.Expect(p->producer_id(), "orders", 1, 0);
      PollUntil(c.get(), &check, 100);
      PollQuiet(c.get(), &check);
      INFO(check.first_error());
      CHECK(check.errors() == 0);
      CHECK(check.total() == 100);
      CHECK(c->stats().handshakes_failed == 0);
      CHECK(p->stats().handshakes_admitted >= 2);
    }
    SECTION("not listed: dropped, never connected") {
      co.discovery_server_keys = {stranger.public_key};
      auto c = Open(co);
      DeliveryChecker check;
      for (int i = 0; i < 8; ++i) PollQuiet(c.get(), &check);
      CHECK(check.total() == 0);
      CHECK(c->stats().producers_discovered == 0);
      CHECK(c->stats().beacons_dropped > 0);
      CHECK(p->stats().handshakes_admitted == 0);
    }
    SECTION("security on without any key to believe: refused at Open") {
      std::unique_ptr<Consumer> c;
      Status s = Consumer::Open(co, &c);
      CHECK(s.IsInvalidArgument());
      CHECK(std::string(s.message()).find("discovery_server_keys") != std::string::npos);
    }
  }
}

TEST_CASE("discovery options are checked at Open", "[discovery][consumer]") {
  ConsumerOptions o;
  o.topics = {"orders"};
  std::unique_ptr<Consumer> c;
  Status s = Consumer::Open(o, &c);
  CHECK(s.IsInvalidArgument());
  CHECK(std::string(s.message()).find("turn discovery on") != std::string::npos);
  o.discovery.enabled = true;  // no cluster name
  s = Consumer::Open(o, &c);
  CHECK(s.IsInvalidArgument());
  CHECK(std::string(s.message()).find("ConsumerOptions::discovery") != std::string::npos);

  TempDir dir;
  ProducerOptions po = ProducerWithDiscovery(dir.Sub("p"), Discovery(FreeUdpPort()));
  po.discovery.silence_timeout = po.discovery.interval;  // must be greater
  std::unique_ptr<Producer> p;
  s = Producer::Open(po, &p);
  CHECK(s.IsInvalidArgument());
  CHECK(std::string(s.message()).find("ProducerOptions::discovery") != std::string::npos);
}
