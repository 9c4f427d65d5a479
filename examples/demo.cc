// demo: brook's core promise, end to end.
//
//   demo [directory]
//
// A producer ("shop") publishes order events; a consumer ("billing") with a
// stored position follows them. Billing goes down; orders keep coming; billing
// comes back and receives exactly the orders it missed, then live ones. Every
// record is checked, and the summary says so in fixed words:
//
//   lost: 0            every order published reached billing
//   duplicates: 0      none reached it twice, across the restart too
//   out of order: 0    each partition's offsets came in order, with no hole
//
// The exit status is 0 only when all three hold.
#include <brook/consumer.h>
#include <brook/producer.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "example_util.h"

namespace {

using namespace std::chrono_literals;
using example::Fail;

// Publishes orders [first, first + count) in one commit. The key is the
// customer: brook puts one customer's orders in one partition, so billing sees
// them in the order they were placed.
void PublishOrders(brook::Producer* shop, int first, int count, example::DeliveryCheck* check) {
  std::vector<std::string> keys(count), payloads(count);
  std::vector<brook::RecordInput> batch(count);
  for (int i = 0; i < count; ++i) {
    keys[i] = "customer-" + std::to_string((first + i) % 37);
    payloads[i] = "{\"order\":" + std::to_string(first + i) + "}";
    batch[i].key = keys[i];
    batch[i].payload = payloads[i];
    check->Expect(payloads[i]);
  }
  brook::Status s = shop->PublishBatch("orders", batch);
  if (!s.ok()) Fail(s, "demo: publish orders");
}

// Billing is a consumer with a name and a state directory: brook stores its
// position there, which is what lets it come back exactly where it stopped.
std::unique_ptr<brook::Consumer> StartBilling(const brook::Producer& shop, const std::string& dir) {
  brook::ConsumerOptions o;
  o.producers.push_back({shop.pub_endpoint(), shop.replay_endpoint()});
  o.topics = {"orders"};
  o.name = "billing";
  o.state_dir = dir + "/billing";
  std::unique_ptr<brook::Consumer> c;
  brook::Status s = brook::Consumer::Open(o, &c);
  if (!s.ok()) Fail(s, "demo: start billing");
  return c;
}

// Polls until billing has `total` records in all (or 30 s pass, which only a
// failure would take: the check then reports what is missing).
void PollUntil(brook::Consumer* billing, example::DeliveryCheck* check, uint64_t total) {
  brook::PollHandler h;
  h.on_record = [check](const brook::StreamId& s, const brook::RecordView& r) {
    check->Delivered(s, r);
  };
  // Events are what brook could not deliver (e.g. records removed by
  // retention before billing read them). None are expected here.
  h.on_event = [](const brook::ConsumerEvent& e) {
    std::printf("  event: %s\n", e.message.c_str());
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (check->delivered() < total && std::chrono::steady_clock::now() < deadline) {
    brook::Status s = billing->Poll(h, 1000, 100ms);
    if (!s.ok()) Fail(s, "demo: poll");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = example::WorkDir(argc > 1 ? argv[1] : nullptr, "demo");

  // The shop: a journal on disk (fsync: acknowledged = on disk), a live
  // endpoint and a replay endpoint. Port 0 lets the OS pick free ports.
  brook::ProducerOptions po;
  po.journal.path = dir + "/shop";
  po.journal.durability = brook::Durability::kFsync;
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.heartbeat_interval = 200ms;
  std::unique_ptr<brook::Producer> shop;
  brook::Status s = brook::Producer::Open(po, &shop);
  if (!s.ok()) Fail(s, "demo: open the shop's producer");
  brook::TopicConfig topic;
  topic.partitions = 3;
  if (!(s = shop->CreateTopic("orders", topic)).ok()) Fail(s, "demo: create topic orders");
  std::printf("shop      producer %s, live %s, replay %s\n", shop->producer_id().ToHex().c_str(),
              shop->pub_endpoint().c_str(), shop->replay_endpoint().c_str());

  example::DeliveryCheck check;
  auto billing = StartBilling(*shop, dir);
  std::this_thread::sleep_for(300ms);  // lets billing connect, so these orders go out live
  PublishOrders(shop.get(), 0, 1000, &check);
  PollUntil(billing.get(), &check, 1000);
  std::printf("billing   up:   received %llu orders\n",
              static_cast<unsigned long long>(check.delivered()));

  if (!(s = billing->Close()).ok()) Fail(s, "demo: stop billing");
  billing.reset();
  std::printf("billing   DOWN: its position is stored in %s/billing\n", dir.c_str());
  for (int i = 0; i < 10; ++i) PublishOrders(shop.get(), 1000 + i * 100, 100, &check);
  std::printf("shop      published 1000 orders while billing was down\n");

  billing = StartBilling(*shop, dir);
  const uint64_t before = check.delivered();
  PollUntil(billing.get(), &check, 2000);
  std::printf("billing   back: replayed the %llu orders it missed\n",
              static_cast<unsigned long long>(check.delivered() - before));
  PublishOrders(shop.get(), 2000, 1000, &check);
  PollUntil(billing.get(), &check, 3000);
  std::printf("billing   live: received %llu new orders\n",
              static_cast<unsigned long long>(check.delivered() - 2000));

  (void)billing->Close();
  (void)shop->Close();
  std::printf("summary\n");
  check.PrintSummary("  ");
  std::printf("result: %s\n", check.passed() ? "OK" : "FAILED");
  return check.passed() ? 0 : 1;
}
