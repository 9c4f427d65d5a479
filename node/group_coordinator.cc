#include "node/group_coordinator.h"

#include <algorithm>
#include <utility>

#include "journal/group_name.h"

namespace brook::node {
namespace {

// FNV-1a 64 and MurmurHash3's fmix64: docs/GROUPS.md ("Assignment").
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t Fnv(uint64_t h, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

uint64_t FnvLengthPrefixed(uint64_t h, std::string_view s) {
  const auto len = static_cast<uint8_t>(s.size());
  return Fnv(Fnv(h, &len, 1), s.data(), s.size());
}

// The hash state after group, member and producer: shared by every stream.
uint64_t MemberPrefix(std::string_view group, const MemberId& member, const ProducerId& producer) {
  uint64_t h = FnvLengthPrefixed(kFnvOffset, group);
  h = Fnv(h, member.bytes.data(), member.bytes.size());
  return Fnv(h, producer.bytes.data(), producer.bytes.size());
}

uint64_t Finish(uint64_t h, uint32_t partition) {
  const uint8_t be[4] = {static_cast<uint8_t>(partition >> 24),
                         static_cast<uint8_t>(partition >> 16),
                         static_cast<uint8_t>(partition >> 8), static_cast<uint8_t>(partition)};
  h = Fnv(h, be, 4);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

Status ValidateGroupCoordinatorOptions(const GroupCoordinatorOptions& o, std::string_view prefix) {
  auto bad = [&](const std::string& field, const std::string& rule) {
    return Status::InvalidArgument(std::string(prefix) + "." + field + " " + rule);
  };
  if (o.max_groups == 0) return bad("max_groups", "must be at least 1");
  if (o.max_members_per_group == 0 || o.max_members_per_group > kMaxGroupMembers)
    return bad("max_members_per_group", "must be in 1.." + std::to_string(kMaxGroupMembers) +
                                            " (a heartbeat answer lists every member)");
  if (o.max_members == 0) return bad("max_members", "must be at least 1");
  if (o.min_session_timeout.count() <= 0) return bad("min_session_timeout", "must be positive");
  if (o.max_session_timeout < o.min_session_timeout)
    return bad("max_session_timeout", "must be at least min_session_timeout");
  if (o.max_session_timeout.count() > std::chrono::milliseconds::rep{UINT32_MAX})
    return bad("max_session_timeout", "must be at most 2^32-1 ms (the heartbeat's field)");
  return Status::OK();
}

uint64_t RendezvousScore(std::string_view group, const MemberId& member, const ProducerId& producer,
                         std::string_view topic, uint32_t partition) {
  return Finish(FnvLengthPrefixed(MemberPrefix(group, member, producer), topic), partition);
}

GroupCoordinator::GroupCoordinator(const GroupCoordinatorOptions& options,
                                   GroupPositionStore* store, GroupClock::time_point now)
    : options_(options), store_(store), last_generation_(options.first_generation) {
  const auto grace =
      options_.restart_grace.count() < 0 ? options_.max_session_timeout : options_.restart_grace;
  grace_end_ = now + grace;
  grace_over_ = grace.count() == 0;
}

// ---------------------------------------------------------------------------
// Streams of the producer

void GroupCoordinator::SetStreams(const std::vector<TopicPartitions>& topics,
                                  GroupClock::time_point now) {
  std::vector<bool> given(topics_.size(), false);
  for (const TopicPartitions& t : topics) {
    auto it = topic_index_.find(t.topic);
    if (it == topic_index_.end()) {
      it = topic_index_.emplace(t.topic, static_cast<uint32_t>(topics_.size())).first;
      topics_.push_back(Topic{t.topic, 0});
      given.push_back(false);
    }
    topics_[it->second].partitions = t.partitions;
    given[it->second] = true;
  }
  for (size_t i = 0; i < topics_.size(); ++i)
    if (!given[i]) topics_[i].partitions = 0;
  for (auto& [name, g] : groups_) {
    for (auto it = g.streams.begin(); it != g.streams.end();) {
      const uint32_t partitions = topics_[it->first].partitions;
      if (partitions == 0) {
        // Gone: its owners hear "release" when they next list it.
        it = g.streams.erase(it);
        continue;
      }
      it->second.resize(partitions);
      ++it;
    }
    for (auto& [id, m] : g.members)
      m.topics.erase(std::remove_if(m.topics.begin(), m.topics.end(),
                                    [this](uint32_t t) { return topics_[t].partitions == 0; }),
                     m.topics.end());
    ComputeTargets(name, g);
    Reconcile(g, now);
  }
}

std::vector<GroupCoordinator::Stream>& GroupCoordinator::StreamsOf(Group& g, uint32_t topic_index) {
  std::vector<Stream>& v = g.streams[topic_index];
  if (v.size() != topics_[topic_index].partitions) v.resize(topics_[topic_index].partitions);
  return v;
}

GroupCoordinator::Stream* GroupCoordinator::FindStream(Group& g, std::string_view topic,
                                                       uint32_t partition, uint32_t* topic_index) {
  auto it = topic_index_.find(topic);
  if (it == topic_index_.end() || partition >= topics_[it->second].partitions) return nullptr;
  *topic_index = it->second;
  return &StreamsOf(g, it->second)[partition];
}

Status GroupCoordinator::LoadGroup(std::string_view name, Group* g) {
  std::vector<GroupPosition> positions;
  Status s = store_->Load(name, &positions);
  if (!s.ok()) return s;
  for (const GroupPosition& p : positions) {
    uint32_t ti;
    Stream* st = FindStream(*g, p.topic, p.partition, &ti);
    if (!st) continue;  // not a stream of this producer (any more)
    st->has_position = true;
    st->next = p.next;
    st->epoch = p.epoch;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Assignment

void GroupCoordinator::ComputeTargets(std::string_view group_name, Group& g) {
  for (auto& [id, m] : g.members)
    for (uint32_t t : m.topics) StreamsOf(g, t);
  struct Candidate {
    uint64_t score;
    uint32_t partition;
    uint32_t member;  // index into followers, which are in member id order
  };
  std::vector<const MemberId*> followers;
  std::vector<uint64_t> prefix;
  std::vector<Candidate> candidates;
  std::vector<uint32_t> load;
  for (auto& [topic_index, streams] : g.streams) {
    for (Stream& st : streams) st.has_target = false;
    followers.clear();
    for (const auto& [id, m] : g.members)
      if (std::binary_search(m.topics.begin(), m.topics.end(), topic_index))
        followers.push_back(&id);
    if (followers.empty() || streams.empty()) continue;
    const std::string& topic = topics_[topic_index].name;
    const auto members = static_cast<uint32_t>(followers.size());
    const auto partitions = static_cast<uint32_t>(streams.size());
    prefix.clear();
    for (const MemberId* id : followers)
      prefix.push_back(FnvLengthPrefixed(MemberPrefix(group_name, *id, options_.producer), topic));
    candidates.clear();
    candidates.reserve(size_t{partitions} * members);
    for (uint32_t p = 0; p < partitions; ++p)
      for (uint32_t m = 0; m < members; ++m)
        candidates.push_back(Candidate{Finish(prefix[m], p), p, m});
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.partition != b.partition) return a.partition < b.partition;
      return a.member < b.member;
    });
    // Highest scores first; a member takes at most ceil(P/M) partitions of
    // the topic. Every partition ends up with a target: one left over would
    // mean every member is full, i.e. M * ceil(P/M) < P.
    const uint32_t cap = (partitions + members - 1) / members;
    load.assign(members, 0);
    uint32_t assigned = 0;
    for (const Candidate& c : candidates) {
      Stream& st = streams[c.partition];
      if (st.has_target || load[c.member] == cap) continue;
      st.has_target = true;
      st.target = *followers[c.member];
      ++load[c.member];
      if (++assigned == partitions) break;
    }
  }
}

void GroupCoordinator::ReleaseAll(Group& g, const MemberId& member) {
  for (auto& [t, streams] : g.streams) {
    for (Stream& st : streams) {
      if (!st.owned || st.owner != member) continue;
      st.owned = false;
      st.revoking = false;
      st.settled = true;
    }
  }
}

void GroupCoordinator::Reconcile(Group& g, GroupClock::time_point now) {
  const bool grace = InGrace(now);
  for (auto& [t, streams] : g.streams) {
    for (Stream& st : streams) {
      if (st.owned) {
        const bool keep = st.has_target && st.target == st.owner;
        if (keep || st.sent) {
          // Revoke from an owner that is no longer the target; a target that
          // came back to the owner before it released cancels the revoke.
          st.revoking = !keep;
          continue;
        }
        // Its owner was never told: nobody holds it, take it back at once.
        st.owned = false;
        st.revoking = false;
      }
      if (st.has_target && (st.settled || !grace)) {
        st.owned = true;
        st.owner = st.target;
        st.generation = NextGeneration();
        st.revoking = false;
        st.sent = false;
        st.settled = true;
      }
    }
  }
}

void GroupCoordinator::RemoveMember(Group& g, std::map<MemberId, Member>::iterator it) {
  ReleaseAll(g, it->first);
  g.members.erase(it);
  --member_count_;
}

bool GroupCoordinator::ExpireMembers(std::string_view name, Group& g, GroupClock::time_point now) {
  bool changed = false;
  for (auto it = g.members.begin(); it != g.members.end();) {
    auto next = std::next(it);
    if (now - it->second.last_heartbeat > it->second.session_timeout) {
      RemoveMember(g, it);
      changed = true;
    }
    it = next;
  }
  if (changed) {
    g.membership_generation = NextGeneration();
    ComputeTargets(name, g);
  }
  return changed;
}

size_t GroupCoordinator::Expire(GroupClock::time_point now) {
  const bool grace_ended = !grace_over_ && now >= grace_end_;
  if (grace_ended) grace_over_ = true;
  const size_t before = member_count_;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    if (ExpireMembers(it->first, g, now) || grace_ended) Reconcile(g, now);
    it = g.members.empty() ? groups_.erase(it) : std::next(it);
  }
  return before - member_count_;
}

// ---------------------------------------------------------------------------
// Heartbeat

Status GroupCoordinator::Heartbeat(const GroupRequest& req, GroupClock::time_point now,
                                   GroupAnswer* ans, ErrorCode* error_code) {
  ErrorCode ignored;
  if (!error_code) error_code = &ignored;
  *error_code = ErrorCode::kBadRequest;
  *ans = GroupAnswer{};
  ans->kind = Kind::kGroupHeartbeatAnswer;
  ans->id = req.id;
  Status s = journal::ValidateGroupName(req.group);
  if (!s.ok()) return s;
  const std::chrono::milliseconds timeout(req.session_timeout_ms);
  if (timeout < options_.min_session_timeout || timeout > options_.max_session_timeout)
    return Status::InvalidArgument(
        "group '" + std::string(req.group) + "': session timeout " + Ms(timeout) + " is outside " +
        Ms(options_.min_session_timeout) + ".." + Ms(options_.max_session_timeout) +
        ", the bounds this producer admits; choose a session timeout within them");
  if (req.topics.size() > kMaxGroupTopics)
    return Status::InvalidArgument("group '" + std::string(req.group) + "': a member follows " +
                                   std::to_string(req.topics.size()) + " topics; at most " +
                                   std::to_string(kMaxGroupTopics) + " are allowed");
  // The member's topics that this producer has (others have no streams here;
  // a topic created later counts from the member's next heartbeat).
  std::vector<uint32_t> topics;
  for (std::string_view t : req.topics) {
    auto it = topic_index_.find(t);
    if (it != topic_index_.end() && topics_[it->second].partitions > 0)
      topics.push_back(it->second);
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  const bool leaving = req.topics.empty();

  auto git = groups_.find(req.group);
  Group* g = git == groups_.end() ? nullptr : &git->second;
  if (g && ExpireMembers(git->first, *g, now)) Reconcile(*g, now);
  auto mit = g ? g->members.find(req.member) : std::map<MemberId, Member>::iterator();
  if (leaving && (!g || mit == g->members.end())) {
    // A leave from a member this producer does not know (it expired, or
    // never joined here): nothing it lists is its own.
    for (const GroupStream& h : req.held) ans->revoke.push_back(h);
    if (g) {
      ans->membership_generation = g->membership_generation;
      for (const auto& [id, m] : g->members) ans->members.push_back(id);
    }
    return Status::OK();
  }

  bool changed = false;
  if (!g) {
    *error_code = ErrorCode::kGroupLimit;
    if (groups_.size() >= options_.max_groups)
      return Status::ResourceExhausted(
          "group '" + std::string(req.group) + "' cannot join: this producer already keeps " +
          std::to_string(groups_.size()) +
          " consumer groups, the most it admits (GroupCoordinatorOptions::max_groups); "
          "retry later, when a group has emptied");
    Group fresh;
    *error_code = ErrorCode::kInternal;
    s = LoadGroup(req.group, &fresh);
    if (!s.ok()) return s;
    git = groups_.emplace(std::string(req.group), std::move(fresh)).first;
    g = &git->second;
    mit = g->members.end();
  }
  if (mit == g->members.end()) {
    std::string full;
    if (g->members.size() >= options_.max_members_per_group) {
      full = "group '" + std::string(req.group) + "' already has " +
             std::to_string(g->members.size()) +
             " members, the most this producer admits in a group "
             "(GroupCoordinatorOptions::max_members_per_group)";
    } else if (member_count_ >= options_.max_members) {
      full = "this producer already keeps " + std::to_string(member_count_) +
             " group members, the most it admits (GroupCoordinatorOptions::max_members)";
    }
    if (!full.empty()) {
      *error_code = ErrorCode::kGroupLimit;
      if (g->members.empty()) groups_.erase(git);
      return Status::ResourceExhausted("member " + req.member.ToHex() + " cannot join: " + full +
                                       "; retry later, when a member has left");
    }
    mit = g->members.emplace(req.member, Member{}).first;
    ++member_count_;
    changed = true;
  } else {
    changed = mit->second.topics != topics;
  }
  Member& member = mit->second;
  member.topics = std::move(topics);
  member.last_heartbeat = now;
  member.session_timeout = timeout;
  if (changed) {
    g->membership_generation = NextGeneration();
    ComputeTargets(git->first, *g);
  }

  // What the member holds: streams it owns under their current generation
  // are confirmed; a stream nobody owns that it held before this coordinator
  // started is adopted during the restart grace; anything else is not its
  // own, and it must drop it.
  const uint64_t serial = ++serial_;
  const bool grace = InGrace(now);
  for (const GroupStream& h : req.held) {
    uint32_t ti = 0;
    Stream* st = FindStream(*g, h.topic, h.partition, &ti);
    if (st && st->owned && st->owner == req.member && st->generation == h.generation) {
      st->seen = serial;
      st->sent = true;
    } else if (st && !st->owned && !st->settled && grace &&
               h.generation <= options_.first_generation) {
      st->owned = true;
      st->owner = req.member;
      st->generation = h.generation;
      st->revoking = false;
      st->sent = true;
      st->settled = true;
      st->seen = serial;
    } else {
      ans->revoke.push_back(GroupStream{st ? std::string_view(topics_[ti].name) : h.topic,
                                        h.partition, h.generation});
    }
  }
  // A stream the member owns but did not list, once it was told about it
  // (or asked to give it up), is released: the member applies only the
  // answer to its latest heartbeat, so it cannot take it up later.
  bool owns = false;
  for (auto& [t, streams] : g->streams) {
    for (Stream& st : streams) {
      if (!st.owned || st.owner != req.member) continue;
      if (st.seen != serial && (st.sent || st.revoking)) {
        st.owned = false;
        st.revoking = false;
        st.settled = true;
      } else {
        owns = true;
      }
    }
  }
  const bool removed = leaving && !owns;
  if (removed) {
    RemoveMember(*g, mit);
    g->membership_generation = NextGeneration();
    ComputeTargets(git->first, *g);
  }
  Reconcile(*g, now);

  ans->membership_generation = g->membership_generation;
  for (const auto& [id, m] : g->members) ans->members.push_back(id);
  if (!removed) {
    for (auto& [t, streams] : g->streams) {
      for (uint32_t p = 0; p < streams.size(); ++p) {
        Stream& st = streams[p];
        if (!st.owned || st.owner != req.member) continue;
        const std::string_view topic = topics_[t].name;
        if (st.revoking) {
          ans->revoke.push_back(GroupStream{topic, p, st.generation});
          continue;
        }
        GroupAssignment a;
        a.topic = topic;
        a.partition = p;
        a.generation = st.generation;
        a.has_position = st.has_position;
        a.next = st.next;
        a.epoch = st.epoch;
        ans->assigned.push_back(a);
        st.sent = true;
      }
    }
  }
  if (g->members.empty()) groups_.erase(git);  // the answer's views are into topics_
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Commit

Status GroupCoordinator::Commit(const GroupRequest& req, GroupClock::time_point now,
                                GroupAnswer* ans, ErrorCode* error_code) {
  (void)now;
  ErrorCode ignored;
  if (!error_code) error_code = &ignored;
  *error_code = ErrorCode::kBadRequest;
  *ans = GroupAnswer{};
  ans->kind = Kind::kGroupCommitAnswer;
  ans->id = req.id;
  Status s = journal::ValidateGroupName(req.group);
  if (!s.ok()) return s;
  std::vector<std::pair<std::string_view, uint32_t>> order;
  order.reserve(req.commits.size());
  for (const GroupCommitStream& c : req.commits) order.emplace_back(c.topic, c.partition);
  std::sort(order.begin(), order.end());
  auto dup = std::adjacent_find(order.begin(), order.end());
  if (dup != order.end())
    return Status::InvalidArgument("group '" + std::string(req.group) + "': stream " +
                                   std::string(dup->first) + "/" + std::to_string(dup->second) +
                                   " is committed twice in one request; give each stream once");

  auto git = groups_.find(req.group);
  Group* g = git == groups_.end() ? nullptr : &git->second;
  std::vector<GroupPosition> accepted;
  std::vector<std::pair<uint32_t, uint32_t>> where;  // topic index, partition
  ans->results.reserve(req.commits.size());
  for (const GroupCommitStream& c : req.commits) {
    GroupCommitResult r;
    r.topic = c.topic;
    r.partition = c.partition;
    auto it = topic_index_.find(c.topic);
    if (it == topic_index_.end() || c.partition >= topics_[it->second].partitions) {
      r.result = CommitResult::kUnknownStream;
      ans->results.push_back(r);
      continue;
    }
    const Topic& topic = topics_[it->second];
    r.topic = topic.name;
    r.result = CommitResult::kFenced;
    auto st = g ? g->streams.find(it->second) : std::map<uint32_t, std::vector<Stream>>::iterator();
    if (g && st != g->streams.end() && c.partition < st->second.size()) {
      const Stream& stream = st->second[c.partition];
      if (stream.owned && stream.owner == req.member && stream.generation == c.generation) {
        r.result = CommitResult::kAccepted;
        accepted.push_back(GroupPosition{topic.name, c.partition, c.next, c.epoch, 0});
        where.emplace_back(it->second, c.partition);
      }
    }
    ans->results.push_back(r);
  }
  if (accepted.empty()) return Status::OK();
  s = store_->Save(req.group, accepted);
  if (!s.ok()) {
    *error_code = ErrorCode::kInternal;
    ans->results.clear();
    return s;
  }
  for (size_t i = 0; i < where.size(); ++i) {
    Stream& st = g->streams[where[i].first][where[i].second];
    st.has_position = true;
    st.next = accepted[i].next;
    st.epoch = accepted[i].epoch;
    st.sent = true;  // it used the generation: it got the assignment
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Introspection

std::vector<MemberId> GroupCoordinator::Members(std::string_view group) const {
  std::vector<MemberId> out;
  auto it = groups_.find(group);
  if (it != groups_.end())
    for (const auto& [id, m] : it->second.members) out.push_back(id);
  return out;
}

std::vector<GroupStreamState> GroupCoordinator::Streams(std::string_view group) const {
  std::vector<GroupStreamState> out;
  auto it = groups_.find(group);
  if (it == groups_.end()) return out;
  for (const auto& [t, streams] : it->second.streams) {
    for (uint32_t p = 0; p < streams.size(); ++p) {
      const Stream& st = streams[p];
      GroupStreamState s;
      s.topic = topics_[t].name;
      s.partition = p;
      s.owned = st.owned;
      s.owner = st.owner;
      s.generation = st.generation;
      s.revoking = st.revoking;
      s.has_target = st.has_target;
      s.target = st.target;
      s.has_position = st.has_position;
      s.next = st.next;
      s.epoch = st.epoch;
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const GroupStreamState& a, const GroupStreamState& b) {
    return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
  });
  return out;
}

}  // namespace brook::node
