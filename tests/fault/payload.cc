#include "tests/fault/payload.h"

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "journal/crc32c.h"

namespace brook::fault {
namespace {

std::string Filler(uint64_t seq, uint32_t partition) {
  uint64_t x =
      (seq + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t{partition} + 7) * 0xBF58476D1CE4E5B9ull;
  const size_t len = x >> 58;  // 0 .. 63
  std::string f;
  f.reserve(len);
  while (f.size() < len) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f += static_cast<char>('a' + x % 26);
  }
  return f;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

}  // namespace

std::string EncodeFaultPayload(const FaultRecord& r) {
  std::string p = "F." + r.tag + "." + r.topic + "." + std::to_string(r.partition) + "." +
                  std::to_string(r.seq) + "." + Filler(r.seq, r.partition) + ".";
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08" PRIx32, journal::Crc32c(p.data(), p.size()));
  return p + crc;
}

bool DecodeFaultPayload(std::string_view payload, FaultRecord* out, std::string* why) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t i = 0; i <= payload.size() && fields.size() < 8; ++i) {
    if (i == payload.size() || payload[i] == '.') {
      fields.push_back(payload.substr(start, i - start));
      start = i + 1;
    }
  }
  if (fields.size() != 7 || fields[0] != "F") {
    *why = "not a fault-suite payload";
    return false;
  }
  const size_t body = payload.size() - fields[6].size();
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08" PRIx32, journal::Crc32c(payload.data(), body));
  if (fields[6] != std::string_view(crc, 8)) {
    *why = "checksum mismatch (torn or corrupted record)";
    return false;
  }
  uint64_t partition = 0, seq = 0;
  if (!ParseU64(fields[3], &partition) || partition > UINT32_MAX || !ParseU64(fields[4], &seq)) {
    *why = "bad partition or sequence field";
    return false;
  }
  out->tag = std::string(fields[1]);
  out->topic = std::string(fields[2]);
  out->partition = static_cast<uint32_t>(partition);
  out->seq = seq;
  if (fields[5] != Filler(seq, out->partition)) {
    *why = "filler does not match the sequence";
    return false;
  }
  return true;
}

}  // namespace brook::fault
