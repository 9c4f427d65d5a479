// Writes the seed corpus of the fuzz targets, fuzz/corpus/<target>/<seed>,
// with brook's real encoders (plus a few hand-made forms the encoders never
// produce but the decoders must accept, e.g. non-minimal integer widths).
// Deterministic: scripts/fuzz.sh regenerates the corpus and fails if the
// committed one differs (after a protocol change, run this and commit).
//
//   build-fuzz/fuzz/make_seeds fuzz/corpus
//
// Each <target>/ directory is emptied of files first.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "brook/record.h"
#include "common/msgpack_lite.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/replay_fixture.h"
#include "journal/record_format.h"
#include "node/beacon.h"
#include "node/wire.h"
#include "tools/cli.h"
#include "tools/ingest.h"

namespace {

namespace fs = std::filesystem;
namespace fx = brook::fuzz::replay;
using brook::Header;
using brook::RecordInput;
using brook::Watermarks;
using brook::fuzz::PutBE;
using brook::node::ErrorCode;
using brook::node::Kind;

// Seeds: name -> bytes. Corpus: target -> its seeds.
using Seeds = std::map<std::string, std::string>;
using Corpus = std::map<std::string, Seeds>;

// A string literal's bytes, NULs included.
template <size_t N>
std::string Lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string Record(uint64_t offset, int64_t ts, std::optional<std::string_view> key,
                   std::vector<Header> headers, std::string_view payload) {
  RecordInput in;
  in.key = key;
  in.headers = std::move(headers);
  in.payload = payload;
  std::vector<char> buf;
  const size_t n = brook::journal::EncodeRecord(in, &buf);
  brook::journal::SealRecord(buf.data(), n, offset, ts);
  return std::string(buf.data(), n);
}

// offset 1, timestamp 2, key "k", headers {"n": "v"}, payload "pay": the
// example of docs/PROTOCOL.md.
std::string ExampleRecord() { return Record(1, 2, "k", {{"n", "v"}}, "pay"); }

// Consecutive records from `first`, of a few shapes.
std::string Records(uint64_t first, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const std::string payload(static_cast<size_t>(i * 7 % 40), static_cast<char>('a' + i));
    const std::string key = "key-" + std::to_string(i);
    std::vector<Header> headers;
    if (i % 2 == 0) headers = {{"type", "seed"}, {"i", key}};
    out +=
        Record(first + static_cast<uint64_t>(i), 1'700'000'000'000'000'000 + i,
               i % 3 == 2 ? std::nullopt : std::optional<std::string_view>(key), headers, payload);
  }
  return out;
}

// A record whose lengths use wider forms than needed (bin 16/32, map 16,
// str 8), which decoders must accept; the checksum is made right.
std::string NonMinimalRecord() {
  std::string r;
  r.push_back(static_cast<char>(0x96));
  r.push_back(static_cast<char>(0xcf));
  PutBE(&r, 7, 8);
  r.push_back(static_cast<char>(0xcf));
  PutBE(&r, 1'700'000'000'000'000'000, 8);
  r.push_back(static_cast<char>(0xc5));  // key: bin 16
  PutBE(&r, 3, 2);
  r += "key";
  r.push_back(static_cast<char>(0xde));  // headers: map 16
  PutBE(&r, 1, 2);
  r.push_back(static_cast<char>(0xd9));  // name: str 8
  PutBE(&r, 4, 1);
  r += "name";
  r.push_back(static_cast<char>(0xc6));  // value: bin 32
  PutBE(&r, 5, 4);
  r += "value";
  r.push_back(static_cast<char>(0xc6));  // payload: bin 32
  PutBE(&r, 7, 4);
  r += "payload";
  r.push_back(static_cast<char>(0xce));
  PutBE(&r, 0, 4);
  brook::fuzz::SealRecords(r.data(), r.size(), false, 0);
  return r;
}

std::string ManyHeadersRecord() {
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("h" + std::to_string(i));
  std::vector<Header> headers;
  for (const std::string& n : names) headers.push_back({n, n});
  return Record(3, 4, std::string_view(""), headers, std::string(300, 'p'));
}

brook::ProducerId Producer() {
  brook::ProducerId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(0xa0 + i);
  return id;
}

void RecordSeeds(Corpus* c) {
  auto& s = (*c)["record"];
  const std::string flags_plain(1, '\0'), flags_seal(1, '\1');
  s["example"] = flags_plain + ExampleRecord();
  s["keyless-empty"] = flags_plain + Record(0, 0, std::nullopt, {}, "");
  s["empty-key"] = flags_plain + Record(5, 6, std::string_view(""), {}, "x");
  s["bin16-payload"] = flags_plain + Record(9, 10, "k", {}, std::string(300, 'z'));
  s["many-headers"] = flags_plain + ManyHeadersRecord();
  s["non-minimal-forms"] = flags_plain + NonMinimalRecord();
  s["max-offset-timestamp"] =
      flags_plain + Record(std::numeric_limits<uint64_t>::max(),
                           std::numeric_limits<int64_t>::max(), "k", {}, "v");
  s["followed-by-more"] = flags_plain + Records(0, 2);
  std::string bad_crc = ExampleRecord();
  bad_crc.back() ^= 1;
  s["bad-crc-sealed"] = flags_seal + bad_crc;
  s["bad-crc"] = flags_plain + bad_crc;
}

std::string RecordsInput(uint8_t flags, uint32_t count, uint64_t first, std::string_view bytes) {
  std::string out(1, static_cast<char>(flags));
  PutBE(&out, count, 4);
  PutBE(&out, first, 8);
  out.append(bytes.data(), bytes.size());
  return out;
}

void RecordsSeeds(Corpus* c) {
  auto& s = (*c)["records"];
  s["one"] = RecordsInput(0, 1, 1, ExampleRecord());
  s["three"] = RecordsInput(0, 3, 10, Records(10, 3));
  s["five-renumbered"] = RecordsInput(3, 5, 1000, Records(0, 5));
  s["none"] = RecordsInput(0, 0, 0, "");
  s["trailing-record"] = RecordsInput(0, 2, 10, Records(10, 3));
  s["wrong-offset"] = RecordsInput(0, 2, 11, Records(10, 2));
  s["non-minimal"] = RecordsInput(0, 1, 7, NonMinimalRecord());
  // A count far beyond what the bytes hold (found by this target: DecodeRecords
  // sized its record vector by it before reading anything).
  s["count-too-large"] = RecordsInput(0, 0x65656400, 0, Records(0, 2));
}

void LiveSeeds(Corpus* c) {
  auto& s = (*c)["live"];
  brook::node::RecordsHeader h;
  h.producer = Producer();
  h.epoch = 3;
  h.partition = 1;
  h.first_offset = 10;
  h.count = 3;
  std::string f;
  brook::node::EncodeRecordsPrefix("orders", h, &f);
  s["records-3"] = f + Records(10, 3);
  f.clear();
  h.count = 1;
  h.first_offset = 1;
  brook::node::EncodeRecordsPrefix("t", h, &f);
  s["records-1"] = f + ExampleRecord();
  f.clear();
  h.partition = 4095;
  h.epoch = std::numeric_limits<uint64_t>::max();
  h.first_offset = 1'000'000'000'000;
  h.count = 2;
  brook::node::EncodeRecordsPrefix(std::string(255, 'n'), h, &f);
  s["records-long-topic-big-numbers"] = f + Records(h.first_offset, 2);

  brook::node::Heartbeat hb;
  hb.producer = Producer();
  hb.epoch = 2;
  hb.sent_ns = 1'700'000'000'000'000'000;
  hb.partitions = {{0, 10}, {5, 5}, {100, 1'000'000}};
  f.clear();
  brook::node::EncodeHeartbeat("orders", hb, &f);
  s["heartbeat-3"] = f;
  hb.partitions.clear();
  f.clear();
  brook::node::EncodeHeartbeat("t", hb, &f);
  s["heartbeat-0"] = f;
  hb.partitions.assign(20, Watermarks{1, 2});
  f.clear();
  brook::node::EncodeHeartbeat("t", hb, &f);
  s["heartbeat-20"] = f;
}

void RequestSeeds(Seeds* out) {
  auto& s = *out;
  std::string f;
  brook::node::EncodeDescribe(7, &f);
  s["describe"] = f;
  brook::node::Request r;
  r.kind = Kind::kFetch;
  r.id = 8;
  r.topic = fx::kTopic;
  r.partition = 0;
  r.from_offset = 0;
  r.max_records = 1000;
  r.max_bytes = 1 << 20;
  r.credit = 100;
  r.epoch = fx::kProducerEpoch;
  const auto fetch = [&](const char* name) {
    std::string b;
    brook::node::EncodeFetch(r, &b);
    s[name] = b;
  };
  fetch("fetch-all-p0");
  r.partition = 1;
  r.from_offset = 5;
  r.max_records = 3;
  r.credit = 1;
  fetch("fetch-3-p1");
  r.max_records = 1000;
  r.from_offset = 0;
  fetch("fetch-credit-1");
  r.max_bytes = 1;
  r.credit = 2;
  fetch("fetch-1-byte");
  r.max_bytes = std::numeric_limits<uint64_t>::max();
  r.max_records = std::numeric_limits<uint64_t>::max();
  r.credit = std::numeric_limits<uint32_t>::max();
  fetch("fetch-unbounded");
  r.max_bytes = 1 << 20;
  r.max_records = 1000;
  r.credit = 100;
  r.from_offset = 100'000;
  fetch("fetch-beyond-high");
  r.from_offset = 100;
  r.epoch = fx::kFirstEpoch;
  fetch("fetch-tail-lost");
  r.epoch = 0;
  fetch("fetch-epoch-unknown");
  r.epoch = 99;
  fetch("fetch-future-epoch");
  r.epoch = fx::kProducerEpoch;
  r.topic = fx::kRetainedTopic;
  r.partition = 0;
  r.from_offset = 0;
  fetch("fetch-below-low");
  r.from_offset = 2 * fx::kRetainedPerEpoch - fx::kRetainedRecords;
  fetch("fetch-at-low");
  r.topic = "nope";
  fetch("fetch-unknown-topic");
  r.topic = fx::kTopic;
  r.partition = 7;
  fetch("fetch-unknown-partition");
  f.clear();
  brook::node::EncodeCredit(8, 5, &f);
  s["credit"] = f;
  f.clear();
  brook::node::EncodeCancel(8, &f);
  s["cancel"] = f;
  const auto seek = [&](const char* name, std::string_view topic, uint32_t p, uint64_t ts) {
    std::string b;
    brook::node::EncodeSeek(9, topic, p, ts, &b);
    s[name] = b;
  };
  seek("seek-first-epoch", fx::kTopic, 0, fx::kBaseTimestamp + 5 * fx::kClockStep);
  seek("seek-second-epoch", fx::kTopic, 1,
       fx::kBaseTimestamp + fx::kSecondEpochClock + 30 * fx::kClockStep);
  seek("seek-zero", fx::kRetainedTopic, 0, 0);
  seek("seek-max", fx::kTopic, 0, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  seek("seek-unknown-partition", fx::kTopic, 2, 0);

  // Hand-made: a describe in version 2; a fetch whose integers use wider
  // forms than needed (signed and unsigned); not an array; a 10-element
  // array of nils.
  f.clear();
  {
    brook::mp::Writer w(&f);
    w.ArrayHeader(3);
    w.Uint(2);
    w.Uint(static_cast<uint64_t>(Kind::kDescribe));
    w.Uint(11);
  }
  s["bad-version"] = f;
  f.clear();
  f.push_back(static_cast<char>(0xdc));  // array 16 of 10
  PutBE(&f, 10, 2);
  f += Lit("\xd0\x01");  // version: int 8
  f += Lit("\xcc\x11");  // kind 17: uint 8
  f += Lit("\xcf");      // id: uint 64
  PutBE(&f, 12, 8);
  f += Lit("\xd9\x01") + fx::kTopic;  // topic: str 8
  f += Lit("\xd2\x00\x00\x00\x01");   // partition 1: int 32
  f += Lit("\xcd\x00\x00");           // from_offset 0: uint 16
  f += Lit("\xd3");                   // max_records 50: int 64
  PutBE(&f, 50, 8);
  f += Lit("\xce");  // max_bytes: uint 32
  PutBE(&f, 65536, 4);
  f += Lit("\xd1\x00\x02");  // credit 2: int 16
  f += Lit("\xcc\x02");      // epoch 2: uint 8
  s["fetch-non-minimal"] = f;
  s["not-an-array"] = Lit("\xa5hello");
  s["nils"] = Lit("\x9a") + std::string(10, '\xc0');
}

void AnswerSeeds(Corpus* c) {
  auto& s = (*c)["answer"];
  std::string f;
  std::vector<brook::node::TopicDescription> topics(2);
  topics[0].name = "orders";
  topics[0].partitions = {{0, 10}, {3, 3}};
  topics[1].name = "t";
  topics[1].partitions = {{100, 200}};
  brook::node::EncodeDescribeAnswer(7, Producer(), 2, topics, &f);
  s["describe"] = f;
  f.clear();
  brook::node::EncodeDescribeAnswer(7, Producer(), 1, {}, &f);
  s["describe-empty"] = f;
  f.clear();
  brook::node::EncodePagePrefix(8, 1, 10, 3, Watermarks{0, 20}, 2, &f);
  s["page-3"] = f + Records(10, 3);
  f.clear();
  brook::node::EncodePagePrefix(8, 0, 1, 1, Watermarks{1, 2}, 2, &f);
  s["page-1"] = f + ExampleRecord();
  f.clear();
  brook::node::EncodeEnd(8, 13, Watermarks{0, 20}, 2, &f);
  s["end"] = f;
  f.clear();
  brook::node::EncodeOffset(9, 15, Watermarks{10, 20}, 2, &f);
  s["offset"] = f;
  f.clear();
  brook::node::EncodeError(8, ErrorCode::kOutOfRange, "below the low watermark 40",
                           Watermarks{40, 120}, &f);
  s["error"] = f;
  f.clear();
  brook::node::EncodeError(8, ErrorCode::kTailLost, "offsets 60..99 were undone by a crash",
                           Watermarks{0, 150}, &f, 60);
  s["error-tail-lost"] = f;
  f.clear();
  brook::node::EncodeError(0, ErrorCode::kBadRequest,
                           std::string(brook::node::kMaxErrorMessage + 10, 'm'), Watermarks{}, &f);
  s["error-long-message"] = f;
}

// [n][n op bytes][buffer]; op = kind + 12 * arg (see msgpack_fuzz.cc).
std::string MsgpackInput(const std::vector<uint8_t>& ops, std::string_view buffer) {
  std::string out(1, static_cast<char>(ops.size()));
  for (uint8_t op : ops) out.push_back(static_cast<char>(op));
  out.append(buffer.data(), buffer.size());
  return out;
}

void MsgpackSeeds(Corpus* c, const Seeds& requests) {
  auto& s = (*c)["msgpack"];
  enum : uint8_t {
    kByte = 0,
    kPeek = 1,
    kBE = 2,
    kBytes = 3,
    kBin = 4,
    kStr = 5,
    kMap = 6,
    kArray = 7,
    kUint = 8,
    kUintAtMost = 9,
    kBinAfter = 10,
    kSkip = 11
  };
  const auto be = [](int n) { return static_cast<uint8_t>(kBE + 12 * n); };
  s["fetch"] =
      MsgpackInput({kArray, kUint, kUint, kUint, kStr, kUint, kUint, kUint, kUint, kUint, kUint},
                   requests.at("fetch-all-p0"));
  s["fetch-non-minimal"] =
      MsgpackInput({kArray, kUint, kUint, kUint, kStr, kUint, kUint, kUint, kUint, kUint, kUint},
                   requests.at("fetch-non-minimal"));
  s["record"] = MsgpackInput(
      {kByte, kByte, be(8), kPeek, kByte, be(8), kBin, kMap, kStr, kBin, kBin, kByte, be(4)},
      ExampleRecord());
  s["record-non-minimal"] =
      MsgpackInput({kByte, kByte, be(8), kByte, be(8), kByte,
                    static_cast<uint8_t>(kBinAfter + 12 * 2), kMap, kStr, kBin, kBin, kByte, be(4)},
                   NonMinimalRecord());
  // Every integer form: positive fixint, uint 8..64, int 8..64 (non-negative
  // and negative), negative fixint.
  std::string ints = Lit("\x05\xcc\xff\xcd\xff\xff\xce\xff\xff\xff\xff");
  ints += Lit("\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
  ints += Lit("\xd0\x05\xd1\x01\x00\xd2\x00\x01\x00\x00");
  ints += Lit("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff");
  ints += Lit("\xd0\xff\xff");
  std::vector<uint8_t> uint_ops(12, kUint);
  s["integers"] = MsgpackInput(uint_ops, ints);
  std::vector<uint8_t> at_most_ops;
  for (uint8_t i = 0; i < 9; ++i) at_most_ops.push_back(static_cast<uint8_t>(kUintAtMost + 12 * i));
  s["integers-at-most"] = MsgpackInput(at_most_ops, ints);
  // Every str and bin form, and array/map headers of each width.
  std::string strs =
      Lit("\xa3"
          "abc"
          "\xd9\x03"
          "def"
          "\xda\x00\x03"
          "ghi"
          "\xdb\x00\x00\x00\x03"
          "jkl");
  strs +=
      Lit("\xc4\x01"
          "m"
          "\xc5\x00\x01"
          "n"
          "\xc6\x00\x00\x00\x01"
          "o");
  s["strings-bins"] = MsgpackInput({kStr, kStr, kStr, kStr, kBin, kBin, kBin}, strs);
  const std::string headers =
      Lit("\x93\xdc\x00\x10\xdd\x00\x00\x00\x02\x81\xde\x00\x01\xdf\x00\x00\x00\x03");
  s["headers"] = MsgpackInput({kArray, kArray, kArray, kMap, kMap, kMap}, headers);
  // Objects the reader never accepts (nil, bool, float, ext, fixmap of
  // mixed values), skipped as msgpack-c parses them, then a uint.
  const std::string others =
      Lit("\xc0\xc2\xc3\xca\x3f\x80\x00\x00\xd4\x01\x02"
          "\x82\xa1"
          "a"
          "\x92\x01\xc0\xa1"
          "b"
          "\xc4\x00\x2a");
  s["skip-others"] = MsgpackInput({kSkip, kSkip, kSkip, kSkip, kSkip, kSkip, kUint}, others);
  s["bytes"] = MsgpackInput({static_cast<uint8_t>(kBytes + 12 * 2), kPeek, kByte,
                             static_cast<uint8_t>(kBinAfter + 12 * 1)},
                            Lit("\x01\x02\x03\x04\x00\x02xy"));
}

// Records of every shape a publish request carries: keyless, empty and
// binary keys, no/one/several headers, payloads empty, binary and past 255
// bytes (bin 16), partitions unset, 0 and large.
std::vector<RecordInput> PublishRecords() {
  static const Header kOneHeader[] = {{"source", "web"}};
  static const Header kThreeHeaders[] = {
      {"type", "order"}, {"b", std::string_view("\x00\xff", 2)}, {"", ""}};
  static const std::string kLongPayload(300, 'p');
  std::vector<RecordInput> records(5);
  records[0].key = "customer-7";
  records[0].headers.assign(std::begin(kOneHeader), std::end(kOneHeader));
  records[0].payload = "{\"order\":1}";
  records[1].payload = "";
  records[1].partition = 0;
  records[2].key = std::string_view("");
  records[2].headers.assign(std::begin(kThreeHeaders), std::end(kThreeHeaders));
  records[2].payload = kLongPayload;
  records[2].partition = 7;
  records[3].key = std::string_view("\x00\x01\xfe\xff", 4);
  records[3].payload = std::string_view("\x80\x00", 2);
  records[4].key = "k";
  records[4].payload = "v";
  records[4].partition = std::numeric_limits<uint32_t>::max();
  return records;
}

// The start of an ingest message (or a replay or group request): an array
// of n, then version, kind and id.
std::string MessageStart(uint64_t n, uint64_t version, uint64_t kind, uint64_t id) {
  std::string f;
  brook::mp::Writer w(&f);
  w.ArrayHeader(n);
  w.Uint(version);
  w.Uint(kind);
  w.Uint(id);
  return f;
}

void IngestSeeds(Corpus* c) {
  auto& s = (*c)["ingest"];
  namespace ingest = brook::ingest;
  std::string f;
  const std::vector<RecordInput> records = PublishRecords();
  ingest::EncodePublish(1, "orders", 0, {records[0]}, &f);
  s["publish-one"] = f;
  ingest::EncodePublish(2, "orders", 0, records, &f);
  s["publish-five"] = f;
  ingest::EncodePublish(std::numeric_limits<uint64_t>::max(), std::string(255, 't'), 4,
                        {records[2], records[3]}, &f);
  s["publish-create-long-topic"] = f;
  std::vector<RecordInput> many(20, records[4]);
  ingest::EncodePublish(3, "t", 4096, many, &f);
  s["publish-20-records"] = f;
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("h" + std::to_string(i));
  RecordInput headers;
  for (const std::string& n : names) headers.headers.push_back({n, n});
  ingest::EncodePublish(4, "t", 0, {headers}, &f);
  s["publish-20-headers"] = f;

  // Hand-made: wider forms than the encoder writes (array 16/32, uint 64,
  // int 8/32, str 8, bin 16/32), which the decoder must accept.
  f.clear();
  f.push_back(static_cast<char>(0xdc));  // array 16 of 6
  PutBE(&f, 6, 2);
  f += Lit("\xd0\x01");  // version: int 8
  f += Lit("\xcc\x01");  // kind: uint 8
  f += Lit("\xcf");      // id: uint 64
  PutBE(&f, 5, 8);
  f += Lit("\xd9\x06orders");                      // topic: str 8
  f += Lit("\xd2\x00\x00\x00\x02");                // create_partitions: int 32
  f += Lit("\xdd\x00\x00\x00\x01");                // records: array 32 of 1
  f += Lit("\xdc\x00\x04");                        // record: array 16 of 4
  f += Lit("\xc5\x00\x03key");                     // key: bin 16
  f += Lit("\xdd\x00\x00\x00\x01");                // headers: array 32 of 1
  f += Lit("\x92\xc6\x00\x00\x00\x01n\xc4\x01v");  // [bin 32, bin 8]
  f += Lit("\xc6\x00\x00\x00\x03pay");             // payload: bin 32
  f += Lit("\xcd\x00\x01");                        // partition 1: uint 16
  s["publish-non-minimal"] = f;
  // Refused: another version (answered with the version error), no records,
  // a byte after the message, a key that is a str.
  s["publish-version-2"] = MessageStart(6, 2, ingest::kKindPublish, 6);
  ingest::EncodePublish(7, "orders", 0, {}, &f);
  s["publish-no-records"] = f;
  ingest::EncodePublish(8, "orders", 0, {records[0]}, &f);
  s["publish-trailing-byte"] = f + Lit("\xc0");
  f = MessageStart(6, ingest::kVersion, ingest::kKindPublish, 9);
  {
    brook::mp::Writer w(&f);
    w.Str("orders");
    w.Uint(0);
    w.ArrayHeader(1);
    w.ArrayHeader(4);
    w.Str("k");
    w.ArrayHeader(0);
    w.Bin("v");
    w.Nil();
  }
  s["publish-str-key"] = f;

  std::vector<brook::RecordPosition> positions = {
      {0, 0, 0},
      {7, 1'000'000, 1'700'000'000'000'000'000},
      {std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max(),
       std::numeric_limits<int64_t>::max()}};
  ingest::EncodeAck(2, positions, &f);
  s["ack-three"] = f;
  ingest::EncodeAck(1, {positions[1]}, &f);
  s["ack-one"] = f;
  ingest::EncodeAck(0, {}, &f);
  s["ack-empty"] = f;
  ingest::EncodeAck(3, std::vector<brook::RecordPosition>(20, positions[1]), &f);
  s["ack-20"] = f;
  ingest::EncodeError(4, brook::Status::NotFound("topic \"orders\" does not exist"), &f);
  s["error-not-found"] = f;
  ingest::EncodeError(5, brook::Status::InvalidArgument(std::string(300, 'm')), &f);
  s["error-long-message"] = f;
  ingest::EncodeError(6, brook::Status::Internal(""), &f);
  s["error-internal-empty"] = f;
  // Refused: an answer in version 2, error code 0 (OK) and 10 (unknown).
  f = MessageStart(4, 2, ingest::kKindAck, 1);
  brook::mp::Writer(&f).ArrayHeader(0);
  s["ack-version-2"] = f;
  for (const uint64_t code : {0, 10}) {
    f = MessageStart(5, ingest::kVersion, ingest::kKindError, 1);
    brook::mp::Writer w(&f);
    w.Uint(code);
    w.Str("m");
    s["error-code-" + std::to_string(code)] = f;
  }
}

// `brook produce --json` lines: each form of each field, the lines `brook
// consume --json` writes (records with text and binary bytes, an event), and
// a few the parser refuses.
void JsonRecordSeeds(Corpus* c) {
  auto& s = (*c)["json_record"];
  s["text"] =
      R"({"key": "customer-7", "headers": {"source": "web"}, "payload": "hello", "partition": 2})";
  s["empty"] = "{}";
  s["keyless"] = R"({"key":null,"headers":null,"payload":"x","partition":null})";
  s["payload-object"] =
      R"({"payload": {"order": 1, "items": [1, -2.5e+3, true, false, null, "x", {}, []]}})";
  s["payload-number"] = R"({"key": "", "payload": 12})";
  s["escapes"] = R"({"key": "a\"b\\c\/\b\f\n\r\t", "payload": "\u00e9\u20AC\ud83d\ude00\u0000"})";
  s["base64"] =
      R"({"key_base64": "AP8=", "headers_base64": {"AAE=": "/w==", "": ""}, "payload_base64": "3q2+7w=="})";
  s["both-header-forms"] =
      "{\"headers\": {\"a\": \"1\", \"b\": \"\"},\t\"headers_base64\": {\"/w==\": \"AA==\"}}\r\n";
  s["partition-max"] = R"({"partition": 4294967295, "payload": "p"})";
  s["ignored-fields"] =
      R"({"producer": "a0", "topic": "t", "offset": 5, "timestamp_ns": 6, "timestamp": "x", "payload": "p"})";

  // What `brook consume --json` writes (tools/cmd_consume.cc): position
  // fields, then the record's content; base64 for bytes that are not UTF-8.
  const std::string binary_key = Lit("\x00\xff\xfe");
  const std::string binary_payload = Lit("\xde\xad\xbe\xef");
  const std::vector<Header> headers = {
      {"type", "order"}, {std::string_view("\xff", 1), "v"}, {"line", "a\nb\t\"c\" \xc3\xa9"}};
  const auto consume_line = [&](std::optional<std::string_view> key, std::string_view payload) {
    brook::RecordView r;
    r.offset = 17;
    r.timestamp_ns = 1'700'000'000'123'456'789;
    r.key = key;
    r.payload = payload;
    r.headers_begin = headers.data();
    r.header_count = headers.size();
    std::string line = "{\"producer\":\"" + Producer().ToHex() +
                       "\",\"topic\":\"orders\",\"partition\":3" +
                       ",\"offset\":17,\"timestamp_ns\":" + std::to_string(r.timestamp_ns) +
                       ",\"timestamp\":\"" + brook::cli::FormatTime(r.timestamp_ns) + "\",";
    brook::cli::AppendRecordContentJson(r, &line);
    return line + "}";
  };
  s["consume-text"] = consume_line("customer-7", "{\"order\":1}");
  s["consume-binary"] = consume_line(std::string_view(binary_key), binary_payload);
  s["consume-keyless"] = consume_line(std::nullopt, "");
  s["consume-event"] = brook::cli::JsonObject()
                           .Str("event", "skipped")
                           .Str("producer", Producer().ToHex())
                           .Str("topic", "orders")
                           .Num("partition", 3)
                           .Num("from", 10)
                           .Num("to", 20)
                           .Str("message", "records 10..19 were removed by retention")
                           .Done();

  // Refused: a field twice, a field in both forms, a header twice, not
  // base64, an unknown field, a lone surrogate, a partition too large, a
  // payload nested deeper than the parser's limit, text after the object.
  s["bad-twice"] = R"({"payload": "a", "payload": "b"})";
  s["bad-both-forms"] = R"({"key": "a", "key_base64": "YQ=="})";
  s["bad-header-twice"] = R"({"headers": {"a": "1"}, "headers_base64": {"YQ==": "Mg=="}})";
  s["bad-base64"] = R"({"payload_base64": "YQ="})";
  s["bad-unknown-field"] = R"({"value": "x"})";
  s["bad-lone-surrogate"] = R"({"key": "\ud800x"})";
  s["bad-partition"] = R"({"partition": 4294967296})";
  s["bad-nesting"] = "{\"payload\": " + std::string(70, '[') + std::string(70, ']') + "}";
  s["bad-trailing"] = R"({"payload": "x"} x)";
}

// The replay target's input: a separator byte, then the frames joined by it.
// The separator is a byte no frame contains, so a seed is what it says.
std::string ReplayInput(const std::vector<std::string>& frames) {
  for (int sep = 0xff; sep >= 0; --sep) {
    bool used = false;
    for (const std::string& f : frames) used |= f.find(static_cast<char>(sep)) != std::string::npos;
    if (used) continue;
    std::string out(1, static_cast<char>(sep));
    for (size_t i = 0; i < frames.size(); ++i) {
      if (i > 0) out.push_back(static_cast<char>(sep));
      out += frames[i];
    }
    return out;
  }
  std::fprintf(stderr, "make_seeds: no free separator byte\n");
  std::abort();
}

void ReplaySeeds(Corpus* c, const Seeds& requests) {
  auto& s = (*c)["replay"];
  for (const auto& [name, bytes] : requests) s[name] = ReplayInput({bytes});
  s["two-frames"] = ReplayInput({requests.at("describe"), requests.at("describe")});
  s["three-frames"] = ReplayInput({requests.at("cancel"), "", requests.at("fetch-all-p0")});
  s["empty-frame"] = ReplayInput({""});
}

// Consumer group messages: each kind from the real encoders, empty and
// full, positions present and absent, every commit result; a wider form the
// encoders never write; and refused ones (another version, a zero
// generation, unsorted topics).
brook::node::MemberId Member(uint8_t seed) {
  brook::node::MemberId m;
  for (size_t i = 0; i < m.bytes.size(); ++i) m.bytes[i] = static_cast<uint8_t>(seed + i * 7);
  return m;
}

void GroupSeeds(Corpus* c) {
  auto& s = (*c)["group"];
  namespace node = brook::node;
  std::string f;
  node::GroupRequest h;
  h.kind = Kind::kGroupHeartbeat;
  h.id = 1;
  h.group = "billing";
  h.member = Member(1);
  h.session_timeout_ms = 10000;
  node::EncodeGroupHeartbeat(h, &f);
  s["heartbeat-join"] = f;
  f.clear();
  h.id = std::numeric_limits<uint64_t>::max();
  h.topics = {"orders", "audit", "payments"};
  h.held = {{"orders", 7, 1ull << 33}, {"audit", 0, 5}, {"orders", 2, 9}, {"audit", 300, 6}};
  node::EncodeGroupHeartbeat(h, &f);
  s["heartbeat-holding"] = f;
  f.clear();

  node::GroupRequest commit;
  commit.kind = Kind::kGroupCommit;
  commit.id = 2;
  commit.group = "billing";
  commit.member = Member(2);
  commit.commits = {{"orders", 7, 3, 1000, 2}, {"audit", 0, 1, 0, 0}, {"orders", 0, 1, 5, 1}};
  node::EncodeGroupCommit(commit, &f);
  s["commit"] = f;
  f.clear();
  commit.commits.clear();
  node::EncodeGroupCommit(commit, &f);
  s["commit-empty"] = f;
  f.clear();

  node::GroupAnswer a;
  a.kind = Kind::kGroupHeartbeatAnswer;
  a.id = 1;
  a.membership_generation = 4;
  a.members = {Member(9), Member(1), Member(5)};
  node::GroupAssignment with_position{"orders", 7, 3, true, 1000, 2};
  node::GroupAssignment without{"audit", 0, 1, false, 0, 0};
  a.assigned = {with_position, without, {"orders", 1, 1ull << 40, true, 0, 0}};
  a.revoke = {{"payments", 3, 2}, {"audit", 5, 7}};
  node::EncodeGroupHeartbeatAnswer(a, &f);
  s["heartbeat-answer"] = f;
  f.clear();
  node::GroupAnswer empty;
  empty.kind = Kind::kGroupHeartbeatAnswer;
  node::EncodeGroupHeartbeatAnswer(empty, &f);
  s["heartbeat-answer-empty"] = f;
  f.clear();

  node::GroupAnswer results;
  results.kind = Kind::kGroupCommitAnswer;
  results.id = 2;
  results.results = {{"orders", 0, node::CommitResult::kAccepted},
                     {"orders", 7, node::CommitResult::kFenced},
                     {"zz", 1, node::CommitResult::kUnknownStream}};
  node::EncodeGroupCommitAnswer(results, &f);
  s["commit-answer"] = f;
  f.clear();

  // Hand-made: a heartbeat in wider forms (array 16, uint 64, str 8, bin 8
  // member, int 32 timeout), which the decoder must accept.
  f.push_back(static_cast<char>(0xdc));
  PutBE(&f, 8, 2);
  f += Lit("\x01\xcc\x15\xcf");
  PutBE(&f, 3, 8);
  f += Lit("\xd9\x01g");
  f += Lit("\xc4\x10");
  f += std::string(16, 'm');
  f += Lit("\xd2\x00\x00\x03\xe8");
  f += Lit("\xdc\x00\x01\xa1t");                      // topics: array 16 of "t"
  f += Lit("\x91\x92\xa1t\x91\x92\xcd\x00\x01\x01");  // held: [["t", [[1, 1]]]]
  s["heartbeat-non-minimal"] = f;
  // Refused: version 2, a zero generation, topics out of order.
  s["heartbeat-version-2"] = MessageStart(8, 2, static_cast<uint64_t>(Kind::kGroupHeartbeat), 3);
  f.clear();
  commit.commits = {{"orders", 7, 0, 1000, 2}};
  node::EncodeGroupCommit(commit, &f);
  s["commit-generation-0"] = f;
  f.clear();
  h.topics = {"b", "a"};
  h.held.clear();
  node::EncodeGroupHeartbeat(h, &f);
  const size_t b = f.find(
      "\xa1"
      "a");
  if (b != std::string::npos) std::swap(f[b + 1], f[b + 3]);  // "a", "b" -> "b", "a"
  s["heartbeat-unsorted-topics"] = f;
}

// Beacons: rounds of one page (with and without a key) and of several
// pages (topics and a topic's partitions split between pages), each as the
// beacon target's input (a separator byte, then the datagrams); a page of
// another version; an incomplete round.
void BeaconSeeds(Corpus* c) {
  auto& s = (*c)["beacon"];
  namespace node = brook::node;
  node::BeaconState st;
  st.id = Producer();
  st.epoch = 42;
  st.pub_endpoint = "tcp://0.0.0.0:7000";
  st.replay_endpoint = "tcp://10.1.2.3:7001";
  st.topics = {
      {"orders", {{0, 10}, {5, 5}, {100, 1ull << 40}}},
      {"payments.eu", {{0, 0}}},
      {"x", {{std::numeric_limits<uint64_t>::max() - 1, std::numeric_limits<uint64_t>::max()}}}};
  const auto round = [&](const std::string& name, const node::BeaconState& state) {
    std::vector<std::string> pages;
    if (!node::EncodeBeaconRound("lan-1", state, 7, &pages).ok()) {
      std::fprintf(stderr, "make_seeds: EncodeBeaconRound failed for %s\n", name.c_str());
      std::abort();
    }
    s[name] = ReplayInput(pages);
    return pages;
  };
  round("one-page", st);
  node::BeaconState keyed = st;
  keyed.server_public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  keyed.pub_endpoint = "ipc:///tmp/brook-pub";
  keyed.replay_endpoint = "tcp://127.0.0.1:7001";
  round("one-page-key", keyed);
  node::BeaconState empty = st;
  empty.topics.clear();
  round("no-topics", empty);
  node::BeaconState many = st;
  many.topics.clear();
  for (int t = 0; t < 40; ++t) {
    brook::DiscoveredTopic topic{"topic-" + std::to_string(t), {}};
    for (uint64_t p = 0; p < 4; ++p)
      topic.partitions.push_back({p * 1000, p * 1000 + (1ull << 35)});
    many.topics.push_back(topic);
  }
  const std::vector<std::string> pages = round("several-pages", many);
  node::BeaconState wide = st;
  wide.topics = {{"wide", std::vector<Watermarks>(300, Watermarks{1ull << 40, 1ull << 41})}};
  round("split-topic", wide);
  if (pages.size() >= 2) s["incomplete-round"] = ReplayInput({pages[0]});

  std::string f;
  brook::mp::Writer w(&f);
  w.ArrayHeader(12);
  w.Str("brook");
  w.Uint(2);
  s["version-2"] = ReplayInput({f});
  s["endpoints"] =
      ReplayInput({"tcp://0.0.0.0:7000@10.0.0.5", "tcp://[::1]:1@127.0.0.1",
                   "ipc:///tmp/x@127.0.0.1", "tcp://localhost:65535@10.0.0.5", "inproc://x"});
}

bool WriteCorpus(const fs::path& root, const Corpus& corpus) {
  for (const auto& [target, seeds] : corpus) {
    const fs::path dir = root / target;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "make_seeds: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
      return false;
    }
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) fs::remove(e.path());
    for (const auto& [name, bytes] : seeds) {
      std::ofstream out(dir / name, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", (dir / name).c_str());
        return false;
      }
    }
    std::printf("%-11s %zu seeds\n", target.c_str(), seeds.size());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (e.g. fuzz/corpus)\n", argv[0]);
    return 64;
  }
  Corpus corpus;
  RecordSeeds(&corpus);
  RecordsSeeds(&corpus);
  LiveSeeds(&corpus);
  RequestSeeds(&corpus["request"]);
  AnswerSeeds(&corpus);
  MsgpackSeeds(&corpus, corpus["request"]);
  ReplaySeeds(&corpus, corpus["request"]);
  IngestSeeds(&corpus);
  JsonRecordSeeds(&corpus);
  GroupSeeds(&corpus);
  BeaconSeeds(&corpus);
  return WriteCorpus(argv[1], corpus) ? 0 : 1;
}
