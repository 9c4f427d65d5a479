// The payload of every record the fault suite publishes: it names its
// producer (a tag the harness gives, stable across restarts of one journal),
// topic, partition and sequence number (per producer tag and partition,
// counted by the harness, never reused), then a filler whose length varies
// with the sequence, and a CRC-32C over all of it. A record that is torn,
// bit-flipped, delivered at another offset or another record's bytes never
// decodes as the record it claims to be.
//
//   F.<tag>.<topic>.<partition>.<seq>.<filler>.<crc32c, 8 hex digits>
//
// Tags and topics must not contain '.' or spaces (the harness's pipes are
// line-and-space separated).
#ifndef BROOK_TESTS_FAULT_PAYLOAD_H_
#define BROOK_TESTS_FAULT_PAYLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace brook::fault {

struct FaultRecord {
  std::string tag;
  std::string topic;
  uint32_t partition = 0;
  uint64_t seq = 0;
};

std::string EncodeFaultPayload(const FaultRecord& r);

// False, with the reason in *why, when `payload` is not an intact payload.
bool DecodeFaultPayload(std::string_view payload, FaultRecord* out, std::string* why);

}  // namespace brook::fault

#endif  // BROOK_TESTS_FAULT_PAYLOAD_H_
