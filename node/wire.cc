#include "node/wire.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/msgpack_lite.h"
#include "journal/group_name.h"
#include "journal/record_format.h"

namespace brook::node {
namespace {

Status Bad(const std::string& what) {
  return Status::InvalidArgument("malformed message: " + what);
}

// A producer id or a member id: a bin of exactly the id's size.
template <typename Id>
void WriteId(mp::Writer& w, const Id& id) {
  w.Bin(std::string_view(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size()));
}

template <typename Id>
bool ReadId(mp::Reader& r, Id* id) {
  std::string_view b;
  if (!r.Bin(&b) || b.size() != id->bytes.size()) return false;
  std::memcpy(id->bytes.data(), b.data(), b.size());
  return true;
}

void WriteWatermarks(mp::Writer& w, const Watermarks& m) {
  w.ArrayHeader(2);
  w.Uint(m.low_watermark);
  w.Uint(m.high_watermark);
}

bool ReadWatermarks(mp::Reader& r, Watermarks* m) {
  uint64_t n;
  return r.ArrayHeader(&n) && n == 2 && r.Uint(&m->low_watermark) && r.Uint(&m->high_watermark) &&
         m->low_watermark <= m->high_watermark;
}

bool ReadPartitionList(mp::Reader& r, std::vector<Watermarks>* out) {
  uint64_t n;
  if (!r.ArrayHeader(&n) || n > kMaxPartitions || n > r.remaining() / 3) return false;
  out->resize(static_cast<size_t>(n));
  for (auto& m : *out)
    if (!ReadWatermarks(r, &m)) return false;
  return true;
}

bool ReadU32(mp::Reader& r, uint32_t* v) {
  uint64_t x;
  if (!r.UintAtMost(std::numeric_limits<uint32_t>::max(), &x)) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

// Reads "[version, kind" and checks the array has `expected` elements.
// Returns false with *status set on failure.
bool ReadEnvelope(mp::Reader& r, Kind* kind, uint64_t* elements, Status* status,
                  bool* bad_version) {
  uint64_t version, k;
  *bad_version = false;
  if (!r.ArrayHeader(elements) || *elements < 2) {
    *status = Bad("not a msgpack array of at least 2 elements");
    return false;
  }
  if (!r.Uint(&version)) {
    *status = Bad("version is not an unsigned integer");
    return false;
  }
  if (version != kProtocolVersion) {
    *bad_version = true;
    *status =
        Status::InvalidArgument("unsupported protocol version " + std::to_string(version) +
                                "; this node speaks version " + std::to_string(kProtocolVersion));
    return false;
  }
  if (!r.UintAtMost(255, &k)) {
    *status = Bad("kind is not a small unsigned integer");
    return false;
  }
  *kind = static_cast<Kind>(k);
  return true;
}

Status WrongCount(const char* what, uint64_t got, uint64_t want) {
  return Bad(std::string(what) + " has " + std::to_string(got) + " elements, not " +
             std::to_string(want));
}

}  // namespace

// ---------------------------------------------------------------------------
// Live

void EncodeRecordsPrefix(std::string_view topic, const RecordsHeader& h, std::string* out) {
  out->append(topic.data(), topic.size());
  out->push_back('\0');
  mp::Writer w(out);
  w.ArrayHeader(7);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kRecords));
  WriteId(w, h.producer);
  w.Uint(h.epoch);
  w.Uint(h.partition);
  w.Uint(h.first_offset);
  w.Uint(h.count);
}

void EncodeHeartbeat(std::string_view topic, const Heartbeat& h, std::string* out) {
  out->append(topic.data(), topic.size());
  out->push_back('\0');
  mp::Writer w(out);
  w.ArrayHeader(6);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kHeartbeat));
  WriteId(w, h.producer);
  w.Uint(h.epoch);
  w.Uint(static_cast<uint64_t>(h.sent_ns < 0 ? 0 : h.sent_ns));
  w.ArrayHeader(h.partitions.size());
  for (const Watermarks& m : h.partitions) WriteWatermarks(w, m);
}

Status DecodeLive(std::string_view frame, LiveMessage* out) {
  const size_t nul = frame.find('\0');
  if (nul == std::string_view::npos || nul == 0 || nul > 255)
    return Bad("live frame does not start with a topic name and a NUL byte");
  out->topic = frame.substr(0, nul);
  mp::Reader r(frame.substr(nul + 1));
  uint64_t n;
  Status s;
  bool bad_version;
  if (!ReadEnvelope(r, &out->kind, &n, &s, &bad_version)) return s;
  if (out->kind == Kind::kRecords) {
    if (n != 7) return WrongCount("records header", n, 7);
    RecordsHeader& h = out->records;
    if (!ReadId(r, &h.producer) || !r.Uint(&h.epoch) || !ReadU32(r, &h.partition) ||
        !r.Uint(&h.first_offset) || !ReadU32(r, &h.count))
      return Bad("records header fields are missing or of the wrong type");
    if (h.count == 0) return Bad("records frame with zero records");
    if (h.first_offset > std::numeric_limits<uint64_t>::max() - h.count)
      return Bad("records frame offsets overflow");
    // Each record takes at least kMinRecordSize bytes: a count beyond that is a lie.
    if (h.count > r.remaining() / journal::kMinRecordSize)
      return Bad("records frame claims more records than it holds");
    out->record_bytes = r.rest();
    return Status::OK();
  }
  if (out->kind == Kind::kHeartbeat) {
    if (n != 6) return WrongCount("heartbeat", n, 6);
    Heartbeat& h = out->heartbeat;
    uint64_t sent;
    if (!ReadId(r, &h.producer) || !r.Uint(&h.epoch) ||
        !r.UintAtMost(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), &sent) ||
        !ReadPartitionList(r, &h.partitions))
      return Bad("heartbeat fields are missing or of the wrong type");
    h.sent_ns = static_cast<int64_t>(sent);
    if (!r.empty()) return Bad("trailing bytes after a heartbeat");
    return Status::OK();
  }
  return Bad("unknown live message kind " + std::to_string(static_cast<int>(out->kind)));
}

// ---------------------------------------------------------------------------
// Requests

void EncodeDescribe(uint64_t id, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(3);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kDescribe));
  w.Uint(id);
}

void EncodeFetch(const Request& f, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(10);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kFetch));
  w.Uint(f.id);
  w.Str(f.topic);
  w.Uint(f.partition);
  w.Uint(f.from_offset);
  w.Uint(f.max_records);
  w.Uint(f.max_bytes);
  w.Uint(f.credit);
  w.Uint(f.epoch);
}

void EncodeCredit(uint64_t id, uint32_t pages, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(4);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kCredit));
  w.Uint(id);
  w.Uint(pages);
}

void EncodeCancel(uint64_t id, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(3);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kCancel));
  w.Uint(id);
}

void EncodeSeek(uint64_t id, std::string_view topic, uint32_t partition, uint64_t timestamp_ns,
                std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(6);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kSeek));
  w.Uint(id);
  w.Str(topic);
  w.Uint(partition);
  w.Uint(timestamp_ns);
}

namespace {

// Reads "[version, kind, request_id" of a request with *elements elements.
// On failure *error_code says which error answer to give and *id is set when
// it could be read (a version this node does not speak, too: the id lets the
// client match the error).
Status ReadRequestEnvelope(mp::Reader& r, Kind* kind, uint64_t* elements, uint64_t* id,
                           ErrorCode* error_code) {
  *error_code = ErrorCode::kBadRequest;
  Status s;
  bool bad_version;
  if (!ReadEnvelope(r, kind, elements, &s, &bad_version)) {
    if (bad_version) {
      *error_code = ErrorCode::kUnsupportedVersion;
      uint64_t v;
      uint8_t k;
      if (r.Byte(&k) && r.Uint(&v)) *id = v;
    }
    return s;
  }
  if (*elements < 3 || !r.Uint(id)) return Bad("request id is missing or not an unsigned integer");
  return Status::OK();
}

}  // namespace

Status DecodeRequest(std::string_view frame, Request* out, ErrorCode* error_code) {
  *out = Request{};
  mp::Reader r(frame);
  uint64_t n;
  Status s = ReadRequestEnvelope(r, &out->kind, &n, &out->id, error_code);
  if (!s.ok()) return s;
  switch (out->kind) {
    case Kind::kDescribe:
    case Kind::kCancel:
      if (n != 3) return WrongCount("request", n, 3);
      break;
    case Kind::kCredit:
      if (n != 4) return WrongCount("credit", n, 4);
      if (!ReadU32(r, &out->pages) || out->pages == 0)
        return Bad("credit pages must be an integer in 1..2^32-1");
      break;
    case Kind::kFetch: {
      if (n != 10) return WrongCount("fetch", n, 10);
      if (!r.Str(&out->topic) || out->topic.empty() || out->topic.size() > 255)
        return Bad("fetch topic is not a non-empty string");
      if (!ReadU32(r, &out->partition)) return Bad("fetch partition is not a 32-bit integer");
      if (!r.Uint(&out->from_offset)) return Bad("fetch from_offset is not an unsigned integer");
      if (!r.Uint(&out->max_records) || out->max_records == 0)
        return Bad("fetch max_records must be at least 1");
      if (!r.Uint(&out->max_bytes) || out->max_bytes == 0)
        return Bad("fetch max_bytes must be at least 1");
      if (!ReadU32(r, &out->credit) || out->credit == 0)
        return Bad("fetch credit must be an integer in 1..2^32-1");
      if (!r.Uint(&out->epoch)) return Bad("fetch epoch is not an unsigned integer");
      break;
    }
    case Kind::kSeek:
      if (n != 6) return WrongCount("seek", n, 6);
      if (!r.Str(&out->topic) || out->topic.empty() || out->topic.size() > 255)
        return Bad("seek topic is not a non-empty string");
      if (!ReadU32(r, &out->partition)) return Bad("seek partition is not a 32-bit integer");
      if (!r.UintAtMost(static_cast<uint64_t>(INT64_MAX), &out->timestamp_ns))
        return Bad("seek timestamp is not an integer in 0..2^63-1");
      break;
    default:
      return Bad("unknown request kind " + std::to_string(static_cast<int>(out->kind)));
  }
  if (!r.empty()) return Bad("trailing bytes after the request");
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Answers

void EncodeDescribeAnswer(uint64_t id, const ProducerId& producer, uint64_t epoch,
                          const std::vector<TopicDescription>& topics, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(6);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kDescribeAnswer));
  w.Uint(id);
  WriteId(w, producer);
  w.Uint(epoch);
  w.ArrayHeader(topics.size());
  for (const TopicDescription& t : topics) {
    w.ArrayHeader(2);
    w.Str(t.name);
    w.ArrayHeader(t.partitions.size());
    for (const Watermarks& m : t.partitions) WriteWatermarks(w, m);
  }
}

void EncodePagePrefix(uint64_t id, uint32_t partition, uint64_t first_offset, uint32_t count,
                      const Watermarks& wm, uint64_t epoch, std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(9);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kPage));
  w.Uint(id);
  w.Uint(partition);
  w.Uint(first_offset);
  w.Uint(count);
  w.Uint(wm.low_watermark);
  w.Uint(wm.high_watermark);
  w.Uint(epoch);
}

void EncodeEnd(uint64_t id, uint64_t next_offset, const Watermarks& wm, uint64_t epoch,
               std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(7);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kEnd));
  w.Uint(id);
  w.Uint(next_offset);
  w.Uint(wm.low_watermark);
  w.Uint(wm.high_watermark);
  w.Uint(epoch);
}

void EncodeOffset(uint64_t id, uint64_t offset, const Watermarks& wm, uint64_t epoch,
                  std::string* out) {
  mp::Writer w(out);
  w.ArrayHeader(7);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kOffset));
  w.Uint(id);
  w.Uint(offset);
  w.Uint(wm.low_watermark);
  w.Uint(wm.high_watermark);
  w.Uint(epoch);
}

void EncodeError(uint64_t id, ErrorCode code, std::string_view message, const Watermarks& wm,
                 std::string* out, uint64_t lost_from) {
  mp::Writer w(out);
  w.ArrayHeader(8);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(Kind::kError));
  w.Uint(id);
  w.Uint(static_cast<uint64_t>(code));
  w.Str(message.substr(0, kMaxErrorMessage));
  w.Uint(wm.low_watermark);
  w.Uint(wm.high_watermark);
  w.Uint(lost_from);
}

Status DecodeAnswer(std::string_view frame, Answer* out) {
  *out = Answer{};
  mp::Reader r(frame);
  uint64_t n;
  Status s;
  bool bad_version;
  if (!ReadEnvelope(r, &out->kind, &n, &s, &bad_version)) return s;
  if (n < 3 || !r.Uint(&out->id)) return Bad("answer id is missing or not an unsigned integer");
  switch (out->kind) {
    case Kind::kDescribeAnswer: {
      if (n != 6) return WrongCount("describe answer", n, 6);
      uint64_t topics;
      if (!ReadId(r, &out->producer) || !r.Uint(&out->epoch) || !r.ArrayHeader(&topics) ||
          topics > kMaxTopics || topics > r.remaining() / 3)
        return Bad("describe answer fields are missing or of the wrong type");
      out->topics.resize(static_cast<size_t>(topics));
      for (TopicDescription& t : out->topics) {
        uint64_t two;
        if (!r.ArrayHeader(&two) || two != 2 || !r.Str(&t.name) ||
            !ReadPartitionList(r, &t.partitions))
          return Bad("describe answer topic entry is malformed");
      }
      break;
    }
    case Kind::kPage: {
      if (n != 9) return WrongCount("page", n, 9);
      if (!ReadU32(r, &out->partition) || !r.Uint(&out->first_offset) || !ReadU32(r, &out->count) ||
          !r.Uint(&out->watermarks.low_watermark) || !r.Uint(&out->watermarks.high_watermark) ||
          !r.Uint(&out->epoch))
        return Bad("page header fields are missing or of the wrong type");
      if (out->count == 0 || out->count > r.remaining() / journal::kMinRecordSize)
        return Bad("page record count does not match its size");
      if (out->first_offset > std::numeric_limits<uint64_t>::max() - out->count)
        return Bad("page offsets overflow");
      out->record_bytes = r.rest();
      return Status::OK();  // the records follow the header
    }
    case Kind::kEnd:
    case Kind::kOffset:
      if (n != 7) return WrongCount(out->kind == Kind::kEnd ? "end" : "offset", n, 7);
      if (!r.Uint(&out->next_offset) || !r.Uint(&out->watermarks.low_watermark) ||
          !r.Uint(&out->watermarks.high_watermark) || !r.Uint(&out->epoch))
        return Bad("end fields are missing or of the wrong type");
      break;
    case Kind::kError: {
      if (n != 8) return WrongCount("error", n, 8);
      uint64_t code;
      if (!r.UintAtMost(255, &code) || !r.Str(&out->message) ||
          out->message.size() > kMaxErrorMessage || !r.Uint(&out->watermarks.low_watermark) ||
          !r.Uint(&out->watermarks.high_watermark) || !r.Uint(&out->lost_from))
        return Bad("error fields are missing or of the wrong type");
      out->error = static_cast<ErrorCode>(code);
      break;
    }
    default:
      return Bad("unknown answer kind " + std::to_string(static_cast<int>(out->kind)));
  }
  if (!r.empty()) return Bad("trailing bytes after the answer");
  return Status::OK();
}

Status DecodeRecords(std::string_view bytes, uint64_t first_offset, uint32_t count,
                     RecordBatch* out) {
  out->Clear();
  // Each record takes at least kMinRecordSize bytes: a larger count is a lie,
  // refused before it sizes an allocation.
  if (count > bytes.size() / journal::kMinRecordSize)
    return Status::DataLoss(std::to_string(count) + " records cannot fit in " +
                            std::to_string(bytes.size()) + " bytes");
  detail::ByteBuffer& data = out->mutable_data();
  if (!bytes.empty()) std::memcpy(data.Extend(bytes.size()), bytes.data(), bytes.size());
  std::vector<RecordView>& records = out->mutable_records();
  std::vector<Header>& headers = out->mutable_headers();
  records.resize(count);
  std::string_view rest(data.data(), data.size());
  for (uint32_t i = 0; i < count; ++i) {
    size_t used = 0;
    Status s = journal::DecodeRecord(rest, &records[i], &headers, &used);
    if (!s.ok()) {
      out->Clear();
      return Status::DataLoss("record " + std::to_string(first_offset + i) +
                              " of the message: " + std::string(s.message()));
    }
    if (records[i].offset != first_offset + i) {
      out->Clear();
      return Status::DataLoss("record " + std::to_string(i) + " of the message has offset " +
                              std::to_string(records[i].offset) + ", expected " +
                              std::to_string(first_offset + i));
    }
    rest.remove_prefix(used);
  }
  if (!rest.empty()) {
    out->Clear();
    return Status::DataLoss("trailing bytes after the message's records");
  }
  journal::LinkHeaders(&records, &headers);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Consumer groups

std::string MemberId::ToHex() const {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

namespace {

// A stream generation: never 0.
bool ReadGeneration(mp::Reader& r, uint64_t* g) { return r.Uint(g) && *g >= 1; }

bool ReadTopicName(mp::Reader& r, std::string_view* topic) {
  return r.Str(topic) && !topic->empty() && topic->size() <= 255;
}

// Writes `items` (each has .topic and .partition) grouped by topic:
// [[topic, [entry, ...]], ...], topics in bytewise order, partitions
// increasing; write_entry(w, item) writes one entry.
template <typename T, typename WriteEntry>
void WriteByTopic(mp::Writer& w, const std::vector<T>& items, WriteEntry write_entry) {
  std::vector<const T*> sorted;
  sorted.reserve(items.size());
  for (const T& item : items) sorted.push_back(&item);
  std::stable_sort(sorted.begin(), sorted.end(), [](const T* a, const T* b) {
    return a->topic != b->topic ? a->topic < b->topic : a->partition < b->partition;
  });
  size_t topics = 0;
  for (size_t i = 0; i < sorted.size(); ++i)
    topics += i == 0 || sorted[i]->topic != sorted[i - 1]->topic;
  w.ArrayHeader(topics);
  for (size_t i = 0; i < sorted.size();) {
    size_t end = i;
    while (end < sorted.size() && sorted[end]->topic == sorted[i]->topic) ++end;
    w.ArrayHeader(2);
    w.Str(sorted[i]->topic);
    w.ArrayHeader(end - i);
    for (; i < end; ++i) write_entry(w, *sorted[i]);
  }
}

// Reads what WriteByTopic writes: topics strictly increasing, each with 1 or
// more entries whose partitions strictly increase, at most kMaxGroupStreams
// entries in all. Every count is checked against the bytes left (an entry
// takes at least `min_entry` bytes) before anything is read into a vector.
// read_entry(r, topic, &partition) reads one entry, array header included,
// and keeps it. On failure *why says what is wrong.
template <typename ReadEntry>
bool ReadByTopic(mp::Reader& r, size_t min_entry, const char* what, ReadEntry read_entry,
                 std::string* why) {
  uint64_t topics;
  // A topic group takes at least 4 bytes besides its entries.
  if (!r.ArrayHeader(&topics) || topics > r.remaining() / (4 + min_entry)) {
    *why = std::string(what) + " is not an array of [topic, [...]] that fits the message";
    return false;
  }
  std::string_view previous;
  size_t total = 0;
  for (uint64_t t = 0; t < topics; ++t) {
    uint64_t two, entries;
    std::string_view topic;
    if (!r.ArrayHeader(&two) || two != 2 || !ReadTopicName(r, &topic)) {
      *why = std::string(what) + ": an entry is not [topic, [...]] with a topic of 1..255 bytes";
      return false;
    }
    if (t > 0 && topic <= previous) {
      *why = std::string(what) + ": topics are not in strictly increasing order";
      return false;
    }
    previous = topic;
    if (!r.ArrayHeader(&entries) || entries == 0 || entries > kMaxPartitions ||
        entries > r.remaining() / min_entry) {
      *why = std::string(what) + ": topic '" + std::string(topic) + "' has no list of 1.." +
             std::to_string(kMaxPartitions) + " streams that fits";
      return false;
    }
    total += static_cast<size_t>(entries);
    if (total > kMaxGroupStreams) {
      *why =
          std::string(what) + " lists more than " + std::to_string(kMaxGroupStreams) + " streams";
      return false;
    }
    uint32_t last = 0;
    for (uint64_t e = 0; e < entries; ++e) {
      uint32_t partition;
      if (!read_entry(r, topic, &partition)) {
        *why = std::string(what) + ": a stream of topic '" + std::string(topic) + "' is malformed";
        return false;
      }
      if (e > 0 && partition <= last) {
        *why = std::string(what) + ": partitions of topic '" + std::string(topic) +
               "' are not in strictly increasing order";
        return false;
      }
      last = partition;
    }
  }
  return true;
}

// [partition, generation]
bool ReadStreamEntry(mp::Reader& r, std::string_view topic, std::vector<GroupStream>* out,
                     uint32_t* partition) {
  uint64_t n;
  GroupStream s;
  s.topic = topic;
  if (!r.ArrayHeader(&n) || n != 2 || !ReadU32(r, &s.partition) ||
      !ReadGeneration(r, &s.generation))
    return false;
  *partition = s.partition;
  out->push_back(s);
  return true;
}

void WriteStreamEntry(mp::Writer& w, const GroupStream& s) {
  w.ArrayHeader(2);
  w.Uint(s.partition);
  w.Uint(s.generation);
}

void WriteGroupEnvelope(mp::Writer& w, size_t elements, Kind kind, uint64_t id) {
  w.ArrayHeader(elements);
  w.Uint(kProtocolVersion);
  w.Uint(static_cast<uint64_t>(kind));
  w.Uint(id);
}

}  // namespace

Status PeekKind(std::string_view frame, Kind* kind) {
  mp::Reader r(frame);
  uint64_t n;
  Status s;
  bool bad_version;
  if (!ReadEnvelope(r, kind, &n, &s, &bad_version)) return s;
  return Status::OK();
}

void EncodeGroupHeartbeat(const GroupRequest& h, std::string* out) {
  mp::Writer w(out);
  WriteGroupEnvelope(w, 8, Kind::kGroupHeartbeat, h.id);
  w.Str(h.group);
  WriteId(w, h.member);
  w.Uint(h.session_timeout_ms);
  std::vector<std::string_view> topics = h.topics;
  std::sort(topics.begin(), topics.end());
  w.ArrayHeader(topics.size());
  for (std::string_view t : topics) w.Str(t);
  WriteByTopic(w, h.held, WriteStreamEntry);
}

void EncodeGroupCommit(const GroupRequest& c, std::string* out) {
  mp::Writer w(out);
  WriteGroupEnvelope(w, 6, Kind::kGroupCommit, c.id);
  w.Str(c.group);
  WriteId(w, c.member);
  WriteByTopic(w, c.commits, [](mp::Writer& wr, const GroupCommitStream& s) {
    wr.ArrayHeader(4);
    wr.Uint(s.partition);
    wr.Uint(s.generation);
    wr.Uint(s.next);
    wr.Uint(s.epoch);
  });
}

void EncodeGroupHeartbeatAnswer(const GroupAnswer& a, std::string* out) {
  mp::Writer w(out);
  WriteGroupEnvelope(w, 7, Kind::kGroupHeartbeatAnswer, a.id);
  w.Uint(a.membership_generation);
  std::vector<MemberId> members = a.members;
  std::sort(members.begin(), members.end());
  w.ArrayHeader(members.size());
  for (const MemberId& m : members) WriteId(w, m);
  WriteByTopic(w, a.assigned, [](mp::Writer& wr, const GroupAssignment& s) {
    wr.ArrayHeader(3);
    wr.Uint(s.partition);
    wr.Uint(s.generation);
    if (s.has_position) {
      wr.ArrayHeader(2);
      wr.Uint(s.next);
      wr.Uint(s.epoch);
    } else {
      wr.Nil();
    }
  });
  WriteByTopic(w, a.revoke, WriteStreamEntry);
}

void EncodeGroupCommitAnswer(const GroupAnswer& a, std::string* out) {
  mp::Writer w(out);
  WriteGroupEnvelope(w, 4, Kind::kGroupCommitAnswer, a.id);
  WriteByTopic(w, a.results, [](mp::Writer& wr, const GroupCommitResult& s) {
    wr.ArrayHeader(2);
    wr.Uint(s.partition);
    wr.Uint(static_cast<uint64_t>(s.result));
  });
}

Status DecodeGroupRequest(std::string_view frame, GroupRequest* out, ErrorCode* error_code) {
  *out = GroupRequest{};
  mp::Reader r(frame);
  uint64_t n;
  Status s = ReadRequestEnvelope(r, &out->kind, &n, &out->id, error_code);
  if (!s.ok()) return s;
  if (!IsGroupRequest(out->kind))
    return Bad("kind " + std::to_string(static_cast<int>(out->kind)) + " is not a group request");
  const bool heartbeat = out->kind == Kind::kGroupHeartbeat;
  const char* name = heartbeat ? "group heartbeat" : "group commit";
  if (n != (heartbeat ? 8u : 6u)) return WrongCount(name, n, heartbeat ? 8 : 6);
  if (!r.Str(&out->group)) return Bad(std::string(name) + ": the group is not a string");
  s = journal::ValidateGroupName(out->group);
  if (!s.ok()) return Bad(std::string(name) + ": " + std::string(s.message()));
  if (!ReadId(r, &out->member))
    return Bad(std::string(name) + ": the member id is not a bin of 16 bytes");
  std::string why;
  if (heartbeat) {
    uint64_t timeout, topics;
    if (!r.Uint(&timeout) || timeout == 0 || timeout > std::numeric_limits<uint32_t>::max())
      return Bad("group heartbeat: session_timeout_ms must be an integer in 1..2^32-1");
    out->session_timeout_ms = static_cast<uint32_t>(timeout);
    // A topic name takes at least 2 bytes.
    if (!r.ArrayHeader(&topics) || topics > kMaxGroupTopics || topics > r.remaining() / 2)
      return Bad("group heartbeat: topics is not an array of at most " +
                 std::to_string(kMaxGroupTopics) + " names that fits the message");
    out->topics.resize(static_cast<size_t>(topics));
    for (size_t i = 0; i < out->topics.size(); ++i) {
      if (!ReadTopicName(r, &out->topics[i]))
        return Bad("group heartbeat: a topic is not a string of 1..255 bytes");
      if (i > 0 && out->topics[i] <= out->topics[i - 1])
        return Bad("group heartbeat: topics are not in strictly increasing order");
    }
    if (!ReadByTopic(
            r, 3, "group heartbeat: held",
            [&](mp::Reader& rd, std::string_view topic, uint32_t* partition) {
              return ReadStreamEntry(rd, topic, &out->held, partition);
            },
            &why))
      return Bad(why);
  } else {
    if (!ReadByTopic(
            r, 5, "group commit: streams",
            [&](mp::Reader& rd, std::string_view topic, uint32_t* partition) {
              uint64_t four;
              GroupCommitStream c;
              c.topic = topic;
              if (!rd.ArrayHeader(&four) || four != 4 || !ReadU32(rd, &c.partition) ||
                  !ReadGeneration(rd, &c.generation) || !rd.Uint(&c.next) || !rd.Uint(&c.epoch))
                return false;
              *partition = c.partition;
              out->commits.push_back(c);
              return true;
            },
            &why))
      return Bad(why);
  }
  if (!r.empty()) return Bad(std::string("trailing bytes after the ") + name);
  return Status::OK();
}

Status DecodeGroupAnswer(std::string_view frame, GroupAnswer* out) {
  *out = GroupAnswer{};
  mp::Reader r(frame);
  uint64_t n;
  Status s;
  bool bad_version;
  if (!ReadEnvelope(r, &out->kind, &n, &s, &bad_version)) return s;
  if (!IsGroupAnswer(out->kind))
    return Bad("kind " + std::to_string(static_cast<int>(out->kind)) + " is not a group answer");
  if (n < 3 || !r.Uint(&out->id)) return Bad("answer id is missing or not an unsigned integer");
  std::string why;
  if (out->kind == Kind::kGroupHeartbeatAnswer) {
    if (n != 7) return WrongCount("group heartbeat answer", n, 7);
    uint64_t members;
    if (!r.Uint(&out->membership_generation))
      return Bad("group heartbeat answer: the membership generation is not an unsigned integer");
    // A member id takes 18 bytes (bin 8 header).
    if (!r.ArrayHeader(&members) || members > kMaxGroupMembers ||
        members > r.remaining() / (2 + kMemberIdSize))
      return Bad("group heartbeat answer: members is not an array of at most " +
                 std::to_string(kMaxGroupMembers) + " ids that fits the message");
    out->members.resize(static_cast<size_t>(members));
    for (size_t i = 0; i < out->members.size(); ++i) {
      if (!ReadId(r, &out->members[i]))
        return Bad("group heartbeat answer: a member id is not a bin of 16 bytes");
      if (i > 0 && !(out->members[i - 1] < out->members[i]))
        return Bad("group heartbeat answer: member ids are not in strictly increasing order");
    }
    if (!ReadByTopic(
            r, 4, "group heartbeat answer: assigned",
            [&](mp::Reader& rd, std::string_view topic, uint32_t* partition) {
              uint64_t three, two;
              uint8_t marker;
              GroupAssignment a;
              a.topic = topic;
              if (!rd.ArrayHeader(&three) || three != 3 || !ReadU32(rd, &a.partition) ||
                  !ReadGeneration(rd, &a.generation) || !rd.PeekByte(&marker))
                return false;
              if (marker == 0xc0) {
                rd.Byte(&marker);
              } else if (!rd.ArrayHeader(&two) || two != 2 || !rd.Uint(&a.next) ||
                         !rd.Uint(&a.epoch)) {
                return false;
              } else {
                a.has_position = true;
              }
              *partition = a.partition;
              out->assigned.push_back(a);
              return true;
            },
            &why) ||
        !ReadByTopic(
            r, 3, "group heartbeat answer: revoke",
            [&](mp::Reader& rd, std::string_view topic, uint32_t* partition) {
              return ReadStreamEntry(rd, topic, &out->revoke, partition);
            },
            &why))
      return Bad(why);
  } else {
    if (n != 4) return WrongCount("group commit answer", n, 4);
    if (!ReadByTopic(
            r, 3, "group commit answer: results",
            [&](mp::Reader& rd, std::string_view topic, uint32_t* partition) {
              uint64_t two, result;
              GroupCommitResult c;
              c.topic = topic;
              if (!rd.ArrayHeader(&two) || two != 2 || !ReadU32(rd, &c.partition) ||
                  !rd.UintAtMost(static_cast<uint64_t>(CommitResult::kUnknownStream), &result))
                return false;
              c.result = static_cast<CommitResult>(result);
              *partition = c.partition;
              out->results.push_back(c);
              return true;
            },
            &why))
      return Bad(why);
  }
  if (!r.empty()) return Bad("trailing bytes after the group answer");
  return Status::OK();
}

}  // namespace brook::node
