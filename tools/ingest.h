// The ingest protocol: how `brook produce` (or any program on the machine)
// publishes through a running `brook node`. A DEALER sends requests to the
// node's ROUTER; each request is one frame and gets one answer frame with the
// same id, after the records are committed in the node's durability mode.
// Several requests may be in flight. docs/PROTOCOL.md, "Ingest", is the
// specification; every decoder checks every length and type of its input.
#ifndef BROOK_TOOLS_INGEST_H_
#define BROOK_TOOLS_INGEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brook/record.h"
#include "brook/status.h"

namespace brook::ingest {

constexpr uint64_t kVersion = 1;
constexpr uint64_t kKindPublish = 1;
constexpr uint64_t kKindAck = 2;
constexpr uint64_t kKindError = 3;

// Largest number of records in one request.
constexpr uint64_t kMaxRecordsPerRequest = 100000;

struct PublishRequest {
  uint64_t id = 0;
  std::string_view topic;
  // Create the topic with this many partitions if it does not exist; 0: do not.
  uint32_t create_partitions = 0;
  // Views into the decoded frame (headers in `headers`, records' `headers`
  // vectors point nowhere else).
  std::vector<RecordInput> records;
};

struct Answer {
  uint64_t kind = kKindAck;
  uint64_t id = 0;
  std::vector<RecordPosition> positions;  // kKindAck
  Status error;                           // kKindError
};

void EncodePublish(uint64_t id, std::string_view topic, uint32_t create_partitions,
                   const std::vector<RecordInput>& records, std::string* out);
// On failure out->id holds the id when it could be read (0 otherwise), so the
// error can be answered to the right request.
Status DecodePublish(std::string_view frame, PublishRequest* out);

void EncodeAck(uint64_t id, const std::vector<RecordPosition>& positions, std::string* out);
void EncodeError(uint64_t id, const Status& error, std::string* out);
Status DecodeAnswer(std::string_view frame, Answer* out);

}  // namespace brook::ingest

#endif  // BROOK_TOOLS_INGEST_H_
