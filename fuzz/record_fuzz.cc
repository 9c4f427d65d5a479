// Fuzzes the record codec's decoder, journal::DecodeRecord: the bytes of one
// stored record (an LMDB value, or the start of a records frame or page).
//
// Input: one flags byte, then the bytes to decode. Flags bit 0: before
// decoding, make the checksum of the record right (fuzz/fuzz_util.h
// SealRecords), so mutations get past the CRC check.
//
// Checks: the decoder never reads outside the input (ASan); on success the
// record's views lie inside its encoding, which is a prefix of the input, the
// checksum is the CRC-32C of the bytes before it (and the SSE4.2 and table
// implementations agree), re-encoding the decoded fields decodes to the same
// fields, every shorter prefix fails, and the headers are appended after what
// the vector held; on failure the headers vector is left as it was.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "journal/record_format.h"

namespace {

using brook::Header;
using brook::RecordView;
using brook::fuzz::Inside;

constexpr std::string_view kSentinelName = "sentinel";

void DecodeAndCheck(std::string_view in) {
  RecordView rec;
  std::vector<Header> headers{Header{kSentinelName, kSentinelName}};
  size_t used = 0;
  const brook::Status s = brook::journal::DecodeRecord(in, &rec, &headers, &used);
  FUZZ_CHECK(!headers.empty() && headers[0].name.data() == kSentinelName.data());
  if (!s.ok()) {
    FUZZ_CHECK(s.IsDataLoss());
    FUZZ_CHECK(headers.size() == 1);
    return;
  }
  FUZZ_CHECK(used >= brook::journal::kMinRecordSize && used <= in.size());
  FUZZ_CHECK(rec.encoded.data() == in.data() && rec.encoded.size() == used);
  FUZZ_CHECK(rec.headers_begin == nullptr);
  FUZZ_CHECK(headers.size() == 1 + rec.header_count);
  FUZZ_CHECK(Inside(rec.encoded, in));
  brook::fuzz::CheckDecodedRecord(rec, headers.data() + 1, in);

  // A record is self-delimiting: any shorter prefix is incomplete. (Try a few
  // cut points, not all: the input may be large.)
  for (size_t cut : {size_t{0}, used / 2, used - 5, used - 1}) {
    RecordView part;
    std::vector<Header> part_headers;
    size_t part_used = 0;
    FUZZ_CHECK(
        !brook::journal::DecodeRecord(in.substr(0, cut), &part, &part_headers, &part_used).ok());
    FUZZ_CHECK(part_headers.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (flags & 1) {
    // An exact-size copy, so ASan still sees a read past the end.
    std::vector<char> sealed(rest.begin(), rest.end());
    brook::fuzz::SealRecords(sealed.data(), sealed.size(), false, 0);
    DecodeAndCheck(std::string_view(sealed.data(), sealed.size()));
  } else {
    // Decode straight from libFuzzer's buffer: it ends exactly where the
    // input does, so ASan sees any read past it.
    DecodeAndCheck(rest);
  }
  return 0;
}
