// Fuzzes cli::ParseJsonRecord (tools/json_input.h): one line of `brook
// produce --json`, text a user or a pipe hands the command. The input is the
// line.
//
// Checks: no read outside the input (ASan), no UB (the reader is recursive:
// its depth limit must hold), no leak. On failure InvalidArgument saying at
// which column. On success:
// - header names are unique (the parser refuses a name given twice, in
//   "headers" or "headers_base64" alike);
// - the same line with whitespace around it parses to the same record;
// - the record written back as JSON with every byte field in base64 ("key"
//   null or "key_base64", "headers_base64", "payload_base64", "partition",
//   then "event" with its exact bytes) parses to the same record, and writing
//   that one gives the same line;
// - with "event" first, that line is an event with no record fields (the
//   parser skips whatever follows an "event");
// - a record (not an event) written as `brook consume --json` writes it (its
//   position fields, then cli::AppendRecordContentJson: text where it is
//   UTF-8, base64 where not) parses to the same record, its headers in the
//   order that writer puts them: the text ones, then the base64 ones.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brook/record.h"
#include "fuzz/fuzz_util.h"
#include "tools/cli.h"
#include "tools/json_input.h"

namespace {

using brook::Status;
using brook::cli::Base64Encode;
using brook::cli::IsUtf8;
using brook::cli::JsonRecord;
using brook::cli::ParseJsonRecord;

void CheckSame(const JsonRecord& a, const JsonRecord& b) {
  FUZZ_CHECK(a.key == b.key);
  FUZZ_CHECK(a.headers == b.headers);
  FUZZ_CHECK(a.payload == b.payload);
  FUZZ_CHECK(a.partition == b.partition);
  FUZZ_CHECK(a.event == b.event);
}

JsonRecord MustParse(std::string_view line) {
  JsonRecord r;
  const Status s = ParseJsonRecord(line, &r);
  if (!s.ok())
    std::fprintf(stderr, "%s\non: %.*s\n", s.ToString().c_str(), static_cast<int>(line.size()),
                 line.data());
  FUZZ_CHECK(s.ok());
  return r;
}

// A JSON string whose parse gives back exactly `s`'s bytes: the parser takes
// every byte but '"', '\\' and control characters as it is, whether UTF-8 or
// not (cli::AppendJsonString writes \u00XX for bytes that are not UTF-8,
// which read back as other bytes: not usable here).
void AppendExactString(std::string_view s, std::string* out) {
  *out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      *out += buf;
    } else {
      *out += c;
    }
  }
  *out += '"';
}

void AppendBase64(std::string_view bytes, std::string* out) {
  *out += '"';
  *out += Base64Encode(bytes);
  *out += '"';
}

// The record's fields, every byte field in base64, as object members (no
// braces).
std::string Base64Members(const JsonRecord& r) {
  std::string out;
  if (r.key) {
    out += "\"key_base64\":";
    AppendBase64(*r.key, &out);
  } else {
    out += "\"key\":null";
  }
  out += ",\"headers_base64\":{";
  for (size_t i = 0; i < r.headers.size(); ++i) {
    if (i > 0) out += ',';
    AppendBase64(r.headers[i].first, &out);
    out += ':';
    AppendBase64(r.headers[i].second, &out);
  }
  out += "},\"payload_base64\":";
  AppendBase64(r.payload, &out);
  if (r.partition) out += ",\"partition\":" + std::to_string(*r.partition);
  return out;
}

// The whole record; an event after the fields, where it leaves them read.
std::string Base64Line(const JsonRecord& r) {
  std::string out = "{" + Base64Members(r);
  if (r.event) {
    out += ",\"event\":";
    AppendExactString(*r.event, &out);
  }
  return out + "}";
}

// A record as a `brook consume --json` line (tools/cmd_consume.cc, Printer):
// stream and position fields, then AppendRecordContentJson.
std::string ConsumeLine(const JsonRecord& r) {
  std::vector<brook::Header> headers;
  for (const auto& [name, value] : r.headers) headers.push_back({name, value});
  brook::RecordView v;
  v.offset = 42;
  v.timestamp_ns = 1'700'000'000'123'456'789;
  v.key = r.key;
  v.payload = r.payload;
  v.headers_begin = headers.data();
  v.header_count = headers.size();
  std::string out = "{\"producer\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"topic\":\"orders\"";
  if (r.partition) out += ",\"partition\":" + std::to_string(*r.partition);
  out += ",\"offset\":" + std::to_string(v.offset) +
         ",\"timestamp_ns\":" + std::to_string(v.timestamp_ns) + ",\"timestamp\":\"" +
         brook::cli::FormatTime(v.timestamp_ns) + "\",";
  brook::cli::AppendRecordContentJson(v, &out);
  return out + "}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  JsonRecord rec;
  const Status s = ParseJsonRecord(line, &rec);
  if (!s.ok()) {
    FUZZ_CHECK(s.IsInvalidArgument());
    FUZZ_CHECK(s.message().substr(0, 12) == "JSON column ");
    return 0;
  }

  for (size_t i = 0; i < rec.headers.size(); ++i)
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(rec.headers[i].first != rec.headers[j].first);

  const std::string padded = " \t" + std::string(line) + " \r\n";
  CheckSame(rec, MustParse(padded));

  const std::string b64 = Base64Line(rec);
  const JsonRecord back = MustParse(b64);
  CheckSame(rec, back);
  FUZZ_CHECK(Base64Line(back) == b64);

  if (rec.event) {
    JsonRecord event_only;
    event_only.event = rec.event;
    std::string first = "{\"event\":";
    AppendExactString(*rec.event, &first);
    CheckSame(event_only, MustParse(first + "," + Base64Members(rec) + "}"));
    return 0;
  }

  JsonRecord expected = rec;
  expected.headers.clear();
  for (const bool text : {true, false}) {
    for (const auto& h : rec.headers)
      if ((IsUtf8(h.first) && IsUtf8(h.second)) == text) expected.headers.push_back(h);
  }
  CheckSame(expected, MustParse(ConsumeLine(rec)));
  return 0;
}
