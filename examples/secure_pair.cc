// secure_pair: a CURVE-secured producer and its consumers, with key files.
//
//   secure_pair [directory]
//
// With security on, a producer's endpoints speak CurveZMQ: traffic is
// encrypted, consumers pin the producer's public key, and the producer admits
// only the consumer keys on its allow-list (docs/SECURITY.md). This example
// does what an operator does once, then what each node does at start:
//
//  1. make key pairs and write them to files: the producer's ("shop"), an
//     allowed consumer's ("billing") and an unknown one's ("intruder"), and
//     an allow-list holding billing's public key only;
//  2. start the producer from its key files and allow-list, and both
//     consumers from theirs (each pins shop's public key);
//  3. publish; billing receives every record, the intruder not one: its
//     handshakes fail (ConsumerStats::handshakes_failed) and brook logs why.
//
// Exit status 0 only when both held.
#include <brook/consumer.h>
#include <brook/producer.h>
#include <brook/security.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "example_util.h"

namespace {

using namespace std::chrono_literals;
using example::Fail;

// Step 1, done once when a node is installed. The secret key file gets mode
// 0600: loading refuses a secret key that others may read.
void MakeKeyFiles(const std::string& keys, const std::string& name) {
  brook::KeyPair pair;
  brook::Status s = brook::GenerateKeyPair(&pair);
  if (s.ok())
    s = brook::WriteKeyFiles(pair, keys + "/" + name + ".pub", keys + "/" + name + ".key");
  if (!s.ok()) Fail(s, "secure_pair: make a key pair");
}

// A consumer whose keys are name.pub/name.key and who pins shop.pub.
std::unique_ptr<brook::Consumer> OpenConsumer(const brook::Producer& shop, const std::string& keys,
                                              const std::string& name, brook::Logger logger) {
  brook::ConsumerOptions co;
  co.producers.push_back({shop.pub_endpoint(), shop.replay_endpoint()});
  co.topics = {"orders"};
  co.security.enabled = true;
  brook::Status s = brook::LoadKeyPair(keys + "/" + name + ".pub", keys + "/" + name + ".key",
                                       &co.security.client);
  if (s.ok()) s = brook::LoadPublicKey(keys + "/shop.pub", &co.security.server_public_key);
  co.logger = std::move(logger);
  std::unique_ptr<brook::Consumer> c;
  if (s.ok()) s = brook::Consumer::Open(co, &c);
  if (!s.ok()) Fail(s, "secure_pair: open a consumer");
  return c;
}

void PublishOrders(brook::Producer* shop, int first, int count, example::DeliveryCheck* check) {
  for (int i = first; i < first + count; ++i) {
    const std::string payload = "{\"order\":" + std::to_string(i) + "}";
    check->Expect(payload);
    brook::RecordInput r;
    r.payload = payload;
    brook::Status s = shop->Publish("orders", r);
    if (!s.ok()) Fail(s, "secure_pair: publish");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = example::WorkDir(argc > 1 ? argv[1] : nullptr, "secure");
  const std::string keys = dir + "/keys";
  if (mkdir(keys.c_str(), 0700) != 0 && errno != EEXIST) {
    std::perror(("secure_pair: mkdir " + keys).c_str());
    return 1;
  }

  // 1. Keys, and the allow-list: one public key a line, a "#" remark allowed.
  for (const char* name : {"shop", "billing", "intruder"}) MakeKeyFiles(keys, name);
  std::string billing_key;
  brook::Status s = brook::LoadPublicKey(keys + "/billing.pub", &billing_key);
  if (!s.ok()) Fail(s, "secure_pair: read billing.pub");
  std::ofstream(keys + "/shop.allow") << "# consumers allowed to read shop\n"
                                      << billing_key << "  # billing\n";
  std::printf("keys      written to %s (shop, billing, intruder; shop.allow lists billing)\n",
              keys.c_str());

  // 2. The producer, from its key files and its allow-list.
  brook::ProducerOptions po;
  po.journal.path = dir + "/shop";
  po.pub_endpoint = "tcp://127.0.0.1:0";
  po.replay_endpoint = "tcp://127.0.0.1:0";
  po.security.enabled = true;
  s = brook::LoadKeyPair(keys + "/shop.pub", keys + "/shop.key", &po.security.server);
  if (s.ok()) s = brook::LoadAllowedKeys(keys + "/shop.allow", &po.security.allowed_client_keys);
  std::unique_ptr<brook::Producer> shop;
  if (s.ok()) s = brook::Producer::Open(po, &shop);
  if (!s.ok()) Fail(s, "secure_pair: open the shop's producer");
  if (!(s = shop->CreateTopic("orders", brook::TopicConfig{})).ok()) Fail(s, "create topic");

  example::DeliveryCheck check;
  PublishOrders(shop.get(), 0, 500, &check);  // in the journal before anyone connects

  // brook logs from its own threads; keep the intruder's first error to show.
  std::mutex mu;
  std::string intruder_error;
  auto billing = OpenConsumer(*shop, keys, "billing", nullptr);
  auto intruder =
      OpenConsumer(*shop, keys, "intruder", [&](brook::LogLevel level, std::string_view message) {
        std::lock_guard<std::mutex> lk(mu);
        if (level == brook::LogLevel::kError && intruder_error.empty()) {
          intruder_error = std::string(message);
        }
      });

  // 3. Both consumers poll while the shop publishes more.
  uint64_t intruder_records = 0;
  brook::PollHandler to_billing, to_intruder;
  to_billing.on_record = [&](const brook::StreamId& st, const brook::RecordView& r) {
    check.Delivered(st, r);
  };
  to_intruder.on_record = [&](const brook::StreamId&, const brook::RecordView&) {
    ++intruder_records;
  };
  PublishOrders(shop.get(), 500, 500, &check);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((check.delivered() < 1000 || intruder->stats().handshakes_failed == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    if (!(s = billing->Poll(to_billing, 1000, 50ms)).ok()) Fail(s, "secure_pair: poll billing");
    if (!(s = intruder->Poll(to_intruder, 1000, 0ms)).ok()) Fail(s, "secure_pair: poll intruder");
  }
  // Give the intruder the same chance as billing had, a little longer.
  for (int i = 0; i < 10; ++i) (void)intruder->Poll(to_intruder, 1000, 50ms);

  const brook::ConsumerStats intruder_stats = intruder->stats();
  const brook::ProducerStats shop_stats = shop->stats();
  (void)billing->Close();
  (void)intruder->Close();
  (void)shop->Close();

  std::printf("summary\n");
  std::printf("  billing (allowed key)\n");
  check.PrintSummary("    ");
  std::printf("  intruder (unknown key)\n");
  std::printf("    delivered: %llu\n", static_cast<unsigned long long>(intruder_records));
  std::printf("    handshakes_failed: %llu\n",
              static_cast<unsigned long long>(intruder_stats.handshakes_failed));
  {
    std::lock_guard<std::mutex> lk(mu);
    std::printf("    its log: %s\n", intruder_error.c_str());
  }
  std::printf("  shop: handshakes admitted %llu, refused %llu\n",
              static_cast<unsigned long long>(shop_stats.handshakes_admitted),
              static_cast<unsigned long long>(shop_stats.handshakes_refused));
  const bool ok = check.passed() && intruder_records == 0 && intruder_stats.handshakes_failed > 0;
  std::printf("result: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
