// fan_in: one consumer following several producers.
//
//   fan_in [directory]
//
// brook has no broker to gather streams: a consumer connects to every
// producer it follows. Here three producers ("sensor-a", "sensor-b",
// "sensor-c"), each a separate node with its own journal and endpoints,
// publish readings to a topic of the same name, "readings", with 2 partitions
// each. One consumer follows all three.
//
// Half of the readings are published before the consumer starts (it gets them
// by replay from each producer's journal), half after (live). A stream is
// (producer, topic, partition): each producer's partitions are separate
// streams, each delivered in its own offset order, with no gap and no
// duplicate. The summary checks that per producer. Exit status 0 only if
// every producer's check passed.
#include <brook/consumer.h>
#include <brook/producer.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "example_util.h"

namespace {

using namespace std::chrono_literals;
using example::Fail;

constexpr int kReadingsPerProducer = 1000;

struct Sensor {
  std::string name;
  std::unique_ptr<brook::Producer> producer;
  example::DeliveryCheck check;
};

// Readings [first, first + count) of one sensor, keyed by device so that one
// device's readings stay in one partition, in order.
void PublishReadings(Sensor* sensor, int first, int count) {
  std::vector<std::string> keys(count), payloads(count);
  std::vector<brook::RecordInput> batch(count);
  for (int i = 0; i < count; ++i) {
    keys[i] = "device-" + std::to_string((first + i) % 5);
    payloads[i] = sensor->name + " reading " + std::to_string(first + i);
    batch[i].key = keys[i];
    batch[i].payload = payloads[i];
    sensor->check.Expect(payloads[i]);
  }
  brook::Status s = sensor->producer->PublishBatch("readings", batch);
  if (!s.ok()) Fail(s, "fan_in: publish");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = example::WorkDir(argc > 1 ? argv[1] : nullptr, "fan-in");

  // Three nodes. In production each runs on its own host; what makes them
  // distinct is the journal: each has its own producer id.
  std::vector<Sensor> sensors(3);
  for (size_t i = 0; i < sensors.size(); ++i) {
    Sensor& sensor = sensors[i];
    sensor.name = std::string("sensor-") + static_cast<char>('a' + i);
    brook::ProducerOptions po;
    po.journal.path = dir + "/" + sensor.name;
    po.pub_endpoint = "tcp://127.0.0.1:0";
    po.replay_endpoint = "tcp://127.0.0.1:0";
    brook::Status s = brook::Producer::Open(po, &sensor.producer);
    if (!s.ok()) Fail(s, "fan_in: open a producer");
    brook::TopicConfig readings;
    readings.partitions = 2;
    if (!(s = sensor.producer->CreateTopic("readings", readings)).ok()) {
      Fail(s, "fan_in: create topic readings");
    }
    std::printf("%s  producer %s, live %s, replay %s\n", sensor.name.c_str(),
                sensor.producer->producer_id().ToHex().c_str(),
                sensor.producer->pub_endpoint().c_str(),
                sensor.producer->replay_endpoint().c_str());
    PublishReadings(&sensor, 0, kReadingsPerProducer / 2);
  }

  // The consumer lists every producer's endpoints. Records tell their
  // producer by StreamId::producer, the id from its journal.
  brook::ConsumerOptions co;
  std::map<brook::ProducerId, Sensor*> by_id;
  for (Sensor& sensor : sensors) {
    co.producers.push_back({sensor.producer->pub_endpoint(), sensor.producer->replay_endpoint()});
    by_id[sensor.producer->producer_id()] = &sensor;
  }
  co.topics = {"readings"};
  std::unique_ptr<brook::Consumer> consumer;
  brook::Status s = brook::Consumer::Open(co, &consumer);
  if (!s.ok()) Fail(s, "fan_in: open the consumer");

  uint64_t delivered = 0;
  brook::PollHandler h;
  h.on_record = [&](const brook::StreamId& stream, const brook::RecordView& r) {
    ++delivered;
    by_id.at(stream.producer)->check.Delivered(stream, r);
  };
  h.on_event = [](const brook::ConsumerEvent& e) { std::printf("event: %s\n", e.message.c_str()); };
  auto poll_until = [&](uint64_t total) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (delivered < total && std::chrono::steady_clock::now() < deadline) {
      brook::Status ps = consumer->Poll(h, 1000, 100ms);
      if (!ps.ok()) Fail(ps, "fan_in: poll");
    }
  };
  poll_until(sensors.size() * kReadingsPerProducer / 2);
  std::printf("consumer  caught up on %llu earlier readings\n",
              static_cast<unsigned long long>(delivered));

  // Now the producers publish in turn, in small batches, while the consumer
  // merges the three live streams.
  for (int first = kReadingsPerProducer / 2; first < kReadingsPerProducer; first += 50) {
    for (Sensor& sensor : sensors) PublishReadings(&sensor, first, 50);
  }
  poll_until(sensors.size() * kReadingsPerProducer);
  const brook::ConsumerStats stats = consumer->stats();
  std::printf("consumer  received %llu in all: %llu replayed, %llu live\n",
              static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(stats.replayed_records),
              static_cast<unsigned long long>(stats.live_records));

  (void)consumer->Close();
  bool ok = true;
  std::printf("summary\n");
  for (Sensor& sensor : sensors) {
    (void)sensor.producer->Close();
    std::printf("  %s\n", sensor.name.c_str());
    sensor.check.PrintSummary("    ");
    ok = ok && sensor.check.passed();
  }
  std::printf("result: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
