// Helpers shared by the fuzz targets (fuzz/*_fuzz.cc) and the seed generator
// (fuzz/make_seeds.cc). Not part of brook.
#ifndef BROOK_FUZZ_FUZZ_UTIL_H_
#define BROOK_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brook/journal.h"
#include "brook/record.h"
#include "common/msgpack_lite.h"
#include "journal/crc32c.h"
#include "journal/record_format.h"

// Checks an invariant in every build type (assert() is gone under NDEBUG):
// a failed check aborts, which libFuzzer reports as a crash with the input.
#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace brook::fuzz {

// True if `v` lies entirely within [begin, begin + size). An empty view may
// sit at the end of the range. Compared as integers: no pointer UB.
inline bool Inside(std::string_view v, const void* begin, size_t size) {
  const auto b = reinterpret_cast<uintptr_t>(begin);
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return p >= b && p <= b + size && v.size() <= b + size - p;
}
inline bool Inside(std::string_view v, std::string_view range) {
  return Inside(v, range.data(), range.size());
}

inline bool SameWatermarks(const Watermarks& a, const Watermarks& b) {
  return a.low_watermark == b.low_watermark && a.high_watermark == b.high_watermark;
}

inline void PutBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline uint64_t GetBE(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// Walks the records encoded back to back in `buf` (journal/record_format.h)
// as far as their structure allows and makes each one's checksum right, so
// that fuzzing reaches what lies behind the CRC check. With `renumber`, the
// records' offsets are first rewritten to first_offset, first_offset+1, ...
// Returns how many records were sealed. Mirrors the format, not the decoder's
// code: a record the walk accepts but the decoder rejects (or the reverse) is
// still just an input.
inline size_t SealRecords(char* buf, size_t size, bool renumber, uint64_t first_offset) {
  size_t pos = 0, sealed = 0;
  while (pos < size) {
    mp::Reader r(std::string_view(buf + pos, size - pos));
    uint8_t m;
    uint64_t v;
    std::string_view skip;
    if (!r.Byte(&m) || m != journal::kRecordMarker) break;
    if (!r.Byte(&m) || m != 0xcf || !r.BE(8, &v)) break;
    if (!r.Byte(&m) || m != 0xcf || !r.BE(8, &v)) break;
    if (!r.Byte(&m)) break;
    if (m != 0xc0 && !r.BinAfter(m, &skip)) break;
    uint64_t count;
    if (!r.MapHeader(&count) || count > r.remaining() / 2) break;
    bool ok = true;
    for (uint64_t i = 0; i < count && ok; ++i) ok = r.Str(&skip) && r.Bin(&skip);
    if (!ok || !r.Bin(&skip)) break;
    const size_t body = static_cast<size_t>(r.pos() - (buf + pos));
    if (r.remaining() < journal::kCrcFieldSize) break;
    char* rec = buf + pos;
    if (renumber) {
      const uint64_t offset = first_offset + sealed;
      for (int i = 0; i < 8; ++i)
        rec[journal::kOffsetValuePos + i] = static_cast<char>((offset >> (8 * (7 - i))) & 0xff);
    }
    const uint32_t crc = journal::Crc32c(rec, body);
    rec[body] = static_cast<char>(0xce);
    for (int i = 0; i < 4; ++i)
      rec[body + 1 + i] = static_cast<char>((crc >> (8 * (3 - i))) & 0xff);
    pos += body + journal::kCrcFieldSize;
    ++sealed;
  }
  return sealed;
}

// Checks what every successfully decoded record must satisfy: its views lie
// in its own encoding, which lies in `range`; the checksum field is the
// CRC-32C of the bytes before it; and re-encoding the decoded fields with the
// real encoder and decoding that gives the same fields again (byte for byte
// the same encoding when the input used the smallest forms).
inline void CheckDecodedRecord(const RecordView& rec, const Header* headers,
                               std::string_view range) {
  const std::string_view enc = rec.encoded;
  FUZZ_CHECK(Inside(enc, range));
  FUZZ_CHECK(enc.size() >= journal::kMinRecordSize);
  FUZZ_CHECK(static_cast<uint8_t>(enc[0]) == journal::kRecordMarker);
  FUZZ_CHECK(journal::PeekOffset(enc.data()) == rec.offset);
  FUZZ_CHECK(journal::PeekTimestamp(enc.data()) == rec.timestamp_ns);
  FUZZ_CHECK(rec.timestamp_ns >= 0);
  if (rec.key) FUZZ_CHECK(Inside(*rec.key, enc));
  FUZZ_CHECK(Inside(rec.payload, enc));
  const size_t body = enc.size() - journal::kCrcFieldSize;
  FUZZ_CHECK(static_cast<uint8_t>(enc[body]) == 0xce);
  const auto* u = reinterpret_cast<const uint8_t*>(enc.data());
  const uint32_t crc = journal::Crc32c(enc.data(), body);
  FUZZ_CHECK(crc == GetBE(u + body + 1, 4));
  FUZZ_CHECK(crc == journal::Crc32cPortable(enc.data(), body));

  RecordInput in;
  in.key = rec.key;
  in.payload = rec.payload;
  bool duplicate_names = false;
  for (size_t i = 0; i < rec.header_count; ++i) {
    FUZZ_CHECK(Inside(headers[i].name, enc));
    FUZZ_CHECK(Inside(headers[i].value, enc));
    for (size_t j = 0; j < i; ++j) duplicate_names |= headers[j].name == headers[i].name;
    in.headers.push_back(headers[i]);
  }
  const size_t size = journal::EncodedRecordSize(in);
  // The decoder accepts repeated header names (docs/PROTOCOL.md does not ask
  // it to refuse them); the encoder refuses them by returning size 0, and its
  // callers must not go on to EncodeRecord.
  FUZZ_CHECK((size == 0) == duplicate_names);
  if (duplicate_names) return;
  FUZZ_CHECK(size <= enc.size());
  std::vector<char> again;
  FUZZ_CHECK(journal::EncodeRecord(in, &again) == size);
  FUZZ_CHECK(again.size() == size);
  journal::SealRecord(again.data(), again.size(), rec.offset, rec.timestamp_ns);
  if (size == enc.size()) FUZZ_CHECK(std::string_view(again.data(), size) == enc);

  RecordView back;
  std::vector<Header> back_headers;
  size_t used = 0;
  const std::string_view again_view(again.data(), again.size());
  FUZZ_CHECK(journal::DecodeRecord(again_view, &back, &back_headers, &used).ok());
  FUZZ_CHECK(used == size);
  FUZZ_CHECK(back.offset == rec.offset && back.timestamp_ns == rec.timestamp_ns);
  FUZZ_CHECK(back.key == rec.key);
  FUZZ_CHECK(back.payload == rec.payload);
  FUZZ_CHECK(back.header_count == rec.header_count && back_headers.size() == rec.header_count);
  for (size_t i = 0; i < rec.header_count; ++i)
    FUZZ_CHECK(back_headers[i].name == headers[i].name &&
               back_headers[i].value == headers[i].value);
}

// Checks a batch that DecodeRecords filled from `bytes`: `count` records,
// consecutive offsets from first_offset, encodings back to back covering the
// batch's own copy of `bytes`, headers linked in order.
inline void CheckDecodedBatch(const RecordBatch& batch, std::string_view bytes,
                              uint64_t first_offset, uint32_t count) {
  FUZZ_CHECK(batch.size() == count);
  FUZZ_CHECK(batch.encoded() == bytes);
  const std::string_view own = batch.encoded();
  size_t pos = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const RecordView& r = batch[i];
    FUZZ_CHECK(r.offset == first_offset + i);
    FUZZ_CHECK(r.encoded.data() == own.data() + pos);
    pos += r.encoded.size();
    CheckDecodedRecord(r, r.begin_headers(), own);
    if (i > 0) FUZZ_CHECK(r.begin_headers() == batch[i - 1].end_headers());
    for (const Header* h = r.begin_headers(); h != r.end_headers(); ++h) {
      const std::optional<std::string_view> found = r.header(h->name);
      FUZZ_CHECK(found.has_value());
    }
  }
  FUZZ_CHECK(pos == own.size());
}

}  // namespace brook::fuzz

#endif  // BROOK_FUZZ_FUZZ_UTIL_H_
