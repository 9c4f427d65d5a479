// Consumer groups through the public API: members of one group share the
// streams of two producers; streams move when members join and leave, each
// stream held by one member at a time, every record processed, in order per
// stream, and no record twice across a clean handover (the old owner commits
// before it releases). Real producers, journals and ZeroMQ on 127.0.0.1.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "brook/consumer.h"
#include "brook/producer.h"
#include "tests/delivery_check.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::test;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kPartitions = 8;

std::unique_ptr<Producer> OpenProducer(const std::string& dir) {
  ProducerOptions o;
  o.journal = TestOptions(dir);
  o.pub_endpoint = "tcp://127.0.0.1:0";
  o.replay_endpoint = "tcp://127.0.0.1:0";
  o.heartbeat_interval = 50ms;
  std::unique_ptr<Producer> p;
  REQUIRE_OK(Producer::Open(o, &p));
  TopicConfig tc;
  tc.partitions = kPartitions;
  REQUIRE_OK(p->CreateTopic("orders", tc));
  return p;
}

std::vector<uint32_t> AllPartitions() {
  std::vector<uint32_t> v;
  for (uint32_t p = 0; p < kPartitions; ++p) v.push_back(p);
  return v;
}

using Key = std::tuple<std::string, uint32_t>;  // producer hex, partition

// Everything the members of the group did, seen from the one thread that
// polls them all, checked as it happens.
struct Group {
  std::map<Key, int> holder;          // stream -> member holding it
  std::map<Key, uint64_t> next;       // stream -> offset expected next
  std::map<Key, uint64_t> delivered;  // stream -> records delivered (with repeats)
  std::vector<std::map<Key, uint64_t>> per_member;
  uint64_t total = 0, errors = 0, moves = 0;
  std::string first_error;

  void Error(const std::string& e) {
    if (errors++ == 0) first_error = e;
  }

  PollHandler Handler(int member) {
    if (per_member.size() <= static_cast<size_t>(member)) per_member.resize(member + 1);
    PollHandler h;
    h.on_record = [this, member](const StreamId& s, const RecordView& r) {
      const Key k{s.producer.ToHex(), s.partition};
      auto held = holder.find(k);
      if (held == holder.end() || held->second != member)
        Error("member " + std::to_string(member) + " got a record of a stream it does not hold");
      if (r.offset != next[k])
        Error("partition " + std::to_string(s.partition) + ": offset " + std::to_string(r.offset) +
              ", expected " + std::to_string(next[k]));
      if (r.payload != StreamPayload("orders", s.partition, r.offset))
        Error("wrong payload at offset " + std::to_string(r.offset));
      next[k] = r.offset + 1;
      ++delivered[k];
      ++per_member[member][k];
      ++total;
    };
    h.on_event = [this, member](const ConsumerEvent& e) {
      const Key k{e.stream.producer.ToHex(), e.stream.partition};
      if (e.kind == ConsumerEvent::Kind::kAssigned) {
        if (holder.count(k))
          Error("member " + std::to_string(member) + " was given partition " +
                std::to_string(e.stream.partition) + " while member " + std::to_string(holder[k]) +
                " holds it");
        holder[k] = member;
        // A clean handover: the new owner starts where the old one stopped.
        if (next.count(k) && e.from != next[k])
          Error("partition " + std::to_string(e.stream.partition) + " handed over at " +
                std::to_string(e.from) + ", the last owner stopped at " + std::to_string(next[k]));
        next[k] = e.from;
        ++moves;
      } else if (e.kind == ConsumerEvent::Kind::kRevoked) {
        auto it = holder.find(k);
        if (it == holder.end() || it->second != member)
          Error("member " + std::to_string(member) + " lost a stream it did not hold");
        else
          holder.erase(it);
      } else {
        Error("unexpected event: " + e.message);
      }
    };
    return h;
  }
};

ConsumerOptions MemberOptions(const std::vector<const Producer*>& producers) {
  ConsumerOptions o;
  for (const Producer* p : producers)
    o.producers.push_back({p->pub_endpoint(), p->replay_endpoint()});
  o.topics = {"orders"};
  o.group = "billing";
  o.group_session_timeout = 1500ms;
  o.group_heartbeat_interval = 100ms;
  o.auto_commit_interval = 0ms;  // commit after every poll
  o.request_timeout = 500ms;
  if (std::getenv("BROOK_TEST_LOG"))
    o.logger = [](LogLevel, std::string_view m) {
      fprintf(stderr, "%.*s\n", (int)m.size(), m.data());
    };
  return o;
}

std::unique_ptr<Consumer> OpenMember(const ConsumerOptions& o) {
  std::unique_ptr<Consumer> c;
  REQUIRE_OK(Consumer::Open(o, &c));
  return c;
}

// Polls every member in turn until `done` says so or the time is up.
template <typename Done>
void PollAll(std::vector<std::unique_ptr<Consumer>>& members, Group* g, Done done,
             std::chrono::seconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i]) REQUIRE_OK(members[i]->Poll(g->Handler(static_cast<int>(i)), 500, 10ms));
  }
}

// Every stream of both producers is held by a member and caught up to `count`.
bool Settled(const Group& g, const std::vector<const Producer*>& producers, uint64_t count) {
  for (const Producer* p : producers)
    for (uint32_t part = 0; part < kPartitions; ++part) {
      const Key k{p->producer_id().ToHex(), part};
      auto n = g.next.find(k);
      if (!g.holder.count(k) || n == g.next.end() || n->second != count) return false;
    }
  return true;
}

}  // namespace

TEST_CASE("a group shares two producers' streams; members join and leave; nothing is lost",
          "[group]") {
  TempDir dir;
  auto a = OpenProducer(dir.Sub("a"));
  auto b = OpenProducer(dir.Sub("b"));
  const std::vector<const Producer*> producers{a.get(), b.get()};
  REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), 0, 100) == "");
  REQUIRE(PublishRange(b.get(), "orders", AllPartitions(), 0, 100) == "");

  Group g;
  std::vector<std::unique_ptr<Consumer>> members;
  for (int i = 0; i < 3; ++i) members.push_back(OpenMember(MemberOptions(producers)));
  const auto holders = [&] {
    std::set<int> h;
    for (const auto& [k, m] : g.holder) h.insert(m);
    return h.size();
  };
  // The first member to heartbeat gets every stream at first; they spread
  // as the others join.
  PollAll(members, &g, [&] { return Settled(g, producers, 100) && holders() == 3; });
  INFO(g.first_error);
  REQUIRE(g.errors == 0);
  REQUIRE(Settled(g, producers, 100));
  // Shared: each of the three holds some of the 16 streams.
  std::map<int, int> held;
  for (const auto& [k, m] : g.holder) ++held[m];
  CHECK(held.size() == 3);
  for (const auto& [m, n] : held) CHECK(n >= 2);

  SECTION("a fourth member joins: streams move to it, with no record twice") {
    members.push_back(OpenMember(MemberOptions(producers)));
    REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), 100, 100) == "");
    REQUIRE(PublishRange(b.get(), "orders", AllPartitions(), 100, 100) == "");
    PollAll(members, &g, [&] {
      std::set<int> holders;
      for (const auto& [k, m] : g.holder) holders.insert(m);
      return Settled(g, producers, 200) && holders.count(3);
    });
    INFO(g.first_error);
    CHECK(g.errors == 0);
    CHECK(Settled(g, producers, 200));
    CHECK(g.total == 2 * kPartitions * 200);  // every record once
    std::set<int> holders;
    for (const auto& [k, m] : g.holder) holders.insert(m);
    CHECK(holders.count(3) == 1);
  }

  SECTION("a member leaves cleanly: its streams move on from where it stopped") {
    REQUIRE_OK(members[1]->Close());
    members[1].reset();
    // Its kRevoked events were not polled: its streams go back to the group
    // at its last commit, which was after every poll.
    for (auto it = g.holder.begin(); it != g.holder.end();)
      it = it->second == 1 ? g.holder.erase(it) : std::next(it);
    REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), 100, 50) == "");
    REQUIRE(PublishRange(b.get(), "orders", AllPartitions(), 100, 50) == "");
    PollAll(members, &g, [&] { return Settled(g, producers, 150); });
    INFO(g.first_error);
    CHECK(g.errors == 0);
    CHECK(Settled(g, producers, 150));
    CHECK(g.total == 2 * kPartitions * 150);
    for (const auto& [k, m] : g.holder) CHECK(m != 1);
  }
}

namespace {

// A group member in its own process (tests/group_child.cc), its output read
// as it comes so the pipe never fills.
struct Member {
  ChildProcess child;
  std::string pending;
  std::vector<std::string> lines;
  bool alive = true;

  void Read() {
    char buf[65536];
    for (int i = 0; i < 64 && alive; ++i) {
      if (!WaitReadable(child.stdout_fd, 0)) return;
      const ssize_t n = read(child.stdout_fd, buf, sizeof buf);
      if (n <= 0) return;
      pending.append(buf, static_cast<size_t>(n));
      size_t start = 0, end;
      while ((end = pending.find('\n', start)) != std::string::npos) {
        lines.push_back(pending.substr(start, end - start));
        start = end + 1;
      }
      pending.erase(0, start);
    }
  }
};

// One line of a member's output: kind ('a', 'v', 'r'), stream, offset.
bool ParseLine(const std::string& l, char* kind, std::pair<std::string, uint32_t>* stream,
               uint64_t* off) {
  char producer[64];
  unsigned part;
  unsigned long long o;
  if (std::sscanf(l.c_str(), "%c %63s %u %llu", kind, producer, &part, &o) != 4) return false;
  *stream = {producer, part};
  *off = o;
  return true;
}

}  // namespace

TEST_CASE("a group member killed with SIGKILL: its streams move on, nothing is lost",
          "[group][crash]") {
  // 3 members on 2 producers x 8 partitions; records keep coming; one member
  // is killed mid-stream, then a fourth joins. Every record is processed by
  // the group at least once; per member and stream in offset order; records
  // processed twice only for streams of the killed member, and no more than
  // it had processed without a commit; moves between live members exact.
  TempDir dir;
  auto a = OpenProducer(dir.Sub("a"));
  auto b = OpenProducer(dir.Sub("b"));
  std::vector<std::string> argv{BROOK_GROUP_CHILD, "crashers", "orders", "1000"};
  for (const Producer* p : {a.get(), b.get()}) {
    argv.push_back(p->pub_endpoint());
    argv.push_back(p->replay_endpoint());
  }
  std::vector<Member> members(3);
  for (Member& m : members) m.child = Spawn(argv);
  const auto read_all = [&] {
    for (Member& m : members) m.Read();
  };
  const auto pause = [&](std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      read_all();
      std::this_thread::sleep_for(5ms);
    }
  };
  const uint64_t kRounds = 30, kPerRound = 20;  // records per partition per round
  for (uint64_t round = 0; round < kRounds; ++round) {
    REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), round * kPerRound, kPerRound) == "");
    REQUIRE(PublishRange(b.get(), "orders", AllPartitions(), round * kPerRound, kPerRound) == "");
    pause(40ms);
    if (round == 10) {
      members[1].Read();
      std::string rest;
      KillAndReap(&members[1].child, &rest);
      members[1].pending += rest;
      members[1].alive = false;
      size_t start = 0, end;
      while ((end = members[1].pending.find('\n', start)) != std::string::npos) {
        members[1].lines.push_back(members[1].pending.substr(start, end - start));
        start = end + 1;
      }
    }
    if (round == 20) {
      members.emplace_back();
      members.back().child = Spawn(argv);
    }
  }
  const uint64_t total = kRounds * kPerRound;  // per stream
  using Stream = std::pair<std::string, uint32_t>;
  const auto seen = [&] {
    std::map<Stream, std::set<uint64_t>> s;
    for (const Member& m : members)
      for (const std::string& l : m.lines) {
        char kind;
        Stream k;
        uint64_t off;
        if (ParseLine(l, &kind, &k, &off) && kind == 'r') s[k].insert(off);
      }
    return s;
  };
  // Which live member holds each stream, by its last assigned/revoked line.
  const auto held = [&] {
    std::map<Stream, int> n;
    for (size_t i = 0; i < members.size(); ++i) {
      if (i == 1) continue;  // killed
      std::set<Stream> mine;
      for (const std::string& l : members[i].lines) {
        char kind;
        Stream k;
        uint64_t off;
        if (!ParseLine(l, &kind, &k, &off)) continue;
        if (kind == 'a') mine.insert(k);
        if (kind == 'v') mine.erase(k);
      }
      for (const Stream& k : mine) ++n[k];
    }
    return n;
  };
  // Until every record was processed and the moves settled (bounded: 30 s).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto s = seen();
    size_t complete = 0;
    for (const auto& [k, offs] : s) complete += offs.size() == total;
    if (complete == 2 * kPartitions && held().size() == 2 * kPartitions) break;
    pause(50ms);
  }
  for (size_t i = 0; i < members.size(); ++i)
    if (members[i].alive) KillAndReap(&members[i].child);

  // Every record processed at least once.
  const auto s = seen();
  REQUIRE(s.size() == 2 * kPartitions);
  for (const auto& [k, offs] : s) {
    INFO(k.first << "/" << k.second);
    CHECK(offs.size() == total);
    CHECK(*offs.rbegin() == total - 1);
  }
  // Per member: each tenure of a stream in offset order from where it was
  // assigned. Once settled, every stream is held by exactly one of the live
  // members.
  uint64_t duplicates = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    std::map<Stream, uint64_t> expect;  // held streams -> next offset
    for (const std::string& l : members[i].lines) {
      char kind;
      Stream k;
      uint64_t off;
      REQUIRE(ParseLine(l, &kind, &k, &off));
      INFO("member " << i << ": " << l);
      if (kind == 'a') {
        expect[k] = off;
      } else if (kind == 'v') {
        CHECK(expect.count(k) == 1);
        expect.erase(k);
      } else {
        REQUIRE(expect.count(k) == 1);
        CHECK(off == expect[k]);
        expect[k] = off + 1;
      }
    }
  }
  const auto holders = held();
  CHECK(holders.size() == 2 * kPartitions);
  for (const auto& [k, n] : holders) {
    INFO(k.first << "/" << k.second);
    CHECK(n == 1);
  }
  // Records seen more than once: only what the killed member had not
  // committed (it commits after every poll of at most 100 records).
  std::map<Stream, std::map<uint64_t, int>> count;
  for (const Member& m : members)
    for (const std::string& l : m.lines) {
      char kind;
      Stream k;
      uint64_t off;
      if (ParseLine(l, &kind, &k, &off) && kind == 'r') ++count[k][off];
    }
  std::set<Stream> killed_streams;
  for (const std::string& l : members[1].lines)
    if (l[0] == 'a' || l[0] == 'r') {
      char kind;
      Stream k;
      uint64_t off;
      if (ParseLine(l, &kind, &k, &off)) killed_streams.insert(k);
    }
  for (const auto& [k, offs] : count)
    for (const auto& [off, n] : offs)
      if (n > 1) {
        INFO(k.first << "/" << k.second << "@" << off << " seen " << n << " times");
        CHECK(killed_streams.count(k) == 1);
        duplicates += static_cast<uint64_t>(n - 1);
      }
  CHECK(duplicates <= killed_streams.size() * 200);
}

TEST_CASE("a slow member keeps its streams while it heartbeats", "[group]") {
  // Its handler takes longer than the session timeout; the consumer's I/O
  // thread heartbeats meanwhile, so no stream moves to the other member.
  TempDir dir;
  auto a = OpenProducer(dir.Sub("a"));
  const std::vector<const Producer*> producers{a.get()};
  REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), 0, 10) == "");
  Group g;
  std::vector<std::unique_ptr<Consumer>> members;
  for (int i = 0; i < 2; ++i) members.push_back(OpenMember(MemberOptions(producers)));
  const auto both_hold = [&] {
    std::set<int> h;
    for (const auto& [k, m] : g.holder) h.insert(m);
    return h.size() == 2;
  };
  PollAll(members, &g, [&] { return Settled(g, {a.get()}, 10) && both_hold(); });
  REQUIRE(Settled(g, {a.get()}, 10));
  REQUIRE(both_hold());
  const auto before = g.holder;
  const uint64_t moves = g.moves;

  REQUIRE(PublishRange(a.get(), "orders", AllPartitions(), 10, 10) == "");
  // Member 0 is slow: one record takes 3 s, twice the session timeout.
  PollHandler slow = g.Handler(0);
  auto on_record = slow.on_record;
  bool slept = false;
  slow.on_record = [&](const StreamId& s, const RecordView& r) {
    if (!slept) {
      slept = true;
      std::this_thread::sleep_for(3s);
    }
    on_record(s, r);
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!Settled(g, {a.get()}, 20) && std::chrono::steady_clock::now() < deadline) {
    REQUIRE_OK(members[0]->Poll(slow, 500, 10ms));
    REQUIRE_OK(members[1]->Poll(g.Handler(1), 500, 10ms));
  }
  INFO(g.first_error);
  CHECK(slept);
  CHECK(g.errors == 0);
  CHECK(Settled(g, {a.get()}, 20));
  CHECK(g.moves == moves);  // nothing moved
  CHECK(g.holder == before);
}
