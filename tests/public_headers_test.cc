// The public API is usable with nothing but brook's headers and the standard
// library: no LMDB, ZeroMQ or msgpack leaks out of include/brook/.
#include <catch2/catch.hpp>

#include "brook/journal.h"
#include "brook/options.h"
#include "brook/partitioner.h"
#include "brook/record.h"
#include "brook/status.h"

#ifdef LMDB_H_
#error "a public header pulled in lmdb.h"
#endif
#ifdef MSGPACK_HPP
#error "a public header pulled in msgpack"
#endif

TEST_CASE("public headers carry documented defaults", "[api]") {
  brook::JournalOptions o;
  CHECK(o.durability == brook::Durability::kFsync);
  CHECK(o.create_if_missing);
  CHECK(std::string(brook::DurabilityName(brook::Durability::kNoSync)) == "nosync");
  brook::TopicConfig t;
  CHECK(t.partitions == 1);
  CHECK(t.retention.unlimited());
  brook::ProducerId id;
  id.bytes[0] = 0xab;
  id.bytes[15] = 0x01;
  CHECK(id.ToHex() == "ab000000000000000000000000000001");
}
