// The node's wire messages: every message round-trips, and hostile bytes —
// truncations at every length, flipped bytes, wrong versions, lying counts,
// absurd values — are refused with an error, never a crash or a read past
// the input (the ASan build runs these too).
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "journal/record_format.h"
#include "node/wire.h"
#include "tests/decode_checks.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::node;
using brook::test::CheckTruncationsRefused;
using brook::test::FlipEveryByte;

namespace {

ProducerId SomeProducer() {
  ProducerId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(i * 17 + 3);
  return id;
}

std::string Records(uint64_t first, uint32_t count) {
  std::vector<char> buf;
  std::vector<std::string> payloads;
  for (uint32_t i = 0; i < count; ++i) payloads.push_back("payload " + std::to_string(first + i));
  for (uint32_t i = 0; i < count; ++i) {
    RecordInput in;
    in.payload = payloads[i];
    in.key = std::string_view("k");
    const size_t at = buf.size();
    const size_t n = journal::EncodeRecord(in, &buf);
    journal::SealRecord(buf.data() + at, n, first + i, 1000 + i);
  }
  return std::string(buf.data(), buf.size());
}

}  // namespace

TEST_CASE("live records frames round-trip and carry their records", "[wire]") {
  RecordsHeader h{SomeProducer(), 7, 3, 1000, 5};
  std::string frame;
  EncodeRecordsPrefix("orders", h, &frame);
  frame += Records(1000, 5);
  CHECK(frame.compare(0, 7, std::string("orders\0", 7)) == 0);  // SUB filters by this prefix

  LiveMessage m;
  REQUIRE_OK(DecodeLive(frame, &m));
  CHECK(m.topic == "orders");
  CHECK(m.kind == Kind::kRecords);
  CHECK(m.records.producer == SomeProducer());
  CHECK(m.records.epoch == 7);
  CHECK(m.records.partition == 3);
  CHECK(m.records.first_offset == 1000);
  CHECK(m.records.count == 5);
  RecordBatch batch;
  REQUIRE_OK(DecodeRecords(m.record_bytes, m.records.first_offset, m.records.count, &batch));
  REQUIRE(batch.size() == 5);
  CHECK(batch[4].offset == 1004);
  CHECK(batch[4].payload == "payload 1004");

  // Records that do not match the header are refused.
  CHECK(DecodeRecords(m.record_bytes, 999, 5, &batch).IsDataLoss());
  CHECK(DecodeRecords(m.record_bytes, 1000, 4, &batch).IsDataLoss());  // trailing record

  auto decode = [](std::string_view f) {
    LiveMessage x;
    Status s = DecodeLive(f, &x);
    if (s.ok() && x.kind == Kind::kRecords) {
      RecordBatch b;
      s = DecodeRecords(x.record_bytes, x.records.first_offset, x.records.count, &b);
    }
    return s;
  };
  CheckTruncationsRefused(frame, decode);
  FlipEveryByte(frame, decode);
}

TEST_CASE("heartbeats round-trip with every partition's watermarks", "[wire]") {
  Heartbeat h{SomeProducer(), 2, 1'700'000'000'000'000'000, {{0, 10}, {5, 5}, {100, 2000}}};
  std::string frame;
  EncodeHeartbeat("t", h, &frame);
  LiveMessage m;
  REQUIRE_OK(DecodeLive(frame, &m));
  CHECK(m.kind == Kind::kHeartbeat);
  CHECK(m.heartbeat.epoch == 2);
  CHECK(m.heartbeat.sent_ns == 1'700'000'000'000'000'000);
  REQUIRE(m.heartbeat.partitions.size() == 3);
  CHECK(m.heartbeat.partitions[2].low_watermark == 100);
  CHECK(m.heartbeat.partitions[2].high_watermark == 2000);
  auto decode = [](std::string_view f) {
    LiveMessage x;
    return DecodeLive(f, &x);
  };
  CheckTruncationsRefused(frame, decode);
  FlipEveryByte(frame, decode);
}

TEST_CASE("replay requests round-trip", "[wire]") {
  std::string f;
  Request r;
  ErrorCode code;
  EncodeDescribe(42, &f);
  REQUIRE_OK(DecodeRequest(f, &r, &code));
  CHECK(r.kind == Kind::kDescribe);
  CHECK(r.id == 42);

  Request fetch;
  fetch.kind = Kind::kFetch;
  fetch.id = 1ull << 40;
  fetch.topic = "orders";
  fetch.partition = 2;
  fetch.from_offset = 123456789;
  fetch.max_records = 10000;
  fetch.max_bytes = 1 << 20;
  fetch.credit = 4;
  fetch.epoch = 9;
  f.clear();
  EncodeFetch(fetch, &f);
  REQUIRE_OK(DecodeRequest(f, &r, &code));
  CHECK(r.kind == Kind::kFetch);
  CHECK(r.id == (1ull << 40));
  CHECK(r.topic == "orders");
  CHECK(r.partition == 2);
  CHECK(r.from_offset == 123456789);
  CHECK(r.epoch == 9);
  CHECK(r.max_records == 10000);
  CHECK(r.max_bytes == (1u << 20));
  CHECK(r.credit == 4);
  auto decode = [](std::string_view x) {
    Request q;
    ErrorCode c;
    return DecodeRequest(x, &q, &c);
  };
  CheckTruncationsRefused(f, decode);
  FlipEveryByte(f, decode);

  f.clear();
  EncodeCredit(9, 3, &f);
  REQUIRE_OK(DecodeRequest(f, &r, &code));
  CHECK(r.kind == Kind::kCredit);
  CHECK(r.pages == 3);
  f.clear();
  EncodeCancel(9, &f);
  REQUIRE_OK(DecodeRequest(f, &r, &code));
  CHECK(r.kind == Kind::kCancel);

  f.clear();
  EncodeSeek(10, "orders", 3, 1'700'000'000'000'000'000ull, &f);
  REQUIRE_OK(DecodeRequest(f, &r, &code));
  CHECK(r.kind == Kind::kSeek);
  CHECK(r.id == 10);
  CHECK(r.topic == "orders");
  CHECK(r.partition == 3);
  CHECK(r.timestamp_ns == 1'700'000'000'000'000'000ull);
  CheckTruncationsRefused(f, decode);
  FlipEveryByte(f, decode);
  f.clear();
  EncodeSeek(11, "orders", 0, ~0ull, &f);  // beyond any timestamp a record can have
  CHECK(DecodeRequest(f, &r, &code).IsInvalidArgument());
  CHECK(code == ErrorCode::kBadRequest);
}

TEST_CASE("absurd or foreign requests are refused with the right error code", "[wire]") {
  Request r;
  ErrorCode code;
  auto fetch = [](uint64_t max_records, uint32_t credit) {
    Request f;
    f.kind = Kind::kFetch;
    f.id = 5;
    f.topic = "t";
    f.max_records = max_records;
    f.max_bytes = 100;
    f.credit = credit;
    std::string out;
    EncodeFetch(f, &out);
    return out;
  };
  CHECK(DecodeRequest(fetch(0, 1), &r, &code).IsInvalidArgument());
  CHECK(code == ErrorCode::kBadRequest);
  CHECK(DecodeRequest(fetch(10, 0), &r, &code).IsInvalidArgument());
  REQUIRE_OK(DecodeRequest(fetch(~0ull, 1), &r, &code));  // huge, but the server bounds it

  // Version 2 from a newer client: refused as unsupported, and the id is kept
  // so the client can match the error to its request.
  std::string v2 = "\x93\x02\x10\x07";  // [2, 16, 7]
  Status s = DecodeRequest(v2, &r, &code);
  CHECK(s.IsInvalidArgument());
  CHECK(code == ErrorCode::kUnsupportedVersion);
  CHECK(r.id == 7);
  CHECK(s.ToString().find("version 2") != std::string::npos);

  for (std::string junk : {std::string(""), std::string("\xc0"), std::string("hello"),
                           std::string("\x93\x01\x63\x01"),          // unknown kind 99
                           std::string("\x94\x01\x10\x01\x02"),      // describe with 4 elements
                           std::string("\x93\x01\x10\x01\x00", 5),   // trailing byte
                           std::string("\xdd\xff\xff\xff\xff\x01"),  // array claims 4 G elements
                           std::string("\x93\x01\x10\xd3\xff\xff\xff\xff\xff\xff\xff\xff")}) {
    INFO("junk of " << junk.size() << " bytes");
    CHECK_FALSE(DecodeRequest(junk, &r, &code).ok());
  }
}

TEST_CASE("replay answers round-trip", "[wire]") {
  std::string f;
  Answer a;
  std::vector<TopicDescription> topics = {{"a", {{0, 3}}}, {"b", {{1, 2}, {0, 0}}}};
  EncodeDescribeAnswer(11, SomeProducer(), 4, topics, &f);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.kind == Kind::kDescribeAnswer);
  CHECK(a.id == 11);
  CHECK(a.producer == SomeProducer());
  CHECK(a.epoch == 4);
  REQUIRE(a.topics.size() == 2);
  CHECK(a.topics[1].name == "b");
  CHECK(a.topics[1].partitions[0].high_watermark == 2);
  auto decode = [](std::string_view x) {
    Answer y;
    return DecodeAnswer(x, &y);
  };
  CheckTruncationsRefused(f, decode);
  FlipEveryByte(f, decode);

  f.clear();
  EncodePagePrefix(12, 1, 50, 3, Watermarks{10, 90}, 7, &f);
  f += Records(50, 3);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.kind == Kind::kPage);
  CHECK(a.epoch == 7);
  CHECK(a.partition == 1);
  CHECK(a.first_offset == 50);
  CHECK(a.count == 3);
  CHECK(a.watermarks.high_watermark == 90);
  RecordBatch b;
  REQUIRE_OK(DecodeRecords(a.record_bytes, a.first_offset, a.count, &b));
  CHECK(b[2].payload == "payload 52");

  f.clear();
  EncodeEnd(13, 53, Watermarks{10, 90}, 7, &f);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.kind == Kind::kEnd);
  CHECK(a.next_offset == 53);
  CHECK(a.epoch == 7);
  CheckTruncationsRefused(f, decode);

  f.clear();
  EncodeError(14, ErrorCode::kOutOfRange, "removed by retention", Watermarks{10, 90}, &f);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.kind == Kind::kError);
  CHECK(a.error == ErrorCode::kOutOfRange);
  CHECK(a.message == "removed by retention");
  CHECK(a.watermarks.low_watermark == 10);
  CHECK(a.lost_from == 0);
  CheckTruncationsRefused(f, decode);
  FlipEveryByte(f, decode);

  f.clear();
  EncodeOffset(16, 77, Watermarks{10, 90}, 4, &f);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.kind == Kind::kOffset);
  CHECK(a.next_offset == 77);
  CHECK(a.epoch == 4);
  CHECK(a.watermarks.high_watermark == 90);
  CheckTruncationsRefused(f, decode);

  f.clear();
  EncodeError(15, ErrorCode::kTailLost, "undone", Watermarks{0, 60}, &f, 42);
  REQUIRE_OK(DecodeAnswer(f, &a));
  CHECK(a.error == ErrorCode::kTailLost);
  CHECK(a.lost_from == 42);
}
