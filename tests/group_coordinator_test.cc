// The producer's group coordinator, driven by simulated members on a
// scripted clock.
//
// Method: each SimMember behaves as docs/GROUPS.md says a member must: one
// heartbeat at a time, and it applies only the answer to its latest one
// (an answer "lost" on the way is never applied); on a revoke it commits
// its position and drops the stream before its next heartbeat; it drops
// every stream of the producer once a session timeout has passed since it
// sent the last heartbeat that was answered (self-fencing). Every answer
// goes through the wire encoder and decoder first. After every step the
// tests check the safety property — every stream a member holds is owned
// by that member, under that generation, in the coordinator, so no two
// members ever hold a stream at once — and, once things settle, that every
// stream is held by exactly its target.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "node/group_coordinator.h"
#include "node/wire.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;
using brook::test::TempDir;
using ms = std::chrono::milliseconds;

namespace {

using StreamKey = std::pair<std::string, uint32_t>;  // topic, partition

MemberId Id(uint64_t seed) {
  // Spread like random ids: a splitmix64 sequence.
  MemberId m;
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < m.bytes.size(); i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (size_t b = 0; b < 8; ++b) m.bytes[i + b] = static_cast<uint8_t>(z >> (8 * b));
  }
  return m;
}

ProducerId Producer(uint8_t seed) {
  ProducerId p;
  for (size_t i = 0; i < p.bytes.size(); ++i) p.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return p;
}

// Positions in memory; can be told to fail.
class FakeStore final : public GroupPositionStore {
 public:
  Status Load(std::string_view group, std::vector<GroupPosition>* out) override {
    out->clear();
    if (fail_load) return Status::Unavailable("fake store: cannot read");
    auto it = data.find(std::string(group));
    if (it != data.end())
      for (const auto& [key, p] : it->second) out->push_back(p);
    return Status::OK();
  }
  Status Save(std::string_view group, const std::vector<GroupPosition>& positions) override {
    if (fail_save) return Status::ResourceExhausted("fake store: the disk is full");
    for (const GroupPosition& p : positions) data[std::string(group)][{p.topic, p.partition}] = p;
    ++saves;
    return Status::OK();
  }
  std::map<std::string, std::map<StreamKey, GroupPosition>> data;
  bool fail_load = false;
  bool fail_save = false;
  int saves = 0;
};

GroupCoordinatorOptions Options(uint64_t first_generation = 1ull << 32) {
  GroupCoordinatorOptions o;
  o.producer = Producer(1);
  o.first_generation = first_generation;
  o.restart_grace = ms(0);
  o.min_session_timeout = ms(100);
  o.max_session_timeout = ms(60000);
  return o;
}

// A commit's outcome for one stream (the member's copy of the answer).
struct CommitOutcome {
  StreamKey stream;
  CommitResult result;
};

struct Held {
  uint64_t generation = 0;
  uint64_t next = 0;  // the next offset it will process
  uint64_t epoch = 1;
};

// A member that follows the rules of docs/GROUPS.md.
class SimMember {
 public:
  SimMember(uint64_t seed, std::vector<std::string> topics, ms timeout = ms(1000),
            std::string group = "g")
      : id(Id(seed)), group(std::move(group)), topics(std::move(topics)), timeout(timeout) {}

  // One heartbeat. With lose_answer the answer never arrives (the member
  // will ignore it when it does: it is not the answer to its latest).
  Status Beat(GroupCoordinator& c, GroupClock::time_point now, bool lose_answer = false) {
    GroupRequest r;
    r.kind = Kind::kGroupHeartbeat;
    r.id = ++requests;
    r.group = group;
    r.member = id;
    r.session_timeout_ms = static_cast<uint32_t>(timeout.count());
    for (const std::string& t : topics) r.topics.push_back(t);
    for (const auto& [key, h] : held)
      r.held.push_back(GroupStream{key.first, key.second, h.generation});
    GroupAnswer a;
    Status s = c.Heartbeat(r, now, &a, &error);
    if (!s.ok()) return s;
    // Through the wire, as the member would receive it.
    std::string frame;
    EncodeGroupHeartbeatAnswer(a, &frame);
    GroupAnswer got;
    REQUIRE_OK(DecodeGroupAnswer(frame, &got));
    REQUIRE(got.id == r.id);
    if (lose_answer) return Status::OK();
    answered_sent = now;
    ever_answered = true;
    members = got.members;
    gained.clear();
    lost.clear();
    for (const GroupStream& rv : got.revoke) {
      auto it = held.find({std::string(rv.topic), rv.partition});
      if (it == held.end() || it->second.generation != rv.generation) continue;
      // Finish, commit, release.
      if (commit_on_revoke) {
        std::vector<CommitOutcome> results;
        REQUIRE_OK(Commit(c, now, {it->first}, &results));
      }
      lost.push_back(it->first);
      held.erase(it);
    }
    for (const GroupAssignment& as : got.assigned) {
      StreamKey key{std::string(as.topic), as.partition};
      auto it = held.find(key);
      if (it != held.end() && it->second.generation == as.generation) continue;
      REQUIRE(it == held.end());  // a new generation comes only after a release
      Held h;
      h.generation = as.generation;
      h.next = as.has_position ? as.next : 0;
      h.epoch = as.has_position ? as.epoch : 1;
      held[key] = h;
      gained.push_back(key);
      gained_at[key] = h.next;
    }
    return Status::OK();
  }

  // Commits the position of `streams` (default: all held).
  Status Commit(GroupCoordinator& c, GroupClock::time_point now, std::vector<StreamKey> streams,
                std::vector<CommitOutcome>* results) {
    if (streams.empty())
      for (const auto& [key, h] : held) streams.push_back(key);
    GroupRequest r;
    r.kind = Kind::kGroupCommit;
    r.id = ++requests;
    r.group = group;
    r.member = id;
    for (const StreamKey& k : streams) {
      const Held& h = held.at(k);
      r.commits.push_back(GroupCommitStream{k.first, k.second, h.generation, h.next, h.epoch});
    }
    GroupAnswer a;
    Status s = c.Commit(r, now, &a, &error);
    if (!s.ok()) return s;
    std::string frame;
    EncodeGroupCommitAnswer(a, &frame);
    GroupAnswer got;
    REQUIRE_OK(DecodeGroupAnswer(frame, &got));
    results->clear();
    for (const GroupCommitResult& r : got.results)
      results->push_back(CommitOutcome{{std::string(r.topic), r.partition}, r.result});
    return Status::OK();
  }

  // As a member must: no answer for a session timeout, nothing held.
  void SelfFence(GroupClock::time_point now) {
    if (ever_answered && now - answered_sent >= timeout) held.clear();
  }

  std::vector<StreamKey> Holding() const {
    std::vector<StreamKey> out;
    for (const auto& [key, h] : held) out.push_back(key);
    return out;
  }

  MemberId id;
  std::string group;
  std::vector<std::string> topics;
  ms timeout;
  bool commit_on_revoke = true;
  std::map<StreamKey, Held> held;
  std::vector<MemberId> members;
  std::vector<StreamKey> gained, lost;  // by the last answer applied (the user's callbacks)
  std::map<StreamKey, uint64_t> gained_at;
  ErrorCode error = ErrorCode::kInternal;  // the error answer for the last failed request
  GroupClock::time_point answered_sent;
  bool ever_answered = false;
  uint64_t requests = 0;
};

std::map<StreamKey, GroupStreamState> StateOf(const GroupCoordinator& c, const std::string& g) {
  std::map<StreamKey, GroupStreamState> out;
  for (GroupStreamState& s : c.Streams(g)) out[{s.topic, s.partition}] = s;
  return out;
}

// The safety property: whatever a member holds, the coordinator has it
// owned by that member under that generation. So no two members hold a
// stream at once.
// With allow_unowned (after a producer restart, during its grace) a held
// stream may also be one the coordinator has not heard of yet: nobody owns
// it, and nobody can be given it before the grace ends.
void CheckNoTwoHolders(const GroupCoordinator& c, const std::vector<SimMember*>& live,
                       GroupClock::time_point now, bool allow_unowned = false) {
  std::map<StreamKey, const SimMember*> holder;
  std::map<std::string, std::map<StreamKey, GroupStreamState>> state;
  for (SimMember* m : live) {
    m->SelfFence(now);
    if (!state.count(m->group)) state[m->group] = StateOf(c, m->group);
    for (const auto& [key, h] : m->held) {
      INFO("member " << m->id.ToHex() << " holds " << key.first << "/" << key.second
                     << " under generation " << h.generation);
      REQUIRE(holder.emplace(key, m).second);
      auto& streams = state[m->group];
      auto it = streams.find(key);
      if (allow_unowned && (it == streams.end() || !it->second.owned)) continue;
      REQUIRE(it != streams.end());
      INFO("the coordinator has it " << (it->second.owned ? "owned" : "free") << " by "
                                     << it->second.owner.ToHex() << " under generation "
                                     << it->second.generation);
      REQUIRE(it->second.owned);
      REQUIRE(it->second.owner == m->id);
      REQUIRE(it->second.generation == h.generation);
    }
  }
}

// Once settled: every stream of a followed topic is held by exactly one of
// the live members, its target, and the coordinator asks for no release.
void CheckSettled(const GroupCoordinator& c, const std::vector<SimMember*>& live,
                  const std::string& group = "g") {
  std::map<StreamKey, const SimMember*> holder;
  std::set<std::string> followed;
  for (SimMember* m : live) {
    for (const auto& [key, h] : m->held) holder[key] = m;
    followed.insert(m->topics.begin(), m->topics.end());
  }
  for (const auto& [key, s] : StateOf(c, group)) {
    if (!followed.count(key.first)) continue;
    INFO(key.first << "/" << key.second);
    REQUIRE(s.has_target);
    REQUIRE(s.owned);
    CHECK_FALSE(s.revoking);
    CHECK(s.owner == s.target);
    REQUIRE(holder.count(key));
    CHECK(holder[key]->id == s.owner);
  }
}

// Every member heartbeats `rounds` times, `step` apart, with expiry between.
void Settle(GroupCoordinator& c, const std::vector<SimMember*>& live, GroupClock::time_point* now,
            int rounds = 4, ms step = ms(100)) {
  for (int i = 0; i < rounds; ++i) {
    for (SimMember* m : live) {
      REQUIRE_OK(m->Beat(c, *now));
      CheckNoTwoHolders(c, live, *now);
    }
    *now += step;
    c.Expire(*now);
    CheckNoTwoHolders(c, live, *now);
  }
}

std::map<MemberId, int> CountTargets(const GroupCoordinator& c, const std::string& group = "g") {
  std::map<MemberId, int> n;
  for (const GroupStreamState& s : c.Streams(group))
    if (s.has_target) ++n[s.target];
  return n;
}

}  // namespace

TEST_CASE("the rendezvous score is the documented hash", "[groups][coordinator]") {
  // The vectors of docs/GROUPS.md, so another language can check its own.
  MemberId member;
  ProducerId producer;
  for (size_t i = 0; i < 16; ++i) {
    member.bytes[i] = static_cast<uint8_t>(i);
    producer.bytes[i] = static_cast<uint8_t>(0xf0 + i);
  }
  CHECK(RendezvousScore("billing", member, producer, "orders", 0) == 0x6ec0de1d0ce3df23ull);
  CHECK(RendezvousScore("billing", member, producer, "orders", 1) == 0xcb3c6479bda75b52ull);
  CHECK(RendezvousScore("billing", member, producer, "orders", 7) == 0x9b2da5cdd00d866cull);
  CHECK(RendezvousScore("g", member, producer, "t", 65536) == 0x25120d65896d596cull);
}

TEST_CASE("assignment is deterministic and balanced: 8 partitions over 3 members",
          "[groups][coordinator]") {
  // Over many random member ids: each of 3 members gets 2 or 3 of 8
  // partitions (a rendezvous ranking with a cap of ceil(8/3) per member),
  // every partition has one target, and the result does not depend on the
  // order in which the members joined.
  for (uint64_t trial = 0; trial < 200; ++trial) {
    INFO("trial " << trial);
    FakeStore store;
    auto now = GroupClock::time_point{};
    GroupCoordinator a(Options(), &store, now), b(Options(), &store, now);
    a.SetStreams({{"t", 8}}, now);
    b.SetStreams({{"t", 8}}, now);
    std::vector<SimMember> members;
    for (uint64_t i = 0; i < 3; ++i)
      members.emplace_back(trial * 3 + i, std::vector<std::string>{"t"});
    for (size_t i = 0; i < 3; ++i) REQUIRE_OK(members[i].Beat(a, now));
    for (size_t i = 3; i-- > 0;) {
      SimMember copy = members[i];
      REQUIRE_OK(copy.Beat(b, now));
    }
    auto counts = CountTargets(a);
    REQUIRE(counts.size() == 3);
    for (const auto& [id, n] : counts) {
      CHECK(n >= 2);
      CHECK(n <= 3);
    }
    auto sa = a.Streams("g"), sb = b.Streams("g");
    REQUIRE(sa.size() == 8);
    for (size_t p = 0; p < 8; ++p) {
      CHECK(sa[p].has_target);
      CHECK(sa[p].target == sb[p].target);
    }
  }
}

TEST_CASE("another producer spreads the same partitions independently", "[groups][coordinator]") {
  // The producer id is part of the hash: with 2 producers x 8 partitions and
  // 3 members, the targets of partition p differ between the producers for
  // some p, and each member gets 4..6 of the 16.
  FakeStore store;
  auto now = GroupClock::time_point{};
  auto o1 = Options(), o2 = Options();
  o2.producer = Producer(2);
  GroupCoordinator p1(o1, &store, now), p2(o2, &store, now);
  p1.SetStreams({{"t", 8}}, now);
  p2.SetStreams({{"t", 8}}, now);
  std::vector<SimMember> members;
  for (uint64_t i = 0; i < 3; ++i) members.emplace_back(100 + i, std::vector<std::string>{"t"});
  for (SimMember& m : members) {
    REQUIRE_OK(m.Beat(p1, now));
    REQUIRE_OK(m.Beat(p2, now));
  }
  auto s1 = p1.Streams("g"), s2 = p2.Streams("g");
  int differ = 0;
  for (size_t p = 0; p < 8; ++p) differ += s1[p].target != s2[p].target;
  CHECK(differ > 0);
  auto c1 = CountTargets(p1), c2 = CountTargets(p2);
  for (const SimMember& m : members) {
    CHECK(c1[m.id] + c2[m.id] >= 4);
    CHECK(c1[m.id] + c2[m.id] <= 6);
  }
}

TEST_CASE("a join hands streams over revoke-before-assign, never to two holders at once",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 8}, {"other", 2}}, now);
  SimMember a(1, {"t"}), b(2, {"t"}), cc(3, {"t"});
  std::vector<SimMember*> live{&a};

  // Alone, a gets all 8, each with a fresh generation and no position.
  REQUIRE_OK(a.Beat(c, now));
  CHECK(a.held.size() == 8);
  CHECK(a.gained.size() == 8);
  for (const auto& [key, h] : a.held) CHECK(h.generation > (1ull << 32));
  CHECK(a.members == std::vector<MemberId>{a.id});
  CheckNoTwoHolders(c, live, now);
  // a processes some records and commits them.
  for (auto& [key, h] : a.held) h.next = 10 + key.second;
  std::vector<CommitOutcome> results;
  REQUIRE_OK(a.Commit(c, now, {}, &results));
  for (const CommitOutcome& r : results) CHECK(r.result == CommitResult::kAccepted);
  for (auto& [key, h] : a.held) h.next += 5;  // processed further, not committed

  // b joins: its first answer gives it nothing a still holds.
  live.push_back(&b);
  now += ms(100);
  REQUIRE_OK(b.Beat(c, now));
  CheckNoTwoHolders(c, live, now);
  CHECK(b.held.empty());
  CHECK(b.members.size() == 2);
  const auto b_targets = CountTargets(c)[b.id];
  CHECK(b_targets == 4);
  // a hears which to release: it commits them (where it got to) and lets go.
  REQUIRE_OK(a.Beat(c, now));
  CHECK(a.lost.size() == 4);
  CHECK(a.held.size() == 4);
  CheckNoTwoHolders(c, live, now);
  // b still has nothing: a has not said it released them.
  REQUIRE_OK(b.Beat(c, now));
  CHECK(b.held.empty());
  CheckNoTwoHolders(c, live, now);
  // a's next heartbeat no longer lists them: released. b takes them over
  // from a's last commit, which a made before releasing: no duplicates.
  REQUIRE_OK(a.Beat(c, now));
  CheckNoTwoHolders(c, live, now);
  REQUIRE_OK(b.Beat(c, now));
  CheckNoTwoHolders(c, live, now);
  CHECK(b.held.size() == 4);
  for (const auto& [key, h] : b.held) {
    CHECK(h.next == 15 + key.second);
    CHECK(h.generation > (1ull << 32) + 8);
  }
  CheckSettled(c, live);

  // A third member: 3, 3, 2.
  live.push_back(&cc);
  Settle(c, live, &now);
  CheckSettled(c, live);
  std::vector<size_t> sizes{a.held.size(), b.held.size(), cc.held.size()};
  std::sort(sizes.begin(), sizes.end());
  CHECK(sizes == std::vector<size_t>{2, 3, 3});
  // Nobody follows "other": no targets, no owners.
  for (const GroupStreamState& s : c.Streams("g"))
    if (s.topic == "other") CHECK_FALSE(s.owned);
}

TEST_CASE("lost answers never make two holders: an assignment is released unless confirmed",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 4}}, now);
  SimMember a(1, {"t"}), b(2, {"t"});
  std::vector<SimMember*> live{&a, &b};
  // a's first answer (all 4 assigned) is lost: a holds nothing, and its next
  // heartbeat, listing nothing, releases them; they are assigned again.
  REQUIRE_OK(a.Beat(c, now, /*lose_answer=*/true));
  CheckNoTwoHolders(c, live, now);
  const auto first = StateOf(c, "g");
  REQUIRE_OK(a.Beat(c, now));
  CHECK(a.held.size() == 4);
  for (const auto& [key, h] : a.held) CHECK(h.generation > first.at(key).generation);
  CheckNoTwoHolders(c, live, now);

  // b joins; a's answer with the revokes is lost, so a keeps processing them
  // and lists them again: they stay a's, and b gets none of them yet.
  REQUIRE_OK(b.Beat(c, now));
  REQUIRE_OK(a.Beat(c, now, /*lose_answer=*/true));
  CheckNoTwoHolders(c, live, now);
  REQUIRE_OK(b.Beat(c, now));
  CHECK(b.held.empty());
  REQUIRE_OK(a.Beat(c, now));  // this answer arrives: a releases two
  CHECK(a.held.size() == 2);
  CheckNoTwoHolders(c, live, now);
  // b's answer assigning them is lost; its next heartbeat does not list them,
  // so they are released and assigned again, under new generations.
  REQUIRE_OK(a.Beat(c, now));
  REQUIRE_OK(b.Beat(c, now, /*lose_answer=*/true));
  CheckNoTwoHolders(c, live, now);
  REQUIRE_OK(b.Beat(c, now));
  CHECK(b.held.size() == 2);
  CheckNoTwoHolders(c, live, now);
  CheckSettled(c, live);
}

TEST_CASE("an assignment its owner never heard of moves on without waiting for that owner",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 8}}, now);
  SimMember a(1, {"t"}, ms(10000)), b(2, {"t"}, ms(500)), d(3, {"t"}, ms(10000));
  std::vector<SimMember*> live{&a, &b};
  Settle(c, live, &now);
  REQUIRE(b.held.size() == 4);
  // b dies; on expiry its streams are assigned to a, which has not
  // heartbeated since and so has not been told.
  const auto b_streams = b.Holding();
  live = {&a};
  now += ms(600);
  CHECK(c.Expire(now) == 1);
  int waiting_for_a = 0;
  for (const GroupStreamState& s : c.Streams("g")) waiting_for_a += s.owned && s.owner == a.id;
  CHECK(waiting_for_a == 8);
  // d joins before a heartbeats: what d is to get of b's old streams comes
  // in its first answer, not after a's next heartbeat; a's own streams
  // that move to d wait for a to release them.
  live.push_back(&d);
  REQUIRE_OK(d.Beat(c, now));
  CheckNoTwoHolders(c, live, now);
  std::vector<StreamKey> expected;
  for (const GroupStreamState& s : c.Streams("g"))
    if (s.target == d.id &&
        std::count(b_streams.begin(), b_streams.end(), StreamKey{s.topic, s.partition}))
      expected.push_back({s.topic, s.partition});
  CHECK_FALSE(expected.empty());
  CHECK(d.Holding() == expected);
  Settle(c, live, &now);
  CheckSettled(c, live);
}

TEST_CASE("a member that leaves hands its streams on at once", "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 8}}, now);
  SimMember a(1, {"t"}), b(2, {"t"});
  std::vector<SimMember*> live{&a, &b};
  Settle(c, live, &now);
  CheckSettled(c, live);
  REQUIRE(b.held.size() == 4);
  for (auto& [key, h] : b.held) h.next = 100;

  SECTION("with a leave heartbeat (no topics): gone at once, its streams released") {
    // As a member leaves: commit, then a heartbeat with no topics and nothing held.
    std::vector<CommitOutcome> results;
    REQUIRE_OK(b.Commit(c, now, {}, &results));
    b.held.clear();
    b.topics.clear();
    REQUIRE_OK(b.Beat(c, now));
    CHECK(b.members == std::vector<MemberId>{a.id});
    CHECK(c.Members("g") == std::vector<MemberId>{a.id});
    live = {&a};
    REQUIRE_OK(a.Beat(c, now));  // no need to wait for b's session to end
    CHECK(a.held.size() == 8);
    for (const StreamKey& k : a.gained) CHECK(a.held[k].next == 100);
    CheckSettled(c, live);
  }
  SECTION("with a leave heartbeat that still lists streams: removed once it releases them") {
    b.topics.clear();
    REQUIRE_OK(b.Beat(c, now));  // told to release all four
    CHECK(b.held.empty());
    CHECK(c.Members("g").size() == 2);
    REQUIRE_OK(b.Beat(c, now));  // lists nothing: released, removed
    CHECK(c.Members("g") == std::vector<MemberId>{a.id});
    live = {&a};
    REQUIRE_OK(a.Beat(c, now));
    CHECK(a.held.size() == 8);
    for (const StreamKey& k : a.gained) CHECK(a.held[k].next == 100);  // b committed on revoke
  }
  SECTION("by falling silent after one heartbeat that lists nothing") {
    b.held.clear();  // it stopped processing and says so
    REQUIRE_OK(b.Beat(c, now, /*lose_answer=*/true));
    live = {&a};
    // Released, but b is still a live member and the target of its streams:
    // they wait for b (assigned, never confirmed) until its session ends.
    const auto b_last = now;
    for (now += ms(100); now - b_last <= b.timeout; now += ms(100)) {
      c.Expire(now);
      REQUIRE_OK(a.Beat(c, now));
      CHECK(a.held.size() == 4);
      CheckNoTwoHolders(c, live, now);
    }
    c.Expire(now);
    REQUIRE_OK(a.Beat(c, now));
    CHECK(a.held.size() == 8);
    CheckSettled(c, live);
  }
  // A leave from a member the producer does not know is harmless.
  SimMember stranger(99, {});
  REQUIRE_OK(stranger.Beat(c, now));
  CHECK(c.Members("g") == std::vector<MemberId>{a.id});
}

TEST_CASE("a dead member's streams move after its session timeout, not before",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 8}}, now);
  SimMember a(1, {"t"}), b(2, {"t"}, ms(3000));
  std::vector<SimMember*> live{&a, &b};
  Settle(c, live, &now);
  REQUIRE(b.held.size() == 4);
  // b processes 20 records of each stream, commits 12, then dies (SIGKILL).
  for (auto& [key, h] : b.held) h.next = 12;
  std::vector<CommitOutcome> results;
  REQUIRE_OK(b.Commit(c, now, {}, &results));
  const auto b_streams = b.Holding();
  const auto b_last = now - ms(100);  // its last heartbeat, in Settle
  live = {&a};
  // Until b's session timeout has passed, its streams stay b's.
  for (; now - b_last <= ms(3000); now += ms(250)) {
    CHECK(c.Expire(now) == 0);
    REQUIRE_OK(a.Beat(c, now));
    CHECK(a.held.size() == 4);
    CHECK(a.members.size() == 2);
  }
  // Just after, b expires and a takes its streams over from b's commit: the
  // duplicates a will process are exactly b's uncommitted 12..19.
  CHECK(c.Expire(now) == 1);
  REQUIRE_OK(a.Beat(c, now));
  CHECK(a.members == std::vector<MemberId>{a.id});
  CHECK(a.held.size() == 8);
  for (const StreamKey& k : b_streams) {
    CHECK(a.held[k].next == 12);
    CHECK(a.gained_at[k] == 12);
  }
  CheckSettled(c, live);
}

TEST_CASE("a slow member that keeps heartbeating is never evicted", "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 8}}, now);
  SimMember a(1, {"t"}), slow(2, {"t"}, ms(1000));
  std::vector<SimMember*> live{&a, &slow};
  Settle(c, live, &now);
  const auto mine = slow.Holding();
  REQUIRE(mine.size() == 4);
  // It processes nothing and commits nothing for 100 s, heartbeating every
  // 900 ms (inside its 1 s timeout) while a heartbeats every 300 ms.
  for (int i = 0; i < 333; ++i) {
    now += ms(300);
    CHECK(c.Expire(now) == 0);
    REQUIRE_OK(a.Beat(c, now));
    if (i % 3 == 1) REQUIRE_OK(slow.Beat(c, now));
  }
  CHECK(slow.Holding() == mine);
  CHECK(c.Members("g").size() == 2);
  CheckSettled(c, live);
}

TEST_CASE("commits are fenced: only the current owner's, under its generation, are stored",
          "[groups][coordinator]") {
  TempDir dir;
  auto journal = test::OpenJournal(test::TestOptions(dir.path()));
  TopicConfig tc;
  tc.partitions = 2;
  REQUIRE_OK(journal->CreateTopic("t", tc));
  JournalGroupStore store(journal.get());
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 2}}, now);
  SimMember a(1, {"t"}), b(2, {"t"});
  REQUIRE_OK(a.Beat(c, now));
  const StreamKey t0{"t", 0}, t1{"t", 1};
  REQUIRE(a.held.size() == 2);
  a.held[t0].next = 40;
  a.held[t0].epoch = journal->epoch();
  std::vector<CommitOutcome> results;
  REQUIRE_OK(a.Commit(c, now, {t0}, &results));
  REQUIRE(results.size() == 1);
  CHECK(results[0].result == CommitResult::kAccepted);
  GroupPosition stored;
  REQUIRE_OK(journal->GetGroupPosition("g", "t", 0, &stored));
  CHECK(stored.next == 40);
  CHECK(stored.epoch == journal->epoch());

  // A stale generation is refused, and changes nothing.
  const uint64_t gen = a.held[t0].generation;
  a.held[t0].generation = gen - 1;
  a.held[t0].next = 999;
  REQUIRE_OK(a.Commit(c, now, {t0}, &results));
  CHECK(results[0].result == CommitResult::kFenced);
  a.held[t0].generation = gen;
  a.held[t0].next = 41;
  // Another member (not the owner) is refused, even with the right generation.
  b.held[t0] = a.held[t0];
  b.held[t0].next = 998;
  REQUIRE_OK(b.Commit(c, now, {t0}, &results));
  CHECK(results[0].result == CommitResult::kFenced);
  b.held.clear();
  REQUIRE_OK(journal->GetGroupPosition("g", "t", 0, &stored));
  CHECK(stored.next == 40);

  // A stream the producer does not have is unknown; the rest of the same
  // commit still counts.
  GroupRequest r;
  r.kind = Kind::kGroupCommit;
  r.group = "g";
  r.member = a.id;
  r.commits = {{"t", 1, a.held[t1].generation, 7, 1}, {"nope", 0, 5, 1, 1}, {"t", 9, 5, 1, 1}};
  GroupAnswer ans;
  REQUIRE_OK(c.Commit(r, now, &ans));
  REQUIRE(ans.results.size() == 3);
  CHECK(ans.results[0].result == CommitResult::kAccepted);
  CHECK(ans.results[1].result == CommitResult::kUnknownStream);
  CHECK(ans.results[2].result == CommitResult::kUnknownStream);
  r.commits = {{"t", 1, 5, 7, 1}, {"t", 1, 5, 8, 1}};
  Status s = c.Commit(r, now, &ans);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("t/1 is committed twice") != std::string::npos);

  // t0 moves to b. The old owner's commit under its old generation is
  // fenced after its release; b's under the new generation is accepted.
  std::vector<SimMember*> live{&a, &b};
  a.commit_on_revoke = false;  // a crashes in the middle of the hand-over...
  auto stale = a.held;
  Settle(c, live, &now);
  CheckSettled(c, live);
  const StreamKey moved = b.held.begin()->first;
  a.held[moved] = stale[moved];  // ...and a delayed commit of it arrives late
  a.held[moved].next = 500;
  REQUIRE_OK(a.Commit(c, now, {moved}, &results));
  CHECK(results[0].result == CommitResult::kFenced);
  a.held.erase(moved);
  b.held[moved].next = 45;
  REQUIRE_OK(b.Commit(c, now, {moved}, &results));
  CHECK(results[0].result == CommitResult::kAccepted);
  REQUIRE_OK(journal->GetGroupPosition("g", moved.first, moved.second, &stored));
  CHECK(stored.next == 45);

  // A group the producer does not know: fenced, nothing stored.
  SimMember stranger(7, {"t"}, ms(1000), "other");
  stranger.held[t0] = Held{gen, 3, 1};
  REQUIRE_OK(stranger.Commit(c, now, {t0}, &results));
  CHECK(results[0].result == CommitResult::kFenced);
  CHECK(journal->GetGroupPosition("other", "t", 0, &stored).IsNotFound());
}

TEST_CASE("a commit the store cannot keep is refused whole and changes nothing",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 2}}, now);
  SimMember a(1, {"t"});
  REQUIRE_OK(a.Beat(c, now));
  for (auto& [key, h] : a.held) h.next = 9;
  store.fail_save = true;
  std::vector<CommitOutcome> results;
  Status s = a.Commit(c, now, {}, &results);
  CHECK(s.IsResourceExhausted());
  CHECK(s.ToString().find("disk is full") != std::string::npos);
  CHECK(a.error == ErrorCode::kInternal);  // not a group limit, whatever its Status code
  CHECK(store.data.empty());
  for (const GroupStreamState& st : c.Streams("g")) CHECK_FALSE(st.has_position);
  store.fail_save = false;
  REQUIRE_OK(a.Commit(c, now, {}, &results));
  for (const GroupStreamState& st : c.Streams("g")) CHECK(st.next == 9);

  // A group whose positions cannot be read does not join (and can retry).
  store.fail_load = true;
  SimMember b(2, {"t"}, ms(1000), "h");
  s = b.Beat(c, now);
  CHECK(s.IsUnavailable());
  CHECK(b.error == ErrorCode::kInternal);
  CHECK(c.group_count() == 1);
  store.fail_load = false;
  REQUIRE_OK(b.Beat(c, now));
  CHECK(b.held.size() == 2);
}

TEST_CASE("the group's committed positions survive a producer restart", "[groups][coordinator]") {
  // Method: a real journal; the coordinator is rebuilt after the journal is
  // closed and opened again (a new epoch), as a restarted producer does. A
  // member that kept running claims its streams and keeps them (adopted);
  // the streams of a member that died while the producer was down are
  // assigned only after the restart grace, from the positions committed
  // before the restart.
  TempDir dir;
  const auto jo = test::TestOptions(dir.path());
  auto journal = test::OpenJournal(jo);
  TopicConfig tc;
  tc.partitions = 6;
  REQUIRE_OK(journal->CreateTopic("t", tc));
  auto now = GroupClock::time_point{} + ms(5000);
  SimMember a(1, {"t"}), b(2, {"t"});
  {
    JournalGroupStore store(journal.get());
    GroupCoordinator c(Options(journal->epoch() << 32), &store, now);
    c.SetStreams({{"t", 6}}, now);
    std::vector<SimMember*> live{&a, &b};
    Settle(c, live, &now);
    CheckSettled(c, live);
    for (SimMember* m : live) {
      for (auto& [key, h] : m->held) {
        h.next = 100 + key.second;
        h.epoch = journal->epoch();
      }
      std::vector<CommitOutcome> results;
      REQUIRE_OK(m->Commit(c, now, {}, &results));
    }
  }
  REQUIRE_OK(journal->Close());
  journal.reset();
  journal = test::OpenJournal(jo);  // epoch + 1
  JournalGroupStore store(journal.get());
  auto o = Options(journal->epoch() << 32);
  o.restart_grace = ms(2000);
  const auto restart = now;
  GroupCoordinator c(o, &store, now);
  c.SetStreams({{"t", 6}}, now);
  const auto a_streams = a.held;
  const auto b_streams = b.Holding();
  REQUIRE(a_streams.size() == 3);
  std::vector<SimMember*> live{&a};  // b died while the producer was down

  // a claims its streams: adopted under the generations it holds, no churn.
  REQUIRE_OK(a.Beat(c, now));
  CHECK(a.held.size() == 3);
  CHECK(a.lost.empty());
  for (const auto& [key, h] : a_streams) CHECK(a.held.at(key).generation == h.generation);
  CheckNoTwoHolders(c, live, now);
  // b's streams wait out the grace, though a is the only member now.
  for (now += ms(250); now - restart < ms(2000); now += ms(250)) {
    c.Expire(now);
    REQUIRE_OK(a.Beat(c, now));
    CHECK(a.held.size() <= 3);
    CheckNoTwoHolders(c, live, now);
  }
  c.Expire(now);
  Settle(c, live, &now);
  CheckSettled(c, live);
  REQUIRE(a.held.size() == 6);
  for (const StreamKey& k : b_streams) {
    CHECK(a.gained_at.at(k) == 100 + k.second);  // b's commit, kept by the journal
    CHECK(a.held.at(k).generation > (journal->epoch() << 32));
  }
  // A claim with a generation from before the restart, after the grace, of
  // a stream someone else owns: refused.
  SimMember late(3, {"t"});
  late.held[b_streams[0]] = Held{1, 0, 1};
  REQUIRE_OK(late.Beat(c, now));
  CHECK(late.held.count(b_streams[0]) == 0);
}

TEST_CASE("a claim from before a restart is adopted only during the grace and only when free",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  auto o = Options(5ull << 32);
  o.restart_grace = ms(1000);
  GroupCoordinator c(o, &store, now);
  c.SetStreams({{"t", 2}}, now);
  SimMember a(1, {"t"}), b(2, {"t"});
  const StreamKey t0{"t", 0};
  // Both claim t0 (only one of them can be right): the first keeps it.
  a.held[t0] = Held{(4ull << 32) + 3, 0, 1};
  b.held[t0] = Held{(4ull << 32) + 2, 0, 1};
  REQUIRE_OK(a.Beat(c, now));
  REQUIRE_OK(b.Beat(c, now));
  CHECK(a.held.count(t0) == 1);
  CHECK(b.held.count(t0) == 0);
  std::vector<SimMember*> live{&a, &b};
  CheckNoTwoHolders(c, live, now);
  // A claim under a generation of this run that the coordinator did not
  // issue to it is refused.
  SimMember d(3, {"t"});
  d.held[{"t", 1}] = Held{(5ull << 32) + 100, 0, 1};
  REQUIRE_OK(d.Beat(c, now));
  CHECK(d.held.empty());
}

TEST_CASE("limits: groups, members and session timeouts are refused with clear errors",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  auto o = Options();
  o.max_groups = 2;
  o.max_members_per_group = 2;
  o.max_members = 3;
  GroupCoordinator c(o, &store, now);
  c.SetStreams({{"t", 4}}, now);
  SimMember a(1, {"t"}, ms(1000), "g1"), b(2, {"t"}, ms(1000), "g1"), d(3, {"t"}, ms(1000), "g1");
  REQUIRE_OK(a.Beat(c, now));
  REQUIRE_OK(b.Beat(c, now));
  Status s = d.Beat(c, now);
  CHECK(s.IsResourceExhausted());
  CHECK(s.ToString().find("max_members_per_group") != std::string::npos);
  CHECK(d.error == ErrorCode::kGroupLimit);
  SimMember e(4, {"t"}, ms(1000), "g2"), f(5, {"t"}, ms(1000), "g2"), g(6, {"t"}, ms(1000), "g3");
  REQUIRE_OK(e.Beat(c, now));
  s = f.Beat(c, now);
  CHECK(s.IsResourceExhausted());
  CHECK(s.ToString().find("max_members)") != std::string::npos);
  CHECK(f.error == ErrorCode::kGroupLimit);
  s = g.Beat(c, now);
  CHECK(s.IsResourceExhausted());
  CHECK(s.ToString().find("max_groups") != std::string::npos);
  CHECK(g.error == ErrorCode::kGroupLimit);
  CHECK(c.group_count() == 2);
  CHECK(c.member_count() == 3);
  // Room is made when members expire.
  now += ms(1001);
  CHECK(c.Expire(now) == 3);
  CHECK(c.group_count() == 0);
  REQUIRE_OK(g.Beat(c, now));

  SimMember quick(7, {"t"}, ms(50)), slow(8, {"t"}, ms(60001));
  s = quick.Beat(c, now);
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("50 ms is outside 100 ms..60000 ms") != std::string::npos);
  CHECK(quick.error == ErrorCode::kBadRequest);
  CHECK(slow.Beat(c, now).IsInvalidArgument());
  SimMember badname(9, {"t"}, ms(1000), "a\tb");
  CHECK(badname.Beat(c, now).IsInvalidArgument());
  // Options name the bad field.
  CHECK_OK(ValidateGroupCoordinatorOptions(Options(), "ProducerOptions::groups"));
  auto bad = Options();
  bad.max_members_per_group = kMaxGroupMembers + 1;
  s = ValidateGroupCoordinatorOptions(bad, "ProducerOptions::groups");
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("ProducerOptions::groups.max_members_per_group") != std::string::npos);
  bad = Options();
  bad.min_session_timeout = ms(0);
  CHECK(ValidateGroupCoordinatorOptions(bad, "x").ToString().find("min_session_timeout") !=
        std::string::npos);
  bad = Options();
  bad.max_session_timeout = ms(99);
  CHECK(ValidateGroupCoordinatorOptions(bad, "x").ToString().find("max_session_timeout") !=
        std::string::npos);
  bad = Options();
  bad.max_groups = 0;
  CHECK(ValidateGroupCoordinatorOptions(bad, "x").IsInvalidArgument());
}

TEST_CASE("new topics are assigned at the members' next heartbeats; a removed one is released",
          "[groups][coordinator]") {
  FakeStore store;
  auto now = GroupClock::time_point{};
  GroupCoordinator c(Options(), &store, now);
  c.SetStreams({{"t", 2}}, now);
  SimMember a(1, {"t", "later"}), b(2, {"t", "later"});
  std::vector<SimMember*> live{&a, &b};
  Settle(c, live, &now);
  CHECK(a.held.size() + b.held.size() == 2);
  c.SetStreams({{"t", 2}, {"later", 4}}, now);
  Settle(c, live, &now);
  CheckSettled(c, live);
  CHECK(a.held.size() + b.held.size() == 6);
  c.SetStreams({{"later", 4}}, now);  // "t" is gone from this producer
  // Until their next heartbeats the members still hold streams of "t" (no
  // one else can get them: they are not the producer's any more).
  for (SimMember* m : live) REQUIRE_OK(m->Beat(c, now));
  Settle(c, live, &now);
  CHECK(a.held.size() + b.held.size() == 4);
  for (SimMember* m : live)
    for (const auto& [key, h] : m->held) CHECK(key.first == "later");
  CheckSettled(c, live);
}

TEST_CASE("random joins, deaths, pauses, leaves, restarts and lost answers never make two holders",
          "[groups][coordinator]") {
  // Method: a seeded random schedule of events on the scripted clock; the
  // safety property is checked after every event. Each member also
  // "processes" records and commits now and then; whenever a member gains a
  // stream, it must start exactly at the last accepted commit (so nothing is
  // skipped and the duplicates are exactly what the previous owner had
  // processed but not committed). The producer restarts now and then: the
  // coordinator is rebuilt from the store under a new epoch, with the
  // default restart grace. At the end the live members heartbeat until they
  // settle, and every stream must be held by its target.
  // Counted over all seeds, to show the schedules reach every case.
  int restarts = 0, gains = 0, releases = 0, expired = 0, kept = 0, fenced = 0, lost = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
    FakeStore store;
    auto now = GroupClock::time_point{};
    uint64_t epoch = 1;
    auto o = Options(epoch << 32);
    o.max_session_timeout = ms(1500);
    auto c = std::make_unique<GroupCoordinator>(o, &store, now);
    c->SetStreams({{"t", 8}, {"u", 3}}, now);
    auto grace_end = now;
    std::vector<std::unique_ptr<SimMember>> all;
    std::vector<SimMember*> running;  // not dead (a paused one runs, it just cannot talk)
    std::set<SimMember*> paused;
    std::map<StreamKey, uint64_t> committed;  // the last accepted commit
    uint64_t next_seed = seed * 1000;
    // A heartbeat; a revoke in its answer makes the member commit first, so
    // note what was accepted; every stream gained starts at the last commit.
    auto beat = [&](SimMember* m, bool lose) {
      std::map<StreamKey, uint64_t> before;
      for (const auto& [k, h] : m->held) before[k] = h.next;
      REQUIRE_OK(m->Beat(*c, now, lose));
      lost += lose;
      if (lose) return;
      gains += static_cast<int>(m->gained.size());
      releases += static_cast<int>(m->lost.size());
      for (const auto& [k, h] : m->held) kept += h.generation <= o.first_generation;
      for (const StreamKey& k : m->lost) committed[k] = before[k];
      for (const StreamKey& k : m->gained) {
        INFO(k.first << "/" << k.second);
        CHECK(m->held.at(k).next == committed[k]);
      }
    };
    // Commits all it holds. Whatever a member holds it owns, so nothing is
    // fenced — except, after a restart, a stream the new coordinator has not
    // heard of yet: the member drops it, as a member must on a fenced commit.
    auto commit = [&](SimMember* m) {
      std::vector<CommitOutcome> results;
      REQUIRE_OK(m->Commit(*c, now, {}, &results));
      for (const CommitOutcome& r : results) {
        if (r.result == CommitResult::kAccepted) {
          committed[r.stream] = m->held.at(r.stream).next;
        } else {
          CHECK(now < grace_end);
          m->held.erase(r.stream);
          ++fenced;
        }
      }
    };
    for (int step = 0; step < 400; ++step) {
      const size_t what = pick(100);
      if (what < 8 && running.size() < 5) {
        std::vector<std::string> topics{"t"};
        if (pick(2)) topics.push_back("u");
        all.push_back(std::make_unique<SimMember>(++next_seed, topics,
                                                  ms(500 + 100 * static_cast<int>(pick(10)))));
        running.push_back(all.back().get());
      } else if (what < 11 && !running.empty()) {  // SIGKILL
        const size_t i = pick(running.size());
        paused.erase(running[i]);
        running.erase(running.begin() + static_cast<long>(i));
      } else if (what < 14 && !running.empty()) {  // pause or resume (network cut)
        SimMember* m = running[pick(running.size())];
        if (!paused.erase(m)) paused.insert(m);
      } else if (what < 16 && !running.empty()) {  // graceful leave
        const size_t i = pick(running.size());
        SimMember* m = running[i];
        if (!paused.count(m)) {
          if (!m->held.empty()) commit(m);
          m->held.clear();
          m->topics.clear();
          REQUIRE_OK(m->Beat(*c, now));
          running.erase(running.begin() + static_cast<long>(i));
        }
      } else if (what < 17) {  // the producer restarts
        o.first_generation = ++epoch << 32;
        o.restart_grace = ms(-1);  // the default: max_session_timeout
        c = std::make_unique<GroupCoordinator>(o, &store, now);
        c->SetStreams({{"t", 8}, {"u", 3}}, now);
        grace_end = now + o.max_session_timeout;
        ++restarts;
      } else if (what < 70 && !running.empty()) {  // a heartbeat, its answer sometimes lost
        SimMember* m = running[pick(running.size())];
        if (!paused.count(m)) beat(m, pick(10) == 0);
      } else if (what < 85 && !running.empty()) {  // process records, maybe commit
        SimMember* m = running[pick(running.size())];
        for (auto& [k, h] : m->held) h.next += pick(5);
        if (!paused.count(m) && !m->held.empty() && pick(2)) commit(m);
      } else {
        now += ms(50 + 50 * static_cast<int>(pick(6)));
        expired += static_cast<int>(c->Expire(now));
      }
      CheckNoTwoHolders(*c, running, now, now < grace_end);
    }
    std::vector<SimMember*> live;
    for (SimMember* m : running)
      if (!paused.count(m)) live.push_back(m);
    // Paused members stay silent: they expire. The others settle.
    for (int i = 0; i < 40; ++i) {
      for (SimMember* m : live) beat(m, false);
      now += ms(100);
      c->Expire(now);
      CheckNoTwoHolders(*c, running, now, now < grace_end);
    }
    CheckSettled(*c, live);
    if (!live.empty()) CHECK(c->Members("g").size() == live.size());
  }
  INFO(restarts << " restarts, " << gains << " gains, " << releases << " releases, " << expired
                << " expired, " << kept << " holdings kept across a restart, " << fenced
                << " fenced, " << lost << " answers lost");
  CHECK(restarts > 5);
  CHECK(gains > 500);
  CHECK(releases > 100);
  CHECK(expired > 20);
  CHECK(kept > 10);
  CHECK(fenced > 0);
  CHECK(lost > 50);
}
