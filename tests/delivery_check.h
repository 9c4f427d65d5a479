// Helpers shared by the node's fault and scale tests (producer crash, network
// cut, scale): the payload each numbered record carries, and a checker of
// everything a consumer delivers. Neither uses Catch's assertions, so both
// may run on any thread, and the payload function in child processes too.
#ifndef BROOK_TESTS_DELIVERY_CHECK_H_
#define BROOK_TESTS_DELIVERY_CHECK_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"

namespace brook::test {

// The payload of the record at `offset` of topic/partition: names its place,
// then a deterministic filler of varying length (0 .. 60 bytes), so a record
// delivered at the wrong offset, or another record's bytes, never match.
inline std::string StreamPayload(const std::string& topic, uint32_t partition, uint64_t offset) {
  std::string p = topic + "/" + std::to_string(partition) + "@" + std::to_string(offset) + ";";
  uint64_t x =
      (offset + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t{partition} + 1) * 0xBF58476D1CE4E5B9ull;
  const size_t len = p.size() + (x >> 58);
  while (p.size() < len) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p += static_cast<char>('a' + x % 26);
  }
  return p;
}

// Publishes offsets [first, first + count) of each partition in `partitions`
// of `topic`, `batch` per partition per commit, payloads StreamPayload. The
// caller must be the only writer of those partitions (offsets are checked).
// Returns what went wrong, or "". Safe on any thread.
inline std::string PublishRange(Producer* p, const std::string& topic,
                                const std::vector<uint32_t>& partitions, uint64_t first,
                                uint64_t count, uint64_t batch = 50) {
  std::vector<std::string> payloads;
  std::vector<RecordInput> in;
  std::vector<RecordPosition> pos;
  for (uint64_t base = first; base < first + count; base += batch) {
    const uint64_t n = std::min(batch, first + count - base);
    payloads.clear();
    for (uint32_t part : partitions)
      for (uint64_t i = 0; i < n; ++i) payloads.push_back(StreamPayload(topic, part, base + i));
    in.assign(payloads.size(), RecordInput{});
    for (size_t k = 0; k < payloads.size(); ++k) {
      in[k].payload = payloads[k];
      in[k].partition = partitions[k / n];
    }
    Status s = p->PublishBatch(topic, in, &pos);
    if (!s.ok()) return "PublishBatch: " + s.ToString();
    for (size_t k = 0; k < pos.size(); ++k)
      if (pos[k].partition != partitions[k / n] || pos[k].offset != base + k % n)
        return topic + "/" + std::to_string(pos[k].partition) + ": record landed at offset " +
               std::to_string(pos[k].offset) + ", expected " + std::to_string(base + k % n);
  }
  return "";
}

// Checks, as they come, a consumer's deliveries: each stream in offset order
// from where it is expected to start, with no gap and no duplicate, and every
// payload StreamPayload of its place. Counts events; a kSkipped event moves a
// stream's expected offset over the removed range (only when it starts where
// the stream stands, else it is an error).
class DeliveryChecker {
 public:
  using Key = std::tuple<std::string, std::string, uint32_t>;  // producer hex, topic, partition

  void Expect(const ProducerId& producer, const std::string& topic, uint32_t partition,
              uint64_t from) {
    next_[Key{producer.ToHex(), topic, partition}] = from;
  }

  PollHandler Handler() {
    PollHandler h;
    h.on_record = [this](const StreamId& s, const RecordView& r) { OnRecord(s, r); };
    h.on_event = [this](const ConsumerEvent& e) { OnEvent(e); };
    return h;
  }

  void OnRecord(const StreamId& s, const RecordView& r) {
    ++total_;
    auto it = next_.find(Key{s.producer.ToHex(), s.topic, s.partition});
    if (it == next_.end()) {
      Error("a record of an unexpected stream " + s.topic + "/" + std::to_string(s.partition) +
            " of producer " + s.producer.ToHex());
      return;
    }
    const std::string where = s.topic + "/" + std::to_string(s.partition);
    if (r.offset != it->second) {
      Error(where + ": got offset " + std::to_string(r.offset) + ", expected " +
            std::to_string(it->second) +
            (r.offset < it->second ? " (a duplicate or out of order)" : " (a gap)"));
    } else if (r.payload != StreamPayload(s.topic, s.partition, r.offset)) {
      Error(where + ": wrong payload at offset " + std::to_string(r.offset) + ": '" +
            std::string(r.payload.substr(0, 80)) + "'");
    }
    if (r.offset + 1 > it->second) it->second = r.offset + 1;
  }

  void OnEvent(const ConsumerEvent& e) {
    events_.push_back(e);
    if (e.kind != ConsumerEvent::Kind::kSkipped) return;
    auto it = next_.find(Key{e.stream.producer.ToHex(), e.stream.topic, e.stream.partition});
    if (it == next_.end() || it->second != e.from || e.to <= e.from) {
      Error("a skipped-range event [" + std::to_string(e.from) + ", " + std::to_string(e.to) +
            ") that does not start where " + e.stream.topic + "/" +
            std::to_string(e.stream.partition) + " stands");
      return;
    }
    it->second = e.to;
  }

  // The offset each stream expects next (one past the last delivered).
  uint64_t Next(const ProducerId& producer, const std::string& topic, uint32_t partition) const {
    auto it = next_.find(Key{producer.ToHex(), topic, partition});
    return it == next_.end() ? 0 : it->second;
  }

  uint64_t total() const { return total_; }
  uint64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }
  const std::vector<ConsumerEvent>& events() const { return events_; }

 private:
  void Error(const std::string& what) {
    if (errors_++ == 0) first_error_ = what;
  }

  std::map<Key, uint64_t> next_;
  std::vector<ConsumerEvent> events_;
  uint64_t total_ = 0;
  uint64_t errors_ = 0;
  std::string first_error_;
};

// Sets *stop and joins the threads when it goes out of scope, so that a
// failed REQUIRE on the main thread never destroys a joinable std::thread
// (std::terminate) nor the producer a publishing thread still uses. Declare
// it after the threads and what they use.
class StopAndJoin {
 public:
  StopAndJoin(std::atomic<bool>* stop, std::vector<std::thread>* threads)
      : stop_(stop), threads_(threads) {}
  StopAndJoin(const StopAndJoin&) = delete;
  StopAndJoin& operator=(const StopAndJoin&) = delete;
  ~StopAndJoin() { Join(); }
  void Join() {
    if (stop_) *stop_ = true;
    for (std::thread& t : *threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::atomic<bool>* stop_;
  std::vector<std::thread>* threads_;
};

}  // namespace brook::test

#endif  // BROOK_TESTS_DELIVERY_CHECK_H_
