#include "brook/partitioner.h"

#include <cstring>

namespace brook {

// Kafka's Utils.murmur2: MurmurHash2, 32-bit, seed 0x9747b28c, little-endian
// words. Arithmetic is unsigned here; Java's signed ints wrap identically.
int32_t Murmur2(std::string_view key) noexcept {
  constexpr uint32_t kSeed = 0x9747b28cu;
  constexpr uint32_t m = 0x5bd1e995u;
  constexpr int r = 24;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const size_t length = key.size();

  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t words = length / 4;
  for (size_t i = 0; i < words; ++i) {
    const uint8_t* w = data + i * 4;
    uint32_t k = uint32_t(w[0]) | uint32_t(w[1]) << 8 | uint32_t(w[2]) << 16 | uint32_t(w[3]) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint8_t* tail = data + words * 4;
  switch (length % 4) {
    case 3:
      h ^= uint32_t(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t(tail[0]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  int32_t out;
  std::memcpy(&out, &h, sizeof out);
  return out;
}

uint32_t PartitionForKey(std::string_view key, uint32_t partition_count) noexcept {
  if (partition_count == 0) return 0;
  const uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
  return positive % partition_count;
}

}  // namespace brook
