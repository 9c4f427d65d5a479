// Fuzzes node::DecodeLive: one live frame as a subscriber receives it from
// PUB ("<topic>\0" + msgpack header [+ records]). The input is the frame.
//
// Checks: no read outside the input (ASan); on success the topic and the
// record bytes lie inside the input, the topic is 1..255 bytes without NUL,
// the header fields are in range (records: count >= 1, offsets do not
// overflow, the bytes can hold count records; heartbeat: sent_ns >= 0,
// low <= high per partition, at most kMaxPartitions), and re-encoding the
// message with the real encoder (EncodeRecordsPrefix / EncodeHeartbeat) and
// decoding that gives the same fields; the encoder is canonical (encoding
// the re-decoded message gives the same bytes). Records frames then go
// through DecodeRecords as the consumer does, with the checks of
// records_fuzz on success.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "node/wire.h"

namespace {

using brook::fuzz::Inside;
using brook::fuzz::SameWatermarks;
using brook::node::Kind;
using brook::node::LiveMessage;

void Encode(const LiveMessage& m, std::string* out) {
  if (m.kind == Kind::kRecords) {
    brook::node::EncodeRecordsPrefix(m.topic, m.records, out);
    out->append(m.record_bytes.data(), m.record_bytes.size());
  } else {
    brook::node::EncodeHeartbeat(m.topic, m.heartbeat, out);
  }
}

void CheckSame(const LiveMessage& a, const LiveMessage& b) {
  FUZZ_CHECK(a.topic == b.topic);
  FUZZ_CHECK(a.kind == b.kind);
  if (a.kind == Kind::kRecords) {
    FUZZ_CHECK(a.records.producer == b.records.producer);
    FUZZ_CHECK(a.records.epoch == b.records.epoch);
    FUZZ_CHECK(a.records.partition == b.records.partition);
    FUZZ_CHECK(a.records.first_offset == b.records.first_offset);
    FUZZ_CHECK(a.records.count == b.records.count);
    FUZZ_CHECK(a.record_bytes == b.record_bytes);
  } else {
    FUZZ_CHECK(a.heartbeat.producer == b.heartbeat.producer);
    FUZZ_CHECK(a.heartbeat.epoch == b.heartbeat.epoch);
    FUZZ_CHECK(a.heartbeat.sent_ns == b.heartbeat.sent_ns);
    FUZZ_CHECK(a.heartbeat.partitions.size() == b.heartbeat.partitions.size());
    for (size_t i = 0; i < a.heartbeat.partitions.size(); ++i)
      FUZZ_CHECK(SameWatermarks(a.heartbeat.partitions[i], b.heartbeat.partitions[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  LiveMessage m;
  const brook::Status s = brook::node::DecodeLive(frame, &m);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    return 0;
  }

  FUZZ_CHECK(Inside(m.topic, frame));
  FUZZ_CHECK(m.topic.data() == frame.data());
  FUZZ_CHECK(!m.topic.empty() && m.topic.size() <= 255);
  FUZZ_CHECK(m.topic.find('\0') == std::string_view::npos);
  FUZZ_CHECK(frame[m.topic.size()] == '\0');
  if (m.kind == Kind::kRecords) {
    FUZZ_CHECK(Inside(m.record_bytes, frame));
    // The records run to the end of the frame.
    FUZZ_CHECK(m.record_bytes.data() + m.record_bytes.size() == frame.data() + frame.size());
    FUZZ_CHECK(m.records.count >= 1);
    FUZZ_CHECK(m.records.first_offset <= std::numeric_limits<uint64_t>::max() - m.records.count);
    FUZZ_CHECK(m.record_bytes.size() / brook::journal::kMinRecordSize >= m.records.count);
  } else {
    FUZZ_CHECK(m.kind == Kind::kHeartbeat);
    FUZZ_CHECK(m.heartbeat.sent_ns >= 0);
    FUZZ_CHECK(m.heartbeat.partitions.size() <= brook::node::kMaxPartitions);
    for (const brook::Watermarks& w : m.heartbeat.partitions)
      FUZZ_CHECK(w.low_watermark <= w.high_watermark);
  }

  // Round trip through the encoder.
  std::string again;
  Encode(m, &again);
  FUZZ_CHECK(again.size() <= frame.size());  // the encoder uses the smallest forms
  LiveMessage back;
  FUZZ_CHECK(brook::node::DecodeLive(again, &back).ok());
  CheckSame(m, back);
  std::string third;
  Encode(back, &third);
  FUZZ_CHECK(third == again);

  if (m.kind == Kind::kRecords) {
    brook::RecordBatch batch;
    if (brook::node::DecodeRecords(m.record_bytes, m.records.first_offset, m.records.count, &batch)
            .ok())
      brook::fuzz::CheckDecodedBatch(batch, m.record_bytes, m.records.first_offset,
                                     m.records.count);
    else
      FUZZ_CHECK(batch.empty());
  }
  return 0;
}
