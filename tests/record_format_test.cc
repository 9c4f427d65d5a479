#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "journal/crc32c.h"
#include "journal/record_format.h"
#include "tests/testutil.h"

using namespace brook;
using namespace brook::journal;

namespace {

std::vector<char> EncodeSealed(const RecordInput& in, uint64_t offset, int64_t ts) {
  std::vector<char> buf;
  const size_t n = EncodeRecord(in, &buf);
  REQUIRE(n == buf.size());
  REQUIRE(n == EncodedRecordSize(in));
  SealRecord(buf.data(), buf.size(), offset, ts);
  return buf;
}

}  // namespace

TEST_CASE("record encoding round-trips keys, headers and payloads of every size class",
          "[record]") {
  const std::string big_key(300, 'k');
  const std::string payload_small = "hello";
  const std::string payload_mid(70000, 'p');
  std::vector<std::string> header_values;
  for (int i = 0; i < 20; ++i) header_values.push_back(std::string(i * 20, char('a' + i)));
  std::vector<std::string> header_names;
  for (int i = 0; i < 20; ++i)
    header_names.push_back("h" + std::string(i * 3, 'n') + std::to_string(i));

  struct Case {
    std::optional<std::string_view> key;
    size_t headers;
    std::string_view payload;
  };
  const std::vector<Case> cases = {
      {std::nullopt, 0, ""},
      {std::string_view(""), 0, payload_small},
      {std::string_view("user-42"), 2, payload_small},
      {std::string_view(big_key), 20, payload_mid},
  };
  for (const Case& c : cases) {
    RecordInput in;
    in.key = c.key;
    in.payload = c.payload;
    for (size_t i = 0; i < c.headers; ++i)
      in.headers.push_back({header_names[i], header_values[i]});
    const auto buf = EncodeSealed(in, 123456789012ull, 1700000000123456789ll);

    RecordView r;
    std::vector<Header> headers;
    size_t used = 0;
    REQUIRE_OK(DecodeRecord(std::string_view(buf.data(), buf.size()), &r, &headers, &used));
    CHECK(used == buf.size());
    CHECK(r.offset == 123456789012ull);
    CHECK(r.timestamp_ns == 1700000000123456789ll);
    CHECK(r.key.has_value() == c.key.has_value());
    if (c.key) CHECK(*r.key == *c.key);
    CHECK(r.payload == c.payload);
    REQUIRE(r.header_count == c.headers);
    for (size_t i = 0; i < c.headers; ++i) {
      CHECK(headers[i].name == header_names[i]);
      CHECK(headers[i].value == header_values[i]);
    }
    CHECK(PeekOffset(buf.data()) == 123456789012ull);
    CHECK(PeekTimestamp(buf.data()) == 1700000000123456789ll);
  }
}

TEST_CASE("record encoding is the documented msgpack layout", "[record]") {
  RecordInput in;
  in.key = std::string_view("k");
  in.headers.push_back({"n", "v"});
  in.payload = "pay";
  const auto buf = EncodeSealed(in, 1, 2);
  const std::vector<uint8_t> expected_prefix = {
      0x96,                                      // fixarray(6)
      0xcf, 0,    0,   0,    0,   0,   0, 0, 1,  // offset
      0xcf, 0,    0,   0,    0,   0,   0, 0, 2,  // timestamp
      0xc4, 1,    'k',                           // key: bin8
      0x81, 0xa1, 'n', 0xc4, 1,   'v',           // headers: fixmap(1)
      0xc4, 3,    'p', 'a',  'y',                // payload: bin8
      0xce};                                     // crc: uint32
  REQUIRE(buf.size() == expected_prefix.size() + 4);
  for (size_t i = 0; i < expected_prefix.size(); ++i) CHECK(uint8_t(buf[i]) == expected_prefix[i]);
  const uint32_t crc = Crc32c(buf.data(), buf.size() - 5);
  CHECK(uint8_t(buf[buf.size() - 4]) == (crc >> 24));
  CHECK(uint8_t(buf[buf.size() - 1]) == (crc & 0xff));
}

TEST_CASE("record decoding rejects every truncation and every flipped byte", "[record]") {
  RecordInput in;
  in.key = std::string_view("key");
  in.headers.push_back({"trace", "abc"});
  in.payload = "some payload bytes";
  const auto buf = EncodeSealed(in, 42, 99);
  std::vector<Header> headers;
  RecordView r;
  size_t used;
  for (size_t n = 0; n < buf.size(); ++n) {
    headers.clear();
    Status s = DecodeRecord(std::string_view(buf.data(), n), &r, &headers, &used);
    INFO("length " << n);
    CHECK(s.IsDataLoss());
    CHECK(headers.empty());
  }
  for (size_t i = 0; i < buf.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto bad = buf;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      headers.clear();
      Status s = DecodeRecord(std::string_view(bad.data(), bad.size()), &r, &headers, &used);
      INFO("byte " << i << " bit " << int(bit));
      // Either the structure no longer parses, or the checksum catches it; a
      // length change may still parse a shorter record, which then fails its checksum.
      CHECK_FALSE(s.ok());
    }
  }
}

TEST_CASE("records with repeated header names are refused", "[record]") {
  RecordInput in;
  in.headers = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  CHECK(EncodedRecordSize(in) == 0);
}
