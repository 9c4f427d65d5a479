// Names and layouts of the journal's LMDB databases and metadata values.
// docs/JOURNAL.md is the specification. Persistent format: do not change
// without bumping Journal::kFormatVersion and teaching Open the old layout.
#ifndef BROOK_JOURNAL_JOURNAL_FORMAT_H_
#define BROOK_JOURNAL_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace brook::journal {

// Named databases holding brook's metadata.
constexpr const char* kMetaDb = "brook.meta";              // key -> value, below
constexpr const char* kTopicsDb = "brook.topics";          // topic name -> TopicRecord
constexpr const char* kPartitionsDb = "brook.partitions";  // PartitionKey -> PartitionRecord
// Consumer groups' committed positions: GroupPositionKey -> GroupPositionRecord.
// Added after format version 1 was fixed, without a bump: Open creates it in
// a journal that lacks it, and a brook that predates it never opens it (see
// docs/JOURNAL.md, "brook.groups").
constexpr const char* kGroupsDb = "brook.groups";
// The named databases that are not partitions (each takes a slot of
// mdb_env_set_maxdbs).
constexpr unsigned kMetadataDbCount = 4;

// Keys in kMetaDb.
constexpr std::string_view kMetaFormatVersion = "format_version";  // u32 BE
constexpr std::string_view kMetaProducerId = "producer_id";        // 16 bytes
constexpr std::string_view kMetaEpoch = "epoch";                   // u64 BE
constexpr std::string_view kMetaCreated = "created_ns";            // u64 BE
constexpr std::string_view kMetaLastRetention = "retention_ns";    // u64 BE, informative
// u8: 1 when the last epoch ended with a clean Close (everything it exposed
// was flushed), 0 while an epoch is open. Missing: unknown, treated as 0.
constexpr std::string_view kMetaCleanClose = "clean_close";
// u64 BE: the instance mark of the current epoch, also in DIR/instance
// (journal/journal_instance.h). Missing: a journal from before it existed.
constexpr std::string_view kMetaInstance = "instance";

// Epoch history, for telling readers whether offsets they saw under an old
// epoch were undone by a crash (docs/JOURNAL.md, "Epochs"). Keys in kMetaDb:
// "e:" + PartitionKey + u64 BE epoch -> u64 BE start offset: the high
// watermark of the partition when that epoch began after an unclean end.
// Starts increase with the epoch (an entry whose start is not below the new
// one is removed), and at most kMaxEpochEntries are kept per partition.
constexpr std::string_view kEpochKeyPrefix = "e:";
constexpr size_t kMaxEpochEntries = 256;

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

// kGroupsDb key: group name, a NUL, then PartitionKey(topic, partition).
// Group names hold no byte below 0x20 (journal/group_name.h), so the first
// NUL ends the group and every key of a group starts with GroupKeyPrefix.
inline std::string GroupKeyPrefix(std::string_view group) {
  std::string key(group);
  key += '\0';
  return key;
}
inline std::string GroupPositionKey(std::string_view group, std::string_view topic,
                                    uint32_t partition) {
  return GroupKeyPrefix(group) + PartitionKey(topic, partition);
}

inline std::string EpochKeyPrefix(std::string_view partition_key) {
  std::string key(kEpochKeyPrefix);
  key.append(partition_key);
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

// kGroupsDb value, version 1, big-endian:
//   u8 version=1, u64 next, u64 epoch, u64 committed_ns
constexpr uint8_t kGroupPositionRecordVersion = 1;
constexpr size_t kGroupPositionRecordSize = 1 + 8 * 3;

// Big-endian loads and stores. On little-endian hosts (all brook supports in
// practice) each is one move and a byte swap.
inline uint64_t ToBE64(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap64(v);
#else
  return v;
#endif
}
inline uint32_t ToBE32(uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap32(v);
#else
  return v;
#endif
}
inline void PutU64BE(char* p, uint64_t v) {
  v = ToBE64(v);
  std::memcpy(p, &v, 8);
}
inline uint64_t GetU64BE(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return ToBE64(v);
}
inline void PutU32BE(char* p, uint32_t v) {
  v = ToBE32(v);
  std::memcpy(p, &v, 4);
}
inline uint32_t GetU32BE(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return ToBE32(v);
}

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_JOURNAL_FORMAT_H_
