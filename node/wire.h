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
  // Answers, ROUTER -> DEALER.
  kDescribeAnswer = 32,
  kPage = 33,
  kEnd = 34,
  kError = 35,
  kOffset = 36,
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

// Decodes `count` records starting at `first_offset` from `bytes` (a records
// frame or a page), verifying each record's checksum and offset.
Status DecodeRecords(std::string_view bytes, uint64_t first_offset, uint32_t count,
                     RecordBatch* out);

}  // namespace brook::node

#endif  // BROOK_NODE_WIRE_H_
