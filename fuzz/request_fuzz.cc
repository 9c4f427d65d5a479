// Fuzzes node::DecodeRequest: one replay request frame as the producer's
// ROUTER receives it from a DEALER. The input is the frame.
//
// Checks: no read outside the input (ASan); on failure InvalidArgument with
// error code "bad request" or "unsupported version" (and an id only when the
// version was readable or the id came before the fault); on success a request
// kind, the fields in their documented ranges (fetch: topic 1..255 bytes
// inside the input, max_records, max_bytes, credit >= 1; credit: pages >= 1;
// seek: topic as for fetch, timestamp <= 2^63-1), and re-encoding it with the
// real encoder (EncodeDescribe / EncodeFetch / EncodeCredit / EncodeCancel /
// EncodeSeek) decodes to the same fields, no longer than the
// input (the encoders use the smallest forms), and canonically (encoding the
// re-decoded request gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "node/wire.h"

namespace {

using brook::fuzz::Inside;
using brook::node::ErrorCode;
using brook::node::Kind;
using brook::node::Request;

void Encode(const Request& r, std::string* out) {
  switch (r.kind) {
    case Kind::kDescribe:
      brook::node::EncodeDescribe(r.id, out);
      return;
    case Kind::kFetch:
      brook::node::EncodeFetch(r, out);
      return;
    case Kind::kCredit:
      brook::node::EncodeCredit(r.id, r.pages, out);
      return;
    case Kind::kCancel:
      brook::node::EncodeCancel(r.id, out);
      return;
    case Kind::kSeek:
      brook::node::EncodeSeek(r.id, r.topic, r.partition, r.timestamp_ns, out);
      return;
    default:
      // A new request kind? Teach this target (and make_seeds.cc) about it.
      FUZZ_CHECK(!"DecodeRequest accepted a kind this target does not know");
  }
}

void CheckSame(const Request& a, const Request& b) {
  FUZZ_CHECK(a.kind == b.kind);
  FUZZ_CHECK(a.id == b.id);
  FUZZ_CHECK(a.topic == b.topic);
  FUZZ_CHECK(a.partition == b.partition);
  FUZZ_CHECK(a.from_offset == b.from_offset);
  FUZZ_CHECK(a.max_records == b.max_records);
  FUZZ_CHECK(a.max_bytes == b.max_bytes);
  FUZZ_CHECK(a.credit == b.credit);
  FUZZ_CHECK(a.epoch == b.epoch);
  FUZZ_CHECK(a.pages == b.pages);
  FUZZ_CHECK(a.timestamp_ns == b.timestamp_ns);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  Request req;
  ErrorCode code = ErrorCode::kInternal;
  const brook::Status s = brook::node::DecodeRequest(frame, &req, &code);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    FUZZ_CHECK(code == ErrorCode::kBadRequest || code == ErrorCode::kUnsupportedVersion);
    return 0;
  }

  switch (req.kind) {
    case Kind::kDescribe:
    case Kind::kCancel:
      FUZZ_CHECK(req.topic.empty() && req.pages == 0 && req.credit == 0 && req.timestamp_ns == 0);
      break;
    case Kind::kCredit:
      FUZZ_CHECK(req.pages >= 1 && req.topic.empty());
      break;
    case Kind::kFetch:
      FUZZ_CHECK(Inside(req.topic, frame));
      FUZZ_CHECK(!req.topic.empty() && req.topic.size() <= 255);
      FUZZ_CHECK(req.max_records >= 1 && req.max_bytes >= 1 && req.credit >= 1);
      FUZZ_CHECK(req.pages == 0 && req.timestamp_ns == 0);
      break;
    case Kind::kSeek:
      FUZZ_CHECK(Inside(req.topic, frame));
      FUZZ_CHECK(!req.topic.empty() && req.topic.size() <= 255);
      FUZZ_CHECK(req.timestamp_ns <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
      FUZZ_CHECK(req.pages == 0 && req.credit == 0);
      break;
    default:
      FUZZ_CHECK(!"DecodeRequest accepted a kind this target does not know");
  }

  std::string again;
  Encode(req, &again);
  FUZZ_CHECK(again.size() <= frame.size());
  Request back;
  ErrorCode back_code = ErrorCode::kInternal;
  FUZZ_CHECK(brook::node::DecodeRequest(again, &back, &back_code).ok());
  CheckSame(req, back);
  std::string third;
  Encode(back, &third);
  FUZZ_CHECK(third == again);
  return 0;
}
