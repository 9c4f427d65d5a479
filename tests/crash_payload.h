// The payload of the crash child's record number `seq`: deterministic, so the
// parent can check each acknowledged record's content byte for byte.
#ifndef BROOK_TESTS_CRASH_PAYLOAD_H_
#define BROOK_TESTS_CRASH_PAYLOAD_H_

#include <cstdint>
#include <string>

namespace brook::test {

inline std::string CrashPayload(uint64_t seq) {
  std::string p = "seq=" + std::to_string(seq) + ";";
  const size_t len = 40 + seq % 200;
  uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
  while (p.size() < len) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p += static_cast<char>('a' + x % 26);
  }
  return p;
}

}  // namespace brook::test

#endif  // BROOK_TESTS_CRASH_PAYLOAD_H_
