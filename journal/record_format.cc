#include "journal/record_format.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "common/msgpack_lite.h"
#include "journal/crc32c.h"
#include "journal/journal_format.h"

namespace brook::journal {
namespace {

void PutBE(char* p, uint64_t v, int bytes) {
  switch (bytes) {
    case 8:
      PutU64BE(p, v);
      return;
    case 4:
      PutU32BE(p, static_cast<uint32_t>(v));
      return;
    default:
      for (int i = bytes - 1; i >= 0; --i) {
        p[i] = static_cast<char>(v & 0xff);
        v >>= 8;
      }
  }
}

uint64_t GetBE(const char* p, int bytes) {
  switch (bytes) {
    case 8:
      return GetU64BE(p);
    case 4:
      return GetU32BE(p);
    default: {
      uint64_t v = 0;
      for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
      return v;
    }
  }
}

size_t BinHeaderSize(size_t n) { return n < 256 ? 2 : n < 65536 ? 3 : 5; }
size_t StrHeaderSize(size_t n) { return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5; }
size_t MapHeaderSize(size_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }

char* PutBinHeader(char* p, size_t n) {
  if (n < 256) {
    *p++ = char(0xc4);
    PutBE(p, n, 1);
    return p + 1;
  }
  if (n < 65536) {
    *p++ = char(0xc5);
    PutBE(p, n, 2);
    return p + 2;
  }
  *p++ = char(0xc6);
  PutBE(p, n, 4);
  return p + 4;
}

char* PutStrHeader(char* p, size_t n) {
  if (n < 32) {
    *p++ = char(0xa0 | n);
    return p;
  }
  if (n < 256) {
    *p++ = char(0xd9);
    PutBE(p, n, 1);
    return p + 1;
  }
  if (n < 65536) {
    *p++ = char(0xda);
    PutBE(p, n, 2);
    return p + 2;
  }
  *p++ = char(0xdb);
  PutBE(p, n, 4);
  return p + 4;
}

char* PutMapHeader(char* p, size_t n) {
  if (n < 16) {
    *p++ = char(0x80 | n);
    return p;
  }
  if (n < 65536) {
    *p++ = char(0xde);
    PutBE(p, n, 2);
    return p + 2;
  }
  *p++ = char(0xdf);
  PutBE(p, n, 4);
  return p + 4;
}

bool HasDuplicateNames(const std::vector<Header>& headers) {
  // Records carry few headers: a quadratic scan beats building a set.
  for (size_t i = 0; i < headers.size(); ++i)
    for (size_t j = i + 1; j < headers.size(); ++j)
      if (headers[i].name == headers[j].name) return true;
  return false;
}

using mp::Reader;

Status Malformed(const char* what) {
  return Status::DataLoss(std::string("malformed record: ") + what);
}

}  // namespace

size_t EncodedRecordSize(const RecordInput& in) {
  if (HasDuplicateNames(in.headers)) return 0;
  size_t n = 1 + 9 + 9;
  n += in.key ? BinHeaderSize(in.key->size()) + in.key->size() : 1;
  n += MapHeaderSize(in.headers.size());
  for (const Header& h : in.headers)
    n += StrHeaderSize(h.name.size()) + h.name.size() + BinHeaderSize(h.value.size()) +
         h.value.size();
  n += BinHeaderSize(in.payload.size()) + in.payload.size();
  n += kCrcFieldSize;
  return n;
}

size_t EncodeRecord(const RecordInput& in, std::vector<char>* out) {
  const size_t size = EncodedRecordSize(in);
  const size_t start = out->size();
  out->resize(start + size);
  char* p = out->data() + start;
  *p++ = char(kRecordMarker);
  *p++ = char(0xcf);
  PutBE(p, 0, 8);
  p += 8;
  *p++ = char(0xcf);
  PutBE(p, 0, 8);
  p += 8;
  if (in.key) {
    p = PutBinHeader(p, in.key->size());
    if (!in.key->empty()) std::memcpy(p, in.key->data(), in.key->size());
    p += in.key->size();
  } else {
    *p++ = char(0xc0);
  }
  p = PutMapHeader(p, in.headers.size());
  for (const Header& h : in.headers) {
    p = PutStrHeader(p, h.name.size());
    if (!h.name.empty()) std::memcpy(p, h.name.data(), h.name.size());
    p += h.name.size();
    p = PutBinHeader(p, h.value.size());
    if (!h.value.empty()) std::memcpy(p, h.value.data(), h.value.size());
    p += h.value.size();
  }
  p = PutBinHeader(p, in.payload.size());
  if (!in.payload.empty()) std::memcpy(p, in.payload.data(), in.payload.size());
  p += in.payload.size();
  *p++ = char(0xce);
  PutBE(p, 0, 4);
  return size;
}

void SealRecord(char* record, size_t size, uint64_t offset, int64_t timestamp_ns) {
  PutBE(record + kOffsetValuePos, offset, 8);
  PutBE(record + kTimestampValuePos, static_cast<uint64_t>(timestamp_ns), 8);
  const size_t body = size - kCrcFieldSize;
  record[body] = char(0xce);
  PutBE(record + body + 1, Crc32c(record, body), 4);
}

uint64_t PeekOffset(const char* record) { return GetBE(record + kOffsetValuePos, 8); }
int64_t PeekTimestamp(const char* record) {
  return static_cast<int64_t>(GetBE(record + kTimestampValuePos, 8));
}

Status DecodeRecord(std::string_view in, RecordView* out, std::vector<Header>* headers,
                    size_t* consumed) {
  Reader r(in);
  uint8_t m;
  uint64_t v;
  if (!r.Byte(&m) || m != kRecordMarker) return Malformed("does not start with fixarray(6)");
  if (!r.Byte(&m) || m != 0xcf || !r.BE(8, &v)) return Malformed("offset is not a uint64");
  out->offset = v;
  if (!r.Byte(&m) || m != 0xcf || !r.BE(8, &v)) return Malformed("timestamp is not a uint64");
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return Malformed("timestamp exceeds INT64_MAX");
  out->timestamp_ns = static_cast<int64_t>(v);

  if (!r.Byte(&m)) return Malformed("truncated before key");
  if (m == 0xc0) {
    out->key.reset();
  } else {
    std::string_view key;
    if (!r.BinAfter(m, &key)) return Malformed("key is not nil or bin, or is truncated");
    out->key = key;
  }

  uint64_t count;
  if (!r.MapHeader(&count)) return Malformed("headers are not a map");
  // Each header takes at least two bytes: a count beyond that is a lie.
  if (count > r.remaining() / 2) return Malformed("header count exceeds record size");
  const size_t first_header = headers->size();
  for (uint64_t i = 0; i < count; ++i) {
    Header h;
    if (!r.Str(&h.name)) {
      headers->resize(first_header);
      return Malformed("header name is not a str, or is truncated");
    }
    if (!r.Byte(&m) || !r.BinAfter(m, &h.value)) {
      headers->resize(first_header);
      return Malformed("header value is not bin, or is truncated");
    }
    headers->push_back(h);
  }
  out->header_count = static_cast<size_t>(count);
  out->headers_begin = nullptr;

  if (!r.Byte(&m) || !r.BinAfter(m, &out->payload)) {
    headers->resize(first_header);
    return Malformed("payload is not bin, or is truncated");
  }
  const size_t body = static_cast<size_t>(r.pos() - in.data());
  if (!r.Byte(&m) || m != 0xce || !r.BE(4, &v)) {
    headers->resize(first_header);
    return Malformed("checksum is not a uint32");
  }
  const uint32_t actual = Crc32c(in.data(), body);
  if (actual != static_cast<uint32_t>(v)) {
    headers->resize(first_header);
    char buf[96];
    std::snprintf(buf, sizeof buf, "checksum mismatch (stored %08x, computed %08x)",
                  static_cast<unsigned>(v), actual);
    return Status::DataLoss(buf);
  }
  *consumed = body + kCrcFieldSize;
  out->encoded = std::string_view(in.data(), *consumed);
  return Status::OK();
}

void LinkHeaders(std::vector<RecordView>* records, std::vector<Header>* headers) {
  size_t next = 0;
  for (RecordView& r : *records) {
    r.headers_begin = headers->data() + next;
    next += r.header_count;
  }
}

}  // namespace brook::journal
