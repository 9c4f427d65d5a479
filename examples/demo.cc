// demo: brook's core promise, end to end.
//
//   demo [directory]
//
// A producer ("shop") publishes order events; a consumer ("billing") with a
// stored position follows them. Billing goes down; orders keep coming; billing
// comes back and receives exactly the orders it missed, then live ones —
// every record checked: none lost, none duplicated, order kept.
#include <brook/consumer.h>
#include <brook/producer.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr uint32_t kPartitions = 3;

int Die(const brook::Status& s, const char* what) {
  std::fprintf(stderr, "demo: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/brook-demo-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) return "";
  return buf.data();
}

// Publishes orders [first, first + count), keyed by customer.
void PublishOrders(brook::Producer* shop, int first, int count) {
  std::vector<std::string> keys(count), payloads(count);
  std::vector<brook::RecordInput> batch(count);
  for (int i = 0; i < count; ++i) {
    keys[i] = "customer-" + std::to_string((first + i) % 37);
    payloads[i] = "{\"order\":" + std::to_string(first + i) + "}";
    batch[i].key = keys[i];
    batch[i].payload = payloads[i];
  }
  brook::Status s = shop->PublishBatch("orders", batch);
  if (!s.ok()) Die(s, "publish");
}

// What billing has received, checked record by record.
struct Ledger {
  std::map<uint32_t, uint64_t> next;  // partition -> next offset expected
  std::map<int, int> seen;            // order number -> times received
  uint64_t records = 0, gaps = 0, duplicates = 0;

  brook::PollHandler Handler() {
    brook::PollHandler h;
    h.on_record = [this](const brook::StreamId& s, const brook::RecordView& r) {
      uint64_t& n = next[s.partition];
      if (r.offset < n) ++duplicates;
      if (r.offset > n) gaps += r.offset - n;
      n = r.offset + 1;
      const std::string p(r.payload);
      ++seen[std::atoi(p.c_str() + p.find(':') + 1)];
      ++records;
    };
    h.on_event = [](const brook::ConsumerEvent& e) {
      std::printf("  event: %s\n", e.message.c_str());
    };
    return h;
  }

  void PollUntil(brook::Consumer* c, uint64_t total) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    brook::PollHandler h = Handler();
    while (records < total && std::chrono::steady_clock::now() < deadline) {
      brook::Status s = c->Poll(h, 1000, 100ms);
      if (!s.ok()) Die(s, "poll");
    }
  }
};

std::unique_ptr<brook::Consumer> StartBilling(const brook::Producer& shop, const std::string& dir) {
  brook::ConsumerOptions o;
  o.producers.push_back({shop.pub_endpoint(), shop.replay_endpoint()});
  o.topics = {"orders"};
  o.name = "billing";
  o.state_dir = dir + "/billing";
  std::unique_ptr<brook::Consumer> c;
  brook::Status s = brook::Consumer::Open(o, &c);
  if (!s.ok()) Die(s, "start billing");
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : MakeTempDir();
  if (dir.empty()) {
    std::perror("mkdtemp");
    return 1;
  }
  brook::ProducerOptions po;
  po.journal.path = dir + "/shop";
  po.journal.durability = brook::Durability::kFsync;
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.heartbeat_interval = 200ms;
  std::unique_ptr<brook::Producer> shop;
  brook::Status s = brook::Producer::Open(po, &shop);
  if (!s.ok()) Die(s, "open the shop's producer");
  brook::TopicConfig topic;
  topic.partitions = kPartitions;
  if (!(s = shop->CreateTopic("orders", topic)).ok()) Die(s, "create topic");
  std::printf("shop      producer %s, live %s, replay %s\n", shop->producer_id().ToHex().c_str(),
              shop->pub_endpoint().c_str(), shop->replay_endpoint().c_str());

  Ledger ledger;
  auto billing = StartBilling(*shop, dir);
  std::this_thread::sleep_for(300ms);  // billing connects
  PublishOrders(shop.get(), 0, 1000);
  ledger.PollUntil(billing.get(), 1000);
  std::printf("billing   up:   received %llu orders live\n",
              static_cast<unsigned long long>(ledger.records));

  if (!(s = billing->Close()).ok()) Die(s, "stop billing");
  billing.reset();
  std::printf("billing   DOWN: its position is stored\n");
  for (int i = 0; i < 10; ++i) PublishOrders(shop.get(), 1000 + i * 100, 100);
  std::printf("shop      published 1000 orders while billing was down\n");

  billing = StartBilling(*shop, dir);
  const uint64_t before = ledger.records;
  ledger.PollUntil(billing.get(), 2000);
  std::printf("billing   back: replayed the %llu orders it missed\n",
              static_cast<unsigned long long>(ledger.records - before));
  PublishOrders(shop.get(), 2000, 1000);
  ledger.PollUntil(billing.get(), 3000);
  std::printf("billing   live: received %llu new orders\n",
              static_cast<unsigned long long>(ledger.records - 2000));

  int missing = 0, repeated = 0;
  for (int order = 0; order < 3000; ++order) {
    const int n = ledger.seen.count(order) ? ledger.seen[order] : 0;
    missing += n == 0;
    repeated += n > 1;
  }
  const bool ok = ledger.records == 3000 && missing == 0 && repeated == 0 && ledger.gaps == 0 &&
                  ledger.duplicates == 0;
  std::printf(
      "summary   expected 3000, delivered %llu, missing %d, duplicates %llu, gaps %llu: %s\n",
      static_cast<unsigned long long>(ledger.records), missing,
      static_cast<unsigned long long>(ledger.duplicates + repeated),
      static_cast<unsigned long long>(ledger.gaps), ok ? "OK" : "FAILED");
  (void)billing->Close();
  (void)shop->Close();
  return ok ? 0 : 1;
}
