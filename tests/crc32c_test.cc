#include <catch2/catch.hpp>

#include <string>

#include "journal/crc32c.h"

using brook::journal::Crc32c;

TEST_CASE("crc32c matches the standard check value and RFC 3720 vectors", "[crc32c]") {
  CHECK(Crc32c("123456789", 9) == 0xE3069283u);
  std::string zeros(32, '\0');
  CHECK(Crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  std::string ones(32, '\xff');
  CHECK(Crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i);
  CHECK(Crc32c(ascending.data(), ascending.size()) == 0x46DD794Eu);
  CHECK(Crc32c("", 0) == 0u);
}

TEST_CASE("crc32c of unaligned and odd-length inputs detects a single flipped bit", "[crc32c]") {
  std::string buf(1027, 'q');
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(i * 31 + 7);
  for (size_t start = 0; start < 9; ++start) {
    const uint32_t base = Crc32c(buf.data() + start, buf.size() - start);
    std::string flipped = buf;
    flipped[start + 100] ^= 0x10;
    CHECK(Crc32c(flipped.data() + start, flipped.size() - start) != base);
  }
}

TEST_CASE("crc32c's hardware and table implementations agree on every length and alignment",
          "[crc32c]") {
  std::string buf(600, '\0');
  uint32_t x = 7;
  for (auto& c : buf) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  for (size_t start = 0; start < 16; ++start)
    for (size_t len = 0; start + len <= buf.size(); len += 1 + len / 8)
      REQUIRE(Crc32c(buf.data() + start, len) ==
              brook::journal::Crc32cPortable(buf.data() + start, len));
  CHECK(brook::journal::Crc32cPortable("123456789", 9) == 0xE3069283u);
}
