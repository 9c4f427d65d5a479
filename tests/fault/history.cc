#include "tests/fault/history.h"

#include <algorithm>
#include <cstdio>

#include "tests/fault/payload.h"

namespace brook::fault {
namespace {

constexpr size_t kMaxProblems = 8;

std::string Where(const std::string& tag, const std::string& topic, uint32_t partition) {
  return tag + ":" + topic + "/" + std::to_string(partition);
}

}  // namespace

void History::Problem(uint64_t* counter, const std::string& what) {
  ++*counter;
  if (live_.problems.size() < kMaxProblems) live_.problems.push_back(what);
}

void History::ProducerIdentity(const std::string& tag, const std::string& producer_hex) {
  auto [it, inserted] = tag_of_id_.emplace(producer_hex, tag);
  if (!inserted && it->second != tag)
    Problem(&live_.inconsistent,
            "producer id " + producer_hex + " claimed by journals " + it->second + " and " + tag);
}

void History::Attempted(const std::string& tag, const std::string& topic, uint32_t partition,
                        uint64_t seq) {
  publishes_.emplace(RecordKey{tag, topic, partition, seq}, Publish{});
  uint64_t& next = next_seq_[StreamKey{tag, topic, partition}];
  next = std::max(next, seq + 1);
}

void History::Acknowledged(const std::string& tag, const std::string& topic, uint32_t partition,
                           uint64_t seq, uint64_t offset) {
  Publish& p = publishes_[RecordKey{tag, topic, partition, seq}];
  if (p.state == State::kAcknowledged && p.offset != offset)
    Problem(&live_.inconsistent, Where(tag, topic, partition) + ": seq " + std::to_string(seq) +
                                     " acknowledged at offsets " + std::to_string(p.offset) +
                                     " and " + std::to_string(offset));
  if (p.state == State::kFailed)
    Problem(&live_.inconsistent, Where(tag, topic, partition) + ": seq " + std::to_string(seq) +
                                     " both failed and acknowledged");
  p.state = State::kAcknowledged;
  p.offset = offset;
  uint64_t& next = next_seq_[StreamKey{tag, topic, partition}];
  next = std::max(next, seq + 1);
  uint64_t& end = acked_end_[StreamKey{tag, topic, partition}];
  end = std::max(end, offset + 1);
  auto [at, inserted] = seq_at_[StreamKey{tag, topic, partition}].emplace(offset, seq);
  if (!inserted && at->second != seq)
    Problem(&live_.inconsistent, Where(tag, topic, partition) + "@" + std::to_string(offset) +
                                     ": acknowledged for seq " + std::to_string(seq) +
                                     " but seen holding seq " + std::to_string(at->second));
}

void History::Failed(const std::string& tag, const std::string& topic, uint32_t partition,
                     uint64_t seq) {
  Publish& p = publishes_[RecordKey{tag, topic, partition, seq}];
  if (p.state == State::kAcknowledged)
    Problem(&live_.inconsistent, Where(tag, topic, partition) + ": seq " + std::to_string(seq) +
                                     " both acknowledged and failed");
  p.state = State::kFailed;
  uint64_t& next = next_seq_[StreamKey{tag, topic, partition}];
  next = std::max(next, seq + 1);
}

void History::DiscardFrom(const std::string& tag, const std::string& topic, uint32_t partition,
                          uint64_t offset) {
  for (auto& [key, p] : publishes_)
    if (std::get<0>(key) == tag && std::get<1>(key) == topic && std::get<2>(key) == partition &&
        p.state == State::kAcknowledged && p.offset >= offset)
      p.state = State::kDiscarded;
  const StreamKey sk{tag, topic, partition};
  auto& at = seq_at_[sk];
  at.erase(at.lower_bound(offset), at.end());
  uint64_t& end = acked_end_[sk];
  end = std::min(end, offset);
  // What consumers delivered there was the old records: until they deliver
  // the new ones, those offsets count as not delivered.
  for (auto& [name, cs] : consumers_) {
    auto it = cs.streams.find(sk);
    if (it == cs.streams.end()) continue;
    if (it->second.seen.size() > offset) it->second.seen.resize(offset);
    it->second.high = std::min(it->second.high, offset);
  }
}

uint64_t History::NextSeq(const std::string& tag, const std::string& topic,
                          uint32_t partition) const {
  auto it = next_seq_.find(StreamKey{tag, topic, partition});
  return it == next_seq_.end() ? 0 : it->second;
}

uint64_t History::AckedEnd(const std::string& tag, const std::string& topic,
                           uint32_t partition) const {
  auto it = acked_end_.find(StreamKey{tag, topic, partition});
  return it == acked_end_.end() ? 0 : it->second;
}

void History::ConsumerStarted(const std::string& consumer) { ++consumers_[consumer].incarnation; }

std::string History::TagOf(const std::string& producer_hex, const std::string& payload_tag) {
  auto it = tag_of_id_.find(producer_hex);
  if (it != tag_of_id_.end()) return it->second;
  if (payload_tag.empty()) return "?" + producer_hex;
  tag_of_id_.emplace(producer_hex, payload_tag);
  return payload_tag;
}

void History::Delivered(const std::string& consumer, const std::string& producer_hex,
                        const std::string& topic, uint32_t partition, uint64_t offset,
                        std::string_view payload) {
  ++deliveries_;
  ++live_.delivered;
  FaultRecord rec;
  std::string why;
  const bool intact = DecodeFaultPayload(payload, &rec, &why);
  const std::string tag = TagOf(producer_hex, intact ? rec.tag : std::string());
  const std::string where = Where(tag, topic, partition) + "@" + std::to_string(offset);
  ConsumerState& cs = consumers_[consumer];
  const StreamKey sk{tag, topic, partition};
  ConsumerStream& st = cs.streams[sk];

  // Order and duplicates, against this consumer's own past.
  if (st.incarnation != cs.incarnation) {
    // The first delivery of this stream in this incarnation: it must resume
    // where the consumer last committed, or anywhere up to what it had
    // delivered (a commit that landed but was not reported).
    if (st.incarnation >= 0 && offset < st.committed)
      Problem(&live_.duplicated, consumer + " " + where + ": restarted below its committed " +
                                     "position " + std::to_string(st.committed));
    else if (offset > st.high)
      Problem(&live_.reordered, consumer + " " + where + ": restarted with a gap (had delivered " +
                                    "up to " + std::to_string(st.high) + ")");
    else if (offset < st.high)
      ++live_.redelivered;
    st.incarnation = cs.incarnation;
  } else if (offset < st.next) {
    Problem(&live_.duplicated, consumer + " " + where + ": delivered again (expected " +
                                   std::to_string(st.next) + ")");
  } else if (offset > st.next) {
    Problem(&live_.reordered,
            consumer + " " + where + ": gap (expected " + std::to_string(st.next) + ")");
  } else if (offset < st.high) {
    ++live_.redelivered;  // still inside the window it is redelivering
  }
  st.next = offset + 1;
  st.high = std::max(st.high, offset + 1);
  if (st.seen.size() <= offset) st.seen.resize(std::max<size_t>(offset + 1, st.seen.size() * 2));
  st.seen[offset] = true;

  // The payload, against what was published.
  if (!intact) {
    Problem(&live_.unexpected, consumer + " " + where + ": " + why);
    return;
  }
  if (rec.tag != tag || rec.topic != topic || rec.partition != partition) {
    Problem(&live_.unexpected, consumer + " " + where + ": holds a record of " +
                                   Where(rec.tag, rec.topic, rec.partition));
    return;
  }
  // Judged against what was published at Check: the producer's line about
  // this record may still be in its pipe when the delivery is read.
  delivered_.push_back(DeliveredRecord{consumer, rec.tag, rec.topic, partition, rec.seq, offset});
  auto [at, inserted] = seq_at_[sk].emplace(offset, rec.seq);
  if (!inserted && at->second != rec.seq)
    Problem(&live_.inconsistent, consumer + " " + where + ": holds seq " + std::to_string(rec.seq) +
                                     ", seen before holding seq " + std::to_string(at->second));
}

void History::Committed(const std::string& consumer) {
  ConsumerState& cs = consumers_[consumer];
  for (auto& [key, st] : cs.streams)
    if (st.incarnation == cs.incarnation) st.committed = st.next;
}

void History::Event(const std::string& consumer, const std::string& kind, const std::string& text) {
  if (kind == "tail_lost" && allow_tail_lost_) {
    // text: HEX TOPIC PART FROM TO message
    char hex[64] = {}, topic[256] = {};
    unsigned long long part = 0, from = 0;
    if (std::sscanf(text.c_str(), "%63s %255s %llu %llu", hex, topic, &part, &from) != 4) {
      Problem(&live_.unexpected, consumer + ": unreadable tail_lost event '" + text + "'");
      return;
    }
    ++live_.tail_lost_events;
    ConsumerState& cs = consumers_[consumer];
    ConsumerStream& st = cs.streams[StreamKey{TagOf(hex, ""), topic, static_cast<uint32_t>(part)}];
    st.next = st.high = from;
    st.committed = std::min<uint64_t>(st.committed, from);
    if (st.seen.size() > from) st.seen.resize(from);
    return;
  }
  if (kind == "data_loss") ++consumers_[consumer].data_loss_events;
  if (kind != "skipped" && kind != "tail_lost" && kind != "new_producer" && kind != "data_loss")
    return;
  if (!allow_loss_events_) Problem(&live_.loss_events, consumer + ": " + kind + " " + text);
}

uint64_t History::DataLossEvents(const std::string& consumer) const {
  auto c = consumers_.find(consumer);
  return c == consumers_.end() ? 0 : c->second.data_loss_events;
}

uint64_t History::ConsumerNext(const std::string& consumer, const std::string& tag,
                               const std::string& topic, uint32_t partition) const {
  auto c = consumers_.find(consumer);
  if (c == consumers_.end()) return 0;
  auto s = c->second.streams.find(StreamKey{tag, topic, partition});
  return s == c->second.streams.end() ? 0 : s->second.next;
}

bool History::CaughtUp(const std::string& consumer) const {
  auto c = consumers_.find(consumer);
  for (const auto& [key, end] : acked_end_) {
    if (c == consumers_.end()) return false;
    auto s = c->second.streams.find(key);
    if (s == c->second.streams.end() || s->second.high < end) return false;
  }
  return true;
}

CheckResult History::Check(const std::vector<std::string>& complete) const {
  CheckResult r = live_;
  for (const auto& [key, p] : publishes_) {
    ++r.attempted;
    if (p.state == State::kAcknowledged || p.state == State::kDiscarded) ++r.acknowledged;
    if (p.state == State::kFailed) ++r.failed;
    if (p.state == State::kAttempted) ++r.unknown;
    if (p.state == State::kDiscarded) ++r.discarded;
  }
  auto problem = [&r](uint64_t* counter, const std::string& what) {
    ++*counter;
    if (r.problems.size() < kMaxProblems) r.problems.push_back(what);
  };
  for (const DeliveredRecord& d : delivered_) {
    const std::string where = d.consumer + " " + Where(d.tag, d.topic, d.partition) + "@" +
                              std::to_string(d.offset) + ": seq " + std::to_string(d.seq);
    auto pub = publishes_.find(RecordKey{d.tag, d.topic, d.partition, d.seq});
    if (pub == publishes_.end())
      problem(&r.unexpected, where + " was never published");
    else if (pub->second.state == State::kFailed)
      problem(&r.unexpected, where + " was reported failed, yet is in the journal");
    else if (pub->second.state == State::kAcknowledged && pub->second.offset != d.offset)
      problem(&r.inconsistent,
              where + " was acknowledged at offset " + std::to_string(pub->second.offset));
  }
  // Acknowledged offsets follow sequence order within a stream (each
  // producer child publishes a partition from one thread).
  std::map<StreamKey, std::pair<uint64_t, uint64_t>> last;  // seq, offset
  for (const auto& [key, p] : publishes_) {
    if (p.state != State::kAcknowledged) continue;
    const auto& [tag, topic, partition, seq] = key;
    auto [it, inserted] = last.emplace(StreamKey{tag, topic, partition}, std::pair{seq, p.offset});
    if (!inserted) {
      if (p.offset <= it->second.second)
        problem(&r.reordered, Where(tag, topic, partition) + ": seq " + std::to_string(seq) +
                                  " acknowledged at offset " + std::to_string(p.offset) +
                                  ", not after seq " + std::to_string(it->second.first) + "'s " +
                                  std::to_string(it->second.second));
      it->second = {seq, p.offset};
    }
  }
  for (const std::string& consumer : complete) {
    auto c = consumers_.find(consumer);
    for (const auto& [key, p] : publishes_) {
      if (p.state != State::kAcknowledged) continue;
      const auto& [tag, topic, partition, seq] = key;
      bool seen = false;
      if (c != consumers_.end()) {
        auto s = c->second.streams.find(StreamKey{tag, topic, partition});
        seen = s != c->second.streams.end() && p.offset < s->second.seen.size() &&
               s->second.seen[p.offset];
      }
      if (!seen)
        problem(&r.lost, consumer + " never got " + Where(tag, topic, partition) + "@" +
                             std::to_string(p.offset) + " (seq " + std::to_string(seq) +
                             ", acknowledged)");
    }
  }
  return r;
}

}  // namespace brook::fault
