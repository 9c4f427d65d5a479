// The key partitioner: which partition a keyed record goes to.
//
// brook uses Kafka's default partitioner, so a user can predict partitions the
// way Kafka users already do, in any language:
//
//   partition = (Murmur2(key) & 0x7fffffff) % partition_count
//
// where Murmur2 is MurmurHash2 (32-bit) with seed 0x9747b28c over the key's
// bytes, read as little-endian 32-bit words, exactly as Kafka's
// org.apache.kafka.common.utils.Utils.murmur2. docs/PROTOCOL.md gives the
// algorithm in full with test vectors; tests/partitioner_test.cc pins them.
// This mapping is part of brook's stable contract: do not change.
//
// Keyless records are spread round-robin by the journal; see RecordInput.
#ifndef BROOK_PARTITIONER_H_
#define BROOK_PARTITIONER_H_

#include <cstdint>
#include <string_view>

#include "brook/export.h"

namespace brook {

// Kafka's murmur2 of `key`, as a signed 32-bit value (as Java returns it).
BROOK_EXPORT int32_t Murmur2(std::string_view key) noexcept;

// The partition of `key` among `partition_count` partitions (> 0).
BROOK_EXPORT uint32_t PartitionForKey(std::string_view key, uint32_t partition_count) noexcept;

}  // namespace brook

#endif  // BROOK_PARTITIONER_H_
