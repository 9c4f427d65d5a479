// Checks every decoder of untrusted bytes gets: truncations refused, flipped
// bytes survived (the ASan build turns a read past the input into a failure).
#ifndef BROOK_TESTS_DECODE_CHECKS_H_
#define BROOK_TESTS_DECODE_CHECKS_H_

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "brook/status.h"

namespace brook::test {

using Decoder = std::function<Status(std::string_view)>;

// Every strict prefix of `frame` must be refused by `decode`.
inline void CheckTruncationsRefused(const std::string& frame, const Decoder& decode) {
  for (size_t n = 0; n < frame.size(); ++n) {
    INFO("prefix of " << n << " of " << frame.size() << " bytes");
    CHECK_FALSE(decode(std::string_view(frame.data(), n)).ok());
  }
}

// Flipping bytes may or may not leave a valid message; it must never crash.
// `decode` may check what still decodes.
inline void FlipEveryByte(const std::string& frame, const Decoder& decode) {
  for (size_t i = 0; i < frame.size(); ++i) {
    for (uint8_t bit : {0x01, 0x02, 0x40, 0x80}) {
      std::string bad = frame;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      Status s = decode(bad);
      (void)s;
    }
  }
}

}  // namespace brook::test

#endif  // BROOK_TESTS_DECODE_CHECKS_H_
