// Fuzzes node::DecodeAnswer: one replay answer frame as a consumer's DEALER
// receives it from a producer. The input is the frame.
//
// Checks: no read outside the input (ASan); on success an answer kind, every
// view (topic names, error message, page records) inside the input, the
// documented bounds (describe: at most kMaxTopics topics of at most
// kMaxPartitions partitions, low <= high; page: count >= 1, the bytes can hold
// count records, offsets do not overflow; error: message <= kMaxErrorMessage),
// and re-encoding with the real encoder (EncodeDescribeAnswer /
// EncodePagePrefix + records / EncodeEnd / EncodeOffset / EncodeError) decodes to the same
// fields, no longer than the input, canonically. Pages then go through
// DecodeRecords as the consumer does, with the checks of records_fuzz.
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
using brook::node::Answer;
using brook::node::Kind;

void Encode(const Answer& a, std::string* out) {
  switch (a.kind) {
    case Kind::kDescribeAnswer:
      brook::node::EncodeDescribeAnswer(a.id, a.producer, a.epoch, a.topics, out);
      return;
    case Kind::kPage:
      brook::node::EncodePagePrefix(a.id, a.partition, a.first_offset, a.count, a.watermarks,
                                    a.epoch, out);
      out->append(a.record_bytes.data(), a.record_bytes.size());
      return;
    case Kind::kEnd:
      brook::node::EncodeEnd(a.id, a.next_offset, a.watermarks, a.epoch, out);
      return;
    case Kind::kOffset:
      brook::node::EncodeOffset(a.id, a.next_offset, a.watermarks, a.epoch, out);
      return;
    case Kind::kError:
      brook::node::EncodeError(a.id, a.error, a.message, a.watermarks, out, a.lost_from);
      return;
    default:
      // A new answer kind? Teach this target (and make_seeds.cc) about it.
      FUZZ_CHECK(!"DecodeAnswer accepted a kind this target does not know");
  }
}

void CheckSame(const Answer& a, const Answer& b) {
  FUZZ_CHECK(a.kind == b.kind);
  FUZZ_CHECK(a.id == b.id);
  FUZZ_CHECK(a.producer == b.producer);
  FUZZ_CHECK(a.epoch == b.epoch);
  FUZZ_CHECK(a.topics.size() == b.topics.size());
  for (size_t i = 0; i < a.topics.size(); ++i) {
    FUZZ_CHECK(a.topics[i].name == b.topics[i].name);
    FUZZ_CHECK(a.topics[i].partitions.size() == b.topics[i].partitions.size());
    for (size_t p = 0; p < a.topics[i].partitions.size(); ++p)
      FUZZ_CHECK(SameWatermarks(a.topics[i].partitions[p], b.topics[i].partitions[p]));
  }
  FUZZ_CHECK(a.partition == b.partition);
  FUZZ_CHECK(a.first_offset == b.first_offset);
  FUZZ_CHECK(a.count == b.count);
  FUZZ_CHECK(a.record_bytes == b.record_bytes);
  FUZZ_CHECK(SameWatermarks(a.watermarks, b.watermarks));
  FUZZ_CHECK(a.next_offset == b.next_offset);
  FUZZ_CHECK(a.error == b.error);
  FUZZ_CHECK(a.message == b.message);
  FUZZ_CHECK(a.lost_from == b.lost_from);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  Answer a;
  const brook::Status s = brook::node::DecodeAnswer(frame, &a);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    return 0;
  }

  switch (a.kind) {
    case Kind::kDescribeAnswer:
      FUZZ_CHECK(a.topics.size() <= brook::node::kMaxTopics);
      for (const brook::node::TopicDescription& t : a.topics) {
        FUZZ_CHECK(Inside(t.name, frame));
        FUZZ_CHECK(t.partitions.size() <= brook::node::kMaxPartitions);
        for (const brook::Watermarks& w : t.partitions)
          FUZZ_CHECK(w.low_watermark <= w.high_watermark);
      }
      break;
    case Kind::kPage:
      FUZZ_CHECK(Inside(a.record_bytes, frame));
      FUZZ_CHECK(a.record_bytes.data() + a.record_bytes.size() == frame.data() + frame.size());
      FUZZ_CHECK(a.count >= 1);
      FUZZ_CHECK(a.record_bytes.size() / brook::journal::kMinRecordSize >= a.count);
      FUZZ_CHECK(a.first_offset <= std::numeric_limits<uint64_t>::max() - a.count);
      break;
    case Kind::kEnd:
    case Kind::kOffset:
      break;
    case Kind::kError:
      FUZZ_CHECK(Inside(a.message, frame));
      FUZZ_CHECK(a.message.size() <= brook::node::kMaxErrorMessage);
      FUZZ_CHECK(static_cast<uint32_t>(a.error) <= 255);
      break;
    default:
      FUZZ_CHECK(!"DecodeAnswer accepted a kind this target does not know");
  }

  std::string again;
  Encode(a, &again);
  FUZZ_CHECK(again.size() <= frame.size());
  Answer back;
  FUZZ_CHECK(brook::node::DecodeAnswer(again, &back).ok());
  CheckSame(a, back);
  std::string third;
  Encode(back, &third);
  FUZZ_CHECK(third == again);

  if (a.kind == Kind::kPage) {
    brook::RecordBatch batch;
    if (brook::node::DecodeRecords(a.record_bytes, a.first_offset, a.count, &batch).ok())
      brook::fuzz::CheckDecodedBatch(batch, a.record_bytes, a.first_offset, a.count);
    else
      FUZZ_CHECK(batch.empty());
  }
  return 0;
}
