// Fuzzes the ingest protocol (tools/ingest.h): ingest::DecodePublish, what a
// `brook node` runs on every frame its ingest ROUTER receives from programs on
// the machine, and ingest::DecodeAnswer, what `brook produce` runs on the
// node's answers. The input is one frame, given to both.
//
// Checks: no read outside the input (ASan), no UB, no leak. DecodePublish: on
// failure InvalidArgument, or FailedPrecondition for another version (then the
// id, which comes after the version, is still 0); on success 1 to
// kMaxRecordsPerRequest records whose views (topic, keys, header names and
// values, payloads) lie in the input, and re-encoding with EncodePublish
// decodes to the same fields, is no longer than the input (the encoder uses
// the smallest forms) and is canonical (encoding the re-decoded request gives
// the same bytes). DecodeAnswer: on failure InvalidArgument or
// FailedPrecondition; on success an ack (status OK, timestamps >= 0) or an
// error (a code from InvalidArgument to Internal, no positions), and
// re-encoding with EncodeAck / EncodeError round-trips the same way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "tools/ingest.h"

namespace {

namespace ingest = brook::ingest;
using brook::Status;
using brook::fuzz::Inside;

// Re-encoding what a decoder accepted must decode to the same fields, be no
// longer than the input (the encoders write the smallest forms) and be
// canonical (encoding the re-decoded message gives the same bytes).
template <typename Message, typename Encode, typename Decode, typename CheckSame>
void CheckRoundTrip(const Message& decoded, std::string_view frame, Encode encode, Decode decode,
                    CheckSame check_same) {
  std::string again;
  encode(decoded, &again);
  FUZZ_CHECK(again.size() <= frame.size());
  Message back;
  FUZZ_CHECK(decode(again, &back).ok());
  check_same(decoded, back);
  std::string third;
  encode(back, &third);
  FUZZ_CHECK(third == again);
}

void EncodePublish(const ingest::PublishRequest& r, std::string* out) {
  ingest::EncodePublish(r.id, r.topic, r.create_partitions, r.records, out);
}

void CheckSamePublish(const ingest::PublishRequest& a, const ingest::PublishRequest& b) {
  FUZZ_CHECK(a.id == b.id);
  FUZZ_CHECK(a.topic == b.topic);
  FUZZ_CHECK(a.create_partitions == b.create_partitions);
  FUZZ_CHECK(a.records.size() == b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) {
    const brook::RecordInput& x = a.records[i];
    const brook::RecordInput& y = b.records[i];
    FUZZ_CHECK(x.key == y.key);
    FUZZ_CHECK(x.payload == y.payload);
    FUZZ_CHECK(x.partition == y.partition);
    FUZZ_CHECK(x.headers.size() == y.headers.size());
    for (size_t h = 0; h < x.headers.size(); ++h) {
      FUZZ_CHECK(x.headers[h].name == y.headers[h].name);
      FUZZ_CHECK(x.headers[h].value == y.headers[h].value);
    }
  }
}

void FuzzPublish(std::string_view frame) {
  ingest::PublishRequest req;
  const Status s = ingest::DecodePublish(frame, &req);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument() || s.IsFailedPrecondition());
    if (s.IsFailedPrecondition()) FUZZ_CHECK(req.id == 0);
    return;
  }
  FUZZ_CHECK(Inside(req.topic, frame));
  FUZZ_CHECK(!req.records.empty() && req.records.size() <= ingest::kMaxRecordsPerRequest);
  for (const brook::RecordInput& r : req.records) {
    if (r.key) FUZZ_CHECK(Inside(*r.key, frame));
    FUZZ_CHECK(Inside(r.payload, frame));
    for (const brook::Header& h : r.headers) {
      FUZZ_CHECK(Inside(h.name, frame));
      FUZZ_CHECK(Inside(h.value, frame));
    }
  }
  CheckRoundTrip(req, frame, EncodePublish, ingest::DecodePublish, CheckSamePublish);
}

void EncodeAnswer(const ingest::Answer& a, std::string* out) {
  switch (a.kind) {
    case ingest::kKindAck:
      ingest::EncodeAck(a.id, a.positions, out);
      return;
    case ingest::kKindError:
      ingest::EncodeError(a.id, a.error, out);
      return;
    default:
      // A new answer kind? Teach this target (and make_seeds.cc) about it.
      FUZZ_CHECK(!"DecodeAnswer accepted a kind this target does not know");
  }
}

void CheckSameAnswer(const ingest::Answer& a, const ingest::Answer& b) {
  FUZZ_CHECK(a.kind == b.kind);
  FUZZ_CHECK(a.id == b.id);
  FUZZ_CHECK(a.positions.size() == b.positions.size());
  for (size_t i = 0; i < a.positions.size(); ++i) {
    FUZZ_CHECK(a.positions[i].partition == b.positions[i].partition);
    FUZZ_CHECK(a.positions[i].offset == b.positions[i].offset);
    FUZZ_CHECK(a.positions[i].timestamp_ns == b.positions[i].timestamp_ns);
  }
  FUZZ_CHECK(a.error.code() == b.error.code());
  FUZZ_CHECK(a.error.message() == b.error.message());
}

void FuzzAnswer(std::string_view frame) {
  ingest::Answer a;
  const Status s = ingest::DecodeAnswer(frame, &a);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument() || s.IsFailedPrecondition());
    return;
  }
  switch (a.kind) {
    case ingest::kKindAck:
      FUZZ_CHECK(a.error.ok());
      for (const brook::RecordPosition& p : a.positions) FUZZ_CHECK(p.timestamp_ns >= 0);
      break;
    case ingest::kKindError:
      FUZZ_CHECK(!a.error.ok());
      FUZZ_CHECK(a.error.code() >= Status::Code::kInvalidArgument &&
                 a.error.code() <= Status::Code::kInternal);
      FUZZ_CHECK(a.positions.empty());
      break;
    default:
      FUZZ_CHECK(!"DecodeAnswer accepted a kind this target does not know");
  }
  CheckRoundTrip(a, frame, EncodeAnswer, ingest::DecodeAnswer, CheckSameAnswer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  FuzzPublish(frame);
  FuzzAnswer(frame);
  return 0;
}
