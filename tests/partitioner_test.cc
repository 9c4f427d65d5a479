// The partitioner is a cross-language contract: these vectors are Kafka's own
// (clients UtilsTest and the Java client), so a key lands in the same
// partition in brook, in Kafka and in any other implementation of
// docs/PROTOCOL.md "Partitioner".
#include <catch2/catch.hpp>

#include "brook/partitioner.h"

TEST_CASE("murmur2 matches Kafka's test vectors", "[partitioner]") {
  CHECK(brook::Murmur2("21") == -973932308);
  CHECK(brook::Murmur2("foobar") == -790332482);
  CHECK(brook::Murmur2("a-little-bit-long-string") == -985981536);
  CHECK(brook::Murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(brook::Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(brook::Murmur2("abc") == 479470107);
  CHECK(brook::Murmur2("1") == -1993445489);
  CHECK(brook::Murmur2("12") == 126087238);
  CHECK(brook::Murmur2("123") == -267702483);
  CHECK(brook::Murmur2("1234") == -1614185708);
  CHECK(brook::Murmur2("12345") == -1188365604);
}

TEST_CASE("partition for key is the positive murmur2 modulo the partition count", "[partitioner]") {
  // (-973932308 & 0x7fffffff) = 1173551340
  CHECK(brook::PartitionForKey("21", 1) == 0);
  CHECK(brook::PartitionForKey("21", 7) == 1173551340u % 7);
  CHECK(brook::PartitionForKey("21", 12) == 1173551340u % 12);
  // 479470107 is positive already.
  CHECK(brook::PartitionForKey("abc", 10) == 7u);
  CHECK(brook::PartitionForKey("foobar", 3) == ((uint32_t(-790332482) & 0x7fffffffu) % 3));
  for (uint32_t n = 1; n < 50; ++n) CHECK(brook::PartitionForKey("any key", n) < n);
}
