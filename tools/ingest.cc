#include "tools/ingest.h"

#include "common/msgpack_lite.h"

namespace brook::ingest {

namespace {

Status Bad(const std::string& what) {
  return Status::InvalidArgument("malformed ingest message: " + what);
}

bool IsNil(mp::Reader* r) {
  uint8_t b = 0;
  if (r->PeekByte(&b) && b == 0xc0) {
    r->Byte(&b);
    return true;
  }
  return false;
}

// Headers are [name, value] pairs kept in one vector per request; each
// record's `headers` is filled once the whole vector is stable.
struct HeaderSpan {
  size_t first = 0;
  size_t count = 0;
};

}  // namespace

void EncodePublish(uint64_t id, std::string_view topic, uint32_t create_partitions,
                   const std::vector<RecordInput>& records, std::string* out) {
  out->clear();
  mp::Writer w(out);
  w.ArrayHeader(6);
  w.Uint(kVersion);
  w.Uint(kKindPublish);
  w.Uint(id);
  w.Str(topic);
  w.Uint(create_partitions);
  w.ArrayHeader(records.size());
  for (const RecordInput& r : records) {
    w.ArrayHeader(4);
    if (r.key) {
      w.Bin(*r.key);
    } else {
      w.Nil();
    }
    w.ArrayHeader(r.headers.size());
    for (const Header& h : r.headers) {
      w.ArrayHeader(2);
      w.Bin(h.name);
      w.Bin(h.value);
    }
    w.Bin(r.payload);
    if (r.partition) {
      w.Uint(*r.partition);
    } else {
      w.Nil();
    }
  }
}

Status DecodePublish(std::string_view frame, PublishRequest* out) {
  out->id = 0;
  out->records.clear();
  mp::Reader r(frame);
  uint64_t n = 0, version = 0, kind = 0, create = 0, count = 0;
  if (!r.ArrayHeader(&n) || n != 6) return Bad("expected an array of 6");
  if (!r.Uint(&version)) return Bad("no version");
  if (version != kVersion) {
    return Status::FailedPrecondition("ingest protocol version " + std::to_string(version) +
                                      " is not supported (this node speaks " +
                                      std::to_string(kVersion) + ")");
  }
  if (!r.Uint(&kind) || kind != kKindPublish) return Bad("unknown kind");
  if (!r.Uint(&out->id)) return Bad("no id");
  if (!r.Str(&out->topic)) return Bad("topic is not a string");
  if (!r.UintAtMost(UINT32_MAX, &create)) return Bad("bad partition count");
  out->create_partitions = static_cast<uint32_t>(create);
  if (!r.ArrayHeader(&count)) return Bad("records is not an array");
  if (count == 0) return Status::InvalidArgument("a publish request needs at least one record");
  if (count > kMaxRecordsPerRequest || count > r.remaining() / 4) {
    return Bad("record count " + std::to_string(count) + " is larger than the message allows");
  }
  out->records.resize(count);
  // Header storage for all records first, spans after, so pointers stay put.
  std::vector<Header> all_headers;
  std::vector<HeaderSpan> spans(count);
  for (uint64_t i = 0; i < count; ++i) {
    RecordInput& rec = out->records[i];
    uint64_t fields = 0, headers = 0, partition = 0;
    const std::string which = "record " + std::to_string(i) + ": ";
    if (!r.ArrayHeader(&fields) || fields != 4) return Bad(which + "expected an array of 4");
    if (!IsNil(&r)) {
      std::string_view key;
      if (!r.Bin(&key)) return Bad(which + "key is neither bytes nor nil");
      rec.key = key;
    }
    if (!r.ArrayHeader(&headers) || headers > r.remaining() / 3) return Bad(which + "bad headers");
    spans[i].first = all_headers.size();
    spans[i].count = headers;
    for (uint64_t h = 0; h < headers; ++h) {
      uint64_t pair = 0;
      Header hd;
      if (!r.ArrayHeader(&pair) || pair != 2 || !r.Bin(&hd.name) || !r.Bin(&hd.value)) {
        return Bad(which + "header " + std::to_string(h) + " is not [name, value]");
      }
      all_headers.push_back(hd);
    }
    if (!r.Bin(&rec.payload)) return Bad(which + "payload is not bytes");
    if (!IsNil(&r)) {
      if (!r.UintAtMost(UINT32_MAX, &partition)) return Bad(which + "bad partition");
      rec.partition = static_cast<uint32_t>(partition);
    }
  }
  if (!r.empty()) return Bad("bytes after the message");
  for (uint64_t i = 0; i < count; ++i) {
    out->records[i].headers.assign(all_headers.begin() + spans[i].first,
                                   all_headers.begin() + spans[i].first + spans[i].count);
  }
  return Status::OK();
}

void EncodeAck(uint64_t id, const std::vector<RecordPosition>& positions, std::string* out) {
  out->clear();
  mp::Writer w(out);
  w.ArrayHeader(4);
  w.Uint(kVersion);
  w.Uint(kKindAck);
  w.Uint(id);
  w.ArrayHeader(positions.size());
  for (const RecordPosition& p : positions) {
    w.ArrayHeader(3);
    w.Uint(p.partition);
    w.Uint(p.offset);
    w.Uint(static_cast<uint64_t>(p.timestamp_ns < 0 ? 0 : p.timestamp_ns));
  }
}

void EncodeError(uint64_t id, const Status& error, std::string* out) {
  out->clear();
  mp::Writer w(out);
  w.ArrayHeader(5);
  w.Uint(kVersion);
  w.Uint(kKindError);
  w.Uint(id);
  w.Uint(static_cast<uint64_t>(error.code()));
  w.Str(error.message());
}

Status DecodeAnswer(std::string_view frame, Answer* out) {
  mp::Reader r(frame);
  uint64_t n = 0, version = 0;
  out->positions.clear();
  out->error = Status::OK();
  if (!r.ArrayHeader(&n) || n < 4) return Bad("expected an array of at least 4");
  if (!r.Uint(&version) || version != kVersion) {
    return Status::FailedPrecondition("the node answered in ingest protocol version " +
                                      std::to_string(version) + "; this brook speaks " +
                                      std::to_string(kVersion));
  }
  if (!r.Uint(&out->kind) || !r.Uint(&out->id)) return Bad("no kind or id");
  if (out->kind == kKindAck && n == 4) {
    uint64_t count = 0;
    if (!r.ArrayHeader(&count) || count > r.remaining() / 4) return Bad("bad positions");
    out->positions.resize(count);
    for (RecordPosition& p : out->positions) {
      uint64_t fields = 0, partition = 0, ts = 0;
      if (!r.ArrayHeader(&fields) || fields != 3 || !r.UintAtMost(UINT32_MAX, &partition) ||
          !r.Uint(&p.offset) || !r.UintAtMost(INT64_MAX, &ts)) {
        return Bad("bad position");
      }
      p.partition = static_cast<uint32_t>(partition);
      p.timestamp_ns = static_cast<int64_t>(ts);
    }
  } else if (out->kind == kKindError && n == 5) {
    uint64_t code = 0;
    std::string_view message;
    if (!r.UintAtMost(static_cast<uint64_t>(Status::Code::kInternal), &code) || code == 0 ||
        !r.Str(&message)) {
      return Bad("bad error answer");
    }
    out->error = Status(static_cast<Status::Code>(code), message);
  } else {
    return Bad("unknown answer kind " + std::to_string(out->kind));
  }
  if (!r.empty()) return Bad("bytes after the message");
  return Status::OK();
}

}  // namespace brook::ingest
