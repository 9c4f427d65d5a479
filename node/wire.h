// The node's wire messages: live frames (PUB/SUB) and replay requests and
// answers (DEALER/ROUTER). docs/PROTOCOL.md is the specification; the
// constants here are protocol: do not change without a new version.
//
// Every decoder takes untrusted bytes: it checks every length against the
// input, every field's type and range, and the version, and returns
// InvalidArgument saying what is wrong. Nothing it returns points outside the
// input.
#ifndef BROOK_NODE_WIRE_H_
#define BROOK_NODE_WIRE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "brook/journal.h"
#include "brook/record.h"
#include "brook/status.h"

namespace brook::node {

constexpr uint64_t kProtocolVersion = 1;

// Kinds, the second element of every message.
enum class Kind : uint8_t {
  // Live, PUB -> SUB.
  kRecords = 1,
  kHeartbeat = 2,
  // Requests, DEALER -> ROUTER.
  kDescribe = 16,
  kFetch = 17,
  kCredit = 18,
  kCancel = 19,
  kSeek = 20,
  // Consumer group requests (docs/GROUPS.md), on the same connection.
  kGroupHeartbeat = 21,
  kGroupCommit = 22,
  // Answers, ROUTER -> DEALER.
  kDescribeAnswer = 32,
  kPage = 33,
  kEnd = 34,
  kError = 35,
  kOffset = 36,
  kGroupHeartbeatAnswer = 37,
  kGroupCommitAnswer = 38,
};

// Error codes in an error answer.
enum class ErrorCode : uint32_t {
  kBadRequest = 1,          // malformed, or a field out of range
  kUnsupportedVersion = 2,  // the message's version is not one this node speaks
  kUnknownTopic = 3,
  kUnknownPartition = 4,
  kOutOfRange = 5,  // below the low watermark (removed by retention) or past the high
  kBusy = 6,        // too many requests in flight from this peer; retry later
  kDataLoss = 7,    // the stored record at the offset is damaged
  kInternal = 8,
  // Offsets from `lost_from` on were undone by a crash after the request's
  // epoch (weak durability mode) and have been or will be issued again to
  // other records: what the client read there under its epoch is gone.
  kTailLost = 9,
  // A group request this producer cannot take now: it keeps as many groups,
  // or members in the group, as it admits (the message says which). Retry
  // later; members that leave or expire make room.
  kGroupLimit = 10,
};

// Largest values the decoders accept.
constexpr size_t kMaxPartitions = 4096;
constexpr size_t kMaxTopics = 65536;
constexpr size_t kMaxErrorMessage = 4096;

// ----- Live messages. A live frame is "<topic>\0" followed by a msgpack
// header and, for kRecords, `count` records (journal/record_format.h).

struct RecordsHeader {
  ProducerId producer;
  uint64_t epoch = 0;
  uint32_t partition = 0;
  uint64_t first_offset = 0;
  uint32_t count = 0;
};

struct Heartbeat {
  ProducerId producer;
  uint64_t epoch = 0;
  int64_t sent_ns = 0;
  std::vector<Watermarks> partitions;  // index = partition
};

struct LiveMessage {
  std::string_view topic;
  Kind kind = Kind::kRecords;
  RecordsHeader records;          // kRecords
  std::string_view record_bytes;  // kRecords: the records' encodings, back to back
  Heartbeat heartbeat;            // kHeartbeat
};

// Appends "<topic>\0" and the header of a records frame; the caller appends
// the records' encoded bytes.
void EncodeRecordsPrefix(std::string_view topic, const RecordsHeader& h, std::string* out);
void EncodeHeartbeat(std::string_view topic, const Heartbeat& h, std::string* out);
Status DecodeLive(std::string_view frame, LiveMessage* out);

// ----- Replay requests: one frame each.

struct Request {
  Kind kind = Kind::kDescribe;
  uint64_t id = 0;
  // kFetch:
  std::string_view topic;
  uint32_t partition = 0;
  uint64_t from_offset = 0;
  uint64_t max_records = 0;  // > 0
  uint64_t max_bytes = 0;    // > 0
  uint32_t credit = 0;       // pages the server may send before waiting (> 0)
  // The producer epoch under which the client read the offsets below
  // from_offset; the producer answers kTailLost if a crash undid some of them
  // since. 0: the client claims nothing (no check).
  uint64_t epoch = 0;
  // kCredit: pages added. kCancel: none.
  uint32_t pages = 0;
  // kSeek (topic and partition as for kFetch): the first offset whose
  // record's timestamp is at or after this, in ns since the Unix epoch.
  uint64_t timestamp_ns = 0;
};

void EncodeDescribe(uint64_t id, std::string* out);
void EncodeFetch(const Request& fetch, std::string* out);
void EncodeCredit(uint64_t id, uint32_t pages, std::string* out);
void EncodeCancel(uint64_t id, std::string* out);
void EncodeSeek(uint64_t id, std::string_view topic, uint32_t partition, uint64_t timestamp_ns,
                std::string* out);
// On failure *error_code says which error answer to give and out->id is set
// when the id could be read (0 otherwise).
Status DecodeRequest(std::string_view frame, Request* out, ErrorCode* error_code);

// ----- Replay answers: one frame each.

struct TopicDescription {
  std::string_view name;
  std::vector<Watermarks> partitions;
};

struct Answer {
  Kind kind = Kind::kEnd;
  uint64_t id = 0;
  // kDescribeAnswer:
  ProducerId producer;
  // kDescribeAnswer, kPage, kEnd, kOffset: the producer's epoch when answered.
  uint64_t epoch = 0;
  std::vector<TopicDescription> topics;
  // kPage:
  uint32_t partition = 0;
  uint64_t first_offset = 0;
  uint32_t count = 0;
  std::string_view record_bytes;
  // kPage, kEnd, kError: the partition's watermarks when answered.
  Watermarks watermarks;
  // kEnd: the offset after the last one sent. kOffset: the offset sought.
  uint64_t next_offset = 0;
  // kError:
  ErrorCode error = ErrorCode::kInternal;
  std::string_view message;
  uint64_t lost_from = 0;  // kTailLost: the first undone offset; otherwise 0
};

void EncodeDescribeAnswer(uint64_t id, const ProducerId& producer, uint64_t epoch,
                          const std::vector<TopicDescription>& topics, std::string* out);
// Appends the header of a page; the caller appends the records.
void EncodePagePrefix(uint64_t id, uint32_t partition, uint64_t first_offset, uint32_t count,
                      const Watermarks& w, uint64_t epoch, std::string* out);
void EncodeEnd(uint64_t id, uint64_t next_offset, const Watermarks& w, uint64_t epoch,
               std::string* out);
void EncodeOffset(uint64_t id, uint64_t offset, const Watermarks& w, uint64_t epoch,
                  std::string* out);
void EncodeError(uint64_t id, ErrorCode code, std::string_view message, const Watermarks& w,
                 std::string* out, uint64_t lost_from = 0);
Status DecodeAnswer(std::string_view frame, Answer* out);

// ----- Consumer groups (docs/GROUPS.md): requests a member sends on its
// replay connection, and their answers. Decoded with their own functions, so
// DecodeRequest and DecodeAnswer are unchanged: route a frame by PeekKind.

constexpr size_t kMemberIdSize = 16;
constexpr size_t kMaxGroupTopics = 1024;    // topics one member follows
constexpr size_t kMaxGroupStreams = 65536;  // streams in one message
constexpr size_t kMaxGroupMembers = 4096;   // member ids in one answer

// A member of a consumer group: 16 random bytes it chooses when it starts.
struct MemberId {
  std::array<uint8_t, kMemberIdSize> bytes{};
  bool operator==(const MemberId& o) const { return bytes == o.bytes; }
  bool operator!=(const MemberId& o) const { return bytes != o.bytes; }
  bool operator<(const MemberId& o) const { return bytes < o.bytes; }  // bytewise
  std::string ToHex() const;
};

// A stream (topic, partition) of the producer with the stream generation
// under which a member holds it (heartbeat) or must release it (revoke).
struct GroupStream {
  std::string_view topic;
  uint32_t partition = 0;
  uint64_t generation = 0;  // >= 1
};

// A stream assigned to the member, with the group's committed position.
struct GroupAssignment {
  std::string_view topic;
  uint32_t partition = 0;
  uint64_t generation = 0;    // >= 1
  bool has_position = false;  // false: the group has committed nothing here
  uint64_t next = 0;
  uint64_t epoch = 0;
};

// One stream of a commit: the position the member reached, under the stream
// generation it was assigned.
struct GroupCommitStream {
  std::string_view topic;
  uint32_t partition = 0;
  uint64_t generation = 0;  // >= 1
  uint64_t next = 0;
  uint64_t epoch = 0;
};

enum class CommitResult : uint8_t {
  kAccepted = 0,       // stored in the producer's journal
  kFenced = 1,         // the member does not own the stream under that generation (any more)
  kUnknownStream = 2,  // the producer has no such topic or partition
};

struct GroupCommitResult {
  std::string_view topic;
  uint32_t partition = 0;
  CommitResult result = CommitResult::kFenced;
};

// kGroupHeartbeat and kGroupCommit. Views point into the decoded frame.
// Streams are listed in (topic, partition) order, each once; topics in
// bytewise order, each once.
struct GroupRequest {
  Kind kind = Kind::kGroupHeartbeat;
  uint64_t id = 0;
  std::string_view group;  // a valid group name (journal/group_name.h)
  MemberId member;
  // kGroupHeartbeat:
  uint32_t session_timeout_ms = 0;  // >= 1; the producer checks its own bounds
  std::vector<std::string_view> topics;
  std::vector<GroupStream> held;
  // kGroupCommit:
  std::vector<GroupCommitStream> commits;
};

// kGroupHeartbeatAnswer and kGroupCommitAnswer.
struct GroupAnswer {
  Kind kind = Kind::kGroupHeartbeatAnswer;
  uint64_t id = 0;
  // kGroupHeartbeatAnswer:
  uint64_t membership_generation = 0;
  std::vector<MemberId> members;  // the live members, in increasing order
  std::vector<GroupAssignment> assigned;
  std::vector<GroupStream> revoke;
  // kGroupCommitAnswer: one per stream of the request, in its order.
  std::vector<GroupCommitResult> results;
};

// The kind of a request or answer, from its first three bytes or so: for
// routing a frame to DecodeGroupRequest / DecodeGroupAnswer or to
// DecodeRequest / DecodeAnswer (which give the precise error for anything
// malformed, a wrong version included). InvalidArgument if unreadable.
Status PeekKind(std::string_view frame, Kind* kind);
inline bool IsGroupRequest(Kind k) { return k == Kind::kGroupHeartbeat || k == Kind::kGroupCommit; }
inline bool IsGroupAnswer(Kind k) {
  return k == Kind::kGroupHeartbeatAnswer || k == Kind::kGroupCommitAnswer;
}

// The encoders put topics and streams in the order the decoders require
// (sorting a copy); each topic and stream must be given once.
void EncodeGroupHeartbeat(const GroupRequest& heartbeat, std::string* out);
void EncodeGroupCommit(const GroupRequest& commit, std::string* out);
void EncodeGroupHeartbeatAnswer(const GroupAnswer& answer, std::string* out);
// results in the request's order, i.e. (topic, partition) order.
void EncodeGroupCommitAnswer(const GroupAnswer& answer, std::string* out);
// As DecodeRequest, for kGroupHeartbeat and kGroupCommit only.
Status DecodeGroupRequest(std::string_view frame, GroupRequest* out, ErrorCode* error_code);
// As DecodeAnswer, for kGroupHeartbeatAnswer and kGroupCommitAnswer only.
Status DecodeGroupAnswer(std::string_view frame, GroupAnswer* out);

// Decodes `count` records starting at `first_offset` from `bytes` (a records
// frame or a page), verifying each record's checksum and offset.
Status DecodeRecords(std::string_view bytes, uint64_t first_offset, uint32_t count,
                     RecordBatch* out);

}  // namespace brook::node

#endif  // BROOK_NODE_WIRE_H_
