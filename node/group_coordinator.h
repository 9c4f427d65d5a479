// GroupCoordinator: a producer's side of consumer groups (docs/GROUPS.md).
//
// Each producer is the authority for its own streams; there is no separate
// coordinator. Members heartbeat to every producer they follow; from those
// heartbeats the producer keeps each group's live members, gives each of its
// streams a target owner by rendezvous hashing over the live members that
// follow the stream's topic (with a cap per member, so the streams of a topic
// spread evenly), and hands streams over revoke-before-assign: a stream is
// assigned to its new owner, under a new stream generation and with the
// group's committed position, only after its old owner released it (its
// heartbeat no longer lists it) or expired. Commits carry the generation and
// are accepted only from the stream's current owner (fencing), and are kept
// in the producer's journal through a GroupPositionStore.
//
// A state machine: no threads, no sockets, no clock of its own. Every call
// takes `now` on the monotonic clock, so the producer's server thread drives
// it and tests script it step by step. Not thread-safe: one thread at a time.
//
// Costs: a heartbeat or a commit is O(streams of the group on this producer)
// (plus a journal write for a commit); a membership change recomputes targets
// in O(P·M·log(P·M)) per followed topic of P partitions and M members.
// Memory is bounded by the caps in GroupCoordinatorOptions: at most
// max_groups groups, each with state for the streams its members follow or
// that have a committed position, and at most max_members members in all,
// each with its list of this producer's topics.
#ifndef BROOK_NODE_GROUP_COORDINATOR_H_
#define BROOK_NODE_GROUP_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "brook/journal.h"
#include "brook/record.h"
#include "brook/status.h"
#include "node/wire.h"

namespace brook::node {

using GroupClock = std::chrono::steady_clock;

// Where committed positions live: the producer's journal (JournalGroupStore),
// or a fake in tests.
class GroupPositionStore {
 public:
  virtual ~GroupPositionStore() = default;
  // Every position stored for `group`; none is an empty vector and OK.
  virtual Status Load(std::string_view group, std::vector<GroupPosition>* out) = 0;
  // Stores all of `positions`, durably, or none of them.
  virtual Status Save(std::string_view group, const std::vector<GroupPosition>& positions) = 0;
};

// The store of a producer: its journal's brook.groups.
class JournalGroupStore final : public GroupPositionStore {
 public:
  explicit JournalGroupStore(Journal* journal) : journal_(journal) {}
  Status Load(std::string_view group, std::vector<GroupPosition>* out) override {
    return journal_->GetGroupPositions(group, out);
  }
  Status Save(std::string_view group, const std::vector<GroupPosition>& positions) override {
    return journal_->CommitGroupPositions(group, positions);
  }

 private:
  Journal* journal_;
};

struct GroupCoordinatorOptions {
  // This producer's id: part of the rendezvous hash, so the same partition of
  // a topic on two producers goes to members independently.
  ProducerId producer;
  // Generations this coordinator issues are above this. The producer passes
  // its journal epoch << 32: generations then grow across restarts, and a
  // generation a member claims that is not above it was issued before this
  // coordinator started (see restart_grace).
  uint64_t first_generation = 0;

  // Groups with live members at a time. Beyond: ResourceExhausted.
  size_t max_groups = 256;
  // Live members in one group, and in all groups. Beyond: ResourceExhausted.
  size_t max_members_per_group = 256;
  size_t max_members = 4096;
  // The session timeouts members may ask for. A member is expired when this
  // long has passed since its last heartbeat.
  std::chrono::milliseconds min_session_timeout{100};
  std::chrono::milliseconds max_session_timeout{60000};
  // For this long after the coordinator starts, a stream that no member
  // claims is not assigned: a member that held it before the producer
  // restarted may not have heartbeated yet, and a member stops processing a
  // producer's streams only after its own session timeout without an answer
  // (docs/GROUPS.md). Streams a live member claims are taken over (adopted)
  // at once. Negative: max_session_timeout. 0: for a journal just created,
  // whose streams nobody can hold.
  std::chrono::milliseconds restart_grace{-1};
};

// Checks the options, naming the bad field after `prefix` (e.g.
// "ProducerOptions::groups"): the caps at least 1, max_members_per_group at
// most kMaxGroupMembers (what an answer can list), 0 < min_session_timeout
// <= max_session_timeout <= 2^32-1 ms. Errors: InvalidArgument.
Status ValidateGroupCoordinatorOptions(const GroupCoordinatorOptions& options,
                                       std::string_view prefix);

// One topic of the producer and its partition count.
struct TopicPartitions {
  std::string topic;
  uint32_t partitions = 0;
};

// The state of one stream of a group, for tests, stats and tools.
struct GroupStreamState {
  std::string topic;
  uint32_t partition = 0;
  bool owned = false;
  MemberId owner;
  uint64_t generation = 0;  // of the current (or last) assignment
  bool revoking = false;    // the owner has been asked to release it
  bool has_target = false;  // false: no live member follows the topic
  MemberId target;
  bool has_position = false;
  uint64_t next = 0;
  uint64_t epoch = 0;
};

class GroupCoordinator {
 public:
  // `options` must be valid (ValidateGroupCoordinatorOptions). `store` must
  // outlive the coordinator. `now` starts the restart grace.
  GroupCoordinator(const GroupCoordinatorOptions& options, GroupPositionStore* store,
                   GroupClock::time_point now);
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // The producer's streams: every topic with its partition count. Call it at
  // start and whenever a topic is created. A topic left out (or with 0
  // partitions) has no streams any more: its owners are told to release them.
  void SetStreams(const std::vector<TopicPartitions>& topics, GroupClock::time_point now);

  // A member's heartbeat (a decoded kGroupHeartbeat). Joins the member if
  // it is new, records its topics and session timeout, learns from `held`
  // which streams it released, hands streams over and fills `answer`: the
  // live members, the streams the member owns (with the group's committed
  // positions) and the streams it must release. A heartbeat with no topics
  // is a leave: the member is removed once it holds nothing.
  // The answer's views point into the coordinator and into `heartbeat`'s
  // views: encode it before the next call. Errors: InvalidArgument (group
  // name, session timeout outside the bounds, too many topics: the message
  // says which), ResourceExhausted (a cap of GroupCoordinatorOptions: the
  // message names it; retry later), or the store's error when it cannot load
  // the group's positions (nothing changed). On failure *error_code (if
  // given) is the error answer to send: kBadRequest, kGroupLimit (a cap), or
  // kInternal (the store) — the Status code alone cannot tell a cap from a
  // full disk.
  Status Heartbeat(const GroupRequest& heartbeat, GroupClock::time_point now, GroupAnswer* answer,
                   ErrorCode* error_code = nullptr);

  // A member's commit (a decoded kGroupCommit): each stream is accepted if
  // the member owns it under the given generation, fenced if not, unknown
  // if the producer has no such stream; the accepted ones are stored
  // together, and answer->results says which was which, in the request's
  // order. Errors: InvalidArgument (group name; a stream listed twice), or
  // the store's error (nothing was stored and nothing accepted). On failure
  // *error_code (if given) is kBadRequest or kInternal (the store).
  Status Commit(const GroupRequest& commit, GroupClock::time_point now, GroupAnswer* answer,
                ErrorCode* error_code = nullptr);

  // Removes members whose session timed out (strictly more than their
  // session timeout since their last heartbeat), releases their streams and
  // hands them on; ends the restart grace when it is over. Call it often
  // (every turn of the server loop); returns how many members expired.
  size_t Expire(GroupClock::time_point now);

  // Introspection. Unknown groups have no members and no streams.
  size_t group_count() const { return groups_.size(); }
  size_t member_count() const { return member_count_; }
  std::vector<MemberId> Members(std::string_view group) const;
  // Every stream the group follows or has a position for, in (topic,
  // partition) order.
  std::vector<GroupStreamState> Streams(std::string_view group) const;

 private:
  struct Member {
    std::vector<uint32_t> topics;  // indices into topics_, sorted, unique
    GroupClock::time_point last_heartbeat;
    std::chrono::milliseconds session_timeout{0};
  };

  struct Stream {
    bool owned = false;
    bool revoking = false;
    bool sent = false;     // the owner was told (an answer) or proved it (a commit)
    bool settled = false;  // owned or released since this coordinator started
    bool has_target = false;
    bool has_position = false;
    MemberId owner;
    MemberId target;
    uint64_t generation = 0;
    uint64_t seen = 0;  // the heartbeat (serial_) that last listed it as held
    uint64_t next = 0;
    uint64_t epoch = 0;
  };

  struct Group {
    std::map<MemberId, Member> members;
    // Topic index -> its partitions' state: topics a member follows or that
    // have a committed position.
    std::map<uint32_t, std::vector<Stream>> streams;
    uint64_t membership_generation = 0;
  };

  struct Topic {
    std::string name;
    uint32_t partitions = 0;  // 0: no longer on the producer
  };

  using GroupMap = std::map<std::string, Group, std::less<>>;

  bool InGrace(GroupClock::time_point now) const { return now < grace_end_; }
  uint64_t NextGeneration() { return ++last_generation_; }
  // The stream's state in `g` (created for a topic of the producer), or null.
  Stream* FindStream(Group& g, std::string_view topic, uint32_t partition, uint32_t* topic_index);
  // Makes sure `g` has state for the topic's partitions, sized to the topic.
  std::vector<Stream>& StreamsOf(Group& g, uint32_t topic_index);
  Status LoadGroup(std::string_view name, Group* g);
  // Recomputes every stream's target owner (on a membership change).
  void ComputeTargets(std::string_view group_name, Group& g);
  // Releases every stream `member` owns.
  static void ReleaseAll(Group& g, const MemberId& member);
  // Moves streams towards their targets: revokes from owners that are not
  // the target, assigns free streams to their target.
  void Reconcile(Group& g, GroupClock::time_point now);
  // Expires the group's timed-out members; true if membership changed.
  bool ExpireMembers(std::string_view name, Group& g, GroupClock::time_point now);
  void RemoveMember(Group& g, std::map<MemberId, Member>::iterator it);

  GroupCoordinatorOptions options_;
  GroupPositionStore* store_;
  GroupClock::time_point grace_end_;
  bool grace_over_ = false;
  uint64_t last_generation_;
  uint64_t serial_ = 0;  // counts heartbeats
  size_t member_count_ = 0;
  // Every topic the producer has had, at a stable index and address (views
  // into names are handed out in answers).
  std::deque<Topic> topics_;
  std::map<std::string, uint32_t, std::less<>> topic_index_;
  GroupMap groups_;
};

// The rendezvous score of `member` for topic/partition in `group` on
// `producer` (docs/GROUPS.md gives the bytes and test vectors): FNV-1a 64
// over len(group) (1 byte), group, member id, producer id, len(topic) (1
// byte), topic, partition (4 bytes big-endian), then MurmurHash3's 64-bit
// finalizer.
uint64_t RendezvousScore(std::string_view group, const MemberId& member, const ProducerId& producer,
                         std::string_view topic, uint32_t partition);

}  // namespace brook::node

#endif  // BROOK_NODE_GROUP_COORDINATOR_H_
