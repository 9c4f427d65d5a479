// Names and layouts of the journal's LMDB databases and metadata values.
// docs/JOURNAL.md is the specification. Persistent format: do not change
// without bumping Journal::kFormatVersion and teaching Open the old layout.
#ifndef BROOK_JOURNAL_JOURNAL_FORMAT_H_
#define BROOK_JOURNAL_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace brook::journal {

// Named databases holding brook's metadata.
constexpr const char* kMetaDb = "brook.meta";              // key -> value, below
constexpr const char* kTopicsDb = "brook.topics";          // topic name -> TopicRecord
constexpr const char* kPartitionsDb = "brook.partitions";  // PartitionKey -> PartitionRecord

// Keys in kMetaDb.
constexpr std::string_view kMetaFormatVersion = "format_version";  // u32 BE
constexpr std::string_view kMetaProducerId = "producer_id";        // 16 bytes
constexpr std::string_view kMetaEpoch = "epoch";                   // u64 BE
constexpr std::string_view kMetaCreated = "created_ns";            // u64 BE
constexpr std::string_view kMetaLastRetention = "retention_ns";    // u64 BE, informative

// Records of topic T, partition P live in the database "r:T:P" (P decimal),
// keyed by the offset as 8 bytes big-endian, valued by the record's encoding
// (record_format.h). ':' never occurs in a topic name.
inline std::string RecordDbName(std::string_view topic, uint32_t partition) {
  std::string name = "r:";
  name.append(topic);
  name += ':';
  name += std::to_string(partition);
  return name;
}

// kPartitionsDb key: topic name, a NUL, partition as u32 BE.
inline std::string PartitionKey(std::string_view topic, uint32_t partition) {
  std::string key(topic);
  key += '\0';
  for (int shift = 24; shift >= 0; shift -= 8)
    key += static_cast<char>((partition >> shift) & 0xff);
  return key;
}

// kTopicsDb value, version 1, big-endian:
//   u8 version=1, u32 partitions, u64 max_age_ms, u64 max_bytes,
//   u64 max_records, u64 created_ns
constexpr uint8_t kTopicRecordVersion = 1;
constexpr size_t kTopicRecordSize = 1 + 4 + 8 * 4;

// kPartitionsDb value, version 1, big-endian:
//   u8 version=1, u64 next_offset (high watermark), u64 low_watermark,
//   u64 stored bytes, u64 last timestamp ns
constexpr uint8_t kPartitionRecordVersion = 1;
constexpr size_t kPartitionRecordSize = 1 + 8 * 4;

inline void PutU64BE(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline uint64_t GetU64BE(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline void PutU32BE(char* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline uint32_t GetU32BE(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_JOURNAL_FORMAT_H_
