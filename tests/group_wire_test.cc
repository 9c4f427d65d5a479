// Consumer group messages on the wire (docs/PROTOCOL.md, docs/GROUPS.md):
// each round-trips, the encoders produce the canonical order the decoders
// demand, and hostile bytes — truncations at every length, flipped bytes,
// lying counts, unsorted or repeated streams, zero generations, wrong
// versions — are refused with an error, never a crash or a read past the
// input (the ASan build runs these too).
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "common/msgpack_lite.h"
#include "node/wire.h"
#include "tests/decode_checks.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;
using brook::test::CheckTruncationsRefused;
using brook::test::FlipEveryByte;

namespace {

MemberId Member(uint8_t seed) {
  MemberId m;
  for (size_t i = 0; i < m.bytes.size(); ++i) m.bytes[i] = static_cast<uint8_t>(seed + i * 7);
  return m;
}

void EncodeRequest(const GroupRequest& r, std::string* out) {
  if (r.kind == Kind::kGroupHeartbeat) {
    EncodeGroupHeartbeat(r, out);
  } else {
    EncodeGroupCommit(r, out);
  }
}

void EncodeAnswer(const GroupAnswer& a, std::string* out) {
  if (a.kind == Kind::kGroupHeartbeatAnswer) {
    EncodeGroupHeartbeatAnswer(a, out);
  } else {
    EncodeGroupCommitAnswer(a, out);
  }
}

// Decodes; what decodes must encode again canonically: to bytes that decode,
// and encode once more to the same bytes.
Status DecodeReq(std::string_view frame) {
  GroupRequest r;
  ErrorCode code;
  Status s = DecodeGroupRequest(frame, &r, &code);
  if (s.ok()) {
    std::string again, third;
    EncodeRequest(r, &again);
    CHECK(again.size() <= frame.size());
    GroupRequest back;
    REQUIRE_OK(DecodeGroupRequest(again, &back, &code));
    EncodeRequest(back, &third);
    CHECK(third == again);
  }
  return s;
}

Status DecodeAns(std::string_view frame) {
  GroupAnswer a;
  Status s = DecodeGroupAnswer(frame, &a);
  if (s.ok()) {
    std::string again, third;
    EncodeAnswer(a, &again);
    CHECK(again.size() <= frame.size());
    GroupAnswer back;
    REQUIRE_OK(DecodeGroupAnswer(again, &back));
    EncodeAnswer(back, &third);
    CHECK(third == again);
  }
  return s;
}

GroupRequest SomeHeartbeat() {
  GroupRequest h;
  h.kind = Kind::kGroupHeartbeat;
  h.id = 77;
  h.group = "billing";
  h.member = Member(1);
  h.session_timeout_ms = 10000;
  h.topics = {"orders", "audit", "payments"};  // any order: the encoder sorts
  h.held = {{"orders", 7, 1ull << 33}, {"audit", 0, 5}, {"orders", 2, 9}, {"audit", 300, 6}};
  return h;
}

using Writes = std::function<void(mp::Writer&)>;

// [1, kind, id, <fields written by fill>]: for hand-made malformed frames.
std::string Frame(Kind kind, size_t elements, const Writes& fill) {
  std::string out;
  mp::Writer w(&out);
  w.ArrayHeader(elements);
  w.Uint(1);
  w.Uint(static_cast<uint64_t>(kind));
  w.Uint(5);
  fill(w);
  return out;
}

void WriteMemberBin(mp::Writer& w, size_t size = 16) { w.Bin(std::string(size, 'm')); }

void EmptyArray(mp::Writer& w) { w.ArrayHeader(0); }

// A heartbeat written field by field, for hand-made malformed ones.
struct RawHeartbeat {
  std::string group = "g";
  size_t member_size = 16;
  uint64_t timeout = 1000;
  Writes topics = EmptyArray;
  Writes held = EmptyArray;

  std::string Encode() const {
    return Frame(Kind::kGroupHeartbeat, 8, [&](mp::Writer& w) {
      w.Str(group);
      WriteMemberBin(w, member_size);
      w.Uint(timeout);
      topics(w);
      held(w);
    });
  }
};

// [[topic, [[fields..., then what `last` writes, if given]]]]: one stream.
void OneStream(mp::Writer& w, const std::string& topic, const std::vector<uint64_t>& fields,
               const Writes& last = nullptr) {
  w.ArrayHeader(1);
  w.ArrayHeader(2);
  w.Str(topic);
  w.ArrayHeader(1);
  w.ArrayHeader(fields.size() + (last ? 1 : 0));
  for (uint64_t f : fields) w.Uint(f);
  if (last) last(w);
}

std::string HeartbeatWith(const Writes& held, const std::string& group = "g",
                          uint64_t timeout = 1000) {
  RawHeartbeat h;
  h.group = group;
  h.timeout = timeout;
  h.held = held;
  return h.Encode();
}

}  // namespace

TEST_CASE("group heartbeats round-trip in canonical order", "[wire][groups]") {
  std::string f;
  EncodeGroupHeartbeat(SomeHeartbeat(), &f);
  Kind kind;
  REQUIRE_OK(PeekKind(f, &kind));
  CHECK(kind == Kind::kGroupHeartbeat);
  CHECK(IsGroupRequest(kind));
  GroupRequest r;
  ErrorCode code;
  REQUIRE_OK(DecodeGroupRequest(f, &r, &code));
  CHECK(r.kind == Kind::kGroupHeartbeat);
  CHECK(r.id == 77);
  CHECK(r.group == "billing");
  CHECK(r.member == Member(1));
  CHECK(r.session_timeout_ms == 10000);
  CHECK(r.topics == std::vector<std::string_view>{"audit", "orders", "payments"});
  REQUIRE(r.held.size() == 4);
  CHECK(r.held[0].topic == "audit");
  CHECK(r.held[0].partition == 0);
  CHECK(r.held[0].generation == 5);
  CHECK(r.held[1].partition == 300);
  CHECK(r.held[2].topic == "orders");
  CHECK(r.held[2].partition == 2);
  CHECK(r.held[3].partition == 7);
  CHECK(r.held[3].generation == (1ull << 33));
  // Canonical: encoding the decoded request gives the same bytes.
  std::string again;
  EncodeGroupHeartbeat(r, &again);
  CHECK(again == f);

  // A leave: no topics, nothing held.
  GroupRequest leave = SomeHeartbeat();
  leave.topics.clear();
  leave.held.clear();
  f.clear();
  EncodeGroupHeartbeat(leave, &f);
  REQUIRE_OK(DecodeGroupRequest(f, &r, &code));
  CHECK(r.topics.empty());
  CHECK(r.held.empty());

  f.clear();
  EncodeGroupHeartbeat(SomeHeartbeat(), &f);
  CheckTruncationsRefused(f, DecodeReq);
  FlipEveryByte(f, DecodeReq);
}

TEST_CASE("group commits and their answers round-trip", "[wire][groups]") {
  GroupRequest c;
  c.kind = Kind::kGroupCommit;
  c.id = 1ull << 40;
  c.group = "g";
  c.member = Member(9);
  c.commits = {{"t", 3, 11, 1000, 2}, {"s", 0, 12, 0, 1}, {"t", 1, 11, ~0ull, ~0ull}};
  std::string f;
  EncodeGroupCommit(c, &f);
  GroupRequest r;
  ErrorCode code;
  REQUIRE_OK(DecodeGroupRequest(f, &r, &code));
  CHECK(r.kind == Kind::kGroupCommit);
  CHECK(r.id == (1ull << 40));
  CHECK(r.member == Member(9));
  REQUIRE(r.commits.size() == 3);
  CHECK(r.commits[0].topic == "s");
  CHECK(r.commits[1].topic == "t");
  CHECK(r.commits[1].partition == 1);
  CHECK(r.commits[1].next == ~0ull);
  CHECK(r.commits[2].partition == 3);
  CHECK(r.commits[2].generation == 11);
  CHECK(r.commits[2].next == 1000);
  CHECK(r.commits[2].epoch == 2);
  CheckTruncationsRefused(f, DecodeReq);
  FlipEveryByte(f, DecodeReq);

  GroupAnswer a;
  a.kind = Kind::kGroupCommitAnswer;
  a.id = 1ull << 40;
  a.results = {{"s", 0, CommitResult::kAccepted},
               {"t", 1, CommitResult::kFenced},
               {"t", 3, CommitResult::kUnknownStream}};
  f.clear();
  EncodeGroupCommitAnswer(a, &f);
  Kind kind;
  REQUIRE_OK(PeekKind(f, &kind));
  CHECK(IsGroupAnswer(kind));
  GroupAnswer back;
  REQUIRE_OK(DecodeGroupAnswer(f, &back));
  CHECK(back.kind == Kind::kGroupCommitAnswer);
  CHECK(back.id == a.id);
  REQUIRE(back.results.size() == 3);
  CHECK(back.results[0].result == CommitResult::kAccepted);
  CHECK(back.results[1].result == CommitResult::kFenced);
  CHECK(back.results[2].topic == "t");
  CHECK(back.results[2].partition == 3);
  CHECK(back.results[2].result == CommitResult::kUnknownStream);
  CheckTruncationsRefused(f, DecodeAns);
  FlipEveryByte(f, DecodeAns);
}

TEST_CASE("group heartbeat answers round-trip with positions or none", "[wire][groups]") {
  GroupAnswer a;
  a.kind = Kind::kGroupHeartbeatAnswer;
  a.id = 3;
  a.membership_generation = (4ull << 32) + 17;
  a.members = {Member(200), Member(1), Member(50)};
  GroupAssignment with;
  with.topic = "orders";
  with.partition = 4;
  with.generation = 21;
  with.has_position = true;
  with.next = 1234;
  with.epoch = 3;
  GroupAssignment without;
  without.topic = "orders";
  without.partition = 1;
  without.generation = 22;
  a.assigned = {with, without};
  a.revoke = {{"audit", 2, 8}};
  std::string f;
  EncodeGroupHeartbeatAnswer(a, &f);
  GroupAnswer b;
  REQUIRE_OK(DecodeGroupAnswer(f, &b));
  CHECK(b.kind == Kind::kGroupHeartbeatAnswer);
  CHECK(b.membership_generation == (4ull << 32) + 17);
  CHECK(b.members == std::vector<MemberId>{Member(1), Member(50), Member(200)});
  REQUIRE(b.assigned.size() == 2);
  CHECK(b.assigned[0].partition == 1);
  CHECK_FALSE(b.assigned[0].has_position);
  CHECK(b.assigned[0].generation == 22);
  CHECK(b.assigned[1].partition == 4);
  CHECK(b.assigned[1].has_position);
  CHECK(b.assigned[1].next == 1234);
  CHECK(b.assigned[1].epoch == 3);
  REQUIRE(b.revoke.size() == 1);
  CHECK(b.revoke[0].topic == "audit");
  CHECK(b.revoke[0].generation == 8);
  std::string again;
  EncodeGroupHeartbeatAnswer(b, &again);
  CHECK(again == f);
  CheckTruncationsRefused(f, DecodeAns);
  FlipEveryByte(f, DecodeAns);

  // An answer with nothing in it.
  GroupAnswer empty;
  f.clear();
  EncodeGroupHeartbeatAnswer(empty, &f);
  REQUIRE_OK(DecodeGroupAnswer(f, &b));
  CHECK(b.members.empty());
  CHECK(b.assigned.empty());
  CHECK(b.revoke.empty());
}

TEST_CASE("malformed group requests are refused with a message saying what is wrong",
          "[wire][groups]") {
  auto refused = [](const std::string& frame, const char* words) {
    GroupRequest r;
    ErrorCode code = ErrorCode::kInternal;
    Status s = DecodeGroupRequest(frame, &r, &code);
    INFO(s.ToString());
    CHECK(s.IsInvalidArgument());
    CHECK(code == ErrorCode::kBadRequest);
    CHECK(s.ToString().find(words) != std::string::npos);
  };
  using Held = std::vector<std::pair<std::string, std::vector<std::pair<uint64_t, uint64_t>>>>;
  auto held = [](Held topics) {
    return [topics](mp::Writer& w) {
      w.ArrayHeader(topics.size());
      for (const auto& [topic, streams] : topics) {
        w.ArrayHeader(2);
        w.Str(topic);
        w.ArrayHeader(streams.size());
        for (const auto& [p, g] : streams) {
          w.ArrayHeader(2);
          w.Uint(p);
          w.Uint(g);
        }
      }
    };
  };
  // The well-formed base case decodes.
  REQUIRE_OK(DecodeReq(HeartbeatWith(held({{"a", {{0, 1}, {1, 1}}}, {"b", {{0, 2}}}}))));

  refused(HeartbeatWith(held({{"b", {{0, 1}}}, {"a", {{0, 1}}}})), "strictly increasing");
  refused(HeartbeatWith(held({{"a", {{0, 1}}}, {"a", {{1, 1}}}})), "strictly increasing");
  refused(HeartbeatWith(held({{"a", {{1, 1}, {0, 1}}}})), "strictly increasing");
  refused(HeartbeatWith(held({{"a", {{1, 1}, {1, 2}}}})), "strictly increasing");
  refused(HeartbeatWith(held({{"a", {}}, {"bbbbbbbb", {{0, 1}}}})), "streams that fits");
  refused(HeartbeatWith(held({{"a", {{0, 0}}}})), "malformed");  // generation 0 is never issued
  refused(HeartbeatWith(held({{"", {{0, 1}}}, {"bbbbbbbb", {{0, 1}}}})), "1..255 bytes");
  refused(HeartbeatWith(held({{"a", {{1ull << 32, 1}}}})), "malformed");
  refused(HeartbeatWith(held({}), ""), "empty");
  refused(HeartbeatWith(held({}), "a\nb"), "control character");
  refused(HeartbeatWith(held({}), std::string(256, 'g')), "255");
  refused(HeartbeatWith(held({}), "g", 0), "session_timeout_ms");
  refused(HeartbeatWith(held({}), "g", 1ull << 32), "session_timeout_ms");
  refused(HeartbeatWith(held({})) + std::string(1, '\0'), "trailing bytes");

  RawHeartbeat short_member;
  short_member.member_size = 15;
  refused(short_member.Encode(), "16 bytes");
  RawHeartbeat repeated_topic;  // topics must be sorted and unique
  repeated_topic.topics = [](mp::Writer& w) {
    w.ArrayHeader(2);
    w.Str("x");
    w.Str("x");
  };
  refused(repeated_topic.Encode(), "strictly increasing");
  // Counts that claim more than the message holds are refused before any
  // allocation: 4 G topics, 4 G streams.
  RawHeartbeat many_topics;
  many_topics.topics = [](mp::Writer& w) { w.ArrayHeader(0xffffffffu); };
  refused(many_topics.Encode(), "fits the message");
  refused(HeartbeatWith([](mp::Writer& w) {
            w.ArrayHeader(1);
            w.ArrayHeader(2);
            w.Str("a");
            w.ArrayHeader(0xffffffffu);
          }),
          "fits");
  refused(HeartbeatWith([](mp::Writer& w) { w.ArrayHeader(0xffffffffu); }), "fits the message");
  // Element counts.
  refused(Frame(Kind::kGroupHeartbeat, 7, [](mp::Writer& w) { w.Str("g"); }), "not 8");
  refused(Frame(Kind::kGroupCommit, 5, [](mp::Writer& w) { w.Str("g"); }), "not 6");
  // A commit entry has four fields.
  refused(Frame(Kind::kGroupCommit, 6,
                [](mp::Writer& w) {
                  w.Str("g");
                  WriteMemberBin(w);
                  OneStream(w, "t", {0, 1, 2});
                }),
          "malformed");
  // Other request kinds belong to DecodeRequest.
  std::string describe;
  EncodeDescribe(9, &describe);
  refused(describe, "not a group request");

  // A newer version: unsupported, with the id kept so the member can match it.
  GroupRequest r;
  ErrorCode code;
  std::string v2 = "\x98\x02\x15\x07";  // [2, 21, 7, ...
  Status s = DecodeGroupRequest(v2, &r, &code);
  CHECK(s.IsInvalidArgument());
  CHECK(code == ErrorCode::kUnsupportedVersion);
  CHECK(r.id == 7);
  Kind kind;
  CHECK_FALSE(PeekKind(v2, &kind).ok());
  CHECK_FALSE(PeekKind("", &kind).ok());
  CHECK_FALSE(PeekKind("\xc0", &kind).ok());
}

TEST_CASE("malformed group answers are refused", "[wire][groups]") {
  auto answer = [](const Writes& members, const Writes& assigned) {
    return Frame(Kind::kGroupHeartbeatAnswer, 7, [&](mp::Writer& w) {
      w.Uint(1);
      members(w);
      assigned(w);
      w.ArrayHeader(0);
    });
  };
  auto none = [](mp::Writer& w) { w.ArrayHeader(0); };
  REQUIRE_OK(DecodeAns(answer(none, none)));
  // Members unsorted, repeated, or of the wrong size.
  for (auto members : std::vector<Writes>{[](mp::Writer& w) {
                                            w.ArrayHeader(2);
                                            w.Bin(std::string(16, 'b'));
                                            w.Bin(std::string(16, 'a'));
                                          },
                                          [](mp::Writer& w) {
                                            w.ArrayHeader(2);
                                            w.Bin(std::string(16, 'a'));
                                            w.Bin(std::string(16, 'a'));
                                          },
                                          [](mp::Writer& w) {
                                            w.ArrayHeader(1);
                                            w.Bin(std::string(17, 'a'));
                                          },
                                          [](mp::Writer& w) { w.ArrayHeader(0xffffffffu); }}) {
    CHECK(DecodeAns(answer(members, none)).IsInvalidArgument());
  }
  // A position is nil or [next, epoch], nothing else.
  auto assigned_with = [](const Writes& position) {
    return [position](mp::Writer& w) { OneStream(w, "t", {0, 1}, position); };
  };
  REQUIRE_OK(DecodeAns(answer(none, assigned_with([](mp::Writer& w) { w.Nil(); }))));
  REQUIRE_OK(DecodeAns(answer(none, assigned_with([](mp::Writer& w) {
                                w.ArrayHeader(2);
                                w.Uint(10);
                                w.Uint(1);
                              }))));
  CHECK_FALSE(DecodeAns(answer(none, assigned_with([](mp::Writer& w) { w.Uint(10); }))).ok());
  CHECK_FALSE(DecodeAns(answer(none, assigned_with([](mp::Writer& w) {
                                 w.ArrayHeader(1);
                                 w.Uint(10);
                               })))
                  .ok());
  // A commit result beyond the known ones.
  std::string bad_result = Frame(Kind::kGroupCommitAnswer, 4, [](mp::Writer& w) {
    OneStream(w, "t", {0, 3});
  });
  CHECK(DecodeAns(bad_result).IsInvalidArgument());
  // Other answers belong to DecodeAnswer, and group answers are not theirs.
  std::string end;
  EncodeEnd(1, 2, Watermarks{0, 2}, 1, &end);
  CHECK(DecodeAns(end).ToString().find("not a group answer") != std::string::npos);
  Answer old;
  CHECK_FALSE(DecodeAnswer(answer(none, none), &old).ok());
  Request req;
  ErrorCode code;
  std::string hb;
  EncodeGroupHeartbeat(SomeHeartbeat(), &hb);
  CHECK_FALSE(DecodeRequest(hb, &req, &code).ok());
}

TEST_CASE("a heartbeat of a member holding a thousand streams fits the default request limit",
          "[wire][groups]") {
  // The producer's ROUTER drops requests above max_request_bytes (64 KiB):
  // streams are grouped by topic so that a large holding still fits.
  std::vector<std::string> topics;
  for (int t = 0; t < 10; ++t) topics.push_back("topic-with-a-longish-name-" + std::to_string(t));
  GroupRequest h = SomeHeartbeat();
  h.topics.assign(topics.begin(), topics.end());
  h.held.clear();
  for (const std::string& t : topics)
    for (uint32_t p = 0; p < 400; ++p) h.held.push_back({t, p, (7ull << 32) + p});
  std::string f;
  EncodeGroupHeartbeat(h, &f);
  CHECK(f.size() < 64 * 1024);
  GroupRequest r;
  ErrorCode code;
  REQUIRE_OK(DecodeGroupRequest(f, &r, &code));
  CHECK(r.held.size() == 4000);
}
