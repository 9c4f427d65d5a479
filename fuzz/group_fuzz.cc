// Fuzzes the consumer group messages (docs/GROUPS.md): node::PeekKind,
// DecodeGroupRequest and DecodeGroupAnswer on the same bytes, one frame as a
// producer's ROUTER (requests) or a member's DEALER (answers) receives it.
//
// Checks: no read outside the input (ASan); PeekKind, on success, names the
// kind that either decoder then decodes; DecodeGroupRequest fails with
// InvalidArgument and error code "bad request" or "unsupported version"; on
// success every view (group, topics, streams' topics) lies in the input,
// the group is a valid group name, topics and streams are in strictly
// increasing order (topics 1..255 bytes), generations >= 1, counts within
// kMaxGroupTopics / kMaxGroupStreams / kMaxGroupMembers, commit results
// known; and re-encoding with EncodeGroupHeartbeat / EncodeGroupCommit /
// EncodeGroupHeartbeatAnswer / EncodeGroupCommitAnswer decodes to the same
// fields, no longer than the input (the encoders use the smallest forms),
// and canonically (encoding the re-decoded message gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "journal/group_name.h"
#include "node/wire.h"

namespace {

using brook::fuzz::Inside;
using brook::node::CommitResult;
using brook::node::ErrorCode;
using brook::node::GroupAnswer;
using brook::node::GroupRequest;
using brook::node::Kind;

void EncodeRequest(const GroupRequest& r, std::string* out) {
  switch (r.kind) {
    case Kind::kGroupHeartbeat:
      brook::node::EncodeGroupHeartbeat(r, out);
      return;
    case Kind::kGroupCommit:
      brook::node::EncodeGroupCommit(r, out);
      return;
    default:
      // A new group request kind? Teach this target (and make_seeds.cc) about it.
      FUZZ_CHECK(!"DecodeGroupRequest accepted a kind this target does not know");
  }
}

void EncodeAnswer(const GroupAnswer& a, std::string* out) {
  switch (a.kind) {
    case Kind::kGroupHeartbeatAnswer:
      brook::node::EncodeGroupHeartbeatAnswer(a, out);
      return;
    case Kind::kGroupCommitAnswer:
      brook::node::EncodeGroupCommitAnswer(a, out);
      return;
    default:
      FUZZ_CHECK(!"DecodeGroupAnswer accepted a kind this target does not know");
  }
}

bool ValidTopic(std::string_view t, std::string_view frame) {
  return Inside(t, frame) && !t.empty() && t.size() <= 255;
}

// Streams in (topic, partition) order, each once, topics in the frame.
template <typename T>
void CheckStreams(const std::vector<T>& streams, std::string_view frame) {
  FUZZ_CHECK(streams.size() <= brook::node::kMaxGroupStreams);
  for (size_t i = 0; i < streams.size(); ++i) {
    FUZZ_CHECK(ValidTopic(streams[i].topic, frame));
    if (i > 0) {
      const T& p = streams[i - 1];
      FUZZ_CHECK(p.topic < streams[i].topic ||
                 (p.topic == streams[i].topic && p.partition < streams[i].partition));
    }
  }
}

template <typename T>
void CheckGenerations(const std::vector<T>& streams) {
  for (const T& s : streams) FUZZ_CHECK(s.generation >= 1);
}

void CheckSameRequest(const GroupRequest& a, const GroupRequest& b) {
  FUZZ_CHECK(a.kind == b.kind && a.id == b.id && a.group == b.group && a.member == b.member);
  FUZZ_CHECK(a.session_timeout_ms == b.session_timeout_ms);
  FUZZ_CHECK(a.topics == b.topics);
  FUZZ_CHECK(a.held.size() == b.held.size());
  for (size_t i = 0; i < a.held.size(); ++i)
    FUZZ_CHECK(a.held[i].topic == b.held[i].topic && a.held[i].partition == b.held[i].partition &&
               a.held[i].generation == b.held[i].generation);
  FUZZ_CHECK(a.commits.size() == b.commits.size());
  for (size_t i = 0; i < a.commits.size(); ++i) {
    const auto &x = a.commits[i], &y = b.commits[i];
    FUZZ_CHECK(x.topic == y.topic && x.partition == y.partition && x.generation == y.generation &&
               x.next == y.next && x.epoch == y.epoch);
  }
}

void CheckSameAnswer(const GroupAnswer& a, const GroupAnswer& b) {
  FUZZ_CHECK(a.kind == b.kind && a.id == b.id);
  FUZZ_CHECK(a.membership_generation == b.membership_generation);
  FUZZ_CHECK(a.members == b.members);
  FUZZ_CHECK(a.assigned.size() == b.assigned.size());
  for (size_t i = 0; i < a.assigned.size(); ++i) {
    const auto &x = a.assigned[i], &y = b.assigned[i];
    FUZZ_CHECK(x.topic == y.topic && x.partition == y.partition && x.generation == y.generation &&
               x.has_position == y.has_position && x.next == y.next && x.epoch == y.epoch);
  }
  FUZZ_CHECK(a.revoke.size() == b.revoke.size());
  for (size_t i = 0; i < a.revoke.size(); ++i)
    FUZZ_CHECK(a.revoke[i].topic == b.revoke[i].topic &&
               a.revoke[i].partition == b.revoke[i].partition &&
               a.revoke[i].generation == b.revoke[i].generation);
  FUZZ_CHECK(a.results.size() == b.results.size());
  for (size_t i = 0; i < a.results.size(); ++i)
    FUZZ_CHECK(a.results[i].topic == b.results[i].topic &&
               a.results[i].partition == b.results[i].partition &&
               a.results[i].result == b.results[i].result);
}

void FuzzRequest(std::string_view frame, bool peeked, Kind peeked_kind) {
  GroupRequest req;
  ErrorCode code = ErrorCode::kInternal;
  const brook::Status s = brook::node::DecodeGroupRequest(frame, &req, &code);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    FUZZ_CHECK(code == ErrorCode::kBadRequest || code == ErrorCode::kUnsupportedVersion);
    return;
  }
  FUZZ_CHECK(peeked && peeked_kind == req.kind && brook::node::IsGroupRequest(req.kind));
  FUZZ_CHECK(Inside(req.group, frame));
  FUZZ_CHECK(brook::journal::ValidateGroupName(req.group).ok());
  if (req.kind == Kind::kGroupHeartbeat) {
    FUZZ_CHECK(req.session_timeout_ms >= 1 && req.commits.empty());
    FUZZ_CHECK(req.topics.size() <= brook::node::kMaxGroupTopics);
    for (size_t i = 0; i < req.topics.size(); ++i) {
      FUZZ_CHECK(ValidTopic(req.topics[i], frame));
      if (i > 0) FUZZ_CHECK(req.topics[i - 1] < req.topics[i]);
    }
    CheckStreams(req.held, frame);
    CheckGenerations(req.held);
  } else {
    FUZZ_CHECK(req.session_timeout_ms == 0 && req.topics.empty() && req.held.empty());
    CheckStreams(req.commits, frame);
    CheckGenerations(req.commits);
  }

  std::string again;
  EncodeRequest(req, &again);
  FUZZ_CHECK(again.size() <= frame.size());
  GroupRequest back;
  ErrorCode back_code = ErrorCode::kInternal;
  FUZZ_CHECK(brook::node::DecodeGroupRequest(again, &back, &back_code).ok());
  CheckSameRequest(req, back);
  std::string third;
  EncodeRequest(back, &third);
  FUZZ_CHECK(third == again);
}

void FuzzAnswer(std::string_view frame, bool peeked, Kind peeked_kind) {
  GroupAnswer ans;
  const brook::Status s = brook::node::DecodeGroupAnswer(frame, &ans);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    return;
  }
  FUZZ_CHECK(peeked && peeked_kind == ans.kind && brook::node::IsGroupAnswer(ans.kind));
  if (ans.kind == Kind::kGroupHeartbeatAnswer) {
    FUZZ_CHECK(ans.results.empty());
    FUZZ_CHECK(ans.members.size() <= brook::node::kMaxGroupMembers);
    for (size_t i = 1; i < ans.members.size(); ++i) FUZZ_CHECK(ans.members[i - 1] < ans.members[i]);
    CheckStreams(ans.assigned, frame);
    CheckGenerations(ans.assigned);
    for (const auto& a : ans.assigned) FUZZ_CHECK(a.has_position || (a.next == 0 && a.epoch == 0));
    CheckStreams(ans.revoke, frame);
    CheckGenerations(ans.revoke);
  } else {
    FUZZ_CHECK(ans.membership_generation == 0 && ans.members.empty() && ans.assigned.empty() &&
               ans.revoke.empty());
    CheckStreams(ans.results, frame);
    for (const auto& r : ans.results)
      FUZZ_CHECK(r.result == CommitResult::kAccepted || r.result == CommitResult::kFenced ||
                 r.result == CommitResult::kUnknownStream);
  }

  std::string again;
  EncodeAnswer(ans, &again);
  FUZZ_CHECK(again.size() <= frame.size());
  GroupAnswer back;
  FUZZ_CHECK(brook::node::DecodeGroupAnswer(again, &back).ok());
  CheckSameAnswer(ans, back);
  std::string third;
  EncodeAnswer(back, &third);
  FUZZ_CHECK(third == again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  Kind kind = Kind::kDescribe;
  const brook::Status peek = brook::node::PeekKind(frame, &kind);
  if (!peek.ok()) FUZZ_CHECK(peek.IsInvalidArgument());
  FuzzRequest(frame, peek.ok(), kind);
  FuzzAnswer(frame, peek.ok(), kind);
  return 0;
}
